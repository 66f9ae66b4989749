package ui

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares a rendered page with testdata/NAME.html (go test
// -update rewrites it; open it in a browser to look at it).
func golden(t *testing.T, name string, rec *httptest.ResponseRecorder) string {
	t.Helper()
	body := rec.Body.String()
	path := "testdata/" + name + ".html"
	if *update {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it)", name, path)
	}
	checkPage(t, rec)
	return body
}

var externalRef = regexp.MustCompile(`(?i)(src|href|action)="(https?:)?//`)

// checkPage checks what every page must be: headers, landmarks, no
// external asset, the inline style allowed by its hash.
func checkPage(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	sum := sha256.Sum256([]byte(style))
	for k, v := range map[string]string{
		"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Frame-Options": "DENY",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
	} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if c := h.Get("Content-Security-Policy"); !strings.Contains(c, "default-src 'none'") || !strings.Contains(c, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("CSP %q does not allow exactly the inline style", c)
	}
	body := rec.Body.String()
	for _, want := range []string{`<html lang="en">`, `<main id="main"`, `<header`, `<footer>`, `href="#main"`, "<h1"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if m := externalRef.FindString(body); m != "" {
		t.Errorf("page refers to another site: %s", m)
	}
	if strings.Contains(body, "<script") {
		t.Error("page has a script")
	}
}

func TestLanding(t *testing.T) {
	rec := httptest.NewRecorder()
	RenderLanding(rec, Landing{
		User: User{Name: "carol@example.com", CanSignOut: true}, Method: "sign-in with http://127.0.0.1:5556/dex",
		Groups: []string{"team-a-viewers"}, Until: time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC),
		Clusters: []ClusterLink{{Namespace: "team-a", Name: "ray1", Role: "viewer", URL: "/clusters/team-a/ray1/", RoleHelp: RoleHelp("viewer")}},
	})
	body := golden(t, "landing", rec)
	for _, want := range []string{`href="/clusters/team-a/ray1/"`, "role-viewer", "carol@example.com", `action="/_raygate/sign-out"`, "team-a-viewers"} {
		if !strings.Contains(body, want) {
			t.Errorf("landing lacks %s", want)
		}
	}
}

func TestLandingWithoutClusters(t *testing.T) {
	rec := httptest.NewRecorder()
	RenderLanding(rec, Landing{User: User{Name: "mallory@example.com"}, Method: "bearer token from http://127.0.0.1:5556/dex", Groups: []string{"contractors"}})
	body := golden(t, "landing-empty", rec)
	if !strings.Contains(body, "No Ray cluster is shared with you yet") || strings.Contains(body, "/clusters/") {
		t.Error("the empty landing page does not say there is no cluster")
	}
	if strings.Contains(body, "sign-out") {
		t.Error("a sign-out button for a caller raygate cannot sign out")
	}
	if strings.Contains(body, "Session until") {
		t.Error("a session end shown for a caller without a session")
	}
}

func TestProblemNegotiation(t *testing.T) {
	p := Problem{Status: 403, Code: "forbidden", Message: "forbidden: role viewer does not allow jobs.submit (needs developer)",
		RequestID: "rid-1", Action: "jobs.submit", Needs: "developer", Role: "viewer", Cluster: "team-a/ray1"}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		html    bool
	}{
		{"navigation", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, true},
		{"old browser", map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, true},
		{"the dashboard's XHR", map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "application/json, text/plain, */*"}, false},
		{"curl", map[string]string{"Accept": "*/*"}, false},
		{"no Accept", nil, false},
		{"JSON preferred", map[string]string{"Accept": "application/json, text/html;q=0.5"}, false},
		{"HTML refused", map[string]string{"Accept": "text/html;q=0"}, false},
		{"an iframe is no page of ours", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe", "Accept": "text/html"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/clusters/team-a/ray1/api/jobs/", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			WriteProblem(rec, r, p)
			if rec.Code != 403 {
				t.Fatalf("status %d", rec.Code)
			}
			isHTML := strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html")
			if isHTML != tc.html {
				t.Fatalf("HTML = %v, want %v", isHTML, tc.html)
			}
			if !tc.html {
				var b map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
					t.Fatal(err)
				}
				if b["error"] != "forbidden" || b["action"] != "jobs.submit" || b["required_role"] != "developer" || b["role"] != "viewer" || b["request_id"] != "rid-1" {
					t.Fatalf("JSON %v does not name the action and the roles", b)
				}
			}
		})
	}
}

