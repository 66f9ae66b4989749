//go:build e2e

package gateway_test

import (
	"encoding/json"
	neturl "net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/proxy"
)

// TestExplainEndpoint: a signed-in caller asks the real gateway why a
// request of its own would be refused, and learns nothing about a
// cluster it has no role on.
func TestExplainEndpoint(t *testing.T) {
	carol := token(t, "carol@example.com")
	explainAs := func(bearer, method, path string) (explain.Explanation, string) {
		t.Helper()
		code, body := call(t, bearer, "GET", "/_raygate/explain?"+neturl.Values{"method": {method}, "path": {path}}.Encode(), "")
		if code != 200 {
			t.Fatalf("explain %s %s: %d %s", method, path, code, body)
		}
		var e explain.Explanation
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatal(err)
		}
		return e, body
	}
	e, body := explainAs(carol, "POST", "/clusters/team-a/ray1/api/jobs/")
	if e.Outcome != "deny" || e.Status != 403 || e.Action != "jobs.submit" || e.RequiredRole != "developer" || e.Role != "viewer" ||
		e.Binding == nil || e.Binding.Subject != "team-a-viewers" || e.Binding.File != "" || e.Subject.AuthMethod != "oidc" {
		t.Fatalf("carol's submit explained as %s", body)
	}
	if strings.Contains(body, requireStack(t).Gateway.ConfigPath) {
		t.Fatalf("the config's path is shown: %s", body)
	}
	// What the gateway then does agrees.
	code, body := call(t, carol, "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"echo hi"}`)
	if code != e.Status {
		t.Fatalf("the gateway answered %d %s, explain said %d", code, body, e.Status)
	}

	eve := token(t, "eve@example.com")
	_, a := explainAs(eve, "DELETE", "/clusters/team-a/ray1/api/jobs/raysubmit_1")
	_, b := explainAs(eve, "DELETE", "/clusters/team-x/nope/api/jobs/raysubmit_1")
	norm := strings.NewReplacer("team-a/ray1", "X", "team-x/nope", "X").Replace
	if norm(a) != norm(b) {
		t.Fatalf("a cluster eve has no role on is explained as\n%s\none that does not exist as\n%s", a, b)
	}
	if code, _ := call(t, "", "GET", "/_raygate/explain?method=GET&path=/", ""); code != 401 {
		t.Fatalf("explain without a credential: %d", code)
	}
}

// TestForbiddenExplainedFromTheAuditLog: a 403 names the action and the
// role it needs, and its request id, given to raygate explain --audit,
// brings back the full reason from the audit log; a forwarded mutation's
// two records (write-ahead and response) read back as one request.
func TestForbiddenExplainedFromTheAuditLog(t *testing.T) {
	s := requireStack(t)
	carol := token(t, "carol@example.com")
	code, body := call(t, carol, "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"echo no"}`)
	var eb proxy.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || code != 403 {
		t.Fatalf("viewer submit: %d %s", code, body)
	}
	if eb.Action != "jobs.submit" || eb.RequiredRole != "developer" || eb.Role != "viewer" || eb.RequestID == "" {
		t.Fatalf("403 body %+v", eb)
	}
	rec := auditRecord(t, s.Gateway.AuditPath, eb.RequestID, "--config", s.Gateway.ConfigPath)
	f := rec.Final
	if !rec.Complete || len(rec.Records) != 1 || f.User != "carol@example.com" || f.Status != 403 || f.Action != "jobs.submit" ||
		f.Reason != "role viewer does not allow jobs.submit (needs developer)" || f.Role != "viewer" {
		t.Fatalf("audit record %+v", rec)
	}
	if rec.Now == nil || rec.Now.Outcome != "deny" || rec.Now.Reason != f.Reason || rec.Now.Binding == nil || rec.Now.Binding.File != s.Gateway.ConfigPath {
		t.Fatalf("explained now: %+v", rec.Now)
	}
	out, err := runRaygate(t, "explain", "--audit", s.Gateway.AuditPath, "--request-id", eb.RequestID)
	if err != nil || !strings.Contains(out, "decision   deny, 403: role viewer does not allow jobs.submit (needs developer)") {
		t.Fatalf("explain --audit: %v\n%s", err, out)
	}

	// An allowed mutation: its write-ahead record and its response.
	alice := token(t, "alice@example.com")
	code, body = call(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"echo yes"}`)
	if code != 200 {
		t.Fatalf("alice submit: %d %s", code, body)
	}
	rid := lastRequestID(t, s.Gateway.AuditPath, "alice@example.com")
	rec = auditRecord(t, s.Gateway.AuditPath, rid)
	if len(rec.Records) != 2 || rec.Records[0].Stage != "request" || rec.Records[1].Stage != "response" || !rec.Complete ||
		rec.Final.Status != 200 || rec.Final.JobID == "" || rec.Final.Entrypoint != "echo yes" {
		t.Fatalf("mutation's records %+v", rec)
	}
}

// TestExplainToken: raygate explain --token verifies a real ID token
// against Dex's key set, as the gateway does, and explains for whom it
// proves.
func TestExplainToken(t *testing.T) {
	s := requireStack(t)
	bob := token(t, "bob@example.com")
	out, err := runRaygate(t, "explain", "--config", s.Gateway.ConfigPath, "--token", bob, "--format", "json", "GET", "/clusters/team-a/ray1/api/jobs/")
	var e explain.Explanation
	if err != nil || json.Unmarshal([]byte(out), &e) != nil {
		t.Fatalf("explain --token: %v\n%s", err, out)
	}
	if e.Outcome != "allow" || e.Subject.User != "bob@example.com" || e.Subject.AuthMethod != "oidc" || e.Subject.AuthSource != s.Dex.Issuer || e.Role != "developer" {
		t.Fatalf("explained %+v", e)
	}
	if strings.Contains(out, bob) {
		t.Fatal("the token is printed")
	}
	out, _ = runRaygate(t, "explain", "--config", s.Gateway.ConfigPath, "--token", bob[:len(bob)-4]+"AAAA", "GET", "/clusters/team-a/ray1/api/jobs/")
	if !strings.Contains(out, "deny: 401 (authentication: bad_signature)") {
		t.Fatalf("a forged token explained as\n%s", out)
	}
	out, _ = runRaygate(t, "explain", "--config", s.Gateway.ConfigPath, "--token", s.APIKey, "POST", "/clusters/team-a/ray1/api/jobs/")
	if !strings.Contains(out, "ci-bot, groups team-a (verified: apikey, ci-bot)") || !strings.Contains(out, "allow: forwarded to Ray") {
		t.Fatalf("the API key explained as\n%s", out)
	}
}

// auditRecord runs raygate explain --audit for id (waiting for the
// audit line to be written) and returns what it read.
func auditRecord(t *testing.T, auditPath, id string, extra ...string) explain.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		args := append([]string{"explain", "--audit", auditPath, "--request-id", id, "--format", "json"}, extra...)
		out, err := runRaygate(t, args...)
		if err == nil {
			var r explain.Record
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("explain --audit: %v\n%s", err, out)
			}
			if r.Complete {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("explain --audit %s: %v\n%s", id, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lastRequestID is the request id of user's last response record.
func lastRequestID(t *testing.T, auditPath, user string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(auditPath)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			var e struct {
				RequestID string `json:"request_id"`
				User      string `json:"user"`
				Stage     string `json:"stage"`
				Action    string `json:"action"`
			}
			if json.Unmarshal([]byte(lines[i]), &e) == nil && e.User == user && e.Stage == "response" && e.Action == "jobs.submit" {
				return e.RequestID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no jobs.submit by %s in the audit log", user)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
