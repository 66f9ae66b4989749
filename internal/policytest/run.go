package policytest

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
)

// Result is one case's outcome.
type Result struct {
	// Name, File and Line name the case.
	Name string `json:"name"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Pass says whether the gateway does what the case expects.
	Pass bool `json:"pass"`
	// Want is what the case expects; Got what the gateway does.
	Want string `json:"want"`
	Got  string `json:"got"`
	// Problem says how they differ, with the gateway's reason.
	Problem string `json:"problem,omitempty"`
	// Explanation is the gateway's decision, step by step.
	Explanation *explain.Explanation `json:"explanation"`
}

// Run checks every case of f against p.
func Run(ctx context.Context, p explain.Policy, f *File) []Result {
	out := make([]Result, 0, len(f.Cases))
	for _, c := range f.Cases {
		out = append(out, runCase(ctx, p, f.Name, c))
	}
	return out
}

func runCase(ctx context.Context, p explain.Policy, file string, c Case) Result {
	r := Result{Name: c.Name, File: file, Line: c.Line, Want: want(c)}
	id, err := explain.Identity(c.User, c.Groups, c.ServiceAccount)
	if err != nil {
		r.Problem = err.Error()
		return r
	}
	e := explain.Explain(ctx, p, explain.Query{Method: c.Method, Path: c.Path, Upgrade: c.Upgrade, JobOwner: c.JobOwner}, explain.As(id))
	r.Explanation = e
	r.Got = e.Outcome
	if e.Status != 0 {
		r.Got += fmt.Sprintf(" %d", e.Status)
	}
	if c.Action != "" {
		r.Got += " " + e.Action
	}
	switch {
	case ownerUnsettled(e):
		r.Problem = "the outcome depends on who owns the job (" + e.Condition + "): set jobOwner"
	case e.Outcome != c.Expect:
		r.Problem = fmt.Sprintf("want %s, got %s", c.Expect, why(e))
	case c.Status != 0 && e.Status != c.Status:
		r.Problem = fmt.Sprintf("want status %d, got %s", c.Status, why(e))
	case c.Action != "" && e.Action != c.Action:
		r.Problem = fmt.Sprintf("want action %s, got %s (%s)", c.Action, e.Action, e.Reason)
	default:
		r.Pass = true
	}
	return r
}

// ownerUnsettled reports whether e allows a stop or delete only for one
// owner of the job, and none was given. Other conditions (a package the
// cluster may hold already, where a browser's request comes from) are
// about the cluster and the request, not the policy: the outcome stands.
func ownerUnsettled(e *explain.Explanation) bool {
	o := e.Ownership
	return o != nil && o.Owner == nil && (o.Own == explain.OutcomeAllow) != (o.Other == explain.OutcomeAllow)
}

func want(c Case) string {
	w := c.Expect
	if c.Status != 0 {
		w += fmt.Sprintf(" %d", c.Status)
	}
	if c.Action != "" {
		w += " " + c.Action
	}
	return w
}

// why is the gateway's outcome with its reason and the binding that
// gave the role.
func why(e *explain.Explanation) string {
	s := explain.Summary(e)
	if b := e.Binding; b != nil {
		s += fmt.Sprintf("; %s from %s %s at %s", b.Role, b.Kind, b.Subject, config.Position{File: b.File, Line: b.Line, Field: b.Field})
	}
	return s
}

// WriteText writes one line per failing case (every case with verbose)
// and a summary line last.
func WriteText(w io.Writer, results []Result, verbose bool) error {
	var b strings.Builder
	failed := 0
	for _, r := range results {
		if !r.Pass {
			failed++
			fmt.Fprintf(&b, "FAIL %s:%d: %s: %s\n", r.File, r.Line, r.Name, r.Problem)
		} else if verbose {
			fmt.Fprintf(&b, "ok   %s:%d: %s: %s\n", r.File, r.Line, r.Name, r.Want)
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", len(results)-failed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// Failed counts the failing results.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if !r.Pass {
			n++
		}
	}
	return n
}
