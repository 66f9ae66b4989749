package authn

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/raygate/raygate/internal/config"
)

const testIAPAudience = "/projects/123/global/backendServices/456"

// iapKeys serves a JWK set like https://www.gstatic.com/iap/verify/public_key-jwk.
func iapKeys(t testing.TB, ks ...signingKey) *httptest.Server {
	var set jose.JSONWebKeySet
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newIAP(t testing.TB, jwks string, prefix string) *IAP {
	ks, err := NewKeySet(IAPIssuer, jwks, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ks.now = func() time.Time { return testNow }
	a := NewIAP(config.IAP{Audience: testIAPAudience, JWKSURL: jwks, ClockSkew: config.Duration(30 * time.Second), UsernamePrefix: prefix}, ks, NewTokenCache(10, time.Minute))
	a.now = func() time.Time { return testNow }
	return a
}

func iapClaims() map[string]any {
	return map[string]any{
		"iss": IAPIssuer, "aud": testIAPAudience, "sub": "accounts.google.com:1234",
		"email": "alice@example.com", "hd": "example.com",
		"exp": testNow.Add(10 * time.Minute).Unix(), "iat": testNow.Add(-time.Minute).Unix(),
	}
}

func iapRequest(assertions ...string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	for _, a := range assertions {
		r.Header.Add("x-goog-iap-jwt-assertion", a)
	}
	return r
}

func TestIAP(t *testing.T) {
	key, otherKey, rsaKey := newECKey(t, "iap1"), newECKey(t, "iap1"), newRSAKey(t, "rsa")
	srv := iapKeys(t, key, rsaKey)
	a := newIAP(t, srv.URL, "")
	with := func(mod func(map[string]any)) map[string]any {
		c := iapClaims()
		mod(c)
		return c
	}
	for _, tc := range []struct {
		name       string
		assertions []string
		reason     string
		user       string
	}{
		{name: "valid", assertions: []string{sign(t, key, iapClaims())}, user: "alice@example.com"},
		{name: "audience in a list", assertions: []string{sign(t, key, with(func(c map[string]any) { c["aud"] = []string{"x", testIAPAudience} }))}, user: "alice@example.com"},
		{name: "expired within skew", assertions: []string{sign(t, key, with(func(c map[string]any) { c["exp"] = testNow.Add(-10 * time.Second).Unix() }))}, user: "alice@example.com"},
		{name: "no header: another method may apply", reason: "no credential"},
		{name: "two headers", assertions: []string{sign(t, key, iapClaims()), sign(t, key, iapClaims())}, reason: ReasonMalformed},
		{name: "empty", assertions: []string{""}, reason: ReasonMalformed},
		{name: "not a JWT", assertions: []string{"alice@example.com"}, reason: ReasonMalformed},
		{name: "RS256 is not what IAP signs with", assertions: []string{sign(t, rsaKey, iapClaims())}, reason: ReasonAlgorithm},
		{name: "alg none", assertions: []string{unsigned(iapClaims())}, reason: ReasonAlgorithm},
		{name: "another key with the same kid", assertions: []string{sign(t, otherKey, iapClaims())}, reason: ReasonBadSignature},
		{name: "tampered", assertions: []string{tamper(sign(t, key, iapClaims()))}, reason: ReasonBadSignature},
		{name: "wrong issuer", assertions: []string{sign(t, key, with(func(c map[string]any) { c["iss"] = "https://accounts.google.com" }))}, reason: ReasonUnknownIssuer},
		{name: "wrong audience", assertions: []string{sign(t, key, with(func(c map[string]any) { c["aud"] = "/projects/123/global/backendServices/999" }))}, reason: ReasonAudience},
		{name: "no audience", assertions: []string{sign(t, key, with(func(c map[string]any) { delete(c, "aud") }))}, reason: ReasonAudience},
		{name: "expired", assertions: []string{sign(t, key, with(func(c map[string]any) { c["exp"] = testNow.Add(-time.Minute).Unix() }))}, reason: ReasonExpired},
		{name: "no exp", assertions: []string{sign(t, key, with(func(c map[string]any) { delete(c, "exp") }))}, reason: ReasonClaims},
		{name: "no iat", assertions: []string{sign(t, key, with(func(c map[string]any) { delete(c, "iat") }))}, reason: ReasonClaims},
		{name: "issued in the future", assertions: []string{sign(t, key, with(func(c map[string]any) { c["iat"] = testNow.Add(time.Hour).Unix() }))}, reason: ReasonNotYetValid},
		{name: "no email", assertions: []string{sign(t, key, with(func(c map[string]any) { delete(c, "email") }))}, reason: ReasonClaims},
		{name: "email with a newline", assertions: []string{sign(t, key, with(func(c map[string]any) { c["email"] = "a@b.c\nX-Forwarded-User: root" }))}, reason: ReasonClaims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Authenticate(context.Background(), iapRequest(tc.assertions...))
			if tc.reason == "no credential" {
				if !errors.Is(err, ErrNoCredential) {
					t.Fatalf("err = %v, want ErrNoCredential", err)
				}
				return
			}
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.reason, err)
			}
			if tc.reason != "" {
				return
			}
			if id.User != tc.user || id.Method != "iap" || len(id.Groups) != 0 {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

// TestIAPIgnoresUnsignedHeaders: the headers IAP adds without a signature
// name nobody.
func TestIAPIgnoresUnsignedHeaders(t *testing.T) {
	a := newIAP(t, iapKeys(t, newECKey(t, "k")).URL, "")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Goog-Authenticated-User-Email", "accounts.google.com:root@example.com")
	r.Header.Set("X-Goog-Authenticated-User-Id", "accounts.google.com:1")
	if id, err := a.Authenticate(context.Background(), r); !errors.Is(err, ErrNoCredential) || id != nil {
		t.Fatalf("Authenticate = %+v, %v; want no credential", id, err)
	}
}

func TestIAPPrefix(t *testing.T) {
	key := newECKey(t, "k")
	a := newIAP(t, iapKeys(t, key).URL, "iap:")
	id, err := a.Authenticate(context.Background(), iapRequest(sign(t, key, iapClaims())))
	if err != nil || id.User != "iap:alice@example.com" {
		t.Fatalf("Authenticate = %+v, %v", id, err)
	}
}

// FuzzIAPAssertion feeds arbitrary assertions, and arbitrary claims signed
// by IAP's real key, to the authenticator: an assertion that passes must be
// the one valid token, and claims that pass must hold the issuer,
// audience, an unexpired exp, a past iat and a clean email.
func FuzzIAPAssertion(f *testing.F) {
	key := newECKey(f, "iap1")
	a := newIAP(f, iapKeys(f, key).URL, "")
	good := sign(f, key, iapClaims())
	goodClaims, _ := json.Marshal(iapClaims())
	f.Add(good, string(goodClaims))
	f.Add(tamper(good), `{"iss":"https://cloud.google.com/iap"}`)
	f.Add(unsigned(iapClaims()), `[]`)
	f.Add("a.b.c", `{"iss":"https://cloud.google.com/iap","aud":["`+testIAPAudience+`"],"exp":1e11,"iat":0,"email":"x"}`)
	f.Fuzz(func(t *testing.T, tok, claims string) {
		if id, err := a.Authenticate(context.Background(), iapRequest(tok)); err == nil || id != nil {
			if parts := strings.Split(tok, "."); tok != good && !(len(parts) == 3 && strings.Split(good, ".")[2] == parts[2]) {
				t.Fatalf("assertion %q authenticated as %+v", tok, id)
			}
		} else if fl := (*Failure)(nil); !errors.As(err, &fl) && !errors.Is(err, ErrNoCredential) {
			t.Fatalf("error %v is neither a Failure nor no credential", err)
		}
		id, until, err := CheckIAPClaims([]byte(claims), a.cfg, testNow)
		if err != nil {
			return
		}
		var c struct {
			Iss   string `json:"iss"`
			Email string `json:"email"`
		}
		if json.Unmarshal([]byte(claims), &c) != nil || c.Iss != IAPIssuer || id.User != c.Email || !safeName(id.User) || !until.After(testNow) {
			t.Fatalf("claims %s accepted as %+v until %v", claims, id, until)
		}
	})
}
