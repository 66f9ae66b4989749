// Package policytest reads and runs policy tests: files of cases, each a
// caller, a request and what the gateway must do with it (allow, deny,
// notfound), checked with the gateway's own decision (package explain)
// over a config. raygate test runs them, so a config change that grants
// or takes away what it should not fails before it ships.
package policytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/raygate/raygate/internal/explain"
)

// MaxFileSize bounds a tests file.
const MaxFileSize = 4 << 20

// maxCases bounds the cases of one file.
const maxCases = 100000

// Case is one policy test.
type Case struct {
	// Name says what the case checks; default "METHOD PATH as USER".
	Name string
	// Line is the line of the case in its file.
	Line int
	// User, Groups and ServiceAccount are the caller.
	User           string
	Groups         []string
	ServiceAccount string
	// Method and Path are the request ("POST /clusters/team-a/ray1/api/jobs/").
	Method, Path string
	// Upgrade says the request asks for a WebSocket.
	Upgrade bool
	// JobOwner, for a stop or delete by a developer, is the owner the
	// cluster reports for the job ("" for none).
	JobOwner *string
	// Expect is allow, deny or notfound.
	Expect string
	// Status, when not 0, is the status raygate must answer with itself.
	Status int
	// Action, when set, is the action the request must be classified as.
	Action string
}

// File is a parsed tests file.
type File struct {
	// Name is the file's path, for messages.
	Name  string
	Cases []Case
}

// Error is a problem with a tests file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error renders FILE:LINE: message.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Parse reads a tests file:
//
//	tests:
//	  - name: a viewer cannot submit
//	    user: carol@example.com
//	    groups: [team-a-viewers]
//	    request: POST /clusters/team-a/ray1/api/jobs/
//	    expect: deny
//
// Unknown fields are refused, so a typo never turns a case into another.
func Parse(name string, data []byte) (*File, error) {
	errAt := func(line int, format string, args ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxFileSize {
		return nil, errAt(0, "larger than %d bytes", MaxFileSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errAt(0, "no tests")
		}
		return nil, errAt(0, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errAt(extra.Line, "a tests file is a single YAML document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root.Line, "expected a mapping with tests:")
	}
	var tests *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "tests" {
			return nil, errAt(k.Line, "unknown field %s (a tests file has tests:)", bounded(k.Value))
		}
		tests = v
	}
	if tests == nil || tests.Kind != yaml.SequenceNode || len(tests.Content) == 0 {
		return nil, errAt(root.Line, "tests: must be a list of at least one case")
	}
	if len(tests.Content) > maxCases {
		return nil, errAt(tests.Line, "more than %d cases", maxCases)
	}
	f := &File{Name: name}
	for _, n := range tests.Content {
		c, err := parseCase(n)
		if err != nil {
			return nil, errAt(err.line, "%s", err.msg)
		}
		f.Cases = append(f.Cases, c)
	}
	return f, nil
}

type caseError struct {
	line int
	msg  string
}

func parseCase(n *yaml.Node) (Case, *caseError) {
	fail := func(line int, format string, args ...any) (Case, *caseError) {
		return Case{}, &caseError{line, fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return fail(n.Line, "a case is a mapping (name, user, groups, serviceAccount, request, expect, ...)")
	}
	c := Case{Line: n.Line}
	seen := map[string]bool{}
	var request string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return fail(k.Line, "%s is given twice", bounded(k.Value))
		}
		seen[k.Value] = true
		str := func() (string, *caseError) {
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return "", &caseError{v.Line, k.Value + ": expected a single value"}
			}
			return v.Value, nil
		}
		var err *caseError
		switch k.Value {
		case "name":
			c.Name, err = str()
		case "user":
			c.User, err = str()
		case "serviceAccount":
			c.ServiceAccount, err = str()
		case "groups":
			if v.Kind != yaml.SequenceNode {
				return fail(v.Line, "groups: expected a list")
			}
			for _, g := range v.Content {
				if g.Kind != yaml.ScalarNode || g.Tag == "!!null" {
					return fail(g.Line, "groups: expected names")
				}
				c.Groups = append(c.Groups, g.Value)
			}
		case "request":
			request, err = str()
		case "upgrade":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				return fail(v.Line, "upgrade: expected true or false")
			}
			c.Upgrade = v.Value == "true"
		case "jobOwner":
			var o string
			if o, err = str(); err == nil {
				c.JobOwner = &o
			}
		case "expect":
			c.Expect, err = str()
		case "status":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
				return fail(v.Line, "status: expected an HTTP status")
			}
			if _, scanErr := fmt.Sscanf(v.Value, "%d", &c.Status); scanErr != nil || c.Status < 100 || c.Status > 599 {
				return fail(v.Line, "status: expected an HTTP status, got %s", bounded(v.Value))
			}
		case "action":
			c.Action, err = str()
		default:
			return fail(k.Line, "unknown field %s (name, user, groups, serviceAccount, request, upgrade, jobOwner, expect, status, action)", bounded(k.Value))
		}
		if err != nil {
			return Case{}, err
		}
	}
	if request == "" {
		return fail(n.Line, "request: is required, e.g. request: GET /clusters/team-a/ray1/api/jobs/")
	}
	method, target, ok := strings.Cut(strings.TrimSpace(request), " ")
	if !ok {
		return fail(n.Line, "request: expected METHOD PATH, got %s", bounded(request))
	}
	if err := explain.CheckMethod(method); err != nil {
		return fail(n.Line, "request: %s", strings.TrimPrefix(err.Error(), "explain: "))
	}
	path, perr := explain.ParseTarget(strings.TrimSpace(target))
	if perr != nil {
		return fail(n.Line, "request: %s", strings.TrimPrefix(perr.Error(), "explain: "))
	}
	c.Method, c.Path = method, path
	switch c.Expect {
	case explain.OutcomeAllow, explain.OutcomeDeny, explain.OutcomeNotFound:
	case "":
		return fail(n.Line, "expect: is required (allow, deny or notfound)")
	default:
		return fail(n.Line, "expect: must be allow, deny or notfound, got %s", bounded(c.Expect))
	}
	if _, err := explain.Identity(c.User, c.Groups, c.ServiceAccount); err != nil {
		return fail(n.Line, "%s", strings.TrimPrefix(err.Error(), "explain: "))
	}
	if c.Name == "" {
		who := c.User
		if who == "" {
			who = c.ServiceAccount
		}
		c.Name = c.Method + " " + c.Path + " as " + who
	}
	return c, nil
}

// bounded quotes s for a message, cut to a readable length.
func bounded(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%q", s)
}
