package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/raygate/raygate/internal/config"
)

// fakeIssuer serves discovery and a key set from memory, like an IdP.
type fakeIssuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int32
	down    atomic.Bool
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	f := &fakeIssuer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			w.WriteHeader(503)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/keys"})
		case "/keys":
			f.fetches.Add(1)
			f.mu.Lock()
			defer f.mu.Unlock()
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: f.keys})
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any // private key
	pub any
}

func newRSAKey(t testing.TB, kid string) signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: jose.RS256, key: k, pub: &k.PublicKey}
}

func newECKey(t testing.TB, kid string) signingKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: jose.ES256, key: k, pub: &k.PublicKey}
}

func (f *fakeIssuer) publish(ks ...signingKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = nil
	for _, k := range ks {
		f.keys = append(f.keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
}

func sign(t testing.TB, k signingKey, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func baseClaims(iss string) map[string]any {
	return map[string]any{
		"iss": iss, "aud": "raygate", "sub": "u1",
		"exp": testNow.Add(time.Hour).Unix(), "iat": testNow.Add(-time.Minute).Unix(),
		"email": "alice@example.com", "email_verified": true, "groups": []string{"team-a"},
	}
}

func newVerifier(t *testing.T, f *fakeIssuer, mod func(*config.OIDC)) *OIDC {
	t.Helper()
	c := config.OIDC{
		Issuer: f.srv.URL, Audiences: []string{"raygate", "other"}, UsernameClaim: "email", GroupsClaim: "groups",
		Algorithms: config.DefaultAlgorithms, ClockSkew: config.Duration(30 * time.Second),
	}
	if mod != nil {
		mod(&c)
	}
	ks, err := NewKeySet(c.Issuer, c.JWKSURL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ks.now = func() time.Time { return testNow }
	v := NewOIDC(c, ks)
	v.now = func() time.Time { return testNow }
	return v
}

func reasonOf(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return f.Reason
	}
	if err == nil {
		return ""
	}
	return "not a Failure: " + err.Error()
}

func TestOIDCVerify(t *testing.T) {
	f := newFakeIssuer(t)
	rsaKey, ecKey := newRSAKey(t, "rsa1"), newECKey(t, "ec1")
	other := newRSAKey(t, "rsa1") // same kid, different key
	f.publish(rsaKey, ecKey)
	v := newVerifier(t, f, nil)
	iss := f.srv.URL

	with := func(mod func(map[string]any)) map[string]any {
		c := baseClaims(iss)
		mod(c)
		return c
	}
	pemKey, _ := x509.MarshalPKIXPublicKey(rsaKey.pub)
	hmacWithPublicKey := signingKey{kid: "rsa1", alg: jose.HS256, key: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pemKey})}

	for _, tc := range []struct {
		name   string
		token  string
		reason string
		user   string
		groups string
	}{
		{name: "rs256", token: sign(t, rsaKey, baseClaims(iss)), user: "alice@example.com", groups: "team-a"},
		{name: "es256", token: sign(t, ecKey, baseClaims(iss)), user: "alice@example.com", groups: "team-a"},
		{name: "audience list", token: sign(t, rsaKey, with(func(c map[string]any) { c["aud"] = []string{"x", "other"} })), user: "alice@example.com", groups: "team-a"},
		{name: "groups as string", token: sign(t, rsaKey, with(func(c map[string]any) { c["groups"] = "solo" })), user: "alice@example.com", groups: "solo"},
		{name: "no groups", token: sign(t, rsaKey, with(func(c map[string]any) { delete(c, "groups") })), user: "alice@example.com"},
		{name: "expired within skew", token: sign(t, rsaKey, with(func(c map[string]any) { c["exp"] = testNow.Add(-10 * time.Second).Unix() })), user: "alice@example.com", groups: "team-a"},
		{name: "expired", token: sign(t, rsaKey, with(func(c map[string]any) { c["exp"] = testNow.Add(-time.Minute).Unix() })), reason: ReasonExpired},
		{name: "no exp", token: sign(t, rsaKey, with(func(c map[string]any) { delete(c, "exp") })), reason: ReasonClaims},
		{name: "exp as string", token: sign(t, rsaKey, with(func(c map[string]any) { c["exp"] = "9999999999" })), reason: ReasonClaims},
		{name: "nbf in future", token: sign(t, rsaKey, with(func(c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() })), reason: ReasonNotYetValid},
		{name: "iat in future", token: sign(t, rsaKey, with(func(c map[string]any) { c["iat"] = testNow.Add(time.Hour).Unix() })), reason: ReasonNotYetValid},
		{name: "wrong audience", token: sign(t, rsaKey, with(func(c map[string]any) { c["aud"] = "someone-else" })), reason: ReasonAudience},
		{name: "no audience", token: sign(t, rsaKey, with(func(c map[string]any) { delete(c, "aud") })), reason: ReasonAudience},
		{name: "wrong issuer claim", token: sign(t, rsaKey, with(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), reason: ReasonUnknownIssuer},
		{name: "signed by another key", token: sign(t, other, baseClaims(iss)), reason: ReasonBadSignature},
		{name: "hs256 with public key as secret", token: sign(t, hmacWithPublicKey, baseClaims(iss)), reason: ReasonAlgorithm},
		{name: "alg none", token: unsigned(baseClaims(iss)), reason: ReasonAlgorithm},
		{name: "unverified email", token: sign(t, rsaKey, with(func(c map[string]any) { c["email_verified"] = false })), reason: ReasonUnverifiedEmail},
		{name: "email_verified string true", token: sign(t, rsaKey, with(func(c map[string]any) { c["email_verified"] = "true" })), user: "alice@example.com", groups: "team-a"},
		{name: "no email", token: sign(t, rsaKey, with(func(c map[string]any) { delete(c, "email") })), reason: ReasonClaims},
		{name: "username with newline", token: sign(t, rsaKey, with(func(c map[string]any) { c["email"] = "a@b.c\r\nX-Forwarded-User: root" })), reason: ReasonClaims},
		{name: "group with control char", token: sign(t, rsaKey, with(func(c map[string]any) { c["groups"] = []string{"ok", "bad\x00"} })), reason: ReasonClaims},
		{name: "groups not strings", token: sign(t, rsaKey, with(func(c map[string]any) { c["groups"] = []int{1} })), reason: ReasonClaims},
		{name: "tampered payload", token: tamper(sign(t, rsaKey, baseClaims(iss))), reason: ReasonBadSignature},
		{name: "garbage", token: "a.b.c", reason: ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := v.Verify(context.Background(), tc.token)
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q, want %q (err %v)", got, tc.reason, err)
			}
			if tc.reason != "" {
				if id != nil {
					t.Fatalf("identity returned with error")
				}
				return
			}
			if id.User != tc.user || strings.Join(id.Groups, ",") != tc.groups || id.Method != "oidc" || id.Source != iss {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestOIDCPrefixesAndClaims(t *testing.T) {
	f := newFakeIssuer(t)
	k := newRSAKey(t, "k")
	f.publish(k)
	v := newVerifier(t, f, func(c *config.OIDC) {
		c.UsernameClaim, c.GroupsClaim = "preferred_username", "roles"
		c.UsernamePrefix, c.GroupsPrefix = "corp:", "corp:"
	})
	c := baseClaims(f.srv.URL)
	c["preferred_username"], c["roles"] = "alice", []string{"ml"}
	c["email_verified"] = false // ignored: email is not the username claim
	id, _, err := v.Verify(context.Background(), sign(t, k, c))
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "corp:alice" || strings.Join(id.Groups, ",") != "corp:ml" {
		t.Fatalf("identity %+v", id)
	}
}

func TestKeyRotationAndRefreshRateLimit(t *testing.T) {
	f := newFakeIssuer(t)
	old, next := newRSAKey(t, "old"), newRSAKey(t, "new")
	f.publish(old)
	v := newVerifier(t, f, nil)
	now := testNow
	v.keys.now = func() time.Time { return now }
	ctx := context.Background()

	if _, _, err := v.Verify(ctx, sign(t, old, baseClaims(f.srv.URL))); err != nil {
		t.Fatal(err)
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("fetches %d, want 1", n)
	}
	// The IdP rotates: a token with the new kid triggers one refetch.
	f.publish(old, next)
	now = now.Add(MinKeyRefresh + time.Second)
	if _, _, err := v.Verify(ctx, sign(t, next, baseClaims(f.srv.URL))); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := f.fetches.Load(); n != 2 {
		t.Fatalf("fetches %d, want 2", n)
	}
	// Forged kids do not make the gateway hammer the IdP.
	for i := 0; i < 20; i++ {
		forged := newECKey(t, "forged")
		if _, _, err := v.Verify(ctx, sign(t, forged, baseClaims(f.srv.URL))); reasonOf(err) != ReasonUnknownKey {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := f.fetches.Load(); n != 2 {
		t.Fatalf("fetches %d after forged kids, want 2 (rate limited)", n)
	}
	now = now.Add(MinKeyRefresh + time.Second)
	_, _, _ = v.Verify(ctx, sign(t, newECKey(t, "forged2"), baseClaims(f.srv.URL)))
	if n := f.fetches.Load(); n != 3 {
		t.Fatalf("fetches %d, want 3 once the interval passed", n)
	}
}

func TestIdPUnavailable(t *testing.T) {
	f := newFakeIssuer(t)
	k := newRSAKey(t, "k")
	f.publish(k)
	f.down.Store(true)
	v := newVerifier(t, f, nil)
	_, _, err := v.Verify(context.Background(), sign(t, k, baseClaims(f.srv.URL)))
	var fl *Failure
	if !errors.As(err, &fl) || fl.Reason != ReasonIdPUnavailable || fl.Status != 503 {
		t.Fatalf("err %v, want idp_unavailable 503", err)
	}
	if v.Keys().Ready() {
		t.Fatal("key set ready without a fetch")
	}
}

func TestKeySetSkipsUnusableKeys(t *testing.T) {
	f := newFakeIssuer(t)
	k := newRSAKey(t, "k")
	f.mu.Lock()
	f.keys = []jose.JSONWebKey{
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "k", Algorithm: "HS256"},
		{Key: k.pub, KeyID: "k", Use: "enc"},
	}
	f.mu.Unlock()
	v := newVerifier(t, f, nil)
	_, _, err := v.Verify(context.Background(), sign(t, k, baseClaims(f.srv.URL)))
	if reasonOf(err) != ReasonIdPUnavailable {
		t.Fatalf("err %v: a key set with no public signing key must not verify anything", err)
	}
}

func unsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), "alice", "admin", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func stdB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
