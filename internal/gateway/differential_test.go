package gateway

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
)

// TestExplainAgreesWithGateway sends every route of the classification
// table, with every method, as every user, to every cluster (and one that
// does not exist) through the real gateway in front of a fake Ray, and
// explains the same request offline from the same config file: both must
// reach the same decision, action, reason and status.
func TestExplainAgreesWithGateway(t *testing.T) {
	h, p, ids := explainHarness(t)
	type request struct {
		method, path string
		upgrade      bool
	}
	var reqs []request
	for _, r := range authz.Routes() {
		path := instantiate(r.Pattern)
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			reqs = append(reqs, request{m, path, false})
		}
		if r.WebSocket {
			reqs = append(reqs, request{"GET", path, true})
		}
	}
	for _, extra := range []string{"", "/api/jobs/bad.id", "/api/jobs/bad.id/stop", "/api/brand/new", "/logs/raylet.out", "/api/jobs", "/static/"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			reqs = append(reqs, request{m, extra, false})
		}
	}
	n := 0
	for user := range users {
		for _, cluster := range []string{"team-a/ray1", "team-b/ray1", "team-c/ray9"} {
			for _, rq := range reqs {
				if agree(t, h, p, ids[user], user, rq.method, "/clusters/"+cluster+rq.path, rq.upgrade) {
					n++
				}
			}
		}
	}
	t.Logf("%d requests agree", n)
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
		agree(t, h, p, ids[user], user, method, path, upgrade)
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

// agree serves one request through the gateway, explains it, and reports
// whether they agree.
func agree(t testing.TB, h *harness, p explain.Policy, id *identity.Identity, user, method, path string, upgrade bool) bool {
	t.Helper()
	name := fmt.Sprintf("%s %s %s", user, method, path)
	if upgrade {
		name += " (upgrade)"
	}
	for _, f := range []*fakeRay{h.rayA, h.rayB} {
		f.mu.Lock()
		f.jobs = map[string]map[string]string{"raysubmit_1": {"raygate.owner": jobOwner}}
		f.mu.Unlock()
	}
	got := h.serveDirect(t, user, method, path, upgrade)
	owner := jobOwner
	q := explain.Query{Method: method, Path: path, Upgrade: upgrade, JobOwner: &owner}
	if !strings.Contains(path, "/api/jobs/raysubmit_1") {
		q.JobMissing = true // the only job on the clusters
	}
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

// outcome is what the gateway did with one request.
type outcome struct {
	Decision, Action, Reason string
	Status                   int
	forwarded                bool
}

// serveDirect serves one request through the gateway and reads its audit
// line; forwarded says whether Ray saw it.
func (h *harness) serveDirect(t testing.TB, user, method, path string, upgrade bool) outcome {
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
	r.Header.Set("Authorization", "Bearer "+users[user])
	if upgrade {
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
	}
	h.rayA.reset()
	h.rayB.reset()
	h.audit.reset()
	w := httptest.NewRecorder()
	h.g.ServeHTTP(w, r)
	ev := lastEvent(t, h)
	// A stop's first call to Ray is raygate's own owner lookup.
	calls := h.rayA.callCount() + h.rayB.callCount()
	forwarded := calls > 0
	if ev.Action == string(authz.ActionJobsStop) || ev.Action == string(authz.ActionJobsStopAny) {
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
