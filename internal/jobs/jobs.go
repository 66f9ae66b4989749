// Package jobs is everything raygate knows about Ray's Jobs API beyond
// forwarding it: it reads a job submission once into one typed value that
// every check reads (submission.go, value.go), stamps the caller as the
// job's owner and re-encodes the body so Ray reads exactly what raygate
// read (request.go), decides which job ids are unambiguous to Ray (id.go),
// asks a cluster who owns a job and which id to act on (lookup.go), and
// picks the new job's id out of Ray's answer.
package jobs

import "net/http"

// OwnerKey is the job metadata key raygate stamps with the submitter's
// username and checks on stop and delete.
const OwnerKey = "raygate.owner"

// Error is a request raygate refuses. Its fields are safe to show the
// caller: they say what is wrong with the request, nothing internal.
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the answer's JSON error code.
	Code string
	// Msg says what is wrong, for the caller and the audit log.
	Msg string
}

// Error returns the message with the package prefix.
func (e *Error) Error() string { return "jobs: " + e.Msg }

func badRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Msg: msg}
}

func unsupportedMedia(msg string) *Error {
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Msg: msg}
}
