package explain

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/raygate/raygate/internal/audit"
)

// Record is what the audit log says about one request: the request id
// from an error body, its records, and the decision they hold.
type Record struct {
	// RequestID is the id looked for.
	RequestID string `json:"request_id"`
	// Records are the request's audit records in the order written: a
	// mutation's write-ahead record (stage request) first.
	Records []audit.Event `json:"records"`
	// Final is the record that holds the decision: the response record,
	// or the write-ahead record when no response was recorded (raygate
	// stopped before the request finished).
	Final audit.Event `json:"final"`
	// Complete is false when only the write-ahead record exists.
	Complete bool `json:"complete"`
	// Now, when set, explains the same request by the same caller under
	// a config given now.
	Now *Explanation `json:"now,omitempty"`
}

// NewRecord sums up a request's audit records (from audit.Find); nil
// when there are none.
func NewRecord(requestID string, evs []audit.Event) *Record {
	if len(evs) == 0 {
		return nil
	}
	r := &Record{RequestID: requestID, Records: evs, Final: evs[len(evs)-1]}
	for _, e := range evs {
		if e.Stage == audit.StageResponse {
			r.Final, r.Complete = e, true
		}
	}
	return r
}

// Query is the recorded request, to explain again.
func (r *Record) Query() (Query, error) {
	p, err := ParseTarget(r.Final.Path)
	if err != nil {
		return Query{}, err
	}
	return Query{Method: r.Final.Method, Path: p}, nil
}

// WriteRecordText writes r for a terminal.
func WriteRecordText(w io.Writer, r *Record) error {
	var b strings.Builder
	f := r.Final
	fmt.Fprintf(&b, "request %s\n\n", r.RequestID)
	row := func(k, format string, args ...any) { fmt.Fprintf(&b, "  %-10s %s\n", k, fmt.Sprintf(format, args...)) }
	row("time", "%s", f.Time.UTC().Format(time.RFC3339Nano))
	if f.User != "" {
		who := f.User
		if len(f.Groups) > 0 {
			who += ", groups " + strings.Join(f.Groups, ", ")
		}
		if f.AuthMethod != "" {
			who += " (" + f.AuthMethod
			if f.AuthSource != "" {
				who += ", " + f.AuthSource
			}
			who += ")"
		}
		row("caller", "%s", who)
	} else {
		row("caller", "not authenticated")
	}
	row("request", "%s %s from %s", f.Method, f.Path, f.RemoteAddr)
	if f.Cluster != "" {
		row("cluster", "%s", f.Cluster)
	}
	if f.Action != "" {
		row("action", "%s", f.Action)
	}
	if f.Role != "" {
		row("role", "%s (%s)", f.Role, f.RoleSource)
	}
	if f.JobID != "" {
		row("job", "%s", f.JobID)
	}
	if f.Entrypoint != "" {
		row("entrypoint", "%s", f.Entrypoint)
	}
	if r.Complete {
		row("decision", "%s, %d: %s", f.Decision, f.Status, f.Reason)
	} else {
		row("decision", "%s (write-ahead record only: no response was recorded): %s", f.Decision, f.Reason)
	}
	if len(r.Records) > 1 {
		stages := make([]string, len(r.Records))
		for i, e := range r.Records {
			stages[i] = e.Stage + " " + e.Time.UTC().Format("15:04:05.000")
		}
		row("records", "%s", strings.Join(stages, ", "))
	}
	if r.Now != nil {
		b.WriteString("\nThe same request by the same caller, under the config given now:\n\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Now != nil {
		return WriteText(w, r.Now)
	}
	return nil
}
