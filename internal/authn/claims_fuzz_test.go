package authn

import (
	"context"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

// Presence bits of FuzzClaims' optional claims.
const (
	hasExp = 1 << iota
	hasNbf
	hasIat
	hasGroups
)

// FuzzClaims signs tokens with fuzzed claims by the issuer's real key and
// checks the verifier against the rules it documents, written out again
// here: a token verifies exactly when its audience is accepted, it is
// within its exp/nbf/iat window (30 s skew), its email is verified and its
// username and groups are safe names; a verified token's identity carries
// exactly the token's username and groups, and a refused one names the
// first rule it broke.
func FuzzClaims(f *testing.F) {
	fi := newFakeIssuer(f)
	k := newECKey(f, "k")
	fi.publish(k)
	v := newVerifier(f, fi, nil)
	f.Add("alice@example.com", uint8(1), "team-a", "ml", "raygate", int64(3600), int64(0), int64(-60), uint8(hasExp|hasIat|hasGroups))
	f.Add("bob@example.com", uint8(0), "", "", "other", int64(-29), int64(30), int64(31), uint8(hasExp|hasNbf|hasIat))
	f.Add("eve@example.com", uint8(2), "x", "y", "raygate", int64(60), int64(0), int64(0), uint8(hasExp|hasGroups))
	f.Add("a\x00b", uint8(3), "ok", "bad\x1f", "raygate", int64(-30), int64(31), int64(0), uint8(hasExp|hasNbf|hasGroups))
	f.Add("", uint8(5), "g", "", "someone", int64(1e12), int64(0), int64(0), uint8(hasExp))
	f.Fuzz(func(t *testing.T, email string, verified uint8, g1, g2, aud string, expOff, nbfOff, iatOff int64, has uint8) {
		for _, s := range []string{email, g1, g2, aud} {
			if !utf8.ValidString(s) {
				return // JSON encoding would replace the invalid bytes
			}
		}
		now := testNow.Unix()
		claims := map[string]any{"iss": fi.srv.URL, "aud": aud, "sub": "s", "email": email}
		if has&hasExp != 0 {
			claims["exp"] = now + expOff
		}
		if has&hasNbf != 0 {
			claims["nbf"] = now + nbfOff
		}
		if has&hasIat != 0 {
			claims["iat"] = now + iatOff
		}
		var groups []string
		if has&hasGroups != 0 {
			groups = []string{g1, g2}
			claims["groups"] = groups
		}
		switch verified % 6 {
		case 1:
			claims["email_verified"] = true
		case 2:
			claims["email_verified"] = false
		case 3:
			claims["email_verified"] = "true"
		case 4:
			claims["email_verified"] = "false"
		case 5:
			claims["email_verified"] = 1
		}
		want := expectedReason(now, claims, groups)
		id, until, err := v.Verify(context.Background(), sign(t, k, claims))
		if got := reasonOf(err); got != want {
			t.Fatalf("claims %v: reason %q, want %q (err %v)", claims, got, want, err)
		}
		if want != "" {
			if id != nil {
				t.Fatalf("identity %+v returned with %v", id, err)
			}
			return
		}
		if id.User != email || !slices.Equal(id.Groups, groups) || id.Method != "oidc" || id.Source != fi.srv.URL {
			t.Fatalf("claims %v verified as %+v", claims, id)
		}
		if wantUntil := time.Unix(now+expOff, 0).Add(30 * time.Second); !until.Equal(wantUntil) {
			t.Fatalf("trusted until %v, want exp + skew %v", until, wantUntil)
		}
	})
}

// expectedReason is the failure reason the verifier must give for claims
// (all signed by a trusted key, with the right issuer), "" for none.
func expectedReason(now int64, claims map[string]any, groups []string) string {
	const skew = 30
	if a := claims["aud"]; a != "raygate" && a != "other" {
		return ReasonAudience
	}
	date := func(name string) (int64, bool, bool) { // value, present, valid
		x, ok := claims[name].(int64)
		return x, ok, !ok || (x >= 0 && x <= 1e11)
	}
	exp, ok, valid := date("exp")
	switch {
	case !ok || !valid:
		return ReasonClaims
	case now >= exp+skew:
		return ReasonExpired
	}
	for _, name := range []string{"nbf", "iat"} {
		x, ok, valid := date(name)
		switch {
		case !valid:
			return ReasonClaims
		case ok && now+skew < x:
			return ReasonNotYetValid
		}
	}
	safe := func(s string) bool {
		if s == "" || len(s) > 1024 {
			return false
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return false
			}
		}
		return true
	}
	if !safe(claims["email"].(string)) {
		return ReasonClaims
	}
	switch claims["email_verified"] {
	case nil, true, "true":
	case false, "false":
		return ReasonUnverifiedEmail
	default:
		return ReasonClaims
	}
	for _, g := range groups {
		if !safe(g) {
			return ReasonClaims
		}
	}
	return ""
}
