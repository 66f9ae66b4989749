package gateway

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/proxy"
)

// TestForbiddenNamesActionAndRole: every 403 body names the action, the
// role it needs and the caller's role, with the request id of its audit
// line.
func TestForbiddenNamesActionAndRole(t *testing.T) {
	h := newHarness(t)
	h.rayA.jobs["raysubmit_9"] = map[string]string{"raygate.owner": "bob"}
	for _, tc := range []struct {
		name, user, method, path, body string
		want                           proxy.ErrorBody
	}{
		{"viewer submits", "carol", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"x"}`, proxy.ErrorBody{Error: "forbidden",
			Message: "forbidden: role viewer does not allow jobs.submit (needs developer)", Action: "jobs.submit", RequiredRole: "developer", Role: "viewer"}},
		{"developer stops another's job", "alice", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_9/stop", "", proxy.ErrorBody{Error: "forbidden",
			Message: "forbidden: role developer does not allow jobs.stop.any (needs admin)", Action: "jobs.stop.any", RequiredRole: "admin", Role: "developer"}},
		{"developer profiles", "alice", "GET", "/clusters/team-a/ray1/worker/cpu_profile", "", proxy.ErrorBody{Error: "forbidden",
			Message: "forbidden: role developer does not allow cluster.admin (needs admin)", Action: "cluster.admin", RequiredRole: "admin", Role: "developer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.user, tc.method, tc.path, tc.body)
			var got proxy.ErrorBody
			if err := json.Unmarshal([]byte(readBody(t, r)), &got); err != nil || r.StatusCode != 403 {
				t.Fatalf("status %d, body error %v", r.StatusCode, err)
			}
			ev := lastEvent(t, h)
			tc.want.RequestID = ev.RequestID
			if got != tc.want || ev.Action != tc.want.Action {
				t.Fatalf("403 body %+v\nwant %+v (audit %+v)", got, tc.want, ev)
			}
		})
	}
	// Only a 403 explains a role: a 404 says nothing more than not found.
	r := h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", "")
	if b := readBody(t, r); strings.Contains(b, "role") || strings.Contains(b, "action") {
		t.Fatalf("404 body %s", b)
	}
}

func (h *harness) explain(t *testing.T, user, method, path string) (int, *explain.Explanation, string) {
	t.Helper()
	r := h.do(t, user, "GET", "/_raygate/explain?"+url.Values{"method": {method}, "path": {path}}.Encode(), "")
	body := readBody(t, r)
	var e explain.Explanation
	if r.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("explain body %q: %v", body, err)
		}
	}
	return r.StatusCode, &e, body
}

func TestExplainEndpoint(t *testing.T) {
	h := newHarness(t)
	status, e, body := h.explain(t, "carol", "POST", "/clusters/team-a/ray1/api/jobs/")
	if status != 200 || e.Outcome != "deny" || e.Status != 403 || e.Action != "jobs.submit" || e.RequiredRole != "developer" || e.Role != "viewer" ||
		e.Reason != "role viewer does not allow jobs.submit (needs developer)" {
		t.Fatalf("explain: %d %s", status, body)
	}
	if e.Binding == nil || e.Binding.Kind != "user" || e.Binding.Subject != "carol" || e.Binding.Field != "clusters[0].access[1]" || e.Binding.Line == 0 {
		t.Fatalf("binding %+v", e.Binding)
	}
	if strings.Contains(body, h.path) || strings.Contains(body, ".yaml") {
		t.Fatalf("the caller is shown the config's file: %s", body)
	}
	if ev := lastEvent(t, h); ev.Action != "gateway.explain" || ev.Decision != "allow" || ev.User != "carol" || ev.Path != "/_raygate/explain" {
		t.Fatalf("audit %+v", ev)
	}
	// Nothing reaches Ray: no owner lookup for an explained stop either.
	h.rayA.jobs["raysubmit_1"] = map[string]string{"raygate.owner": "alice"}
	calls := len(h.rayA.calls)
	_, e, _ = h.explain(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/stop")
	if e.Outcome != "allow" || e.Condition == "" || e.Ownership == nil || e.Ownership.Other != "deny 403" || len(h.rayA.calls) != calls {
		t.Fatalf("stop explained as %+v; Ray saw %v", e, h.rayA.calls[calls:])
	}

	for _, tc := range []struct {
		name, user, query string
		status            int
		want              string
	}{
		{"no credential", "", "method=GET&path=/", 401, "authentication required"},
		{"no method", "alice", "path=/clusters/team-a/ray1/", 400, "method is required"},
		{"no path", "alice", "method=GET", 400, "path is required"},
		{"twice", "alice", "method=GET&method=POST&path=/", 400, `"method" is given 2 times`},
		{"unknown parameter", "alice", "method=GET&path=/&user=root", 400, `unknown parameter "user"`},
		{"not a method", "alice", "method=G%20T&path=/", 400, "not an HTTP method token"},
		{"relative path", "alice", "method=GET&path=clusters/a/b/", 400, "must start with /"},
		{"bad query", "alice", "method=%zz", 400, "not a valid query string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.user, "GET", "/_raygate/explain?"+tc.query, "")
			var eb proxy.ErrorBody
			_ = json.Unmarshal([]byte(readBody(t, r)), &eb)
			if r.StatusCode != tc.status || !strings.Contains(eb.Message, tc.want) {
				t.Fatalf("%d %+v, want %d %q", r.StatusCode, eb, tc.status, tc.want)
			}
		})
	}
	if r := h.do(t, "alice", "POST", "/_raygate/explain?method=GET&path=/", ""); r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d", r.StatusCode)
	}
}

// TestExplainNeverEnumerates: asked about a cluster it has no role on,
// a caller learns exactly what it learns about one that does not exist.
func TestExplainNeverEnumerates(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/api/jobs/", "/api/jobs/raysubmit_1/stop", "/worker/cpu_profile", "/api/jobs/bad.id", ""} {
		_, a, aBody := h.explain(t, "eve", "POST", "/clusters/team-a/ray1"+p)
		_, b, bBody := h.explain(t, "eve", "POST", "/clusters/team-z/nope"+p)
		norm := strings.NewReplacer("team-a/ray1", "X", "team-z/nope", "X").Replace
		if norm(aBody) != norm(bBody) {
			t.Fatalf("%s: an existing cluster is explained as\n%s\na missing one as\n%s", p, aBody, bBody)
		}
		if a.Outcome != "notfound" || a.Status != 404 || a.Role != "" || a.Binding != nil || a.RequiredRole != "" || b.ClusterSource != "" {
			t.Fatalf("%s: %s", p, aBody)
		}
	}
}
