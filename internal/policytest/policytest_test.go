package policytest

import (
	"context"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
)

var parseCases = []struct {
	name, text string
	problem    string
}{
	{"minimal", "tests:\n  - {user: a, request: GET /, expect: notfound}\n", ""},
	{"everything", `tests:
  - name: n
    user: a
    groups: [g, h]
    serviceAccount: ns/sa
    request: "DELETE /clusters/a/b/api/jobs/x"
    upgrade: false
    jobOwner: ""
    expect: deny
    status: 403
    action: jobs.stop.any
`, "a service account's user is system:serviceaccount:ns:sa, not a"},
	{"service account", "tests:\n  - {serviceAccount: ns/sa, request: GET /clusters/a/b/, expect: allow}\n", ""},
	{"empty", "", "no tests"},
	{"no cases", "tests: []\n", "tests: must be a list of at least one case"},
	{"not a mapping", "- a\n", "expected a mapping with tests:"},
	{"unknown top field", "tests: []\nconfig: x\n", `unknown field "config"`},
	{"unknown case field", "tests:\n  - {user: a, request: GET /, expect: allow, expected: deny}\n", `unknown field "expected"`},
	{"no request", "tests:\n  - {user: a, expect: allow}\n", "request: is required"},
	{"request without path", "tests:\n  - {user: a, request: GET, expect: allow}\n", "request: expected METHOD PATH"},
	{"bad method", "tests:\n  - {user: a, request: G(T /, expect: allow}\n", "not an HTTP method token"},
	{"relative path", "tests:\n  - {user: a, request: GET clusters/a, expect: allow}\n", "must start with /"},
	{"no expect", "tests:\n  - {user: a, request: GET /}\n", "expect: is required"},
	{"bad expect", "tests:\n  - {user: a, request: GET /, expect: maybe}\n", `expect: must be allow, deny or notfound, got "maybe"`},
	{"no subject", "tests:\n  - {request: GET /, expect: allow}\n", "no user"},
	{"bad status", "tests:\n  - {user: a, request: GET /, expect: deny, status: forbidden}\n", "status: expected an HTTP status"},
	{"status out of range", "tests:\n  - {user: a, request: GET /, expect: deny, status: 42}\n", "expected an HTTP status, got \"42\""},
	{"groups not a list", "tests:\n  - {user: a, groups: g, request: GET /, expect: allow}\n", "groups: expected a list"},
	{"group a mapping", "tests:\n  - {user: a, groups: [{x: 1}], request: GET /, expect: allow}\n", "groups: expected names"},
	{"upgrade not bool", "tests:\n  - {user: a, upgrade: yes please, request: GET /, expect: allow}\n", "upgrade: expected true or false"},
	{"twice", "tests:\n  - {user: a, user: b, request: GET /, expect: allow}\n", ""},
	{"case not a mapping", "tests:\n  - GET /\n", "a case is a mapping"},
	{"null user", "tests:\n  - {user: ~, request: GET /, expect: allow}\n", "user: expected a single value"},
	{"two documents", "tests:\n  - {user: a, request: GET /, expect: allow}\n---\ntests: []\n", "a single YAML document"},
	{"bad yaml", "tests: [\n", "invalid YAML"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(tc.text))
			switch {
			case tc.problem == "" && tc.name == "twice":
				if err == nil {
					t.Fatal("a key given twice was accepted")
				}
			case tc.problem == "":
				if err != nil || len(f.Cases) != 1 {
					t.Fatalf("Parse: %v", err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.problem) || !strings.HasPrefix(err.Error(), "t.yaml"):
				t.Fatalf("Parse error %v, want one with %q", err, tc.problem)
			}
		})
	}
	f, err := Parse("t.yaml", []byte("tests:\n  - user: a\n    request: POST /clusters/a/b/api/jobs/x/stop\n    jobOwner: \"\"\n    expect: deny\n    status: 403\n    action: jobs.stop.any\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Cases[0]
	if c.Line != 2 || c.Name != "POST /clusters/a/b/api/jobs/x/stop as a" || c.JobOwner == nil || *c.JobOwner != "" || c.Status != 403 || c.Action != "jobs.stop.any" {
		t.Fatalf("case %+v", c)
	}
	if _, err := Parse("t.yaml", []byte("tests:\n  - {user: a, request: GET /, expect: allow}\n  - {user: b, request: GET /, expect: maybe}\n")); err == nil || !strings.HasPrefix(err.Error(), "t.yaml:3: ") {
		t.Fatalf("error %v, want it on line 3", err)
	}
}

// FuzzParse: the tests-file parser never panics; every case it accepts
// has a subject, a method token, a path, and an outcome it knows.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, c := range file.Cases {
			if explain.CheckMethod(c.Method) != nil || !strings.HasPrefix(c.Path, "/") || c.Line <= 0 || c.Name == "" {
				t.Fatalf("accepted case %+v", c)
			}
			switch c.Expect {
			case explain.OutcomeAllow, explain.OutcomeDeny, explain.OutcomeNotFound:
			default:
				t.Fatalf("accepted expect %q", c.Expect)
			}
			if _, err := explain.Identity(c.User, c.Groups, c.ServiceAccount); err != nil {
				t.Fatalf("accepted subject of %+v: %v", c, err)
			}
		}
	})
}

