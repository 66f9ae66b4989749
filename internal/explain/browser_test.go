package explain

import (
	"context"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

const browserConfig = `listen: 127.0.0.1:8080
authentication:
  oidc:
    - {issuer: https://idp.example, audiences: [raygate], login: true, clientID: raygate, clientSecretFile: secret}
  session: {keyFiles: [session.key]}
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    actionRoles: {logs.read: developer}
    access:
      - {role: developer, groups: [team-a]}
      - {role: viewer, groups: [viewers]}
`

// TestExplainBrowserAndRequestChecks: the checks beside a role and an
// action: upgrades, raygate's own endpoints and answers, packages, raised
// action roles, and what a browser's credential must show.
func TestExplainBrowserAndRequestChecks(t *testing.T) {
	cfg, err := config.ParsePolicy("b.yaml", []byte(browserConfig))
	if err != nil {
		t.Fatal(err)
	}
	p, err := FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev := &identity.Identity{User: "d", Groups: []string{"team-a"}}
	viewer := &identity.Identity{User: "v", Groups: []string{"viewers"}}
	session := &identity.Identity{User: "d", Groups: []string{"team-a"}, Method: identity.MethodSession, Source: "https://idp.example"}
	iap := &identity.Identity{User: "d", Groups: []string{"team-a"}, Method: identity.MethodIAP, Source: "iap"}
	const c = "/clusters/team-a/ray1"
	for _, tc := range []struct {
		name      string
		q         Query
		id        *identity.Identity
		outcome   string
		status    int
		reason    string
		origin    string // the origin rule's credential, "" for none
		condition string // a part of the condition
		step      string // a step that must be there
	}{
		{"a WebSocket handshake", Query{Method: "GET", Path: c + "/api/jobs/j/logs/tail", Upgrade: true}, dev, OutcomeAllow, 0, "role developer allows cluster.read", "", "", "upgrade"},
		{"an upgrade with POST", Query{Method: "POST", Path: c + "/api/jobs/j/logs/tail", Upgrade: true}, dev, OutcomeDeny, 400, "malformed WebSocket handshake: a WebSocket handshake must be a GET", "", "", "upgrade"},
		{"the landing page", Query{Method: "GET", Path: "/"}, viewer, OutcomeAllow, 200, "authenticated", "", "", "decision"},
		{"the landing page refuses POST", Query{Method: "POST", Path: "/"}, viewer, OutcomeDeny, 405, "method not allowed", "", "", "method"},
		{"login-config is public", Query{Method: "GET", Path: "/_raygate/login-config"}, viewer, OutcomeAllow, 200, "public login configuration", "", "", "decision"},
		{"sign-in", Query{Method: "GET", Path: "/_raygate/sign-in"}, viewer, OutcomeAllow, 0, "browser sign-in", "", "sign-in", "path"},
		{"explain needs its query", Query{Method: "GET", Path: "/_raygate/explain"}, viewer, OutcomeAllow, 200, "authenticated", "", ReasonBadQuery, "decision"},
		{"authentication mode", Query{Method: "GET", Path: c + "/api/authentication_mode"}, viewer, OutcomeAllow, 200, "role viewer allows cluster.read; answered by raygate", "", "", "answer"},
		{"a package upload", Query{Method: "PUT", Path: c + "/api/packages/gcs/_ray_pkg_1.zip"}, dev, OutcomeAllow, 0, "role developer allows jobs.submit", "", "deny 409 (package exists: packages are written once)", "package"},
		{"raised logs.read", Query{Method: "GET", Path: c + "/api/v0/logs/file"}, viewer, OutcomeDeny, 403, "role viewer does not allow logs.read (needs developer on this cluster)", "", "", "decision"},
		{"a session reads", Query{Method: "GET", Path: c + "/api/jobs/"}, session, OutcomeAllow, 0, "role developer allows cluster.read", "", "", "forward"},
		{"a session profiles", Query{Method: "GET", Path: c + "/worker/traceback"}, &identity.Identity{User: "a", Method: identity.MethodSession}, OutcomeNotFound, 404, "cluster not found or no role on it", "", "", "cluster"},
		{"a session submits", Query{Method: "POST", Path: c + "/api/jobs/"}, session, OutcomeAllow, 0, "role developer allows jobs.submit", "session", "another site's page", "origin"},
		{"a session submits to no cluster", Query{Method: "POST", Path: "/clusters/team-z/ray1/api/jobs/"}, session, OutcomeNotFound, 404, "cluster not found or no role on it", "session", "", "origin"},
		{"IAP reads", Query{Method: "GET", Path: c + "/api/jobs/"}, iap, OutcomeAllow, 0, "role developer allows cluster.read", "", "", "forward"},
		{"IAP tails a log", Query{Method: "GET", Path: c + "/api/jobs/j/logs/tail", Upgrade: true}, iap, OutcomeAllow, 0, "role developer allows cluster.read", "iap", "another site's page", "origin"},
		{"a name, with browser sign-in", Query{Method: "POST", Path: c + "/api/jobs/"}, dev, OutcomeAllow, 0, "role developer allows jobs.submit", "", "", "origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Explain(context.Background(), p, tc.q, As(tc.id))
			if e.Outcome != tc.outcome || e.Status != tc.status || e.Reason != tc.reason || !strings.Contains(e.Condition, tc.condition) {
				t.Fatalf("explanation %s %d (%s), condition %q", e.Outcome, e.Status, e.Reason, e.Condition)
			}
			switch {
			case tc.origin == "" && e.Origin != nil:
				t.Fatalf("origin rule %+v", e.Origin)
			case tc.origin != "" && (e.Origin == nil || e.Origin.Credential != tc.origin || e.Origin.OtherSite != "deny 403" || e.Origin.Reason != "authentication: cross_site"):
				t.Fatalf("origin rule %+v, want %s's", e.Origin, tc.origin)
			}
			found := false
			for _, s := range e.Steps {
				found = found || s.Step == tc.step
			}
			if !found {
				t.Fatalf("no %s step in %+v", tc.step, e.Steps)
			}
		})
	}
}
