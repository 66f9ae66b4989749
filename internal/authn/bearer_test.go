package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

var bearerCases = []struct {
	name   string
	values []string
	token  string
	reason string
}{
	{"none", nil, "", "none"},
	{"plain", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", ""},
	{"lowercase scheme", []string{"bearer abc"}, "abc", ""},
	{"extra spaces", []string{"  Bearer   abc  "}, "abc", ""},
	{"padding", []string{"Bearer abc=="}, "abc==", ""},
	{"two headers", []string{"Bearer a", "Bearer b"}, "", ReasonMalformed},
	{"basic", []string{"Basic dXNlcjpwYXNz"}, "", ReasonUnsupportedScheme},
	{"scheme only", []string{"Bearer"}, "", ReasonMalformed},
	{"empty", []string{""}, "", ReasonUnsupportedScheme},
	{"space in token", []string{"Bearer a b"}, "", ReasonMalformed},
	{"comma", []string{"Bearer a,b"}, "", ReasonMalformed},
	{"padding inside", []string{"Bearer a=b"}, "", ReasonMalformed},
	{"only padding", []string{"Bearer ==="}, "", ReasonMalformed},
	{"newline", []string{"Bearer a\nb"}, "", ReasonMalformed},
	{"too long", []string{"Bearer " + strings.Repeat("a", MaxTokenLength+1)}, "", ReasonMalformed},
}

func TestParseBearer(t *testing.T) {
	for _, tc := range bearerCases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseBearer(tc.values)
			if tc.reason == "none" {
				if !errors.Is(err, ErrNoCredential) {
					t.Fatalf("err %v, want ErrNoCredential", err)
				}
				return
			}
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if tok != tc.token {
				t.Fatalf("token %q, want %q", tok, tc.token)
			}
		})
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, tc := range bearerCases {
		if len(tc.values) == 1 {
			f.Add(tc.values[0])
		}
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := ParseBearer([]string{v})
		if err != nil {
			var fl *Failure
			if !errors.As(err, &fl) || fl.Status != 401 {
				t.Fatalf("error %v is not a 401 Failure", err)
			}
			return
		}
		if tok == "" || len(tok) > MaxTokenLength || !token68Bytewise(tok) || !strings.Contains(v, tok) {
			t.Fatalf("accepted %q from %q", tok, v)
		}
	})
}

// token68Bytewise is isToken68's definition, one byte at a time.
func token68Bytewise(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// TestIsToken68 puts every byte value at every place of tokens of every
// length up to three words, with and without padding: isToken68 answers
// as its definition does.
func TestIsToken68(t *testing.T) {
	for _, pad := range []string{"", "=", "=="} {
		for n := 1; n <= 24; n++ {
			b := []byte(strings.Repeat("a", n) + pad)
			for i := range b {
				was := b[i]
				for c := 0; c < 256; c++ {
					b[i] = byte(c)
					if got, want := isToken68(string(b)), token68Bytewise(string(b)); got != want {
						t.Fatalf("isToken68(%q) = %v, want %v", b, got, want)
					}
				}
				b[i] = was
			}
		}
	}
}

type countingVerifier struct {
	calls atomic.Int32
	until time.Time
}

func (c *countingVerifier) Verify(context.Context, string) (*identity.Identity, time.Time, error) {
	c.calls.Add(1)
	return &identity.Identity{User: "alice", Method: identity.MethodOIDC}, c.until, nil
}

func jwtFor(iss string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + b64(`{"iss":"`+iss+`"}`) + ".c2ln"
}

func TestBearerCacheHonoursExpiry(t *testing.T) {
	now := testNow
	v := &countingVerifier{until: now.Add(2 * time.Minute)}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(10, 5*time.Minute), Now: func() time.Time { return now }}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+jwtFor("https://idp"))
	for i := 0; i < 3; i++ {
		if _, err := b.Authenticate(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.calls.Load(); n != 1 {
		t.Fatalf("verifier called %d times, want 1 (cached)", n)
	}
	now = now.Add(3 * time.Minute) // past the token's expiry
	if _, err := b.Authenticate(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if n := v.calls.Load(); n != 2 {
		t.Fatalf("verifier called %d times, want 2 (expired entry re-verified)", n)
	}
}

func TestBearerDispatch(t *testing.T) {
	key := "rg_live_0123456789"
	sum := sha256.Sum256([]byte(key))
	keys := NewAPIKeys([]config.APIKey{{Name: "ci", SHA256: strings.ToUpper(hex.EncodeToString(sum[:])), User: "ci-bot", Groups: []string{"team-a"}}})
	v := &countingVerifier{until: testNow.Add(time.Hour)}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, APIKeys: keys, Now: func() time.Time { return testNow }}
	noKeys := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}}
	for _, tc := range []struct {
		name   string
		b      *Bearer
		header string
		user   string
		reason string
	}{
		{"api key", b, "Bearer " + key, "ci-bot", ""},
		{"wrong api key", b, "Bearer rg_live_wrong", "", ReasonUnknownAPIKey},
		{"api key when none configured", noKeys, "Bearer " + key, "", ReasonMalformed},
		{"jwt", b, "Bearer " + jwtFor("https://idp"), "alice", ""},
		{"jwt from unknown issuer", b, "Bearer " + jwtFor("https://evil"), "", ReasonUnknownIssuer},
		{"jwt without issuer", b, "Bearer eyJhbGciOiJSUzI1NiJ9." + b64(`{}`) + ".c2ln", "", ReasonClaims},
		{"jwt with bad payload", b, "Bearer a.!!!.c", "", ReasonMalformed},
		{"jwt payload not json", b, "Bearer a." + b64("nope") + ".c", "", ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", tc.header)
			id, err := tc.b.Authenticate(context.Background(), r)
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if tc.reason == "" && id.User != tc.user {
				t.Fatalf("user %q, want %q", id.User, tc.user)
			}
		})
	}
}

