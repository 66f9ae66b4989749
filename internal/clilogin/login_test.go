package clilogin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/oidcclient/oidctest"
	"github.com/raygate/raygate/internal/tokencache"
)

var ctx = context.Background()

// TestDeviceLogin: the device flow prints the address and the code, polls
// as the provider allows (slow_down adds 5s), stores the tokens with mode
// 0600, remembers the gateway, and the gateway accepts the token.
func TestDeviceLogin(t *testing.T) {
	r := newRig(t, oidctest.Options{Device: true})
	r.idp.DeviceAnswers("authorization_pending", "slow_down", "authorization_pending", "approve")
	var opened []string
	r.c.Open = func(u string) error { opened = append(opened, u); return nil }
	l, err := r.c.Login(ctx, r.gw, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.clock.Sleeps(), []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second, 10 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Fatalf("waits between polls %v, want %v", got, want)
	}
	out := r.out.String()
	for _, want := range []string{
		"open this page in a browser, on this or any other device:\n\n    " + r.idp.Issuer + "/device\n",
		"and enter the code:  WDJB-MJHT\n",
		"(Or open " + r.idp.Issuer + "/device?user_code=WDJB-MJHT, which fills the code in.)",
		"Waiting for the sign-in (the code expires in 10m0s)...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("instructions lack %q:\n%s", want, out)
		}
	}
	if len(opened) != 1 || opened[0] != r.idp.Issuer+"/device?user_code=WDJB-MJHT" {
		t.Errorf("opened %v", opened)
	}
	if strings.Contains(out, l.Tokens.IDToken) || strings.Contains(out, l.Tokens.RefreshToken) {
		t.Fatal("a token was printed")
	}
	if l.Name != "Test SSO" || l.Tokens.User != "carol@example.com" || l.Tokens.RefreshToken == "" || l.Tokens.ClientID != "raygate" {
		t.Fatalf("login %+v / %+v", l, l.Tokens)
	}
	if got := strings.Join(r.idp.DeviceScopes(), " "); got != "openid email groups profile offline_access" {
		t.Errorf("scopes asked for: %s", got)
	}
	st, err := os.Stat(r.c.Store.Path(tokencache.TokensFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	if s, _ := r.c.Store.Settings(); s.Gateway != r.gw {
		t.Fatalf("remembered gateway %q", s.Gateway)
	}
	if gw, err := r.c.ResolveGateway("", ""); gw != r.gw || err != nil {
		t.Fatalf("ResolveGateway = %s, %v", gw, err)
	}
	w, err := r.c.Check(ctx, r.gw, l.Tokens, true)
	if err != nil || w.User != "carol@example.com" || len(w.Clusters) != 1 || w.Clusters[0].Cluster != "team-a/ray1" || w.Clusters[0].Role != "viewer" {
		t.Fatalf("whoami %+v, %v", w, err)
	}
}

// TestDeviceFailures: each way a device sign-in ends badly, and the one
// line the person reads.
func TestDeviceFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []string
		timing  [2]int // interval, expires_in; zero: defaults
		want    string
	}{
		{"denied", []string{"authorization_pending", "access_denied"}, [2]int{},
			"the sign-in was denied at the identity provider ISSUER: run raygate login again and approve it (or ask for access)"},
		{"expired at the provider", []string{"expired_token"}, [2]int{},
			"the sign-in code expired before the sign-in was finished: run raygate login again and finish within 10m"},
		{"expired by the clock", []string{"authorization_pending", "authorization_pending", "authorization_pending", "authorization_pending"}, [2]int{5, 12},
			"the sign-in code expired before the sign-in was finished: run raygate login again and finish within 12s"},
		{"another error", []string{"invalid_client"}, [2]int{},
			"the identity provider ISSUER refused the sign-in (token endpoint: invalid_client: invalid_client from the test provider (status 400)): run raygate login again, and tell the people who run raygate if it keeps happening"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, oidctest.Options{Device: true})
			r.idp.DeviceAnswers(tc.answers...)
			if tc.timing[0] != 0 {
				r.idp.SetDeviceTiming(tc.timing[0], tc.timing[1])
			}
			_, err := r.c.Login(ctx, r.gw, LoginOptions{Flow: FlowDevice})
			r.wantErr(t, err, tc.want)
			if tk, _ := r.c.Store.Load(); len(tk.Gateways) != 0 {
				t.Fatal("a failed sign-in was stored")
			}
		})
	}
}

func TestDeviceFlowNotOffered(t *testing.T) {
	r := newRig(t, oidctest.Options{})
	_, err := r.c.Login(ctx, r.gw, LoginOptions{Flow: FlowDevice})
	r.wantErr(t, err, "the identity provider ISSUER offers no sign-in with a code (device authorization): run raygate login --browser")
}