func TestProblemPages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     Problem
		wants []string
	}{
		{"forbidden", Problem{Status: 403, Code: "forbidden", Message: "forbidden: role viewer does not allow jobs.submit (needs developer)", RequestID: "rid-1", Action: "jobs.submit", Needs: "developer", Role: "viewer", Cluster: "team-a/ray1"},
			[]string{"You can&#39;t submit jobs on team-a/ray1", "<code>jobs.submit</code>", "<strong>developer</strong>", "viewer", "rid-1"}},
		{"not-found", Problem{Status: 404, Code: "not_found", Message: "not found", RequestID: "rid-2"},
			[]string{"There is nothing here for you", "404 · Not Found"}},
		{"sign-in-failed", Problem{Status: 400, Code: "sign_in_failed", Heading: "Sign-in failed", Message: "this sign-in was already used or has expired; sign in again", SignIn: "/_raygate/sign-in?rd=%2F"},
			[]string{"Sign-in failed", `href="/_raygate/sign-in?rd=%2F"`, "This sign-in was already used"}},
		{"unauthenticated", Problem{Status: 401, Code: "unauthenticated", Message: "your session is not valid", SignIn: "/_raygate/sign-in"},
			[]string{"Sign in to continue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Sec-Fetch-Mode", "navigate")
			rec := httptest.NewRecorder()
			WriteProblem(rec, r, tc.p)
			body := golden(t, "problem-"+tc.name, rec)
			for _, w := range tc.wants {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestOtherPages(t *testing.T) {
	rec := httptest.NewRecorder()
	RenderChooser(rec, []Issuer{{Name: "Corporate SSO", URL: "/_raygate/sign-in?issuer=0&rd=%2F"}, {Name: "Dex", URL: "/_raygate/sign-in?issuer=1&rd=%2F"}})
	if body := golden(t, "chooser", rec); !strings.Contains(body, "Continue with Corporate SSO") {
		t.Error("chooser lacks an issuer")
	}
	rec = httptest.NewRecorder()
	RenderSignedOut(rec, true)
	if body := golden(t, "signed-out", rec); !strings.Contains(body, "may still keep you signed in") {
		t.Error("signed-out page does not say the provider's session was kept")
	}
	rec = httptest.NewRecorder()
	RenderSignOut(rec, &User{Name: "carol@example.com", CanSignOut: true}, false)
	if body := golden(t, "sign-out", rec); !strings.Contains(body, `method="post"`) {
		t.Error("sign-out page has no POST form")
	}
}

func TestIsNavigation(t *testing.T) {
	for _, tc := range []struct {
		method  string
		headers map[string]string
		want    bool
	}{
		{"GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, true},
		{"HEAD", map[string]string{"Sec-Fetch-Mode": "navigate"}, true},
		{"POST", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, false},
		{"GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, false},
		{"GET", map[string]string{"Accept": "text/html"}, true},
		{"GET", map[string]string{"Accept": "application/json"}, false},
		{"GET", nil, false},
	} {
		r := httptest.NewRequest(tc.method, "/", nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		if got := IsNavigation(r); got != tc.want {
			t.Errorf("%s %v: IsNavigation = %v, want %v", tc.method, tc.headers, got, tc.want)
		}
	}
}

func TestWriteErrorIsJSONForAPIs(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/", nil), http.StatusBadGateway, "bad_gateway", "the Ray cluster is unreachable", "rid")
	if rec.Code != 502 || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"error":"bad_gateway"`) {
		t.Fatalf("%d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}
