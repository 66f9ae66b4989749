//go:build e2e

package gateway_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTenantsCannotSeeEachOther: another tenant's cluster answers exactly
// like one that does not exist.
func TestTenantsCannotSeeEachOther(t *testing.T) {
	alice, eve, mallory := token(t, "alice@example.com"), token(t, "eve@example.com"), token(t, "mallory@example.com")
	strip := func(body string) string { return regexp.MustCompile(`"request_id":"[^"]*"`).ReplaceAllString(body, "") }
	_, missingBody := call(t, alice, "GET", "/clusters/team-z/nope/api/version", "")
	for _, tc := range []struct {
		who, bearer, path string
	}{
		{"alice on team-b", alice, "/clusters/team-b/ray1/api/version"},
		{"alice submits to team-b", alice, "/clusters/team-b/ray1/api/jobs/"},
		{"eve on team-a", eve, "/clusters/team-a/ray1/api/jobs/"},
		{"mallory on team-a", mallory, "/clusters/team-a/ray1/"},
	} {
		t.Run(tc.who, func(t *testing.T) {
			method := "GET"
			body := ""
			if strings.HasSuffix(tc.who, "submits to team-b") {
				method, body = "POST", `{"entrypoint":"echo pwned"}`
			}
			code, got := call(t, tc.bearer, method, tc.path, body)
			if code != 404 || strip(got) != strip(missingBody) {
				t.Fatalf("%d %s; want the same 404 as a missing cluster (%s)", code, got, missingBody)
			}
		})
	}
	if code, _ := call(t, eve, "GET", "/clusters/team-b/ray1/api/version", ""); code != 200 {
		t.Fatalf("eve on her own cluster: %d", code)
	}
}