// TestLoopbackLogin: without the device grant the browser flow is used:
// the browser comes back to 127.0.0.1, the code is exchanged with PKCE,
// the browser is told to return to the terminal, and the listener closes.
func TestLoopbackLogin(t *testing.T) {
	r := newRig(t, oidctest.Options{})
	page := make(chan string, 1)
	var authURL string
	r.c.Open = func(u string) error {
		authURL = u
		go func() {
			_, text, err := browse(u)
			if err != nil {
				text = err.Error()
			}
			page <- text
		}()
		return nil
	}
	l, err := r.c.Login(ctx, r.gw, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if text := <-page; !strings.Contains(text, "You can close this tab and return to the terminal") {
		t.Fatalf("the browser shows:\n%s", text)
	}
	if l.Tokens.User != "carol@example.com" {
		t.Fatalf("login %+v", l.Tokens)
	}
	out := r.out.String()
	if !strings.Contains(out, "open this page in a browser on this computer:\n\n    "+authURL+"\n") || !strings.Contains(out, "Waiting for the browser to come back to http://127.0.0.1:") {
		t.Fatalf("instructions:\n%s", out)
	}
	for _, want := range []string{"code_challenge_method=S256", "redirect_uri=http%3A%2F%2F127.0.0.1%3A", "%2Fcallback", "state=", "nonce="} {
		if !strings.Contains(authURL, want) {
			t.Errorf("authorization URL lacks %s: %s", want, authURL)
		}
	}
	redirect := authURL[strings.Index(authURL, "127.0.0.1%3A")+len("127.0.0.1%3A"):]
	port := redirect[:strings.Index(redirect, "%2F")]
	if _, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
		t.Fatal("the loopback listener is still open after the sign-in")
	}
}

// TestLoopbackRefusals: requests that are not the provider's answer to
// this sign-in are refused and do not end it; a denial ends it.
func TestLoopbackRefusals(t *testing.T) {
	r := newRig(t, oidctest.Options{})
	type answer struct {
		status int
		text   string
	}
	strays := make(chan []answer, 1)
	r.c.Open = func(u string) error {
		go func() {
			// The browser goes to the provider, but stops before coming back.
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Get(u)
			if err != nil {
				strays <- nil
				return
			}
			resp.Body.Close()
			back := resp.Header.Get("Location")
			base := back[:strings.Index(back, "?")]
			var got []answer
			for _, req := range []struct{ method, url, host string }{
				{"GET", base + "?code=x&state=guessed", ""},
				{"GET", strings.Replace(back, "/callback", "/other", 1), ""},
				{"POST", back, ""},
				{"GET", back, "attacker.example:80"},
			} {
				hr, _ := http.NewRequest(req.method, req.url, nil)
				if req.host != "" {
					hr.Host = req.host
				}
				resp, err := http.DefaultClient.Do(hr)
				if err != nil {
					got = append(got, answer{0, err.Error()})
					continue
				}
				resp.Body.Close()
				got = append(got, answer{resp.StatusCode, ""})
			}
			st, text, _ := browse(back)
			got = append(got, answer{st, text})
			strays <- got
		}()
		return nil
	}
	r.idp.DenySignIn(false)
	if _, err := r.c.Login(ctx, r.gw, LoginOptions{Flow: FlowBrowser}); err != nil {
		t.Fatal(err)
	}
	got := <-strays
	want := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusOK}
	for i, a := range got {
		if a.status != want[i] {
			t.Errorf("request %d answered %d, want %d %s", i, a.status, want[i], a.text)
		}
	}

	r.idp.DenySignIn(true)
	page := make(chan string, 1)
	r.c.Open = func(u string) error {
		go func() { _, text, _ := browse(u); page <- text }()
		return nil
	}
	_, err := r.c.Login(ctx, r.gw, LoginOptions{Flow: FlowBrowser})
	r.wantErr(t, err, "the sign-in was denied at the identity provider ISSUER: run raygate login again and approve it (or ask for access)")
	if text := <-page; !strings.Contains(text, "Sign-in failed") || !strings.Contains(text, "was denied") {
		t.Fatalf("the browser shows:\n%s", text)
	}
}

func TestLoopbackTimeout(t *testing.T) {
	r := newRig(t, oidctest.Options{})
	_, err := r.c.Login(ctx, r.gw, LoginOptions{Flow: FlowBrowser, Wait: 500 * time.Millisecond})
	r.wantErr(t, err, "no sign-in came back within 1s: run raygate login again (with --device if the browser cannot reach this computer)")
	cctx, cancel := context.WithCancel(ctx)
	r.c.Open = func(string) error { cancel(); return nil }
	_, err = r.c.Login(cctx, r.gw, LoginOptions{Flow: FlowBrowser})
	r.wantErr(t, err, "interrupted")
}

