//go:build e2e

package browser_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/raygate/raygate/internal/session"

	"github.com/raygate/raygate/test/e2e/harness"
)

// codec seals and opens cookies with the stack gateway's session key, as
// someone holding the key (or a bug) could.
func codec(t *testing.T, s *harness.Stack) *session.Codec {
	t.Helper()
	c, err := session.NewCodec([][]byte{s.SessionKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// page sends one request with c and returns the status, the Location and
// the body. hdr are header pairs; a browser navigation unless it says
// otherwise.
func page(t *testing.T, c *http.Client, method, u string, hdr ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// startSignIn walks a sign-in for email up to Dex's answer and returns the
// callback URL, not yet visited, and the client holding the sign-in
// cookie.
func startSignIn(t *testing.T, s *harness.Stack, email string) (*http.Client, string) {
	t.Helper()
	c := harness.NewBrowserClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cb, err := s.Dex.SignInCallback(ctx, c, s.Gateway.URL+"/_raygate/sign-in?rd=%2Fclusters%2Fteam-a%2Fray1%2F", email, s.Gateway.URL+"/_raygate/callback")
	if err != nil {
		t.Fatal(err)
	}
	return c, cb
}

// loginCookie returns the name and value of the client's sign-in cookie.
func loginCookie(t *testing.T, s *harness.Stack, c *http.Client) (string, string) {
	t.Helper()
	u, _ := url.Parse(s.Gateway.URL)
	for _, k := range c.Jar.Cookies(u) {
		if strings.HasPrefix(k.Name, "raygate-login-") {
			return k.Name, k.Value
		}
	}
	t.Fatal("no sign-in cookie")
	return "", ""
}

func setCookie(s *harness.Stack, c *http.Client, name, value string) {
	u, _ := url.Parse(s.Gateway.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// forgeLogin reseals the client's sign-in cookie after edit changed it.
func forgeLogin(t *testing.T, s *harness.Stack, c *http.Client, edit func(*session.Login)) {
	t.Helper()
	name, value := loginCookie(t, s, c)
	k := codec(t, s)
	plain, err := k.Open("raygate login v1", value)
	if err != nil {
		t.Fatal(err)
	}
	var l session.Login
	if err := json.Unmarshal(plain, &l); err != nil {
		t.Fatal(err)
	}
	edit(&l)
	b, _ := json.Marshal(&l)
	sealed, _ := k.Seal("raygate login v1", b)
	setCookie(s, c, name, sealed)
}

// signedIn returns a client with a real session of email.
func signedIn(t *testing.T, s *harness.Stack, email string) *http.Client {
	t.Helper()
	c, cb := startSignIn(t, s, email)
	if status, loc, body := page(t, c, "GET", cb); status != http.StatusSeeOther || loc != "/clusters/team-a/ray1/" {
		t.Fatalf("callback: %d to %q: %s", status, loc, body)
	}
	return c
}

func TestSignInRefusals(t *testing.T) {
	s := requireStack(t)
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T) (int, string)
		status int
		says   string
	}{
		{"a replayed state", func(t *testing.T) (int, string) {
			c, cb := startSignIn(t, s, "carol@example.com")
			name, value := loginCookie(t, s, c)
			if status, _, body := page(t, c, "GET", cb); status != http.StatusSeeOther {
				t.Fatalf("first use: %d %s", status, body)
			}
			setCookie(s, c, name, value) // a kept copy of the sign-in cookie
			status, _, body := page(t, c, "GET", cb)
			return status, body
		}, 400, "was already completed"},
		{"a missing PKCE verifier", func(t *testing.T) (int, string) {
			c, cb := startSignIn(t, s, "carol@example.com")
			forgeLogin(t, s, c, func(l *session.Login) { l.Verifier = "" })
			status, _, body := page(t, c, "GET", cb)
			return status, body
		}, 400, "has no PKCE code verifier"},
		{"a wrong PKCE verifier", func(t *testing.T) (int, string) {
			c, cb := startSignIn(t, s, "carol@example.com")
			forgeLogin(t, s, c, func(l *session.Login) { l.Verifier = strings.Repeat("w", 43) })
			status, _, body := page(t, c, "GET", cb)
			return status, body
		}, 400, "refused to redeem this sign-in (invalid_grant)"},
		{"a wrong nonce", func(t *testing.T) (int, string) {
			c, cb := startSignIn(t, s, "carol@example.com")
			forgeLogin(t, s, c, func(l *session.Login) { l.Nonce = strings.Repeat("n", 43) })
			status, _, body := page(t, c, "GET", cb)
			return status, body
		}, 401, "nonce does not match"},
		{"a callback in another browser", func(t *testing.T) (int, string) {
			_, cb := startSignIn(t, s, "carol@example.com")
			status, _, body := page(t, harness.NewBrowserClient(), "GET", cb)
			return status, body
		}, 400, "no sign-in in progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.run(t)
			if status != tc.status || !strings.Contains(body, "Sign-in failed") || !strings.Contains(body, tc.says) || !strings.Contains(body, `href="/_raygate/sign-in"`) {
				t.Fatalf("%d, want %d with a page saying %q:\n%s", status, tc.status, tc.says, body)
			}
		})
	}
}

func TestSessionRefusals(t *testing.T) {
	s := requireStack(t)
	whoami := s.Gateway.URL + "/_raygate/whoami"
	dash := s.Gateway.URL + "/clusters/team-a/ray1/"
	u, _ := url.Parse(s.Gateway.URL)
	session := func(c *http.Client) string {
		for _, k := range c.Jar.Cookies(u) {
			if k.Name == "raygate-session" {
				return k.Value
			}
		}
		return ""
	}
	c := signedIn(t, s, "carol@example.com")
	if status, _, body := page(t, c, "GET", whoami, "Sec-Fetch-Mode", "cors", "Accept", "application/json"); status != 200 || !strings.Contains(body, `"auth_method":"session"`) {
		t.Fatalf("a real session: %d %s", status, body)
	}
	good := session(c)
	other, _ := sessionCodecWithOtherKey()
	sess, err := codec(t, s).DecodeSession(good)
	if err != nil {
		t.Fatal(err)
	}
	fromOther, _ := other.EncodeSession(sess)
	expired := *sess
	expired.RefreshToken, expired.Expires = "", time.Now().Add(-time.Minute).Unix()
	expiredValue, _ := codec(t, s).EncodeSession(&expired)
	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 1

	for _, tc := range []struct {
		name, value string
		// Navigation: the page a browser gets; API: the JSON reason.
		navStatus int
		navSays   string
		apiSays   string
	}{
		{"a tampered cookie", string(tampered), 401, "session cookie is not valid", "session cookie is not valid"},
		{"a cookie from another key", fromOther, 401, "sealed with a key raygate no longer holds", "sealed with a key raygate no longer holds"},
		{"an expired session", expiredValue, 302, "/_raygate/sign-in?rd=%2Fclusters%2Fteam-a%2Fray1%2F", "your session has expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := harness.NewBrowserClient()
			setCookie(s, api, "raygate-session", tc.value)
			status, _, body := page(t, api, "GET", whoami, "Sec-Fetch-Mode", "cors", "Accept", "application/json")
			if status != 401 || !strings.Contains(body, tc.apiSays) {
				t.Fatalf("API: %d %s", status, body)
			}
			if session(api) != "" {
				t.Fatal("the refused cookie was not cleared")
			}
			nav := harness.NewBrowserClient()
			setCookie(s, nav, "raygate-session", tc.value)
			status, loc, body := page(t, nav, "GET", dash)
			if status != tc.navStatus || !strings.Contains(loc+body, tc.navSays) {
				t.Fatalf("navigation: %d %q\n%s", status, loc, body)
			}
			if status == 401 && !strings.Contains(body, `href="/_raygate/sign-in?rd=%2Fclusters%2Fteam-a%2Fray1%2F"`) {
				t.Fatalf("the page offers no sign-in:\n%s", body)
			}
		})
	}
}

func sessionCodecWithOtherKey() (*session.Codec, error) {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return session.NewCodec([][]byte{k})
}

// TestOpenRedirects sends the whole open-redirect corpus to the running
// gateway's sign-in: every payload is refused with a page, and no
// sign-in starts.
func TestOpenRedirects(t *testing.T) {
	s := requireStack(t)
	f, err := os.Open("../../../internal/returnurl/testdata/open-redirects.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := strconv.Unquote(line)
		if err != nil {
			t.Fatal(err)
		}
		n++
		c := harness.NewBrowserClient()
		status, loc, body := page(t, c, "GET", s.Gateway.URL+"/_raygate/sign-in?rd="+url.QueryEscape(p))
		if status != 400 || loc != "" || !strings.Contains(body, "not a page of raygate") {
			t.Errorf("rd=%q: %d %q", p, status, loc)
		}
	}
	if n < 100 {
		t.Fatalf("%d payloads, want at least 100", n)
	}
	// A legitimate path starts a sign-in at Dex.
	status, loc, _ := page(t, harness.NewBrowserClient(), "GET", s.Gateway.URL+"/_raygate/sign-in?rd=%2Fclusters%2Fteam-a%2Fray1%2F%23%2Fjobs")
	if status != 400 {
		t.Errorf("a fragment in rd: %d", status)
	}
	status, loc, _ = page(t, harness.NewBrowserClient(), "GET", s.Gateway.URL+"/_raygate/sign-in?rd=%2Fclusters%2Fteam-a%2Fray1%2F")
	if status != 302 || !strings.HasPrefix(loc, s.Dex.Issuer+"/auth?") {
		t.Errorf("a path on raygate: %d %q", status, loc)
	}
}

// TestCrossSite: a page of another site, in a real browser that holds a
// raygate session, cannot make raygate change anything: its form POST and
// its fetch carry the cookie (the site is the same, 127.0.0.1, only the
// port differs) but not raygate's Origin. A WebSocket upgrade with the
// cookie from another origin is refused as well.
func TestCrossSite(t *testing.T) {
	s := requireStack(t)
	gw := s.Gateway.URL
	target := gw + "/clusters/team-a/ray1/api/jobs/"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path != "/" {
			fmt.Fprint(w, `<!doctype html><title>evil</title><p>nothing to see`)
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>evil</title>
<form id="f" method="post" action="%s" enctype="text/plain"><input name='{"entrypoint":"echo pwned","x":"' value='"}'></form>
<script>document.getElementById("f").submit()</script>`, target)
	}))
	defer evil.Close()

	c := chromium(t, "cross-site")
	signIn(t, c, gw, "alice@example.com") // a developer: the POST would be allowed from raygate
	resp := must[*network.Response](t)(c.Navigate(evil.URL))
	_ = resp
	if _, err := c.WaitURL(30*time.Second, target); err != nil {
		t.Fatal(err)
	}
	text := must[string](t)(c.WaitText(10*time.Second, "does not come from raygate"))
	screenshot(t, c, "cross-site-post")
	if !strings.Contains(text, "403") {
		t.Fatalf("cross-site form POST:\n%s", text)
	}
	// A fetch from the other site, with credentials.
	must[*network.Response](t)(c.Navigate(evil.URL + "/nothing"))
	got := must[string](t)(harness.Eval[string](c, fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "include", mode: "no-cors", body: "{}"}).then(() => "sent", e => "error: " + e)`, target)))
	if got != "sent" {
		t.Fatalf("fetch: %s", got)
	}
	time.Sleep(time.Second)
	b, _ := os.ReadFile(s.Gateway.AuditPath)
	refused := 0
	for _, line := range strings.Split(string(b), "\n") {
		var e struct{ Method, Path, Decision, Reason string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Method == "POST" && e.Path == "/clusters/team-a/ray1/api/jobs/" && e.Reason == "authentication: cross_site" {
			refused++
		}
		if strings.Contains(line, "echo pwned") && strings.Contains(line, `"decision":"allow"`) {
			t.Fatalf("a cross-site POST submitted a job: %s", line)
		}
	}
	if refused < 2 {
		t.Fatalf("%d cross-site POSTs refused in the audit log, want 2", refused)
	}

	// A WebSocket upgrade with the session cookie from another origin.
	hc := signedIn(t, s, "carol@example.com")
	status, _, body := page(t, hc, "GET", gw+"/clusters/team-a/ray1/api/jobs/raysubmit_x/logs/tail",
		"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==",
		"Origin", "http://evil.example", "Sec-Fetch-Mode", "websocket", "Accept", "*/*")
	if status != 403 || !strings.Contains(body, "cross_site") && !strings.Contains(body, "does not come from raygate") {
		t.Fatalf("cross-origin WebSocket: %d %s", status, body)
	}
}
