package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
)

// TestExplainAgreesWithGateway sends every route of the classification
// table, with every method, with and without a WebSocket upgrade, as
// every user, to every cluster (team-b/ray1 raises actionRoles, and
// team-c/ray9 does not exist) through the real gateway in front of a fake
// Ray, and explains the same request offline from the same config file:
// both must reach the same decision, action, reason and status.
func TestExplainAgreesWithGateway(t *testing.T) {
	h, p, ids := explainHarness(t)
	n := 0
	for user := range users {
		for _, cluster := range []string{"team-a/ray1", "team-b/ray1", "team-c/ray9"} {
			for _, rq := range differentialRequests() {
				if agree(t, h, p, ids[user], bearer(user), rq.method, "/clusters/"+cluster+rq.path, rq.upgrade) {
					n++
				}
			}
		}
	}
	t.Logf("%d requests agree", n)
	for _, path := range []string{"/", "/_raygate/whoami", "/_raygate/explain?method=GET&path=/", "/_raygate/login-config", "/_raygate/sign-in", "/_raygate/nothing"} {
		for _, m := range []string{"GET", "HEAD", "POST"} {
			agree(t, h, p, ids["carol"], bearer("carol"), m, path, false)
		}
	}
}

// differentialRequest is a request the differential tests send, to a
// cluster's path.
type differentialRequest struct {
	method, path string
	upgrade      bool
}

// differentialRequests are every route of the classification table with
// every method, with and without a WebSocket upgrade, and paths beside
// the table.
func differentialRequests() []differentialRequest {
	var reqs []differentialRequest
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
	for _, r := range authz.Routes() {
		path := instantiate(r.Pattern)
		for _, m := range methods {
			reqs = append(reqs, differentialRequest{m, path, false})
		}
		reqs = append(reqs, differentialRequest{"GET", path, true}, differentialRequest{"POST", path, true})
	}
	for _, extra := range []string{"", "/api/jobs/bad.id", "/api/jobs/bad.id/stop", "/api/brand/new", "/logs/raylet.out", "/api/jobs", "/static/"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			reqs = append(reqs, differentialRequest{m, extra, false})
		}
	}
	return reqs
}

// TestExplainAgreesWhenPackagesExist: an upload of a package the cluster
// holds already is refused, as the explanation's condition says.
func TestExplainAgreesWhenPackagesExist(t *testing.T) {
	h, p, ids := explainHarness(t)
	for user := range users {
		for _, pkg := range []string{"/api/packages/gcs/_ray_pkg_a.zip", "/api/packages/x1/x1"} {
			path := "/clusters/team-a/ray1" + pkg
			h.rayA.mu.Lock()
			h.rayA.packages = map[string]string{pkg: "zip"}
			h.rayA.mu.Unlock()
			got := h.serveDirect(t, bearer(user), "PUT", path, false)
			e := explain.Explain(context.Background(), p, explain.Query{Method: "PUT", Path: path}, explain.As(ids[user]))
			if e.Outcome != explain.OutcomeAllow {
				if got.Decision != e.Decision || got.Reason != e.Reason || got.Status != e.Status {
					t.Errorf("%s PUT %s: gateway %+v, explain %s %d (%s)", user, path, got, e.Decision, e.Status, e.Reason)
				}
				continue
			}
			if got.Status != http.StatusConflict || got.forwarded || !strings.Contains(e.Condition, "deny 409 ("+got.Reason+")") {
				t.Errorf("%s PUT %s: gateway %+v; explain's condition %q", user, path, got, e.Condition)
			}
		}
	}
}

// FuzzExplainAgreesWithGateway: for any request, explain and the gateway
// agree.
func FuzzExplainAgreesWithGateway(f *testing.F) {
	h, p, ids := explainHarness(f)
	for _, s := range []struct{ method, path string }{
		{"POST", "/clusters/team-a/ray1/api/jobs/"}, {"DELETE", "/clusters/team-a/ray1/api/jobs/raysubmit_1"},
		{"GET", "/clusters/team-b/ray1/static/x.js"}, {"GET", "/clusters/team-a/ray1"}, {"PUT", "/clusters/team-a/ray1/api/serve/applications/"},
		{"GET", "/_raygate/whoami"}, {"GET", "/clusters/team-a/ray1/api/jobs/..%2f"}, {"CONNECT", "/"}, {"get", "/clusters/team-a/ray1/"},
	} {
		f.Add(uint8(0), s.method, s.path, false)
	}
	names := []string{"alice", "bob", "carol", "root", "eve"}
	f.Fuzz(func(t *testing.T, who uint8, method, target string, upgrade bool) {
		if explain.CheckMethod(method) != nil || method == "CONNECT" {
			return // no client sends it; CONNECT needs an authority-form target
		}
		path, err := explain.ParseTarget(target)
		if err != nil || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " #?") || len(target) > 4096 {
			return
		}
		user := names[int(who)%len(names)]
		agree(t, h, p, ids[user], bearer(user), method, path, upgrade)
	})
}

