package authn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key set fetching limits.
const (
	// MinKeyRefresh is the shortest interval between two fetches of an
	// issuer's key set, however many tokens name an unknown key.
	MinKeyRefresh = 10 * time.Second
	// MaxKeyAge is how old a fetched key set may get before the next
	// verification refreshes it in the background.
	MaxKeyAge = time.Hour
	// maxDocument bounds discovery documents and key sets.
	maxDocument  = 1 << 20
	fetchTimeout = 10 * time.Second
)

// KeySet is an issuer's public signing keys, found by OpenID Connect
// discovery (or a configured JWKS URL) and refreshed when a token names a
// key it does not hold, at most once per MinKeyRefresh.
type KeySet struct {
	issuer   string
	jwksURL  string // configured; "" means discover
	client   *http.Client
	observer Observer
	now      func() time.Time

	keys atomic.Pointer[keySnapshot]

	// fetching serializes fetches; a caller waits for a fetch under way
	// only as long as its context allows.
	fetching    chan struct{}
	lastAttempt time.Time
	bgRunning   atomic.Bool
}

type keySnapshot struct {
	keys    []jose.JSONWebKey
	fetched time.Time
}

// NewKeySet returns the key set of issuer. jwksURL, when not empty, skips
// discovery. caFile, when not empty, adds a PEM bundle to the trusted roots.
func NewKeySet(issuer, jwksURL, caFile string, observer Observer) (*KeySet, error) {
	client, err := NewHTTPClient(caFile)
	if err != nil {
		return nil, err
	}
	return &KeySet{issuer: issuer, jwksURL: jwksURL, client: client, observer: observer, now: time.Now, fetching: make(chan struct{}, 1)}, nil
}

// NewHTTPClient returns the client raygate talks to an identity provider
// with: a bounded timeout, and caFile's PEM bundle trusted in addition to
// the system roots when caFile is not empty.
func NewHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("authn: read CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("authn: CA file %s holds no certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: fetchTimeout}, nil
}

// Ready reports whether a key set has been fetched at least once.
func (k *KeySet) Ready() bool { return k.keys.Load() != nil }

// Prefetch fetches the key set now, so the first request does not wait.
func (k *KeySet) Prefetch(ctx context.Context) error {
	_, err := k.refresh(ctx, true)
	return err
}

// Candidates returns the keys that may have signed a token with header kid
// and alg. An unknown kid triggers a rate-limited refresh. It fails with
// ReasonUnknownKey when no key fits, and ReasonIdPUnavailable when the key
// set has never been fetched and cannot be now.
func (k *KeySet) Candidates(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, error) {
	snap := k.keys.Load()
	if snap != nil {
		if ks := match(snap.keys, kid, alg); len(ks) > 0 {
			if k.now().Sub(snap.fetched) > MaxKeyAge {
				k.refreshInBackground()
			}
			return ks, nil
		}
	}
	snap, err := k.refresh(ctx, false)
	if snap == nil {
		return nil, &Failure{Reason: ReasonIdPUnavailable, Msg: "identity provider keys are unavailable", Status: http.StatusServiceUnavailable, Err: err}
	}
	if ks := match(snap.keys, kid, alg); len(ks) > 0 {
		return ks, nil
	}
	return nil, fail(ReasonUnknownKey, "token signed by an unknown key", err)
}

func (k *KeySet) refreshInBackground() {
	if !k.bgRunning.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer k.bgRunning.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 2*fetchTimeout)
		defer cancel()
		_, _ = k.refresh(ctx, false)
	}()
}

// refresh fetches the key set unless another fetch happened within
// MinKeyRefresh (force skips that limit); it returns the current snapshot
// either way, and the fetch error if one happened. A fetch under way (a
// slow identity provider) is waited for only until ctx ends.
func (k *KeySet) refresh(ctx context.Context, force bool) (*keySnapshot, error) {
	select {
	case k.fetching <- struct{}{}:
	case <-ctx.Done():
		return k.keys.Load(), fmt.Errorf("authn: waiting for a key set fetch: %w", ctx.Err())
	}
	defer func() { <-k.fetching }()
	now := k.now()
	if !force && !k.lastAttempt.IsZero() && now.Sub(k.lastAttempt) < MinKeyRefresh {
		return k.keys.Load(), errors.New("key set refresh rate-limited")
	}
	k.lastAttempt = now
	keys, err := k.fetch(ctx)
	if k.observer != nil {
		k.observer.KeySetFetch(k.issuer, err)
	}
	if err != nil {
		return k.keys.Load(), err
	}
	snap := &keySnapshot{keys: keys, fetched: now}
	k.keys.Store(snap)
	return snap, nil
}

func (k *KeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	jwksURL := k.jwksURL
	if jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := k.getJSON(ctx, strings.TrimSuffix(k.issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, fmt.Errorf("authn: discovery: %w", err)
		}
		if doc.Issuer != k.issuer {
			return nil, fmt.Errorf("authn: discovery: document names issuer %q, expected %q", doc.Issuer, k.issuer)
		}
		if doc.JWKSURI == "" {
			return nil, errors.New("authn: discovery: no jwks_uri")
		}
		jwksURL = doc.JWKSURI
	}
	body, err := k.get(ctx, jwksURL)
	if err != nil {
		return nil, fmt.Errorf("authn: key set: %w", err)
	}
	keys, err := ParseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("authn: key set from %s: %w", jwksURL, err)
	}
	return keys, nil
}

// ParseKeySet reads a JWK Set document and returns its public signing
// keys. Keys that are not understood (an unknown key type, bad
// parameters), symmetric or private keys, and keys meant for encryption
// are skipped, as RFC 7517 section 5 asks; a document that is not a key set
// or holds no usable key is an error, so a broken response never replaces
// the keys in use.
func ParseKeySet(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK set: %w", err)
	}
	var keys []jose.JSONWebKey
	skipped := 0
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(raw); err != nil {
			skipped++
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			skipped++
			continue
		}
		if !key.Valid() || !key.IsPublic() {
			skipped++
			continue // never verify with a symmetric or private key
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("key set holds no public signing key (%d keys skipped)", skipped)
	}
	return keys, nil
}

func (k *KeySet) getJSON(ctx context.Context, url string, v any) error {
	body, err := k.get(ctx, url)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// get fetches a document of at most maxDocument bytes.
func (k *KeySet) get(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocument {
		return nil, fmt.Errorf("GET %s: document larger than %d bytes", url, maxDocument)
	}
	return body, nil
}

// match returns the keys that fit a token's kid and alg.
func match(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		out = append(out, key)
	}
	return out
}
