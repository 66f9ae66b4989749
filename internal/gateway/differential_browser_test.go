package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
)

// TestExplainAgreesWithGatewayInBrowsers is TestExplainAgreesWithGateway
// for credentials a browser sends by itself: raygate's session cookie
// (carol, a viewer, and dave, an admin, signed in) and IAP's signed header
// (erin, a developer, and mallory, with no role). Every request is sent
// once from raygate's own pages and once from another site: from its own
// pages the gateway must do what explain says; from another site too,
// unless the explanation's origin rule says it is refused, and then with
// the rule's answer and reason. team-a/ray1 raises logs.read to developer.
func TestExplainAgreesWithGatewayInBrowsers(t *testing.T) {
	type caller struct {
		rig *browserRig
		hdr http.Header
	}
	var callers []caller
	for _, u := range []oidctest.User{carol, dave} {
		r := newBrowserRig(t, "")
		r.signIn(t, "/", u)
		hdr := http.Header{}
		for k, v := range r.cookies {
			hdr.Add("Cookie", (&http.Cookie{Name: k, Value: v}).String())
		}
		callers = append(callers, caller{r, hdr})
	}
	r, sign := iapRig(t)
	for _, email := range []string{"erin@example.com", "mallory@example.com"} {
		now := time.Now()
		a := sign(map[string]any{"iss": "https://cloud.google.com/iap", "aud": iapAudience, "email": email, "sub": email, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		callers = append(callers, caller{r, http.Header{"X-Goog-Iap-Jwt-Assertion": {a}}})
	}
	n := 0
	for _, c := range callers {
		cfg, err := config.LoadPolicy(c.rig.path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := explain.FromConfig(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := whoIs(t, c.rig, c.hdr)
		own, other := c.hdr.Clone(), c.hdr.Clone()
		own.Set("Origin", c.rig.srv.URL)
		own.Set("Sec-Fetch-Site", "same-origin")
		other.Set("Origin", "https://evil.example")
		other.Set("Sec-Fetch-Site", "cross-site")
		for _, cluster := range []string{"team-a/ray1", "team-b/ray1", "team-c/ray9"} {
			for _, rq := range differentialRequests() {
				path := "/clusters/" + cluster + rq.path
				if agree(t, c.rig.harness, p, id, own, rq.method, path, rq.upgrade) && agreeFromOtherSite(t, c.rig.harness, p, id, other, rq.method, path, rq.upgrade) {
					n++
				}
			}
		}
	}
	t.Logf("%d requests agree, from raygate's pages and from another site", n)
}

// agreeFromOtherSite serves a request another site made the browser send
// and compares it with the explanation.
func agreeFromOtherSite(t *testing.T, h *harness, p explain.Policy, id *identity.Identity, hdr http.Header, method, path string, upgrade bool) bool {
	t.Helper()
	e := explain.Explain(context.Background(), p, differentialQuery(method, path, upgrade), explain.As(id))
	if e.Origin == nil {
		return agree(t, h, p, id, hdr, method, path, upgrade)
	}
	got := h.serveDirect(t, hdr, method, path, upgrade)
	if e.Origin.OtherSite != "deny 403" || got.Status != http.StatusForbidden || got.Decision != "deny" || got.Reason != e.Origin.Reason || got.forwarded {
		t.Errorf("%s %s %s from another site: gateway %+v, explain's origin rule %+v", id.User, method, path, got, e.Origin)
		return false
	}
	return true
}

// whoIs asks the gateway who the credential in hdr proves.
func whoIs(t *testing.T, r *browserRig, hdr http.Header) *identity.Identity {
	t.Helper()
	req := httptest.NewRequest("GET", "/_raygate/whoami", nil)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	w := httptest.NewRecorder()
	r.g.ServeHTTP(w, req)
	var who WhoAmI
	if err := json.NewDecoder(w.Body).Decode(&who); err != nil || w.Code != 200 {
		t.Fatalf("whoami: %d %v", w.Code, err)
	}
	return &identity.Identity{User: who.User, Groups: who.Groups, Method: identity.Method(who.AuthMethod)}
}
