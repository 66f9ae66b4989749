//go:build e2e

package browser_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/session"
	"github.com/raygate/raygate/internal/signin"
	"github.com/raygate/raygate/test/e2e/harness"
)

// TestSessionRenewal signs in at a Dex whose ID tokens live 70 seconds and
// keeps using the session: raygate renews it with the refresh token near
// the ID token's expiry (a new cookie, a rotated refresh token, a later
// expiry), without sending the browser back to sign-in.
func TestSessionRenewal(t *testing.T) {
	s := requireStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	gw := fmt.Sprintf("http://127.0.0.1:%d", port)
	dex, err := harness.StartDexWith(ctx, components.DexBin, s.Dir, harness.DexOptions{Name: "dex-short-tokens", IDTokenTTL: "70s", RedirectURIs: []string{gw + "/_raygate/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	defer dex.Proc.Stop(5 * time.Second)
	cfg := s.Config
	cfg.Issuer = dex.Issuer
	g, err := harness.StartRaygateOn(ctx, components.RaygateBin, s.Dir, "raygate-renewal", port, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	if g.URL != gw {
		t.Fatalf("raygate listens on %s, not %s", g.URL, gw)
	}

	c := harness.NewBrowserClient()
	cb, err := dex.SignInCallback(ctx, c, gw+"/_raygate/sign-in?rd=%2F", "carol@example.com", gw+"/_raygate/callback")
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := page(t, c, "GET", cb); status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", status, body)
	}
	k := codec(t, s)
	u, _ := url.Parse(gw)
	current := func() *session.Session {
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "raygate-session" {
				s, err := k.DecodeSession(ck.Value)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	first := current()
	if first.RefreshToken == "" {
		t.Fatal("Dex gave no refresh token (offline_access)")
	}
	whoami := func() {
		t.Helper()
		status, _, body := page(t, c, "GET", gw+"/_raygate/whoami", "Sec-Fetch-Mode", "cors", "Accept", "application/json")
		if status != 200 || !strings.Contains(body, `"user":"carol@example.com"`) {
			t.Fatalf("whoami: %d %s", status, body)
		}
	}
	whoami()
	if current().RefreshToken != first.RefreshToken {
		t.Fatal("the session was renewed long before its ID token expires")
	}
	wait := time.Until(first.ExpiresAt().Add(-signin.RefreshMargin)) + 2*time.Second
	t.Logf("waiting %s for the ID token to come within %s of its expiry", wait.Round(time.Second), signin.RefreshMargin)
	time.Sleep(wait)
	whoami()
	renewed := current()
	if renewed.RefreshToken == first.RefreshToken || !renewed.ExpiresAt().After(first.ExpiresAt()) || renewed.ID != first.ID || renewed.SignedIn != first.SignedIn {
		t.Fatalf("not renewed: %+v, was %+v", renewed, first)
	}
	whoami()
	log, _ := os.ReadFile(g.Proc.LogPath)
	audit, _ := os.ReadFile(g.AuditPath)
	for _, secret := range []string{first.RefreshToken, renewed.RefreshToken} {
		if strings.Contains(string(log), secret) || strings.Contains(string(audit), secret) {
			t.Fatal("a refresh token reached a log")
		}
	}
}
