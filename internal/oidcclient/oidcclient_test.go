package oidcclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
)

func client(t *testing.T, p *oidctest.Provider) *oidcclient.Client {
	t.Helper()
	ks, err := authn.NewKeySet(p.Issuer, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := authn.NewOIDC(config.OIDC{
		Issuer: p.Issuer, Audiences: []string{p.ClientID}, UsernameClaim: "email", GroupsClaim: "groups",
		Algorithms: config.DefaultAlgorithms, ClockSkew: config.Duration(30 * time.Second),
	}, ks)
	return &oidcclient.Client{ID: p.ClientID, Secret: p.ClientSecret, Scopes: []string{"openid", "email"}, HTTP: http.DefaultClient, Verifier: v}
}

// authorize follows the authorization URL and returns the callback's
// code and state.
func authorize(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorization: %s %v", resp.Status, err)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestCodeFlowWithPKCE(t *testing.T) {
	idp := oidctest.New(t, oidctest.Options{})
	c := client(t, idp)
	ctx := context.Background()
	p, err := oidcclient.Discover(ctx, http.DefaultClient, idp.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "https://raygate.example.com/_raygate/callback"
	verifier, nonce := oidcclient.NewVerifier(), oidcclient.RandomString(32)
	authURL := c.AuthCodeURL(p, redirect, "st-1", nonce, verifier)
	q, _ := url.Parse(authURL)
	if got := q.Query(); got.Get("code_challenge") != oidcclient.Challenge(verifier) || got.Get("code_challenge_method") != "S256" || got.Get("nonce") != nonce || got.Get("scope") != "openid email" {
		t.Fatalf("authorization URL %s", authURL)
	}
	if len(verifier) != 43 {
		t.Fatalf("verifier has %d characters, want 43", len(verifier))
	}

	t.Run("a wrong verifier is refused by the issuer", func(t *testing.T) {
		code, _ := authorize(t, authURL)
		_, err := c.Exchange(ctx, p, code, oidcclient.NewVerifier(), redirect)
		var te *oidcclient.TokenError
		if !errors.As(err, &te) || te.Code != "invalid_grant" {
			t.Fatalf("Exchange = %v, want invalid_grant", err)
		}
	})
	t.Run("the right verifier gets tokens", func(t *testing.T) {
		code, state := authorize(t, authURL)
		if state != "st-1" {
			t.Fatalf("state %q", state)
		}
		tok, err := c.Exchange(ctx, p, code, verifier, redirect)
		if err != nil {
			t.Fatal(err)
		}
		id, err := c.VerifyIDToken(ctx, tok.IDToken, nonce)
		if err != nil || id.Identity.User != "carol@example.com" || id.Subject != "u-carol" {
			t.Fatalf("VerifyIDToken = %+v, %v", id, err)
		}
		if _, err := c.VerifyIDToken(ctx, tok.IDToken, "another-nonce"); err == nil {
			t.Fatal("an ID token passed with another nonce")
		}
		// A code works once.
		if _, err := c.Exchange(ctx, p, code, verifier, redirect); err == nil {
			t.Fatal("a code was exchanged twice")
		}
		// Refresh rotates the refresh token and brings a new ID token.
		r, err := c.Refresh(ctx, p, tok.RefreshToken)
		if err != nil || r.RefreshToken == tok.RefreshToken || r.IDToken == "" {
			t.Fatalf("Refresh = %+v, %v", r, err)
		}
		if _, err := c.VerifyIDToken(ctx, r.IDToken, ""); err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		if _, err := c.Refresh(ctx, p, tok.RefreshToken); err == nil {
			t.Fatal("a rotated refresh token worked again")
		}
	})
}

func TestDiscoverRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  func(self string) map[string]any
		want string
	}{
		{"another issuer", func(string) map[string]any {
			return map[string]any{"issuer": "https://evil.example", "authorization_endpoint": "https://x/a", "token_endpoint": "https://x/t"}
		}, "names issuer"},
		{"no token endpoint", func(self string) map[string]any {
			return map[string]any{"issuer": self, "authorization_endpoint": "https://x/a"}
		}, "no token_endpoint"},
		{"plain http endpoint off loopback", func(self string) map[string]any {
			return map[string]any{"issuer": self, "authorization_endpoint": "http://idp.example/a", "token_endpoint": "https://x/t"}
		}, "is not an https URL"},
		{"no S256", func(self string) map[string]any {
			return map[string]any{"issuer": self, "authorization_endpoint": "https://x/a", "token_endpoint": "https://x/t", "code_challenge_methods_supported": []string{"plain"}}
		}, "PKCE with S256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_ = json.NewEncoder(w).Encode(tc.doc(srv.URL))
			}))
			defer srv.Close()
			_, err := oidcclient.Discover(context.Background(), http.DefaultClient, srv.URL)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Discover = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestProviderHelpers(t *testing.T) {
	p := &oidcclient.Provider{ScopesSupported: []string{"openid", "email", "groups", "offline_access"}}
	if got := strings.Join(p.DefaultScopes(), " "); got != "openid email groups offline_access" {
		t.Errorf("DefaultScopes = %s", got)
	}
	if got := strings.Join((&oidcclient.Provider{}).DefaultScopes(), " "); got != "openid email" {
		t.Errorf("DefaultScopes without scopes_supported = %s", got)
	}
	if _, ok := p.EndSessionURL("raygate", "idt", "https://r/_raygate/signed-out", ""); ok {
		t.Error("EndSessionURL without an end_session_endpoint")
	}
	p.EndSessionEndpoint = "https://idp.example/logout?tenant=1"
	u, ok := p.EndSessionURL("raygate", "idt", "https://r/_raygate/signed-out", "")
	parsed, _ := url.Parse(u)
	if q := parsed.Query(); !ok || q.Get("tenant") != "1" || q.Get("id_token_hint") != "idt" || q.Get("post_logout_redirect_uri") != "https://r/_raygate/signed-out" || q.Get("client_id") != "raygate" {
		t.Errorf("EndSessionURL = %s", u)
	}
}

func TestDiscoveryCaches(t *testing.T) {
	idp := oidctest.New(t, oidctest.Options{EndSession: true})
	d := oidcclient.NewDiscovery(idp.Issuer, http.DefaultClient)
	p1, err := d.Provider(context.Background())
	if err != nil || p1.EndSessionEndpoint == "" {
		t.Fatalf("Provider = %+v, %v", p1, err)
	}
	idp.Server.Close()
	p2, err := d.Provider(context.Background())
	if err != nil || p2 != p1 {
		t.Fatalf("a cached provider was not reused: %v", err)
	}
}

// TestTokenEndpointErrors: whatever the token endpoint answers, a failure
// is an error and never tokens.
func TestTokenEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"error JSON", 400, `{"error":"invalid_grant","error_description":"expired"}`, "invalid_grant"},
		{"not JSON", 502, `<html>bad gateway</html>`, "unexpected_response"},
		{"200 without an ID token", 200, `{"access_token":"a"}`, ""},
		{"200 not JSON", 200, `nope`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := &oidcclient.Client{ID: "raygate", HTTP: http.DefaultClient}
			tok, err := c.Exchange(context.Background(), &oidcclient.Provider{TokenEndpoint: srv.URL}, "code", "verifier", "https://r/cb")
			if err == nil || tok != nil {
				t.Fatalf("Exchange = %+v, %v", tok, err)
			}
			var te *oidcclient.TokenError
			if tc.code != "" && (!errors.As(err, &te) || te.Code != tc.code) {
				t.Fatalf("err = %v, want token error %s", err, tc.code)
			}
		})
	}
}
