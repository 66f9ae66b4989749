package signin

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/oidcclient/oidctest"
	"github.com/raygate/raygate/internal/session"
)

// signedIn returns a browser with a session.
func signedIn(t *testing.T, r *rig) *browser {
	t.Helper()
	br := newBrowser(t)
	if cb := r.signIn(br, "/"); cb.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s %s", cb.Status, body(cb))
	}
	return br
}

func TestSessionRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(r *rig, br *browser)
		reason string
	}{
		{"a tampered cookie", func(r *rig, br *browser) {
			v := br.cookies[session.PlainSessionName]
			br.cookies[session.PlainSessionName] = v[:30] + flipCase(v[30:31]) + v[31:]
		}, "session_invalid"},
		{"a cookie from another key", func(r *rig, br *browser) {
			other, _ := session.NewCodec([][]byte{bytes.Repeat([]byte{9}, 32)})
			s, _ := r.b.jar.Codec.DecodeSession(br.cookies[session.PlainSessionName])
			br.cookies[session.PlainSessionName], _ = other.EncodeSession(s)
		}, "session_invalid"},
		{"a cookie that is not a session", func(r *rig, br *browser) {
			br.cookies[session.PlainSessionName] = "hello"
		}, "session_invalid"},
		{"a sign-in cookie passed as a session", func(r *rig, br *browser) {
			l := &session.Login{State: strings.Repeat("s", 43), Nonce: strings.Repeat("n", 43), Verifier: strings.Repeat("v", 43), Issuer: r.idp.Issuer, Return: "/", Expires: 1}
			br.cookies[session.PlainSessionName], _ = r.b.jar.Codec.EncodeLogin(l)
		}, "session_invalid"},
		{"an expired session without a refresh token", func(r *rig, br *browser) {
			reseal(r, br, func(s *session.Session) { s.RefreshToken = ""; s.Expires = time.Now().Add(-time.Second).Unix() })
		}, "session_expired"},
		{"a session past its maximum lifetime", func(r *rig, br *browser) {
			reseal(r, br, func(s *session.Session) { s.SignedIn = time.Now().Add(-13 * time.Hour).Unix() })
		}, "session_expired"},
		{"an expired session whose renewal is refused", func(r *rig, br *browser) {
			r.idp.RefuseRefresh(true)
			reseal(r, br, func(s *session.Session) { s.Expires = time.Now().Add(-time.Second).Unix() })
		}, "session_expired"},
		{"a session of an issuer no longer configured", func(r *rig, br *browser) {
			reseal(r, br, func(s *session.Session) { s.Issuer = "https://gone.example.com" })
		}, "session_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			br := signedIn(t, r)
			tc.break_(r, br)
			resp := br.get(r.srv.URL + "/clusters/team-a/ray1/")
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Test-Reason") != tc.reason {
				t.Fatalf("%s (%s), want 401 (%s): %s", resp.Status, resp.Header.Get("X-Test-Reason"), tc.reason, body(resp))
			}
			if _, ok := br.cookies[session.PlainSessionName]; ok {
				t.Fatal("the refused cookie was not cleared")
			}
		})
	}
}

func flipCase(s string) string {
	if strings.ToUpper(s) != s {
		return strings.ToUpper(s)
	}
	if strings.ToLower(s) != s {
		return strings.ToLower(s)
	}
	if s == "0" {
		return "1"
	}
	return "0"
}

// reseal changes the browser's session as someone holding the key could.
func reseal(r *rig, br *browser, edit func(*session.Session)) {
	s, err := r.b.jar.Codec.DecodeSession(br.cookies[session.PlainSessionName])
	if err != nil {
		r.t.Fatal(err)
	}
	edit(s)
	br.cookies[session.PlainSessionName], err = r.b.jar.Codec.EncodeSession(s)
	if err != nil {
		r.t.Fatal(err)
	}
}