func TestRun(t *testing.T) {
	cfg, err := config.ParsePolicy("c.yaml", []byte(`authentication:
  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    actionRoles: {logs.read: developer}
    access:
      - {role: developer, groups: [team-a]}
      - {role: viewer, groups: [viewers]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := explain.FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("t.yaml", []byte(`tests:
  - {name: ok, user: v, groups: [viewers], request: POST /clusters/team-a/ray1/api/jobs/, expect: deny, status: 403, action: jobs.submit}
  - {name: wrong outcome, user: v, groups: [viewers], request: POST /clusters/team-a/ray1/api/jobs/, expect: allow}
  - {name: wrong status, user: d, groups: [team-a], request: GET /clusters/team-a/ray1, expect: allow, status: 200}
  - {name: owner unknown, user: d, groups: [team-a], request: POST /clusters/team-a/ray1/api/jobs/j/stop, expect: allow}
  - {name: owner known, user: d, groups: [team-a], request: POST /clusters/team-a/ray1/api/jobs/j/stop, jobOwner: d, expect: allow, action: jobs.stop}
  - {name: a package upload, user: d, groups: [team-a], request: PUT /clusters/team-a/ray1/api/packages/gcs/_ray_pkg_1.zip, expect: allow}
  - {name: actionRoles raise logs, user: v, groups: [viewers], request: GET /clusters/team-a/ray1/api/v0/logs/file, expect: allow}
`))
	if err != nil {
		t.Fatal(err)
	}
	rs := Run(context.Background(), p, f)
	want := []struct {
		pass    bool
		problem string
	}{
		{true, ""},
		{false, "want allow, got deny: 403 (role viewer does not allow jobs.submit (needs developer)); viewer from group viewers at c.yaml:10"},
		{false, "want status 200, got allow: 308 (role developer allows dashboard.view); developer from group team-a at c.yaml:9"},
		{false, "the outcome depends on who owns the job"},
		{true, ""},
		{true, ""},
		{false, "want allow, got deny: 403 (role viewer does not allow logs.read (needs developer on this cluster)); viewer from group viewers at c.yaml:10"},
	}
	for i, w := range want {
		if rs[i].Pass != w.pass || !strings.HasPrefix(rs[i].Problem, w.problem) {
			t.Errorf("case %d: %+v, want pass=%v %q", i, rs[i], w.pass, w.problem)
		}
	}
	if Failed(rs) != 4 {
		t.Fatalf("Failed = %d", Failed(rs))
	}
	var b strings.Builder
	_ = WriteText(&b, rs, false)
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 5 || lines[4] != "3 passed, 4 failed" || !strings.HasPrefix(lines[0], "FAIL t.yaml:3: wrong outcome: ") {
		t.Fatalf("report:\n%s", b.String())
	}
}
