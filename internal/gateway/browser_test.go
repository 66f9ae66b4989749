package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
)

// browserRig is a gateway with browser sign-in at a fake identity
// provider, in front of a fake Ray.
type browserRig struct {
	*harness
	idp *oidctest.Provider
	// cookies the browser holds.
	cookies map[string]string
}

const iapAudience = "/projects/1/global/backendServices/2"

func newBrowserRig(t *testing.T, extra string) *browserRig {
	t.Helper()
	r := &browserRig{harness: &harness{rayA: newFakeRay(t, "cluster-a-token"), rayB: newFakeRay(t, ""), audit: &syncBuffer{}, m: metrics.New()}, cookies: map[string]string{}}
	r.idp = oidctest.New(t, oidctest.Options{})
	var handler http.Handler
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handler.ServeHTTP(w, req) }))
	t.Cleanup(r.srv.Close)
	dir := t.TempDir()
	for name, text := range map[string]string{"a.token": "cluster-a-token", "secret": r.idp.ClientSecret, "key": strings.Repeat("B", 43) + "="} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := fmt.Sprintf(`listen: 127.0.0.1:0
metricsListen: 127.0.0.1:1
externalURL: %s
authentication:
  oidc:
    - {issuer: %s, audiences: [raygate], login: true, clientID: raygate, clientSecretFile: secret}
  session: {keyFiles: [key]}
%sclusters:
  - namespace: team-a
    name: ray1
    upstream: %s
    rayTokenFile: a.token
    actionRoles: {logs.read: developer}
    access:
      - {role: developer, groups: [team-a]}
      - {role: viewer, groups: [team-a-viewers]}
      - {role: admin, groups: [platform-admins]}
      - {role: developer, users: [erin@example.com]}
  - namespace: team-b
    name: ray1
    upstream: %s
    access:
      - {role: developer, groups: [team-b]}
`, r.srv.URL, r.idp.Issuer, extra, r.rayA.srv.URL, r.rayB.srv.URL)
	r.path = filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(r.path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	r.g = New(r.m, slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(r.audit))
	st, err := r.g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.g.Swap(st, 0)
	handler = r.g
	return r
}

// get sends a request as the browser, keeping its cookies; hdr are pairs.
func (r *browserRig) send(t *testing.T, method, u string, hdr ...string) *http.Response {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = r.srv.URL + u
	}
	req, _ := http.NewRequest(method, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	for k, v := range r.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(r.cookies, c.Name)
		} else {
			r.cookies[c.Name] = c.Value
		}
	}
	return resp
}

var navigate = []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}
var xhr = []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Fetch-Site", "same-origin", "Accept", "application/json, text/plain, */*"}

// signIn follows a browser from a page through sign-in and back.
func (r *browserRig) signIn(t *testing.T, page string, as oidctest.User) {
	t.Helper()
	r.idp.SignInAs(as)
	resp := r.send(t, "GET", page, navigate...)
	for i := 0; resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther; i++ {
		if i > 5 {
			t.Fatal("redirect loop")
		}
		resp = r.send(t, "GET", resp.Header.Get("Location"), navigate...)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("after sign-in %s: %s", page, resp.Status)
	}
}

var carol = oidctest.User{Subject: "u-carol", Email: "carol@example.com", Groups: []string{"team-a-viewers"}}

func TestBrowserWithoutSession(t *testing.T) {
	r := newBrowserRig(t, "")
	resp := r.send(t, "GET", "/clusters/team-a/ray1/?a=1", navigate...)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/_raygate/sign-in?rd=%2Fclusters%2Fteam-a%2Fray1%2F%3Fa%3D1" {
		t.Fatalf("navigation: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if e := lastEvent(t, r.harness); e.Decision != audit.Deny || e.Reason != "authentication: missing_credential; sent to sign-in" {
		t.Fatalf("audit %+v", e)
	}
	for name, hdr := range map[string][]string{"the dashboard's XHR": xhr, "curl": {"Accept", "*/*"}} {
		resp := r.send(t, "GET", "/clusters/team-a/ray1/api/jobs/", hdr...)
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: %s %s", name, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
	// A POST is never redirected: the form would be lost.
	if resp := r.send(t, "POST", "/clusters/team-a/ray1/api/jobs/", navigate...); resp.StatusCode != 401 || !strings.Contains(readBody(t, resp), "Sign in") {
		t.Fatalf("POST navigation: %s", resp.Status)
	}
}