func TestSessionRenewal(t *testing.T) {
	r := newRig(t, rigOptions{idp: oidctest.Options{IDTokenTTL: 2 * time.Minute}})
	br := signedIn(t, r)
	before, _ := r.b.jar.Codec.DecodeSession(br.cookies[session.PlainSessionName])
	if before.RefreshToken == "" || before.ExpiresAt().After(time.Now().Add(3*time.Minute)) {
		t.Fatalf("session %+v: no refresh token, or not bounded by the ID token", before)
	}
	// Far from expiry: no renewal.
	if got := body(br.get(r.srv.URL + "/x")); got != "carol@example.com team-a-viewers" || r.idp.Refreshes() != 0 {
		t.Fatalf("%q, %d refreshes", got, r.idp.Refreshes())
	}
	// Within a minute of expiry, many requests at once, all with the old
	// cookie (as a dashboard sends them): one renewal, and every request
	// gets the renewed session.
	r.b.now = func() time.Time { return time.Now().Add(90 * time.Second) }
	var wg sync.WaitGroup
	tabs := make([]*browser, 8)
	got := make([]string, len(tabs))
	for i := range tabs {
		tabs[i] = newBrowser(t)
		for k, v := range br.cookies {
			tabs[i].cookies[k] = v
		}
		wg.Go(func() { got[i] = body(tabs[i].get(r.srv.URL + "/x")) })
	}
	wg.Wait()
	for i, g := range got {
		if g != "carol@example.com team-a-viewers" {
			t.Fatalf("during renewal: %q", g)
		}
		// Each answer seals the renewed session anew (a fresh nonce), so
		// compare what the cookies hold.
		s0, _ := r.b.jar.Codec.DecodeSession(tabs[0].cookies[session.PlainSessionName])
		si, _ := r.b.jar.Codec.DecodeSession(tabs[i].cookies[session.PlainSessionName])
		if s0 == nil || si == nil || si.RefreshToken != s0.RefreshToken || si.Expires != s0.Expires {
			t.Fatal("requests during one renewal got different sessions")
		}
	}
	if n := r.idp.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes for one session, want 1", n)
	}
	after, err := r.b.jar.Codec.DecodeSession(tabs[0].cookies[session.PlainSessionName])
	if err != nil || after.RefreshToken == before.RefreshToken || after.SignedIn != before.SignedIn || after.ID != before.ID || after.ExpiresAt().Before(before.ExpiresAt()) {
		t.Fatalf("renewed session %+v, was %+v (%v)", after, before, err)
	}
	r.b.now = time.Now
}

// TestRenewalFailureBeforeExpiry: while the ID token still holds, a failed
// renewal keeps the session; once it has expired, the browser signs in
// again.
func TestRenewalFailureBeforeExpiry(t *testing.T) {
	r := newRig(t, rigOptions{idp: oidctest.Options{IDTokenTTL: 2 * time.Minute}})
	br := signedIn(t, r)
	r.idp.RefuseRefresh(true)
	r.b.now = func() time.Time { return time.Now().Add(90 * time.Second) }
	if resp := br.get(r.srv.URL + "/x"); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %s", resp.Status)
	}
	if !strings.Contains(r.log.String(), "session renewal failed") {
		t.Error("a failed renewal was not logged")
	}
	r.b.now = func() time.Time { return time.Now().Add(3 * time.Minute) }
	if resp := br.get(r.srv.URL + "/x"); resp.StatusCode != 401 || resp.Header.Get("X-Test-Reason") != "session_expired" {
		t.Fatalf("after expiry: %s %s", resp.Status, resp.Header.Get("X-Test-Reason"))
	}
	if strings.Contains(r.log.String(), "rt-") || strings.Contains(r.log.String(), "refresh_token=") {
		t.Error("a refresh token reached the log")
	}
}

