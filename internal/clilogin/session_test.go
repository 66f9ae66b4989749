package clilogin

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
)

// signedIn is a rig whose person has signed in with the device flow.
func signedIn(t *testing.T, o oidctest.Options) (*rig, *Login) {
	t.Helper()
	o.Device = true
	r := newRig(t, o)
	l, err := r.c.Login(ctx, r.gw, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r, l
}

// TestTokenRenewal: a cached token is used until its last minute (or
// half of its lifetime, for a command), then renewed with the refresh
// token, and the renewed one is cached.
func TestTokenRenewal(t *testing.T) {
	r, l := signedIn(t, oidctest.Options{})
	first := l.Tokens.IDToken
	got, err := r.c.Token(ctx, r.gw, ForUse)
	if err != nil || got.IDToken != first || r.idp.Refreshes() != 0 {
		t.Fatalf("Token = %v, %v after %d refreshes", got, err, r.idp.Refreshes())
	}
	r.clock.Advance(31 * time.Minute)
	if got, _ := r.c.Token(ctx, r.gw, ForUse); got.IDToken != first {
		t.Fatal("renewed with 29 minutes left for one request")
	}
	second, err := r.c.Token(ctx, r.gw, ForCommand)
	if err != nil || second.IDToken == first || r.idp.Refreshes() != 1 {
		t.Fatalf("for a command with 29 of 60 minutes left: %v, %d refreshes", err, r.idp.Refreshes())
	}
	r.clock.Advance(59*time.Minute + 30*time.Second)
	third, err := r.c.Token(ctx, r.gw, ForUse)
	if err != nil || third.IDToken == second.IDToken || r.idp.Refreshes() != 2 || !third.Expiry.After(r.clock.Now().Add(59*time.Minute)) {
		t.Fatalf("in the last minute: %+v, %v, %d refreshes", third, err, r.idp.Refreshes())
	}
	if cached, _ := r.c.Store.Load(); cached.Current(r.gw).IDToken != third.IDToken || cached.Current(r.gw).RefreshToken == l.Tokens.RefreshToken {
		t.Fatal("the renewed tokens were not cached")
	}
}

// TestRenewalOnce: commands renewing at once renew once, and both get the
// new token (the provider rotates refresh tokens: a second use would fail).
func TestRenewalOnce(t *testing.T) {
	r, _ := signedIn(t, oidctest.Options{})
	r.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	toks := make([]string, 4)
	errs := make([]error, 4)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := r.c.Token(ctx, r.gw, ForUse)
			errs[i] = err
			if l != nil {
				toks[i] = l.IDToken
			}
		}()
	}
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("command %d: %v (%d refreshes)", i, errs[i], r.idp.Refreshes())
		}
	}
	if r.idp.Refreshes() != 1 {
		t.Fatalf("%d refreshes", r.idp.Refreshes())
	}
}

