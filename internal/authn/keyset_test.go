package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func jwk(t testing.TB, k signingKey, use string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: use})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseKeySet(t *testing.T) {
	rsa, ec := newRSAKey(t, "r"), newECKey(t, "e")
	good, goodEC := jwk(t, rsa, "sig"), jwk(t, ec, "")
	private, _ := json.Marshal(jose.JSONWebKey{Key: ec.key, KeyID: "p", Algorithm: "ES256"})
	for _, tc := range []struct {
		name string
		doc  string
		kids string // kids kept, in order; "" means an error
		err  string
	}{
		{name: "two keys", doc: `{"keys":[` + good + `,` + goodEC + `]}`, kids: "r,e"},
		{name: "unknown key type skipped", doc: `{"keys":[{"kty":"AKP","kid":"pq","alg":"ML-DSA-65","pub":"AAAA"},` + good + `]}`, kids: "r"},
		{name: "bad parameters skipped", doc: `{"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"},` + good + `]}`, kids: "r"},
		{name: "encryption key skipped", doc: `{"keys":[` + jwk(t, rsa, "enc") + `,` + goodEC + `]}`, kids: "e"},
		{name: "symmetric key skipped", doc: `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0c2VjcmV0c2VjcmV0"},` + good + `]}`, kids: "r"},
		{name: "private key skipped", doc: `{"keys":[` + string(private) + `,` + good + `]}`, kids: "r"},
		{name: "null entry skipped", doc: `{"keys":[null,` + good + `]}`, kids: "r"},
		{name: "only unusable keys", doc: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, err: "no public signing key (1 keys skipped)"},
		{name: "empty set", doc: `{"keys":[]}`, err: "no public signing key"},
		{name: "no keys member", doc: `{}`, err: "no public signing key"},
		{name: "keys not a list", doc: `{"keys":{}}`, err: "not a JWK set"},
		{name: "html", doc: `<html>maintenance</html>`, err: "not a JWK set"},
		{name: "truncated", doc: `{"keys":[` + good[:40], err: "not a JWK set"},
		{name: "empty", doc: ``, err: "not a JWK set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseKeySet([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KeyID)
			}
			if strings.Join(kids, ",") != tc.kids {
				t.Fatalf("kept %v, want %s", kids, tc.kids)
			}
		})
	}
}

// FuzzParseKeySet: no document makes the parser panic, and whatever it
// returns is only public signing keys.
func FuzzParseKeySet(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"keys":[` + jwk(f, signingKey{kid: "e", alg: jose.ES256, pub: &k.PublicKey}, "sig") + `]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[null,1,"x",{}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := ParseKeySet(doc)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range keys {
			if !k.IsPublic() || !k.Valid() || (k.Use != "" && k.Use != "sig") {
				t.Fatalf("unusable key returned: %+v", k)
			}
		}
	})
}

// flakyIdP serves discovery and a key set, then misbehaves as told.
type flakyIdP struct {
	srv  *httptest.Server
	mode atomic.Value // string: "ok", "down", "garbage", "empty", "hang", "unknown-kty"
	mu   sync.Mutex
	keys []string
}

func newFlakyIdP(t *testing.T, keys ...string) *flakyIdP {
	f := &flakyIdP{keys: keys}
	f.mode.Store("ok")
	release := make(chan struct{})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/keys"})
			return
		case "/keys":
		default:
			w.WriteHeader(404)
			return
		}
		switch f.mode.Load().(string) {
		case "down":
			w.WriteHeader(503)
		case "garbage":
			_, _ = w.Write([]byte("<html>upstream connect error</html>"))
		case "empty":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		case "unknown-kty":
			_, _ = w.Write([]byte(`{"keys":[{"kty":"AKP","kid":"pq"}]}`))
		case "hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			f.mu.Lock()
			defer f.mu.Unlock()
			_, _ = w.Write([]byte(`{"keys":[` + strings.Join(f.keys, ",") + `]}`))
		}
	}))
	t.Cleanup(func() { close(release); f.srv.Close() })
	return f
}

type fetchCounter struct{ ok, failed atomic.Int32 }

func (c *fetchCounter) TokenCacheResult(bool) {}
func (c *fetchCounter) KeySetFetch(_ string, err error) {
	if err != nil {
		c.failed.Add(1)
		return
	}
	c.ok.Add(1)
}

// TestKeySetFaults: once the key set was fetched, an identity provider
// that is down, unreachable, slow or answering garbage does not stop
// tokens signed with known keys; a token with an unknown key fails closed
// with 401 (never 503, never an allow), and every failed fetch is counted.
func TestKeySetFaults(t *testing.T) {
	known, unknown := newRSAKey(t, "known"), newECKey(t, "rotated-in")
	for _, mode := range []string{"down", "garbage", "empty", "unknown-kty", "hang", "unreachable"} {
		t.Run(mode, func(t *testing.T) {
			idp := newFlakyIdP(t, jwk(t, known, "sig"))
			obs := &fetchCounter{}
			ks, err := NewKeySet(idp.srv.URL, "", "", obs)
			if err != nil {
				t.Fatal(err)
			}
			ks.client.Timeout = 200 * time.Millisecond // a hung fetch gives up soon
			now := testNow
			ks.now = func() time.Time { return now }
			v := newVerifier(t, &fakeIssuer{srv: idp.srv}, nil)
			v.keys = ks
			if err := ks.Prefetch(context.Background()); err != nil {
				t.Fatal(err)
			}
			if mode == "unreachable" {
				idp.srv.Close()
			} else {
				idp.mode.Store(mode)
			}
			// Past the refresh interval and the key set's age: every
			// verification would like a fresh key set.
			now = now.Add(MaxKeyAge + time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()

			if _, _, err := v.Verify(ctx, sign(t, known, baseClaims(idp.srv.URL))); err != nil {
				t.Fatalf("token with a known key: %v", err)
			}
			_, _, err = v.Verify(ctx, sign(t, unknown, baseClaims(idp.srv.URL)))
			var f *Failure
			if !errors.As(err, &f) || f.Reason != ReasonUnknownKey || f.Status != http.StatusUnauthorized {
				t.Fatalf("token with an unknown key: %v, want unknown_key 401", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for obs.failed.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if obs.failed.Load() == 0 {
				t.Fatal("the failed fetch was not counted")
			}
			// Still the known key, however often it is asked for.
			for i := 0; i < 3; i++ {
				if _, _, err := v.Verify(context.Background(), sign(t, known, baseClaims(idp.srv.URL))); err != nil {
					t.Fatalf("known key after the failed fetch: %v", err)
				}
			}
		})
	}
}
