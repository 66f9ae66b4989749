package signin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
	"github.com/raygate/raygate/internal/session"
)

// rig is a Browser behind a test server, with a fake identity provider.
type rig struct {
	t   testing.TB
	idp *oidctest.Provider
	srv *httptest.Server
	b   *Browser
	cfg *config.Config
	log *bytes.Buffer
}

type rigOptions struct {
	idp         oidctest.Options
	maxLifetime string
	issuers     int // extra login issuers (for the chooser)
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, idp: oidctest.New(t, o.idp), log: &bytes.Buffer{}}
	var handler http.Handler
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handler.ServeHTTP(w, req) }))
	t.Cleanup(r.srv.Close)
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secret", r.idp.ClientSecret+"\n")
	write("key", strings.Repeat("A", 43)+"=\n")
	if o.maxLifetime == "" {
		o.maxLifetime = "12h"
	}
	var extra strings.Builder
	for i := 0; i < o.issuers; i++ {
		fmt.Fprintf(&extra, "    - {issuer: https://other%d.example.com, audiences: [x], login: true, clientID: x, displayName: Other %d}\n", i, i)
	}
	text := fmt.Sprintf(`externalURL: %s
authentication:
  sharedIssuerNamespace: true
  oidc:
    - issuer: %s
      audiences: [%s]
      login: true
      clientID: %s
      clientSecretFile: secret
      displayName: Test IdP
%s  session:
    keyFiles: [key]
    maxLifetime: %s
`, r.srv.URL, r.idp.Issuer, r.idp.ClientID, r.idp.ClientID, extra.String(), o.maxLifetime)
	write("raygate.yaml", text)
	cfg, err := config.Load(filepath.Join(dir, "raygate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	verifiers := map[string]*authn.OIDC{}
	for _, oc := range cfg.Authentication.OIDC {
		ks, err := authn.NewKeySet(oc.Issuer, "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		verifiers[oc.Issuer] = authn.NewOIDC(oc, ks)
	}
	r.b, err = New(Options{Config: cfg, Verifiers: verifiers, Log: slog.New(slog.NewTextHandler(r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if Owns(req.URL.Path) {
			rec := httptest.NewRecorder()
			res := r.b.Serve(rec, req, "rid-1")
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("X-Test-Reason", res.Reason)
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		id, err := r.b.Authenticate(w, req)
		if err != nil {
			var f *authn.Failure
			switch {
			case errors.Is(err, authn.ErrNoCredential):
				http.Error(w, "no credential", http.StatusUnauthorized)
			case errors.As(err, &f):
				w.Header().Set("X-Test-Reason", f.Reason)
				http.Error(w, f.Msg, f.Status)
			default:
				http.Error(w, err.Error(), 500)
			}
			return
		}
		fmt.Fprintf(w, "%s %s", id.User, strings.Join(id.Groups, ","))
	})
	return r
}

// browser keeps cookies like a browser talking to one site (and the
// identity provider, which sets none), and does not follow redirects.
type browser struct {
	t       *testing.T
	mu      sync.Mutex
	cookies map[string]string
	// header is added to every request (Origin, Sec-Fetch-*).
	header http.Header
}

func newBrowser(t *testing.T) *browser {
	return &browser{t: t, cookies: map[string]string{}, header: http.Header{}}
}

func (br *browser) do(method, u string, hdr ...string) *http.Response {
	br.t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		br.t.Fatal(err)
	}
	for k, v := range br.header {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	br.mu.Lock()
	for k, v := range br.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	br.mu.Unlock()
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		br.t.Fatal(err)
	}
	br.mu.Lock()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(br.cookies, c.Name)
		} else {
			br.cookies[c.Name] = c.Value
		}
	}
	br.mu.Unlock()
	return resp
}

func (br *browser) get(u string, hdr ...string) *http.Response { return br.do("GET", u, hdr...) }

// signIn runs the whole flow from /_raygate/sign-in?rd=rd and returns the
// callback's response.
func (r *rig) signIn(br *browser, rd string) *http.Response {
	r.t.Helper()
	resp := br.get(r.srv.URL + PathSignIn + "?rd=" + url.QueryEscape(rd))
	if resp.StatusCode != http.StatusFound {
		r.t.Fatalf("sign-in: %s %s", resp.Status, body(resp))
	}
	idp := br.get(resp.Header.Get("Location"))
	if idp.StatusCode != http.StatusFound {
		r.t.Fatalf("identity provider: %s", idp.Status)
	}
	return br.get(idp.Header.Get("Location"))
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

func TestSignInFlow(t *testing.T) {
	r := newRig(t, rigOptions{})
	br := newBrowser(t)
	start := br.get(r.srv.URL + PathSignIn + "?rd=" + url.QueryEscape("/clusters/team-a/ray1/?x=1"))
	if start.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: %s", start.Status)
	}
	auth, _ := url.Parse(start.Header.Get("Location"))
	q := auth.Query()
	if !strings.HasPrefix(auth.String(), r.idp.Issuer+"/auth?") || q.Get("code_challenge_method") != "S256" || len(q.Get("state")) < 32 ||
		len(q.Get("nonce")) < 32 || q.Get("redirect_uri") != r.srv.URL+PathCallback || q.Get("scope") != "openid email groups profile offline_access" {
		t.Fatalf("authorization request %s", auth)
	}
	var login *http.Cookie
	for _, c := range start.Cookies() {
		if strings.HasPrefix(c.Name, "raygate-login-") {
			login = c
		}
	}
	if login == nil || !login.HttpOnly || login.SameSite != http.SameSiteLaxMode || login.MaxAge != 600 {
		t.Fatalf("sign-in cookie %+v", login)
	}
	if strings.Contains(login.Value, q.Get("nonce")) || strings.Contains(start.Header.Get("Location"), login.Value) {
		t.Fatal("the sign-in cookie is not sealed")
	}
	cb := br.get(br.get(auth.String()).Header.Get("Location"))
	if cb.StatusCode != http.StatusSeeOther || cb.Header.Get("Location") != "/clusters/team-a/ray1/?x=1" {
		t.Fatalf("callback: %s to %q: %s", cb.Status, cb.Header.Get("Location"), body(cb))
	}
	var sess *http.Cookie
	for _, c := range cb.Cookies() {
		switch {
		case c.Name == session.PlainSessionName:
			sess = c
		case strings.HasPrefix(c.Name, "raygate-login-") && c.MaxAge >= 0:
			t.Error("the sign-in cookie was not cleared")
		}
	}
	if sess == nil || !sess.HttpOnly || sess.Secure || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" {
		t.Fatalf("session cookie %+v", sess)
	}
	if got := body(br.get(r.srv.URL + "/clusters/team-a/ray1/")); got != "carol@example.com team-a-viewers" {
		t.Fatalf("authenticated as %q", got)
	}
	if !strings.Contains(r.log.String(), "without Secure and without the __Host- prefix") {
		t.Error("no warning about plain-HTTP cookies")
	}
}

// TestSignInSecureCookies: over https the cookies are __Host- and Secure.
func TestSignInSecureCookies(t *testing.T) {
	r := newRig(t, rigOptions{})
	codec := r.b.jar.Codec
	jar := &session.Jar{Codec: codec, Secure: true}
	rec := httptest.NewRecorder()
	if err := jar.WriteLogin(rec, &session.Login{State: strings.Repeat("s", 43), Nonce: strings.Repeat("n", 43), Verifier: strings.Repeat("v", 43), Issuer: "i", Return: "/", Expires: 1}); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if !strings.HasPrefix(c.Name, "__Host-raygate-login-") || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie %+v", c)
	}
}

func TestCallbackRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(r *rig, br *browser, cb string) string // returns the callback URL to call
		status int
		reason string
		page   string
	}{
		{"a replayed state", func(r *rig, br *browser, cb string) string {
			saved := map[string]string{}
			for k, v := range br.cookies {
				saved[k] = v
			}
			if resp := br.get(cb); resp.StatusCode != http.StatusSeeOther {
				r.t.Fatalf("first use: %s", resp.Status)
			}
			br.cookies = saved // a kept copy of the sign-in cookie
			return cb
		}, 400, "sign-in failed: state replayed", "was already completed"},
		{"a callback without the browser's sign-in cookie", func(r *rig, br *browser, cb string) string {
			br.cookies = map[string]string{}
			return cb
		}, 400, "sign-in failed: unknown state", "no sign-in in progress"},
		{"another state", func(r *rig, br *browser, cb string) string {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", strings.Repeat("x", 43))
			u.RawQuery = q.Encode()
			return u.String()
		}, 400, "sign-in failed: unknown state", "no sign-in in progress"},
		{"a missing PKCE verifier", func(r *rig, br *browser, cb string) string {
			forge(r, br, cb, func(l string) string { return strings.Replace(l, `"v":"`+field(l, "v")+`"`, `"v":""`, 1) })
			return cb
		}, 400, "sign-in failed: no PKCE verifier", "no PKCE code verifier"},
		{"a wrong PKCE verifier", func(r *rig, br *browser, cb string) string {
			forge(r, br, cb, func(l string) string { return strings.Replace(l, field(l, "v"), strings.Repeat("w", 43), 1) })
			return cb
		}, 400, "sign-in failed: code refused: invalid_grant", "refused to redeem"},
		{"a wrong nonce", func(r *rig, br *browser, cb string) string {
			return cb // the provider was told to put another nonce in the ID token
		}, 401, "sign-in failed: ID token: nonce_mismatch", "nonce does not match"},
		{"an expired sign-in", func(r *rig, br *browser, cb string) string {
			r.b.now = func() time.Time { return time.Now().Add(11 * time.Minute) }
			return cb
		}, 400, "sign-in failed: sign-in expired", "longer than 10 minutes"},
		{"a sign-in cookie sealed with another key", func(r *rig, br *browser, cb string) string {
			other, _ := session.NewCodec([][]byte{bytes.Repeat([]byte{7}, 32)})
			for k, v := range br.cookies {
				if strings.HasPrefix(k, "raygate-login-") {
					l, _ := r.b.jar.Codec.DecodeLogin(v)
					br.cookies[k], _ = other.EncodeLogin(l)
				}
			}
			return cb
		}, 400, "sign-in failed: unreadable state", "could not be read"},
		{"a tampered sign-in cookie", func(r *rig, br *browser, cb string) string {
			for k, v := range br.cookies {
				if strings.HasPrefix(k, "raygate-login-") {
					br.cookies[k] = tamper(v, 20)
				}
			}
			return cb
		}, 400, "sign-in failed: unreadable state", "could not be read"},
		{"an error from the identity provider", func(r *rig, br *browser, cb string) string {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			u.RawQuery = q.Encode()
			return u.String()
		}, 401, "sign-in failed: identity provider refused: access_denied", "did not sign you in (access_denied)"},
		{"no code", func(r *rig, br *browser, cb string) string {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Del("code")
			u.RawQuery = q.Encode()
			return u.String()
		}, 400, "sign-in failed: no code", "no authorization code"},
		{"no state", func(r *rig, br *browser, cb string) string {
			return r.srv.URL + PathCallback + "?code=x"
		}, 400, "sign-in failed: no state", "has no state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			if tc.name == "a wrong nonce" {
				r.idp.SetNonce("not-the-nonce-of-this-sign-in")
			}
			br := newBrowser(t)
			start := br.get(r.srv.URL + PathSignIn + "?rd=/")
			cb := br.get(start.Header.Get("Location")).Header.Get("Location")
			u := tc.break_(r, br, cb)
			resp := br.get(u, "Sec-Fetch-Mode", "navigate", "Accept", "text/html")
			page := body(resp)
			if resp.StatusCode != tc.status || resp.Header.Get("X-Test-Reason") != tc.reason {
				t.Fatalf("callback: %s (%s), want %d (%s): %s", resp.Status, resp.Header.Get("X-Test-Reason"), tc.status, tc.reason, page)
			}
			if !strings.Contains(page, "Sign-in failed") || !strings.Contains(page, tc.page) || !strings.Contains(page, `href="/_raygate/sign-in"`) {
				t.Fatalf("page lacks the explanation %q or a way to sign in again:\n%s", tc.page, page)
			}
			if _, ok := br.cookies[session.PlainSessionName]; ok && tc.name != "a replayed state" {
				t.Fatal("a refused sign-in set a session")
			}
		})
	}
}