// TestRenewalFailures: what a person reads when the sign-in cannot be
// renewed, and what is left in the cache.
func TestRenewalFailures(t *testing.T) {
	t.Run("refresh token revoked", func(t *testing.T) {
		r, _ := signedIn(t, oidctest.Options{})
		r.idp.RefuseRefresh(true)
		r.clock.Advance(time.Hour)
		_, err := r.c.Token(ctx, r.gw, ForUse)
		r.wantErr(t, err, "your sign-in to GW has expired or was revoked (the identity provider refused to renew it): run raygate login --gateway GW")
		var te *oidcclient.TokenError
		if !errors.As(err, &te) || te.Code != "invalid_grant" {
			t.Fatalf("cause %v", errors.Unwrap(err))
		}
		_, err = r.c.Token(ctx, r.gw, ForUse)
		r.wantErr(t, err, "not signed in to GW: run raygate login --gateway GW")
	})
	t.Run("no refresh token", func(t *testing.T) {
		r, _ := signedIn(t, oidctest.Options{NoRefreshTokens: true})
		r.clock.Advance(59*time.Minute + 30*time.Second)
		if _, err := r.c.Token(ctx, r.gw, ForUse); err != nil {
			t.Fatalf("a token valid for 30s more, not renewable: %v", err)
		}
		r.clock.Advance(time.Minute)
		_, err := r.c.Token(ctx, r.gw, ForUse)
		r.wantErr(t, err, "your sign-in to GW has expired and cannot be renewed (the identity provider gave no refresh token): run raygate login --gateway GW")
	})
	t.Run("provider unreachable", func(t *testing.T) {
		r, l := signedIn(t, oidctest.Options{})
		r.idp.Server.Close()
		r.clock.Advance(59*time.Minute + 30*time.Second)
		got, err := r.c.Token(ctx, r.gw, ForUse)
		if err != nil || got.IDToken != l.Tokens.IDToken {
			t.Fatalf("a still valid token while the provider is down: %v", err)
		}
		r.clock.Advance(time.Minute)
		_, err = r.c.Token(ctx, r.gw, ForUse)
		r.wantErr(t, err, "your sign-in to GW has expired and the identity provider ISSUER cannot be reached to renew it (dial: connect: connection refused): check your network, or run raygate login --gateway GW")
		if tk, _ := r.c.Store.Load(); tk.Current(r.gw) == nil {
			t.Fatal("the sign-in was forgotten while the provider was down")
		}
	})
	t.Run("never signed in", func(t *testing.T) {
		r := newRig(t, oidctest.Options{})
		_, err := r.c.Token(ctx, r.gw, ForUse)
		r.wantErr(t, err, "not signed in to GW: run raygate login --gateway GW")
	})
	t.Run("no gateway", func(t *testing.T) {
		r := newRig(t, oidctest.Options{})
		_, err := r.c.ResolveGateway("", "")
		r.wantErr(t, err, "no gateway given and none remembered: run raygate login --gateway https://raygate.example.com (the address you open in a browser)")
		if gw, err := r.c.ResolveGateway("", "HTTPS://Raygate.Example.com:443/"); err != nil || gw != "https://raygate.example.com" {
			t.Fatalf("from the environment: %s, %v", gw, err)
		}
		if gw, _ := r.c.ResolveGateway("https://a.example.com", "https://b.example.com"); gw != "https://a.example.com" {
			t.Fatalf("the flag did not win: %s", gw)
		}
	})
}

// TestLogout: signing out forgets the tokens and revokes the refresh
// token where the provider offers revocation.
func TestLogout(t *testing.T) {
	r, l := signedIn(t, oidctest.Options{Revocation: true})
	outs, err := r.c.Logout(ctx, []string{r.gw})
	if err != nil || len(outs) != 1 || !outs[0].Revoked || outs[0].Err != nil || outs[0].User != "carol@example.com" {
		t.Fatalf("Logout = %+v, %v", outs, err)
	}
	if rev := r.idp.Revoked(); len(rev) != 1 || rev[0] != l.Tokens.RefreshToken {
		t.Fatalf("revoked %v", rev)
	}
	_, err = r.c.Token(ctx, r.gw, ForUse)
	r.wantErr(t, err, "not signed in to GW: run raygate login --gateway GW")
	if outs, err := r.c.Logout(ctx, []string{r.gw}); err != nil || len(outs) != 0 {
		t.Fatalf("a second Logout = %+v, %v", outs, err)
	}

	// Without revocation at the provider the tokens are forgotten all the
	// same; nil signs out of every gateway.
	r2, _ := signedIn(t, oidctest.Options{})
	r2.c.Store = r.c.Store
	if _, err := r2.c.Login(ctx, r2.gw, LoginOptions{}); err != nil {
		t.Fatal(err)
	}
	outs, err = r2.c.Logout(ctx, nil)
	if err != nil || len(outs) != 1 || outs[0].Revoked || !errors.Is(outs[0].Err, oidcclient.ErrNoRevocation) {
		t.Fatalf("Logout(nil) = %+v, %v", outs, err)
	}
	if tk, _ := r.c.Store.Load(); len(tk.Gateways) != 0 {
		t.Fatalf("left %v", tk.Gateways)
	}
}
