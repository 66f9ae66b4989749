// Package audit records one JSON line per gateway request, allowed or
// denied, to stdout or a file. A request that changes a Ray cluster gets a
// second, earlier line: its write-ahead record, written and synced before
// the request is forwarded, so no mutation reaches Ray unaudited. Events
// never carry credentials. Find reads a request's records back.
package audit

import "time"

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Stages of a request in the audit log. Every request has a response
// record; a request that changes a cluster also has a request record,
// written before it is forwarded, with the same request_id.
const (
	// StageRequest is the write-ahead record of a mutating request: what
	// is about to be forwarded, written durably first. Status and duration
	// are 0.
	StageRequest = "request"
	// StageResponse is the record of a finished request.
	StageResponse = "response"
)

// Event is one audit record. Field names are part of raygate's contract.
type Event struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	// Stage is StageRequest or StageResponse; Write fills in
	// StageResponse when it is empty.
	Stage  string   `json:"stage"`
	User   string   `json:"user"`
	Groups []string `json:"groups"`
	// AuthMethod is how the caller authenticated ("" when it did not).
	AuthMethod string `json:"auth_method"`
	// AuthSource names the credential's origin (issuer, API key name).
	AuthSource string `json:"auth_source,omitempty"`
	Cluster    string `json:"cluster"`
	// Role is the caller's role on the cluster, when it has one.
	Role string `json:"role,omitempty"`
	// RoleSource says where the role came from: "binding", or the RBAC
	// verb that granted it ("rbac ray:write").
	RoleSource string  `json:"role_source,omitempty"`
	Action     string  `json:"action"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Decision   string  `json:"decision"`
	Reason     string  `json:"reason"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	RemoteAddr string  `json:"remote_addr"`
	JobID      string  `json:"job_id,omitempty"`
	Entrypoint string  `json:"entrypoint,omitempty"`
}

// Sink receives audit events. Write is the cheap path every request takes
// (an implementation may buffer it, see Flusher); WriteDurable is the write-ahead path of
// mutating requests and must not return before the event is on stable
// storage. Neither keeps e once it returns (callers reuse it); what a sink
// keeps is its own copy or encoding.
type Sink interface {
	// Write records e. An error means e is not written yet; the sink may
	// keep its encoding and retry.
	Write(e *Event) error
	// WriteDurable records e and returns once it is durably stored. An
	// error means it may not be, and the caller must not act as if it were.
	WriteDurable(e *Event) error
	// Healthy reports whether the sink is writing: false from a failed
	// write until a write succeeds again.
	Healthy() bool
}

// Flusher is a Sink whose Write may gather events before writing them.
// Flush returns once every event written before the call is handed to the
// operating system (or reports why not); the gateway calls it before it
// completes the response to a request that changed a cluster.
type Flusher interface {
	Flush() error
}

var _ Flusher = (*Writer)(nil)

// Observer follows a sink's failures, for metrics.
type Observer interface {
	// AuditWriteFailed counts one failed write.
	AuditWriteFailed()
	// AuditSinkHealthy reports a change of the sink's health.
	AuditSinkHealthy(ok bool)
	// AuditEventsDropped counts events given up on (no room to keep them
	// for a retry, or still unwritten at shutdown).
	AuditEventsDropped(n int)
}