// TestClockSkew: a token the provider just issued that does not fit this
// computer's clock is refused with the clock named as the cause.
func TestClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset time.Duration // of this computer's clock from the provider's
		want   string
	}{
		{"behind", -10 * time.Minute, "this computer's clock is about 10m behind the identity provider's (a token it just issued is dated in the future): set the clock right (turn on network time), then run raygate login again"},
		{"ahead", 61 * time.Minute, "this computer's clock is at least 1h1m ahead of the identity provider's (a token it just issued has already expired): set the clock right (turn on network time), then run raygate login again"},
		{"within the tolerance", 90 * time.Second, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, oidctest.Options{Device: true})
			r.c.Now = func() time.Time { return r.clock.Now().Add(tc.offset) }
			_, err := r.c.Login(ctx, r.gw, LoginOptions{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			r.wantErr(t, err, tc.want)
		})
	}
}

// TestGatewayAndIssuerErrors: what a person reads when the gateway or the
// issuer cannot be used.
func TestGatewayAndIssuerErrors(t *testing.T) {
	closed := refusing(t)
	html := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
	})
	badDoc := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuers":[{"issuer":"ftp://x","clientID":"c"}]}`))
	})
	deadIdP := refusing(t)
	noCLI := startGateway(t, "  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]\n")
	two := oidctest.New(t, oidctest.Options{})
	three := oidctest.New(t, oidctest.Options{})
	several := startGateway(t, fmt.Sprintf("  sharedIssuerNamespace: true\n  oidc:\n    - {issuer: %s, audiences: [a], cliClientID: a, displayName: One}\n    - {issuer: %s, audiences: [b], cliClientID: b, displayName: Two}\n", two.Issuer, three.Issuer))
	unreachableIdP := startGateway(t, fmt.Sprintf("  oidc:\n    - {issuer: %s, audiences: [a], cliClientID: a}\n", deadIdP))
	for _, tc := range []struct {
		name, gw, issuer, want string
	}{
		{"gateway unreachable", closed, "", "cannot reach raygate at " + closed + " (dial: connect: connection refused): check the address and your network"},
		{"not a raygate", html.URL, "", html.URL + " does not answer like a raygate gateway (/_raygate/login-config answered 404 with text/html): check the address; it is the one you open in a browser, without /clusters/..."},
		{"a document raygate would not send", badDoc.URL, "", badDoc.URL + ` does not answer like a raygate gateway (issuers[0]: issuer "ftp://x" is not https): check the address; it is the one you open in a browser, without /clusters/...`},
		{"no terminal sign-in", noCLI, "", "raygate at " + noCLI + " offers no sign-in from a terminal (no issuer has a cliClientID): ask the people who run it to set it up"},
		{"several issuers", several, "", "raygate at " + several + " offers several issuers: choose one of One, Two with --issuer"},
		{"an unknown issuer", several, "Three", "raygate at " + several + ` offers no issuer "Three": choose one of One, Two with --issuer`},
		{"identity provider unreachable", unreachableIdP, "", "cannot reach the identity provider " + deadIdP + " (dial: connect: connection refused): check your network or VPN, then try again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{HTTP: http.DefaultClient, Store: tokencache.Store{Dir: t.TempDir()}}
			_, err := c.Login(ctx, tc.gw, LoginOptions{Issuer: tc.issuer})
			if _, ok := err.(*Error); !ok || err.Error() != tc.want {
				t.Fatalf("error %T %v\nwant: %s", err, err, tc.want)
			}
		})
	}
}

// TestNewTokenRefused: a gateway that does not accept the CLI client's
// tokens says so right after sign-in, with advice for its operators.
func TestNewTokenRefused(t *testing.T) {
	r := newRig(t, oidctest.Options{Device: true}, "raygate", "other")
	l, err := r.c.Login(ctx, r.gw, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's config changes under the person's feet: the token's
	// audience is no longer accepted.
	r.gw = startGateway(t, fmt.Sprintf("  oidc:\n    - {issuer: %s, audiences: [other]}\n", r.idp.Issuer))
	_, err = r.c.Check(ctx, r.gw, l.Tokens, true)
	r.wantErr(t, err, "raygate at GW does not accept the token the identity provider just issued (token audience is not accepted): ask the people who run raygate to add its cliClientID to the issuer's audiences")
	_, err = r.c.Check(ctx, r.gw, l.Tokens, false)
	r.wantErr(t, err, "raygate at GW does not accept your token (token audience is not accepted): run raygate login --gateway GW")
}
