package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes e for a terminal: the request, one line per step, and
// the outcome last.
func WriteText(w io.Writer, e *Explanation) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Method, e.Path)
	if e.Upgrade {
		b.WriteString(" (upgrade)")
	}
	b.WriteString("\n\n")
	for _, s := range e.Steps {
		mark := "ok  "
		switch s.Result {
		case StepStop:
			mark = "STOP"
		case StepNote:
			mark = "note"
		}
		fmt.Fprintf(&b, "  %-10s %s  %s\n", s.Step, mark, s.Detail)
	}
	b.WriteString("\n" + Summary(e) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the outcome in one line: "deny: 403 role viewer does not
// allow jobs.submit (needs developer)".
func Summary(e *Explanation) string {
	var b strings.Builder
	b.WriteString(e.Outcome)
	switch {
	case e.Outcome == OutcomeAllow && e.Status == 0 && strings.HasPrefix(e.Action, "gateway."):
		b.WriteString(": answered by raygate")
	case e.Outcome == OutcomeAllow && e.Status == 0:
		b.WriteString(": forwarded to Ray")
	case e.Status != 0:
		fmt.Fprintf(&b, ": %d", e.Status)
	}
	if e.Reason != "" {
		b.WriteString(" (" + e.Reason + ")")
	}
	if e.Condition != "" {
		b.WriteString(", " + e.Condition)
	}
	if e.RBAC == "not asked" && e.Role != "admin" {
		b.WriteString("; by the bindings alone: Kubernetes RBAC was not asked")
	}
	return b.String()
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