// field returns the value of a string field of a login record's JSON.
func field(l, name string) string {
	_, rest, _ := strings.Cut(l, `"`+name+`":"`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// forge rewrites the browser's sign-in cookie with the deployment's own
// key, as someone holding the key (or a bug) could.
func forge(r *rig, br *browser, cb string, edit func(string) string) {
	for k, v := range br.cookies {
		if !strings.HasPrefix(k, "raygate-login-") {
			continue
		}
		plain, err := r.b.jar.Codec.Open("raygate login v1", v)
		if err != nil {
			r.t.Fatal(err)
		}
		br.cookies[k], _ = r.b.jar.Codec.Seal("raygate login v1", []byte(edit(string(plain))))
	}
}

// TestReturnURLs runs the open-redirect corpus through sign-in: every
// payload is refused with a page that says why, and no sign-in starts.
func TestReturnURLs(t *testing.T) {
	r := newRig(t, rigOptions{})
	bad := readCorpus(t, "../returnurl/testdata/open-redirects.txt")
	for _, p := range bad {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			br := newBrowser(t)
			resp := br.get(r.srv.URL+PathSignIn+"?rd="+url.QueryEscape(p), "Sec-Fetch-Mode", "navigate")
			page := body(resp)
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("X-Test-Reason"), "return path refused") {
				t.Fatalf("%s (%s), want 400", resp.Status, resp.Header.Get("X-Test-Reason"))
			}
			if resp.Header.Get("Location") != "" || len(br.cookies) != 0 {
				t.Fatal("a refused return path started a sign-in")
			}
			if !strings.Contains(page, "not a page of raygate") {
				t.Fatalf("page does not say why:\n%s", page)
			}
		})
	}
	for _, p := range readCorpus(t, "../returnurl/testdata/same-origin-paths.txt") {
		if strings.HasPrefix(p, "/_raygate/signed-out") {
			continue
		}
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			br := newBrowser(t)
			if cb := r.signIn(br, p); cb.Header.Get("Location") != p {
				t.Fatalf("returned to %q, want %q", cb.Header.Get("Location"), p)
			}
		})
	}
	// A repeated rd is ambiguous.
	resp := newBrowser(t).get(r.srv.URL + PathSignIn + "?rd=/a&rd=//evil.example")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("two return paths: %s", resp.Status)
	}
}