// TestRayRefusesWithoutToken shows the cluster token is what lets raygate
// through: Ray itself refuses a request without it, and refuses a user's
// IdP token.
func TestRayRefusesWithoutToken(t *testing.T) {
	s := requireStack(t)
	get := func(hdr, val string) int {
		req, _ := http.NewRequest("GET", s.RayA.Dashboard+"/api/jobs/", nil)
		if hdr != "" {
			req.Header.Set(hdr, val)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("", ""); c != 401 {
		t.Fatalf("Ray without a token: %d, want 401", c)
	}
	if c := get("Authorization", "Bearer "+token(t, "alice@example.com")); c != 403 {
		t.Fatalf("Ray with a user's ID token: %d, want 403", c)
	}
	if c := get("X-Ray-Authorization", "Bearer "+s.RayA.Token); c != 200 {
		t.Fatalf("Ray with its token: %d, want 200", c)
	}
}

// TestNoClientCredentialReachesRay inspects every request that reached
// team-a's head (through a recording tap): the cluster token is injected,
// and no client credential, spoofed identity or Ray cookie gets through.
func TestNoClientCredentialReachesRay(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	req, _ := http.NewRequest("GET", s.Gateway.URL+"/clusters/team-a/ray1/api/jobs/", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("X-Ray-Authorization", "Bearer guessed-cluster-token")
	req.Header["X_Forwarded_User"] = []string{"dave@example.com"}
	req.Header.Set("X-Forwarded-Groups", "platform-admins")
	// The second line hides a Ray token cookie from a reader that splits
	// pairs at semicolons only; Ray's aiohttp ends a pair at the comma.
	req.Header["Cookie"] = []string{"ray-authentication-token=stolen; _raygate_session=x; keep=1", "x=1, ray-authentication-token=hidden"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	call(t, s.APIKey, "GET", "/clusters/team-a/ray1/api/version", "")

	secrets := []string{alice, s.APIKey, "guessed-cluster-token", "stolen", "hidden"}
	seen := s.TapA.Seen()
	if len(seen) == 0 {
		t.Fatal("no request reached Ray")
	}
	for i, h := range seen {
		if v := h.Get("Authorization"); v != "" {
			t.Errorf("request %d: Authorization reached Ray", i)
		}
		if v := h.Values("X-Ray-Authorization"); len(v) != 1 || v[0] != "Bearer "+s.RayA.Token {
			t.Errorf("request %d: X-Ray-Authorization %q", i, v)
		}
		for k, vs := range h {
			if strings.Contains(k, "_") {
				t.Errorf("request %d: header %s reached Ray", i, k)
			}
			if strings.EqualFold(k, "X-Forwarded-User") && len(vs) != 1 {
				t.Errorf("request %d: %d X-Forwarded-User values", i, len(vs))
			}
			for _, v := range vs {
				for _, sec := range secrets {
					if strings.Contains(v, sec) {
						t.Errorf("request %d: a client credential reached Ray in %s", i, k)
					}
				}
			}
		}
	}
	last := seen[len(seen)-2] // alice's request (the API key one came after)
	if last.Get("X-Forwarded-User") != "alice@example.com" || last.Get("X-Forwarded-Groups") != "team-a" || last.Get("Cookie") != "keep=1" {
		t.Errorf("identity/cookies upstream: user %q groups %q cookie %q", last.Get("X-Forwarded-User"), last.Get("X-Forwarded-Groups"), last.Get("Cookie"))
	}
}

// TestForgedAndMalformedTokens: nothing but a valid token for the
// configured audience authenticates.
func TestForgedAndMalformedTokens(t *testing.T) {
	alice := token(t, "alice@example.com")
	parts := strings.Split(alice, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	elevated := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "team-a", "platform-admins", 1)))
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	for name, bearer := range map[string]string{
		"tampered claims":       parts[0] + "." + elevated + "." + parts[2],
		"alg none":              none + "." + parts[1] + ".",
		"hs256 header":          hs + "." + parts[1] + "." + parts[2],
		"signature stripped":    parts[0] + "." + parts[1] + ".",
		"garbage":               "not-a-token",
		"three dots of garbage": "a.b.c",
		"truncated":             alice[:len(alice)-10],
	} {
		t.Run(name, func(t *testing.T) {
			code, body := call(t, bearer, "GET", "/clusters/team-a/ray1/api/version", "")
			if code != 401 {
				t.Fatalf("status %d %s", code, body)
			}
		})
	}
}

// TestPathConfusion: ambiguous paths are refused before anything else.
func TestPathConfusion(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	for _, p := range []string{
		"/clusters/team-a/ray1/..%2f..%2fteam-b/ray1/api/version",
		"/clusters/team-a/ray1/api/jobs/%2e%2e/%2e%2e/x",
		"/clusters/team-a/ray1/static/..;/api/jobs/",
		"/clusters/team-a/ray1//api/jobs/",
		"/clusters/team-a/ray1/api%5cjobs/",
		"/clusters/team-a/ray1/api/jobs/%00",
	} {
		t.Run(p, func(t *testing.T) {
			// Send the path raw, exactly as written.
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.Gateway.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "+alice+"\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
		})
	}
}

// TestLogTailWebSocketHandshake: the log tail upgrade passes through for
// a viewer; an upgrade on any other route is refused.
func TestLogTailWebSocketHandshake(t *testing.T) {
	s := requireStack(t)
	alice, carol := token(t, "alice@example.com"), token(t, "carol@example.com")
	job := submitJob(t, alice, "team-a/ray1", "python -c \"print('ws')\"")
	upgrade := func(bearer, path string) int {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.Gateway.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer "+bearer+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if c := upgrade(carol, "/clusters/team-a/ray1/api/jobs/"+job+"/logs/tail"); c != 101 {
		t.Fatalf("viewer log tail upgrade: %d, want 101", c)
	}
	if c := upgrade(alice, "/clusters/team-a/ray1/api/version"); c != 403 {
		t.Fatalf("upgrade on a non-streaming route: %d, want 403", c)
	}
}

// TestAuditLog: one JSON line per request with every field, jobs with
// their id and entrypoint, and no credential anywhere.
func TestAuditLog(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	job := submitJob(t, alice, "team-a/ray1", "python -c \"print('audited')\"")
	call(t, alice, "GET", "/clusters/team-b/ray1/api/jobs/", "")
	time.Sleep(200 * time.Millisecond)
	raw, err := os.ReadFile(s.Gateway.AuditPath)
	if err != nil {
		t.Fatal(err)
	}
	var sawSubmit, sawDeny bool
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		for _, k := range []string{"time", "request_id", "user", "groups", "auth_method", "cluster", "action", "method", "path", "decision", "reason", "status", "duration_ms", "remote_addr"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("audit line lacks %s: %s", k, line)
			}
		}
		if m["action"] == "jobs.submit" && m["job_id"] == job {
			sawSubmit = m["entrypoint"] == "python -c \"print('audited')\"" && m["user"] == "alice@example.com" && m["decision"] == "allow"
		}
		if m["cluster"] == "team-b/ray1" && m["user"] == "alice@example.com" && m["decision"] == "deny" && m["status"] == float64(404) {
			sawDeny = true
		}
	}
	if !sawSubmit || !sawDeny {
		t.Fatalf("audit log lacks the submit (%v) or the cross-tenant deny (%v)", sawSubmit, sawDeny)
	}
	for _, sec := range []string{alice, s.APIKey, s.RayA.Token, s.RayB.Token} {
		if strings.Contains(string(raw), sec) {
			t.Fatal("a credential appears in the audit log")
		}
		if strings.Contains(s.Gateway.Proc.Tail(1<<20), sec) {
			t.Fatal("a credential appears in the operational log")
		}
	}
}

