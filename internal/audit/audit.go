// Package audit records one JSON line per gateway request, allowed or
// denied, to stdout or a file. Events never carry credentials.
package audit

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Event is one audit record. Field names are part of raygate's contract.
type Event struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`
	User       string    `json:"user"`
	Groups     []string  `json:"groups"`
	AuthMethod string    `json:"auth_method"`
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

// bufPool recycles encoding buffers; buffers that grew past maxPooled (a
// huge entrypoint) are left to the garbage collector.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooled = 64 << 10

// Writer is the audit sink: it writes JSON lines to an io.Writer, one write per event.
// A Writer opened on a file can be pointed at another file (or the same
// path, after rotation) with Reopen while events keep flowing.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	file   string
}

// NewWriter writes events to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, file: "-"} }

// Open returns the sink for a config value: "-" is stdout, anything else a
// file opened for append with mode 0600.
func Open(file string) (*Writer, error) {
	w, c, err := openTarget(file)
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, closer: c, file: file}, nil
}

func openTarget(file string) (io.Writer, io.Closer, error) {
	if file == "-" || file == "" {
		return os.Stdout, nil, nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: open %s: %w", file, err)
	}
	return f, f, nil
}

// Reopen switches the sink to file (reopening it if it is the current
// one, so a rotated file is picked up). On error the sink is unchanged.
func (s *Writer) Reopen(file string) error {
	if file == "" {
		file = "-"
	}
	s.mu.Lock()
	same := s.file == "-" && file == "-"
	s.mu.Unlock()
	if same {
		return nil // stdout needs no reopening
	}
	w, c, err := openTarget(file)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.closer
	s.w, s.closer, s.file = w, c, file
	s.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Write appends e as one JSON line. It is safe for concurrent use.
func (s *Writer) Write(e *Event) error {
	if e.Groups == nil {
		e.Groups = []string{}
	}
	bp := bufPool.Get().(*[]byte)
	b := append(appendEvent((*bp)[:0], e), '\n')
	s.mu.Lock()
	_, err := s.w.Write(b)
	s.mu.Unlock()
	if cap(b) <= maxPooled {
		*bp = b
		bufPool.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
}

// Close closes the underlying file, if the sink opened one.
func (s *Writer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	s.w = io.Discard
	return err
}