func readCorpus(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var s string
		if _, err := fmt.Sscanf(line, "%q", &s); err != nil {
			t.Fatalf("%s: %q: %v", file, line, err)
		}
		out = append(out, s)
	}
	return out
}

func TestChooser(t *testing.T) {
	r := newRig(t, rigOptions{issuers: 1})
	br := newBrowser(t)
	resp := br.get(r.srv.URL + PathSignIn + "?rd=/x")
	page := body(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, "Continue with Test IdP") || !strings.Contains(page, "Continue with Other 0") ||
		!strings.Contains(page, `href="/_raygate/sign-in?issuer=0&amp;rd=%2Fx"`) {
		t.Fatalf("chooser: %s\n%s", resp.Status, page)
	}
	for _, bad := range []string{"2", "-1", "01", "x"} {
		if resp := br.get(r.srv.URL + PathSignIn + "?issuer=" + bad); resp.StatusCode != 200 || !strings.Contains(body(resp), "Continue with") {
			t.Errorf("issuer=%s: %s, want the chooser", bad, resp.Status)
		}
	}
	start := br.get(r.srv.URL + PathSignIn + "?issuer=0&rd=/x")
	if !strings.HasPrefix(start.Header.Get("Location"), r.idp.Issuer) {
		t.Fatalf("issuer 0: %s %s", start.Status, start.Header.Get("Location"))
	}
}

func TestLoopbackHostMismatch(t *testing.T) {
	r := newRig(t, rigOptions{})
	u, _ := url.Parse(r.srv.URL)
	req, _ := http.NewRequest("GET", r.srv.URL+PathSignIn+"?rd=/a", nil)
	req.Host = "localhost:" + u.Port()
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != r.srv.URL+PathSignIn+"?rd=/a" {
		t.Fatalf("%s to %s", resp.Status, resp.Header.Get("Location"))
	}
}

// tamper returns v with the base64url character at i replaced by a
// different one, so the sealed value always changes.
func tamper(v string, i int) string {
	c := byte('A')
	if v[i] == 'A' {
		c = 'B'
	}
	return v[:i] + string(c) + v[i+1:]
}