func TestChain(t *testing.T) {
	c := Chain{&Bearer{}}
	_, err := c.Authenticate(context.Background(), httptest.NewRequest("GET", "/", nil))
	if reasonOf(err) != ReasonMissing {
		t.Fatalf("err %v, want missing", err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic x")
	if _, err := c.Authenticate(context.Background(), r); reasonOf(err) != ReasonUnsupportedScheme {
		t.Fatalf("err %v: a present, invalid credential must fail, not fall through", err)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	c := NewTokenCache(2, time.Hour)
	id := &identity.Identity{User: "u"}
	k := func(i byte) [32]byte { return [32]byte{i} }
	c.Put(k(1), id, testNow.Add(time.Hour), testNow)
	c.Put(k(2), id, testNow.Add(time.Hour), testNow)
	c.Get(k(1), testNow) // 1 is now most recent
	c.Put(k(3), id, testNow.Add(time.Hour), testNow)
	if _, ok := c.Get(k(2), testNow); ok {
		t.Fatal("least recently used entry not evicted")
	}
	if _, ok := c.Get(k(1), testNow); !ok {
		t.Fatal("recent entry evicted")
	}
	if c.Len() != 2 {
		t.Fatalf("len %d", c.Len())
	}
	c.Put(k(4), id, testNow.Add(-time.Second), testNow) // already expired
	if _, ok := c.Get(k(4), testNow); ok {
		t.Fatal("expired token cached")
	}
	short := NewTokenCache(2, time.Minute)
	short.Put(k(5), id, testNow.Add(time.Hour), testNow)
	if _, ok := short.Get(k(5), testNow.Add(2*time.Minute)); ok {
		t.Fatal("entry outlived the cache TTL")
	}
	if NewTokenCache(0, time.Minute) != nil {
		t.Fatal("size 0 must disable the cache")
	}
}

// FuzzVerify feeds arbitrary tokens to a verifier with a real key set:
// none may authenticate but the signed seed, in any serialization, and then
// only with the seed's own claims.
func FuzzVerify(f *testing.F) {
	fi := newFakeIssuer(f)
	k := newRSAKey(f, "k")
	fi.publish(k)
	v := newVerifier(f, fi, nil)
	good := sign(f, k, baseClaims(fi.srv.URL))
	want, _, err := v.Verify(context.Background(), good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(tamper(good))
	f.Add(unsigned(baseClaims(fi.srv.URL)))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		id, _, err := v.Verify(context.Background(), tok)
		if err == nil {
			parts := strings.Split(tok, ".")
			if len(parts) != 3 || parts[2] != strings.Split(good, ".")[2] {
				t.Fatalf("token %q authenticated as %+v without the seed's signature", tok, id)
			}
			if id == nil || id.User != want.User || strings.Join(id.Groups, ",") != strings.Join(want.Groups, ",") || id.Source != want.Source {
				t.Fatalf("token %q verified as %+v, want the seed's identity %+v", tok, id, want)
			}
			return
		}
		if id != nil {
			t.Fatalf("identity %+v returned with error %v", id, err)
		}
		var fl *Failure
		if !errors.As(err, &fl) || fl.Reason == "" || (fl.Status != 401 && fl.Status != 503) {
			t.Fatalf("error %v is not a 401 or 503 Failure with a reason", err)
		}
	})
}

func b64(s string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(stdB64(s)), "=")
}

// TestBearerRefusesTokenCharsWithCache: a cache hit skips the check of the
// token's characters, so a token outside them must never reach the cache:
// it is refused for its characters every time, before any verification.
func TestBearerRefusesTokenCharsWithCache(t *testing.T) {
	v := &countingVerifier{until: testNow.Add(time.Hour)}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(10, time.Hour),
		Now: func() time.Time { return testNow }}
	for _, tok := range []string{jwtFor("https://idp") + "*", jwtFor("https://idp") + "=A", "*" + jwtFor("https://idp")} {
		for i := 0; i < 2; i++ {
			_, err := b.Authenticate(context.Background(), bearerRequest(tok))
			var f *Failure
			if !errors.As(err, &f) || f.Reason != ReasonMalformed || f.Msg != "bearer token has invalid characters" {
				t.Fatalf("%q (try %d): got %v, want a refusal for its characters", tok, i, err)
			}
		}
	}
	if n, l := v.calls.Load(), b.Cache.Len(); n != 0 || l != 0 {
		t.Fatalf("verifier called %d times, %d tokens cached; want none", n, l)
	}
	// The same bytes without the stray character: verified once, then a hit.
	for i := 0; i < 2; i++ {
		if _, err := b.Authenticate(context.Background(), bearerRequest(jwtFor("https://idp"))); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.calls.Load(); n != 1 {
		t.Fatalf("verifier called %d times, want 1", n)
	}
}