// explainHarness is a gateway in front of fake Rays, the policy of its
// config read offline, and the identities its API keys authenticate.
func explainHarness(tb testing.TB) (*harness, explain.Policy, map[string]*identity.Identity) {
	h := newHarness(tb)
	cfg, err := config.LoadPolicy(h.path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := explain.FromConfig(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ids := map[string]*identity.Identity{}
	for _, k := range cfg.Authentication.APIKeys {
		ids[k.Name] = &identity.Identity{User: k.User, Groups: k.Groups}
	}
	return h, p, ids
}

// jobOwner owns raysubmit_1 on every cluster.
const jobOwner = "alice"

// bearer is the Authorization header of user's API key.
func bearer(user string) http.Header {
	return http.Header{"Authorization": {"Bearer " + users[user]}}
}

// agree serves one request through the gateway with the header hdr (the
// caller's credential, id's), explains it, and reports whether they
// agree.
func agree(t testing.TB, h *harness, p explain.Policy, id *identity.Identity, hdr http.Header, method, path string, upgrade bool) bool {
	t.Helper()
	name := fmt.Sprintf("%s %s %s", id.User, method, path)
	if upgrade {
		name += " (upgrade)"
	}
	for _, f := range []*fakeRay{h.rayA, h.rayB} {
		f.mu.Lock()
		f.jobs = map[string]map[string]string{"raysubmit_1": {"raygate.owner": jobOwner}}
		f.packages = map[string]string{}
		f.mu.Unlock()
	}
	got := h.serveDirect(t, hdr, method, path, upgrade)
	q := differentialQuery(method, path, upgrade)
	e := explain.Explain(context.Background(), p, q, explain.As(id))
	switch {
	case e.Decision != got.Decision || e.Reason != got.Reason || e.Action != got.Action:
		t.Errorf("%s:\n  gateway: %s %d %s (%s)\n  explain: %s %d %s (%s)", name, got.Decision, got.Status, got.Action, got.Reason, e.Decision, e.Status, e.Action, e.Reason)
	case e.Status != 0 && e.Status != got.Status:
		t.Errorf("%s: gateway answered %d, explain says %d (%s)", name, got.Status, e.Status, e.Reason)
	case e.Status == 0 && !got.forwarded:
		t.Errorf("%s: explain says forwarded, the gateway answered %d itself (%s)", name, got.Status, got.Reason)
	default:
		return true
	}
	return false
}

// differentialQuery is the query that explains a request the differential
// tests send: path may carry a query string, which explain leaves out; a
// stop or delete names raysubmit_1, owned by jobOwner, or a job that does
// not exist.
func differentialQuery(method, path string, upgrade bool) explain.Query {
	owner := jobOwner
	escaped, _, _ := strings.Cut(path, "?")
	q := explain.Query{Method: method, Path: escaped, Upgrade: upgrade, JobOwner: &owner}
	if !strings.Contains(path, "/api/jobs/raysubmit_1") {
		q.JobMissing = true // the only job on the clusters
	}
	return q
}

// outcome is what the gateway did with one request.
type outcome struct {
	Decision, Action, Reason string
	Status                   int
	forwarded                bool
}

// serveDirect serves one request through the gateway, with the header
// hdr and, when upgrade is set, a well-formed WebSocket handshake, and
// reads its audit line; forwarded says whether Ray saw it.
func (h *harness) serveDirect(t testing.TB, hdr http.Header, method, path string, upgrade bool) outcome {
	t.Helper()
	var body string
	switch {
	case method == "POST" && strings.HasSuffix(path, "/api/jobs/"):
		body = `{"entrypoint":"echo hi"}`
	case method == "PUT" && strings.Contains(path, "/api/serve/"):
		body = `{}`
	}
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	if upgrade {
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		r.Header.Set("Sec-WebSocket-Version", "13")
	}
	h.rayA.reset()
	h.rayB.reset()
	h.audit.reset()
	w := httptest.NewRecorder()
	h.g.ServeHTTP(w, r)
	ev := lastEvent(t, h)
	// A stop's first call to Ray is raygate's own owner lookup, an
	// upload's the package lookup.
	calls := h.rayA.callCount() + h.rayB.callCount()
	forwarded := calls > 0
	if ev.Action == string(authz.ActionJobsStop) || ev.Action == string(authz.ActionJobsStopAny) || method == "PUT" && strings.Contains(path, "/api/packages/") {
		forwarded = calls > 1
	}
	if w.Code != ev.Status && !(upgrade && ev.Decision == "allow") {
		t.Fatalf("%s %s: answered %d, audited %d", method, path, w.Code, ev.Status)
	}
	return outcome{Decision: ev.Decision, Action: ev.Action, Reason: ev.Reason, Status: ev.Status, forwarded: forwarded}
}

// reset forgets the requests Ray saw.
func (f *fakeRay) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.seen, f.bodies = nil, nil, nil
}

func (f *fakeRay) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (s *syncBuffer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// instantiate makes a path that a classification pattern matches.
func instantiate(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch {
		case s == "{id}":
			segs[i] = "raysubmit_1"
		case strings.HasPrefix(s, "{"):
			segs[i] = "x1"
		case s == "**":
			segs[i] = "js/main.js"
		}
	}
	return strings.Join(segs, "/")
}