func TestNoRefreshToken(t *testing.T) {
	r := newRig(t, rigOptions{idp: oidctest.Options{NoRefreshTokens: true}})
	br := newBrowser(t)
	cb := r.signIn(br, "/")
	for _, c := range cb.Cookies() {
		// The ID token's hour, and its clock skew.
		if c.Name == session.PlainSessionName && (c.MaxAge > 3630 || c.MaxAge < 3500) {
			t.Fatalf("a session without refresh token is kept %ds, want the ID token's hour", c.MaxAge)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	r := newRig(t, rigOptions{})
	br := signedIn(t, r)
	self := r.srv.URL
	for _, tc := range []struct {
		name    string
		method  string
		headers []string
		allowed bool
	}{
		{"GET from anywhere", "GET", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, true},
		{"HEAD", "HEAD", nil, true},
		{"POST from raygate", "POST", []string{"Origin", self}, true},
		{"POST from raygate, by Sec-Fetch-Site", "POST", []string{"Sec-Fetch-Site", "same-origin"}, true},
		{"POST from another site", "POST", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, false},
		{"POST from a sibling subdomain", "POST", []string{"Sec-Fetch-Site", "same-site"}, false},
		{"POST with Origin null", "POST", []string{"Origin", "null"}, false},
		{"POST with no Origin and no Sec-Fetch-Site", "POST", nil, false},
		{"POST whose Origin differs by port", "POST", []string{"Origin", self + "0"}, false},
		{"POST whose Origin differs by scheme", "POST", []string{"Origin", strings.Replace(self, "http:", "https:", 1)}, false},
		{"POST claiming same-origin with a foreign Origin", "POST", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "same-origin"}, false},
		{"DELETE from another site", "DELETE", []string{"Origin", "https://evil.example"}, false},
		{"PUT from raygate", "PUT", []string{"Origin", self}, true},
		{"WebSocket from another site", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Origin", "https://evil.example"}, false},
		{"WebSocket from raygate", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Origin", self}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := br.do(tc.method, self+"/clusters/team-a/ray1/api/jobs/", tc.headers...)
			if got := resp.StatusCode == 200; got != tc.allowed {
				t.Fatalf("%s (%s): allowed=%v, want %v", resp.Status, resp.Header.Get("X-Test-Reason"), got, tc.allowed)
			}
			if !tc.allowed && (resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Test-Reason") != "cross_site") {
				t.Fatalf("%s (%s), want 403 cross_site", resp.Status, resp.Header.Get("X-Test-Reason"))
			}
		})
	}
	if _, ok := br.cookies[session.PlainSessionName]; !ok {
		t.Fatal("a refused cross-site request cleared the session")
	}
}

func TestSignOut(t *testing.T) {
	for _, endSession := range []bool{false, true} {
		t.Run(map[bool]string{false: "the issuer ends no sessions", true: "the issuer ends sessions"}[endSession], func(t *testing.T) {
			r := newRig(t, rigOptions{idp: oidctest.Options{EndSession: endSession}})
			br := signedIn(t, r)
			self := r.srv.URL
			if resp := br.get(self + PathSignOut); resp.StatusCode != 200 || !strings.Contains(body(resp), `method="post"`) {
				t.Fatalf("GET sign-out: %s, want a confirmation page", resp.Status)
			}
			resp := br.do("POST", self+PathSignOut, "Origin", "https://evil.example", "Sec-Fetch-Mode", "navigate")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body(resp), "Sign-out refused") {
				t.Fatalf("cross-site sign-out: %s", resp.Status)
			}
			if _, ok := br.cookies[session.PlainSessionName]; !ok {
				t.Fatal("a cross-site sign-out ended the session")
			}
			resp = br.do("POST", self+PathSignOut, "Origin", self)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-out: %s", resp.Status)
			}
			if _, ok := br.cookies[session.PlainSessionName]; ok {
				t.Fatal("sign-out kept the session cookie")
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if endSession {
				q := loc.Query()
				if !strings.HasPrefix(loc.String(), r.idp.Issuer+"/logout?") || q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != self+PathSignedOut || q.Get("client_id") != r.idp.ClientID {
					t.Fatalf("sign-out went to %s", loc)
				}
				if done := br.get(loc.String()); done.Header.Get("Location") != self+PathSignedOut || len(r.idp.EndSessions()) != 1 {
					t.Fatalf("the identity provider's session was not ended")
				}
			} else if loc.String() != PathSignedOut+"?idp=kept" {
				t.Fatalf("sign-out went to %s", loc)
			}
			final := loc.RequestURI()
			if endSession {
				final = PathSignedOut // where the identity provider sent the browser back
			}
			page := br.get(self + final)
			if text := body(page); !strings.Contains(text, "You have signed out") || strings.Contains(text, "may still keep you signed in") == endSession {
				t.Fatalf("signed-out page:\n%s", text)
			}
			if resp := br.get(self + "/x"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after sign-out: %s", resp.Status)
			}
		})
	}
}
