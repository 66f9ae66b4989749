package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/raygate/raygate/internal/proxy"
)

func TestDecisions(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, user, method, path, body string
		status                         int
		action, decision, reason       string
	}{
		{"no credential", "", "GET", "/clusters/team-a/ray1/api/version", "", 401, "", "deny", "authentication: missing_credential"},
		{"developer reads", "alice", "GET", "/clusters/team-a/ray1/api/version", "", 200, "cluster.read", "allow", "role developer allows cluster.read"},
		{"viewer reads", "carol", "GET", "/clusters/team-a/ray1/api/version", "", 200, "cluster.read", "allow", "role viewer allows cluster.read"},
		{"viewer views dashboard", "carol", "GET", "/clusters/team-a/ray1/", "", 200, "dashboard.view", "allow", "role viewer allows dashboard.view"},
		{"viewer cannot submit", "carol", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"x"}`, 403, "jobs.submit", "deny", "role viewer does not allow jobs.submit (needs developer)"},
		{"other tenant is not found", "eve", "GET", "/clusters/team-a/ray1/api/version", "", 404, "cluster.read", "deny", "cluster not found or no role on it"},
		{"unknown cluster is not found", "alice", "GET", "/clusters/team-c/ray1/api/version", "", 404, "cluster.read", "deny", "cluster not found or no role on it"},
		{"developer cannot profile", "alice", "GET", "/clusters/team-a/ray1/worker/cpu_profile?pid=1", "", 403, "cluster.admin", "deny", "role developer does not allow cluster.admin (needs admin)"},
		{"admin can profile", "root", "GET", "/clusters/team-a/ray1/worker/cpu_profile?pid=1", "", 404, "cluster.admin", "allow", "role admin allows cluster.admin"},
		{"developer cannot deploy serve", "alice", "PUT", "/clusters/team-a/ray1/api/serve/applications/", `{}`, 403, "serve.deploy", "deny", "role developer does not allow serve.deploy (needs admin)"},
		{"unknown path is admin", "alice", "GET", "/clusters/team-a/ray1/api/brand/new", "", 403, "cluster.admin", "deny", "role developer does not allow cluster.admin (needs admin)"},
		{"ambiguous path before auth", "", "GET", "/clusters/team-a/ray1/api/jobs/..%2f..%2fteam-b", "", 400, "", "deny", "ambiguous path: encoded slash"},
		{"dot segments", "alice", "GET", "/clusters/team-b/ray1/../../team-a/ray1/api/version", "", 400, "", "deny", "ambiguous path: dot segment"},
		{"not a cluster path", "alice", "GET", "/api/version", "", 404, "", "deny", "no route"},
		{"bad namespace", "alice", "GET", "/clusters/Team-A/ray1/api/version", "", 404, "", "deny", "no route"},
		{"gateway path unknown", "alice", "GET", "/_raygate/nope", "", 404, "", "deny", "no route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, tc.user, tc.method, tc.path, tc.body)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			ev := lastEvent(t, h)
			if ev.Action != tc.action || ev.Decision != tc.decision || ev.Status != tc.status || ev.Reason != tc.reason {
				t.Fatalf("audit %+v, want action %q decision %q reason %q", ev, tc.action, tc.decision, tc.reason)
			}
			if resp.Header.Get("X-Request-Id") != ev.RequestID || ev.RequestID == "" {
				t.Fatalf("request id header %q audit %q", resp.Header.Get("X-Request-Id"), ev.RequestID)
			}
			if tc.decision == "deny" {
				var eb proxy.ErrorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" || eb.RequestID != ev.RequestID {
					t.Fatalf("deny body %q is not a JSON error", body)
				}
			}
		})
	}
}

func TestNotFoundIsIndistinguishable(t *testing.T) {
	h := newHarness(t)
	a := h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", "")
	b := h.do(t, "eve", "GET", "/clusters/team-z/nope/api/version", "")
	norm := func(r *http.Response) string {
		var eb proxy.ErrorBody
		_ = json.Unmarshal([]byte(readBody(t, r)), &eb)
		eb.RequestID = ""
		out, _ := json.Marshal(eb)
		return r.Status + r.Header.Get("Content-Type") + string(out)
	}
	if x, y := norm(a), norm(b); x != y {
		t.Fatalf("existing but forbidden cluster answers %q, missing cluster %q", x, y)
	}
}

func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, "", "GET", "/clusters/team-a/ray1/api/version", "")
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="raygate"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	r = h.do(t, "", "GET", "/clusters/team-a/ray1/api/version", "", "Authorization", "Bearer wrong-key")
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("status %d WWW-Authenticate %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	r = h.do(t, "", "GET", "/clusters/team-a/ray1/api/version", "", "Authorization", "Basic YWxpY2U6cHc=")
	if r.StatusCode != 401 {
		t.Fatalf("basic auth: status %d", r.StatusCode)
	}
	// Spoofed identity headers authenticate nobody.
	r = h.do(t, "", "GET", "/clusters/team-a/ray1/api/version", "", "X-Forwarded-User", "root", "X-Forwarded-Groups", "team-a")
	if r.StatusCode != 401 {
		t.Fatalf("spoofed headers: status %d", r.StatusCode)
	}
	if len(h.rayA.calls) != 0 {
		t.Fatalf("unauthenticated requests reached Ray: %v", h.rayA.calls)
	}
}

func TestWhatReachesRay(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "",
		"X-Forwarded-User", "root", "X_Forwarded_Groups", "admins", "X-Ray-Authorization", "Bearer guess",
		"Cookie", "ray-authentication-token=stolen; _raygate_session=x; theme=dark")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	got := h.rayA.seen[len(h.rayA.seen)-1]
	if got.Header.Get("Authorization") != "" {
		t.Errorf("client Authorization reached Ray")
	}
	if got.Header.Get("X-Ray-Authorization") != "Bearer cluster-a-token" {
		t.Errorf("X-Ray-Authorization = %q", got.Header.Get("X-Ray-Authorization"))
	}
	if got.Header.Get("X-Forwarded-User") != "alice" || got.Header.Get("X-Forwarded-Groups") != "team-a" {
		t.Errorf("identity headers %q %q", got.Header.Get("X-Forwarded-User"), got.Header.Get("X-Forwarded-Groups"))
	}
	if _, ok := got.Header["X_forwarded_groups"]; ok {
		t.Errorf("underscore spelling reached Ray")
	}
	if c := got.Header.Get("Cookie"); c != "theme=dark" {
		t.Errorf("Cookie = %q", c)
	}
	for _, c := range []string{"key-alice", "stolen", "guess"} {
		for k, vs := range got.Header {
			for _, v := range vs {
				if strings.Contains(v, c) {
					t.Errorf("credential %q reached Ray in %s", c, k)
				}
			}
		}
	}
	// team-b has no token: nothing is injected.
	h.do(t, "eve", "GET", "/clusters/team-b/ray1/api/version", "")
	if got := h.rayB.seen[len(h.rayB.seen)-1]; got.Header.Get("X-Ray-Authorization") != "" {
		t.Errorf("team-b got a token")
	}
}

func TestTrailingSlashRedirect(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, "carol", "GET", "/clusters/team-a/ray1?x=1", "")
	if r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != "/clusters/team-a/ray1/?x=1" {
		t.Fatalf("status %d location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := h.do(t, "eve", "GET", "/clusters/team-a/ray1", ""); r.StatusCode != 404 {
		t.Fatalf("redirect offered to a caller without a role: %d", r.StatusCode)
	}
}

func TestAuditFields(t *testing.T) {
	h := newHarness(t)
	h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version?secret=1", "")
	h.do(t, "", "GET", "/clusters/team-a/ray1/api/version", "", "Authorization", "Bearer not-a-key-xyz")
	raw := func() string { h.audit.mu.Lock(); defer h.audit.mu.Unlock(); return h.audit.b.String() }()
	lines := strings.Split(strings.TrimSpace(raw), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want 2", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"time", "request_id", "user", "groups", "auth_method", "cluster", "action", "method", "path", "decision", "reason", "status", "duration_ms", "remote_addr"} {
			if _, ok := m[k]; !ok {
				t.Errorf("audit line lacks %q: %s", k, l)
			}
		}
	}
	for _, secret := range []string{"key-alice", "not-a-key-xyz", "cluster-a-token", "secret=1"} {
		if strings.Contains(raw, secret) {
			t.Errorf("audit log contains %q", secret)
		}
	}
	ev := h.audit.events(t)[0]
	if ev.User != "alice" || ev.AuthMethod != "apikey" || ev.Cluster != "team-a/ray1" || ev.Role != "developer" ||
		ev.Path != "/clusters/team-a/ray1/api/version" || ev.Reason != "role developer allows cluster.read" || len(ev.Groups) != 1 {
		t.Fatalf("audit %+v", ev)
	}
}

func TestWhoAmI(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, "alice", "GET", "/_raygate/whoami", "")
	var w WhoAmI
	if err := json.Unmarshal([]byte(readBody(t, r)), &w); err != nil {
		t.Fatal(err)
	}
	if w.User != "alice" || len(w.Clusters) != 1 || w.Clusters[0].Cluster != "team-a/ray1" || w.Clusters[0].Role != "developer" {
		t.Fatalf("whoami %+v", w)
	}
	if r := h.do(t, "", "GET", "/_raygate/whoami", ""); r.StatusCode != 401 {
		t.Fatalf("anonymous whoami: %d", r.StatusCode)
	}
}

func TestHealthAndNoMetricsOnPublic(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := h.do(t, "", "GET", p, "")
		if b := readBody(t, r); r.StatusCode != 200 || b != "ok\n" {
			t.Fatalf("%s: %d %q", p, r.StatusCode, b)
		}
	}
	if ev := lastEvent(t, h); ev.Action != "gateway.health" || ev.Decision != "allow" || ev.Path != "/readyz" {
		t.Fatalf("health probe audit %+v", ev)
	}
	if r := h.do(t, "root", "GET", "/metrics", ""); r.StatusCode != 404 {
		t.Fatalf("/metrics on the public listener: %d", r.StatusCode)
	}
	h.g.Drain()
	if r := h.do(t, "", "GET", "/readyz", ""); r.StatusCode != 503 {
		t.Fatalf("readyz while draining: %d", r.StatusCode)
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t)
	rl := &Reloader{Path: h.path, Gateway: h.g}
	rl.Prime()
	if r := h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 404 {
		t.Fatalf("before: %d", r.StatusCode)
	}
	b, _ := os.ReadFile(h.path)
	grant := strings.Replace(string(b), "- {role: admin, users: [root]}", "- {role: admin, users: [root]}\n      - {role: viewer, users: [eve]}", 1)
	if err := os.WriteFile(h.path, []byte(grant), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rl.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if r := h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("after grant: %d", r.StatusCode)
	}
	// An invalid config is refused and the old one stays.
	if err := os.WriteFile(h.path, []byte(grant+"bogus: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rl.Reload("test"); err == nil || !strings.Contains(err.Error(), "bogus: unknown field") {
		t.Fatalf("invalid config: %v, want it refused for its unknown field", err)
	}
	if r := h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("after refused reload: %d", r.StatusCode)
	}
	// Changing what needs a restart is refused too.
	if err := os.WriteFile(h.path, []byte(strings.Replace(grant, "listen: 127.0.0.1:0", "listen: 127.0.0.1:7", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rl.Reload("test"); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("listen change: %v", err)
	}
	if err := os.WriteFile(h.path, []byte(grant+"server: {idleTimeout: 5s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rl.Reload("test"); err == nil || !strings.Contains(err.Error(), "server timeouts or size limits changed: restart") {
		t.Fatalf("server timeout change: %v", err)
	}
	// Trusted proxies reload.
	if err := os.WriteFile(h.path, []byte(grant+"server: {trustedProxies: [127.0.0.1]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rl.Reload("test"); err != nil {
		t.Fatal(err)
	}
	h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "", "X-Forwarded-For", "203.0.113.5, 198.51.100.9")
	if ev := lastEvent(t, h); ev.RemoteAddr != "198.51.100.9" {
		t.Fatalf("behind a trusted proxy remote_addr = %q", ev.RemoteAddr)
	}
	// A rotated Ray token is picked up.
	if err := os.WriteFile(h.path, []byte(grant), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := strings.Replace(h.path, "raygate.yaml", "a.token", 1)
	_ = os.WriteFile(tokenFile, []byte("rotated-token"), 0o600)
	h.rayA.token = "rotated-token"
	if err := rl.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if r := h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("after token rotation: %d", r.StatusCode)
	}
}

// TestConcurrentRequestsDuringReloads: requests in flight while the config
// is swapped again and again all get a consistent answer and an audit line.
func TestConcurrentRequestsDuringReloads(t *testing.T) {
	h := newHarness(t)
	rl := &Reloader{Path: h.path, Gateway: h.g}
	rl.Prime()
	orig, _ := os.ReadFile(h.path)
	alt := strings.Replace(string(orig), "maxBodyBytes: {default: 1000, jobSubmit: 2000}", "maxBodyBytes: {default: 1001, jobSubmit: 2000}", 1)
	const workers, each = 6, 60
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				req, _ := http.NewRequest("GET", h.srv.URL+"/clusters/team-a/ray1/api/version", nil)
				user := "alice"
				if i%3 == 0 {
					user = "eve"
				}
				req.Header.Set("Authorization", "Bearer "+users[user])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				resp.Body.Close()
				if want := map[string]int{"alice": 200, "eve": 404}[user]; resp.StatusCode != want {
					errs <- fmt.Sprintf("%s got %d", user, resp.StatusCode)
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		text := string(orig)
		if i%2 == 0 {
			text = alt
		}
		_ = os.WriteFile(h.path, []byte(text), 0o600)
		if err := rl.Reload("test"); err != nil {
			t.Errorf("reload %d: %v", i, err)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(h.audit.events(t)); n != workers*each {
		t.Fatalf("%d audit lines for %d requests", n, workers*each)
	}
}
