package authn

import (
	"context"
	"testing"
	"time"
)

func TestVerifyIDToken(t *testing.T) {
	f := newFakeIssuer(t)
	k := newRSAKey(t, "k")
	f.publish(k)
	v := newVerifier(t, f, nil)
	iss := f.srv.URL
	with := func(mod func(map[string]any)) string {
		c := baseClaims(iss)
		c["nonce"] = "n-123"
		mod(c)
		return sign(t, k, c)
	}
	same := func(map[string]any) {}
	for _, tc := range []struct {
		name, token, client, nonce, reason string
	}{
		{"sign-in", with(same), "raygate", "n-123", ""},
		{"refresh: the nonce is not checked", with(same), "raygate", "", ""},
		{"refresh without a nonce claim", with(func(c map[string]any) { delete(c, "nonce") }), "raygate", "", ""},
		{"azp is the client", with(func(c map[string]any) { c["azp"] = "raygate"; c["aud"] = []string{"raygate", "other"} }), "raygate", "n-123", ""},
		{"wrong nonce", with(same), "raygate", "n-456", ReasonNonce},
		{"no nonce claim at sign-in", with(func(c map[string]any) { delete(c, "nonce") }), "raygate", "n-123", ReasonNonce},
		{"nonce not a string", with(func(c map[string]any) { c["nonce"] = 7 }), "raygate", "n-123", ReasonClaims},
		{"issued to an accepted audience that is not the client", with(func(c map[string]any) { c["aud"] = "other" }), "raygate", "n-123", ReasonAudience},
		{"authorized for another client", with(func(c map[string]any) { c["azp"] = "other" }), "raygate", "n-123", ReasonAudience},
		{"no subject", with(func(c map[string]any) { delete(c, "sub") }), "raygate", "n-123", ReasonClaims},
		{"expired", with(func(c map[string]any) { c["exp"] = testNow.Add(-5 * time.Minute).Unix() }), "raygate", "n-123", ReasonExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := v.VerifyIDToken(context.Background(), tc.token, tc.client, tc.nonce)
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.reason, err)
			}
			if tc.reason != "" {
				return
			}
			if tok.Subject != "u1" || tok.Identity.User != "alice@example.com" || !tok.Expiry.After(testNow) {
				t.Fatalf("token %+v", tok)
			}
		})
	}
}