// TestMetrics: served on the metrics listener only, labelled by cluster,
// action, decision and status.
func TestMetrics(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	for i := 0; i < 3; i++ {
		call(t, alice, "GET", "/clusters/team-a/ray1/api/version", "")
	}
	call(t, "", "GET", "/clusters/team-a/ray1/api/version", "")
	// A cluster that does not exist, and one the caller has no role on,
	// are counted without a cluster label: metrics never enumerate them.
	if code, _ := call(t, alice, "GET", "/clusters/team-z/nope/api/version", ""); code != 404 {
		t.Fatalf("missing cluster: %d", code)
	}
	resp, err := http.Get(s.Gateway.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := string(b)
	for _, want := range []string{
		`raygate_requests_total{action="cluster.read",cluster="team-a/ray1",decision="allow",status="200"}`,
		`raygate_authentication_failures_total{reason="missing_credential"}`,
		`raygate_token_cache_requests_total{result="hit"}`,
		`raygate_request_duration_seconds_bucket{action="cluster.read",cluster="team-a/ray1"`,
		`raygate_oidc_keyset_fetches_total{issuer="` + s.Dex.Issuer + `",result="success"}`,
		`raygate_requests_total{action="cluster.read",cluster="-",decision="deny",status="404"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "team-z") {
		t.Error("metrics name a cluster that does not exist")
	}
	for _, p := range []string{"/metrics", "/clusters/team-a/ray1/metrics"} {
		if code, _ := call(t, alice, "GET", p, ""); code == 200 {
			t.Errorf("%s answered 200 on the public listener", p)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		code, body := call(t, "", "GET", p, "")
		if code != 200 || strings.TrimSpace(body) != "ok" {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
}

// TestRayAnswersAreSandboxed: every cluster's dashboard shares raygate's
// origin, and Ray answers some requests with HTML or SVG built from what
// a job's code names (profiler flame graphs). Every answer from real Ray
// but the dashboard's own pages comes with a sandboxing CSP; the
// dashboard's pages come without.
func TestRayAnswersAreSandboxed(t *testing.T) {
	s := requireStack(t)
	dave := token(t, "dave@example.com")
	for path, sandboxed := range map[string]bool{
		"/clusters/team-a/ray1/":            false,
		"/clusters/team-a/ray1/api/version": true,
		"/clusters/team-a/ray1/task/cpu_profile?task_id=x&attempt_number=0&node_id=y&format=flamegraph": true,
		"/clusters/team-a/ray1/api/v0/logs/file?node_id=x&filename=raylet.out":                          true,
	} {
		req, _ := http.NewRequest("GET", s.Gateway.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+dave)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Security-Policy"); sandboxed && got != "sandbox" || !sandboxed && got != "" {
			t.Errorf("%s (%d): Content-Security-Policy %q, sandboxed want %v", path, resp.StatusCode, got, sandboxed)
		}
	}
}