func TestBrowserSession(t *testing.T) {
	r := newBrowserRig(t, "")
	r.signIn(t, "/clusters/team-a/ray1/", carol)
	if len(r.rayA.calls) == 0 || r.rayA.calls[len(r.rayA.calls)-1] != "GET /" {
		t.Fatalf("the dashboard was not served after sign-in: %v", r.rayA.calls)
	}
	up := r.rayA.seen[len(r.rayA.seen)-1]
	if c := up.Header.Get("Cookie"); c != "" {
		t.Fatalf("Ray received cookies %q", c)
	}
	if up.Header.Get("X-Ray-Authorization") != "Bearer cluster-a-token" || up.Header.Get("X-Forwarded-User") != "carol@example.com" {
		t.Fatalf("upstream headers %v", up.Header)
	}
	e := lastEvent(t, r.harness)
	if e.User != "carol@example.com" || e.AuthMethod != "session" || e.Action != "dashboard.view" || e.Decision != audit.Allow {
		t.Fatalf("audit %+v", e)
	}
	if resp := r.send(t, "GET", "/clusters/team-a/ray1/", navigate...); resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Fatalf("the dashboard may be framed by other sites: X-Frame-Options %q", resp.Header.Get("X-Frame-Options"))
	}

	t.Run("landing page", func(t *testing.T) {
		resp := r.send(t, "GET", "/", navigate...)
		page := readBody(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(page, `href="/clusters/team-a/ray1/"`) || strings.Contains(page, "team-b") ||
			!strings.Contains(page, "role-viewer") || !strings.Contains(page, "browser sign-in with "+r.idp.Issuer) {
			t.Fatalf("landing: %s\n%s", resp.Status, page)
		}
		resp = r.send(t, "GET", "/", xhr...)
		var who WhoAmI
		if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || who.User != "carol@example.com" || who.AuthMethod != "session" || len(who.Clusters) != 1 || who.Clusters[0].Role != "viewer" {
			t.Fatalf("landing as JSON: %+v %v", who, err)
		}
	})
	t.Run("Ray's token dialog is not triggered", func(t *testing.T) {
		n := len(r.rayA.calls)
		resp := r.send(t, "GET", "/clusters/team-a/ray1/api/authentication_mode", xhr...)
		if b := readBody(t, resp); resp.StatusCode != 200 || strings.TrimSpace(b) != `{"authentication_mode": "disabled"}` || len(r.rayA.calls) != n {
			t.Fatalf("%s %q, Ray called: %v", resp.Status, b, len(r.rayA.calls) != n)
		}
	})
	t.Run("a viewer may not submit", func(t *testing.T) {
		resp := r.send(t, "POST", "/clusters/team-a/ray1/api/jobs/", append(xhr, "Origin", r.srv.URL)...)
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 403 || body["action"] != "jobs.submit" || body["required_role"] != "developer" || body["role"] != "viewer" {
			t.Fatalf("%s %v", resp.Status, body)
		}
	})
	t.Run("logs.read raised for this cluster", func(t *testing.T) {
		resp := r.send(t, "GET", "/clusters/team-a/ray1/api/v0/logs/file?node_id=n&filename=x.log", xhr...)
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 403 || body["action"] != "logs.read" || !strings.Contains(body["message"], "needs developer on this cluster") {
			t.Fatalf("%s %v", resp.Status, body)
		}
		resp = r.send(t, "GET", "/clusters/team-a/ray1/api/v0/logs/file?node_id=n&filename=x.log", navigate...)
		if page := readBody(t, resp); resp.StatusCode != 403 || !strings.Contains(page, "You can&#39;t read log files on team-a/ray1") {
			t.Fatalf("page: %s\n%s", resp.Status, page)
		}
	})
	t.Run("a cross-site state change is refused", func(t *testing.T) {
		n := len(r.rayA.calls)
		resp := r.send(t, "POST", "/clusters/team-a/ray1/api/jobs/", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain")
		if resp.StatusCode != 403 || len(r.rayA.calls) != n {
			t.Fatalf("%s", resp.Status)
		}
		if e := lastEvent(t, r.harness); e.Decision != audit.Deny || e.Reason != "authentication: cross_site" {
			t.Fatalf("audit %+v", e)
		}
	})
	t.Run("another tenant's cluster does not exist", func(t *testing.T) {
		resp := r.send(t, "GET", "/clusters/team-b/ray1/", navigate...)
		if page := readBody(t, resp); resp.StatusCode != 404 || !strings.Contains(page, "There is nothing here for you") {
			t.Fatalf("%s\n%s", resp.Status, page)
		}
	})
	t.Run("a reload keeps the session", func(t *testing.T) {
		cfg, err := config.Load(r.path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.g.Build(cfg, r.g.State())
		if err != nil {
			t.Fatal(err)
		}
		r.g.Swap(st, time.Minute)
		if resp := r.send(t, "GET", "/clusters/team-a/ray1/api/version", xhr...); resp.StatusCode != 200 {
			t.Fatalf("after reload: %s", resp.Status)
		}
	})
	t.Run("sign-out", func(t *testing.T) {
		resp := r.send(t, "POST", "/_raygate/sign-out", append(navigate, "Origin", r.srv.URL)...)
		if resp.StatusCode != http.StatusSeeOther || len(r.cookies) != 0 {
			t.Fatalf("%s, cookies left %v", resp.Status, r.cookies)
		}
		if e := lastEvent(t, r.harness); e.Action != "gateway.sign-out" || e.User != "carol@example.com" || e.Decision != audit.Allow {
			t.Fatalf("audit %+v", e)
		}
		if resp := r.send(t, "GET", "/clusters/team-a/ray1/api/version", xhr...); resp.StatusCode != 401 {
			t.Fatalf("after sign-out: %s", resp.Status)
		}
	})
}

var dave = oidctest.User{Subject: "u-dave", Email: "dave@example.com", Groups: []string{"platform-admins"}}

// TestCrossSiteGETBeyondReading: SameSite=Lax sends the session cookie
// with a top-level navigation from any site, and Ray acts on some GETs
// (its profilers attach to worker processes). A GET that is more than a
// read, authenticated by the cookie, must come from raygate's own pages
// or from the person (address bar, bookmark); a cross-site link to a read
// still works.
func TestCrossSiteGETBeyondReading(t *testing.T) {
	r := newBrowserRig(t, "")
	r.signIn(t, "/", dave)
	profile := "/clusters/team-a/ray1/worker/cpu_profile?pid=1&ip=127.0.0.1&duration=5"
	crossSite := append(append([]string{}, navigate...), "Sec-Fetch-Site", "cross-site")
	for name, tc := range map[string]struct {
		path   string
		hdr    []string
		action string
		refuse bool
	}{
		"cross-site link to a profiler":       {profile, crossSite, "cluster.admin", true},
		"cross-site link to a package lookup": {"/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_x.zip", crossSite, "jobs.submit", true},
		"cross-site fetch of a profiler":      {profile, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, "cluster.admin", true},
		"no fetch metadata":                   {profile, []string{"Accept", "*/*"}, "cluster.admin", true},
		"the dashboard's own link":            {profile, append(append([]string{}, navigate...), "Sec-Fetch-Site", "same-origin"), "cluster.admin", false},
		"typed into the address bar":          {profile, append(append([]string{}, navigate...), "Sec-Fetch-Site", "none"), "cluster.admin", false},
		"cross-site link to the dashboard":    {"/clusters/team-a/ray1/", crossSite, "dashboard.view", false},
		"cross-site link to a job":            {"/clusters/team-a/ray1/api/jobs/", crossSite, "cluster.read", false},
	} {
		t.Run(name, func(t *testing.T) {
			n := len(r.rayA.calls)
			resp := r.send(t, "GET", tc.path, tc.hdr...)
			readBody(t, resp)
			reached := len(r.rayA.calls) != n
			e := eventOf(t, r.harness, resp)
			if e.Action != tc.action {
				t.Fatalf("action %q, want %q", e.Action, tc.action)
			}
			if tc.refuse {
				if resp.StatusCode != 403 || reached || e.Decision != audit.Deny || e.Reason != "authentication: cross_site" {
					t.Fatalf("%s, Ray called %v, audit %+v: want 403 cross_site", resp.Status, reached, e)
				}
				return
			}
			if !reached || e.Decision != audit.Allow {
				t.Fatalf("%s, Ray called %v, audit %+v: want forwarded", resp.Status, reached, e)
			}
		})
	}
}

// TestIAPCrossSite: behind IAP the browser is authenticated by IAP's own
// cookie, which it sends whatever site made it send the request; IAP
// adds its signed header to every request it lets through. So a request
// that IAP authenticates and that changes state (an unsafe method, an
// upgrade, an action beyond reading) must not come from another site,
// as with raygate's own session. Programs that go through IAP send no
// Origin or fetch metadata, and are not browsers: they pass.
func TestIAPCrossSite(t *testing.T) {
	r, sign := iapRig(t)
	now := time.Now()
	erin := sign(map[string]any{"iss": "https://cloud.google.com/iap", "aud": iapAudience, "email": "erin@example.com", "sub": "5", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	id := r.submitAs(t, erin)
	crossSite := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}
	for name, tc := range map[string]struct {
		method, path string
		hdr          []string
		action       string
		refuse       bool
	}{
		"cross-site form stops a job":      {"POST", "/clusters/team-a/ray1/api/jobs/" + id + "/stop", crossSite, "jobs.stop", true},
		"cross-site link to a package":     {"GET", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_x.zip", []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}, "jobs.submit", true},
		"cross-site WebSocket to a log":    {"GET", "/clusters/team-a/ray1/api/jobs/" + id + "/logs/tail", []string{"Origin", "https://evil.example", "Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13"}, "cluster.read", true},
		"same-site but another origin":     {"POST", "/clusters/team-a/ray1/api/jobs/" + id + "/stop", []string{"Origin", "https://other.example", "Sec-Fetch-Site", "same-site"}, "jobs.stop", true},
		"its own page stops a job":         {"POST", "/clusters/team-a/ray1/api/jobs/" + id + "/stop", []string{"Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin"}, "jobs.stop", false},
		"a program stops a job":            {"POST", "/clusters/team-a/ray1/api/jobs/" + id + "/stop", nil, "jobs.stop", false},
		"cross-site link to the job list":  {"GET", "/clusters/team-a/ray1/api/jobs/", []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}, "cluster.read", false},
		"package lookup typed by the user": {"GET", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_x.zip", []string{"Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate"}, "jobs.submit", false},
	} {
		t.Run(name, func(t *testing.T) {
			n := len(r.rayA.calls)
			resp := r.send(t, tc.method, tc.path, append([]string{"X-Goog-Iap-Jwt-Assertion", erin}, tc.hdr...)...)
			readBody(t, resp)
			e := eventOf(t, r.harness, resp)
			var forwarded bool
			for _, c := range r.rayA.calls[n:] {
				forwarded = forwarded || strings.HasSuffix(tc.path, strings.TrimPrefix(c[strings.Index(c, " ")+1:], "/"))
			}
			if e.Action != tc.action || e.AuthMethod != "iap" {
				t.Fatalf("audit %+v, want action %s by iap", e, tc.action)
			}
			if tc.refuse {
				if resp.StatusCode != 403 || forwarded || e.Reason != "authentication: cross_site" {
					t.Fatalf("%s, forwarded %v, audit %+v: want 403 cross_site", resp.Status, forwarded, e)
				}
				return
			}
			if !forwarded || e.Decision != audit.Allow {
				t.Fatalf("%s, forwarded %v, audit %+v: want forwarded", resp.Status, forwarded, e)
			}
		})
	}
}

// submitAs submits a job with an IAP assertion and returns its id.
func (r *browserRig) submitAs(t *testing.T, assertion string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", r.srv.URL+"/clusters/team-a/ray1/api/jobs/", strings.NewReader(`{"entrypoint":"x"}`))
	req.Header.Set("X-Goog-Iap-Jwt-Assertion", assertion)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sub struct {
		SubmissionID string `json:"submission_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sub); err != nil || resp.StatusCode != 200 {
		t.Fatalf("submit behind IAP: %s %v", resp.Status, err)
	}
	return sub.SubmissionID
}

// TestBearerUnaffected: a bearer token with a cross-site Origin is not a
// cookie; it is authorized as before.
func TestBearerUnaffected(t *testing.T) {
	r := newBrowserRig(t, "  apiKeys:\n    - {name: alice, sha256: "+keyHash(users["alice"])+", user: alice, groups: [team-a]}\n")
	resp := r.send(t, "POST", "/clusters/team-a/ray1/api/jobs/", "Authorization", "Bearer "+users["alice"], "Origin", "https://evil.example", "Content-Type", "application/json")
	if resp.StatusCode == 403 {
		t.Fatalf("a bearer request was refused as cross-site: %s", readBody(t, resp))
	}
}

// iapRig is a browser rig in IAP mode; sign returns an assertion IAP
// would send with claims.
func iapRig(t *testing.T) (r *browserRig, sign func(claims map[string]any) string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "iap", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(jwks.Close)
	r = newBrowserRig(t, fmt.Sprintf("  sharedIssuerNamespace: true\n  iap: {audience: %q, jwksURL: %s}\n", iapAudience, jwks.URL))
	return r, func(claims map[string]any) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "iap"))
		b, _ := json.Marshal(claims)
		obj, _ := s.Sign(b)
		tok, _ := obj.CompactSerialize()
		return tok
	}
}

func TestIAP(t *testing.T) {
	r, sign := iapRig(t)
	now := time.Now()
	good := sign(map[string]any{"iss": "https://cloud.google.com/iap", "aud": iapAudience, "email": "carol@example.com", "sub": "1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	resp := r.send(t, "GET", "/clusters/team-b/ray1/api/version", "X-Goog-Iap-Jwt-Assertion", good)
	if resp.StatusCode != 404 {
		t.Fatalf("carol on team-b: %s", resp.Status)
	}
	if e := lastEvent(t, r.harness); e.User != "carol@example.com" || e.AuthMethod != "iap" {
		t.Fatalf("audit %+v", e)
	}
	resp = r.send(t, "GET", "/", "X-Goog-Iap-Jwt-Assertion", good, "Accept", "application/json")
	var who WhoAmI
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || who.User != "carol@example.com" || who.AuthMethod != "iap" {
		t.Fatalf("whoami %+v %v", who, err)
	}
	// The unsigned headers IAP also sends name nobody.
	resp = r.send(t, "GET", "/clusters/team-a/ray1/api/version", "X-Goog-Authenticated-User-Email", "accounts.google.com:carol@example.com", "Accept", "application/json")
	if resp.StatusCode != 401 {
		t.Fatalf("unsigned IAP headers: %s", resp.Status)
	}
	bad := sign(map[string]any{"iss": "https://cloud.google.com/iap", "aud": "/projects/1/global/backendServices/3", "email": "carol@example.com", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	if resp := r.send(t, "GET", "/", "X-Goog-Iap-Jwt-Assertion", bad, "Accept", "application/json"); resp.StatusCode != 401 {
		t.Fatalf("another backend's assertion: %s", resp.Status)
	}
}

// TestIAPHeadersNeverReachRay: with a valid assertion, neither it nor the
// unsigned headers reach the cluster.
func TestIAPHeadersNeverReachRay(t *testing.T) {
	r := newBrowserRig(t, "")
	r.signIn(t, "/clusters/team-a/ray1/", carol)
	r.send(t, "GET", "/clusters/team-a/ray1/api/version", "X-Goog-Authenticated-User-Email", "accounts.google.com:root@example.com",
		"X-Goog-Authenticated-User-Id", "1", "X-Goog-Iap-Jwt-Assertion", "forged", "Sec-Fetch-Site", "same-origin")
	for _, req := range r.rayA.seen {
		for k := range req.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-goog-") {
				t.Fatalf("Ray received %s", k)
			}
		}
	}
}

// TestBrowserUpstreamDown: a browser gets a page when the Ray head is
// down, an API client JSON.
func TestBrowserUpstreamDown(t *testing.T) {
	r := newBrowserRig(t, "")
	r.signIn(t, "/", carol)
	r.rayA.srv.Close()
	resp := r.send(t, "GET", "/clusters/team-a/ray1/", navigate...)
	if page := readBody(t, resp); resp.StatusCode != 502 || !strings.Contains(page, "The Ray cluster did not answer") {
		t.Fatalf("%s\n%s", resp.Status, page)
	}
	resp = r.send(t, "GET", "/clusters/team-a/ray1/api/version", xhr...)
	if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}
