package authn

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/raygate/raygate/internal/identity"
)

// MaxTokenLength bounds a bearer token; longer ones are refused unparsed.
const MaxTokenLength = 16 << 10

// ParseBearer extracts the token from a request's Authorization header
// values. It returns ErrNoCredential when there is no header, and a Failure
// for more than one header, another scheme, or a token that is empty, too
// long or outside RFC 6750's token characters.
func ParseBearer(values []string) (string, error) {
	tok, err := splitBearer(values)
	if err == nil && !isToken68(tok) {
		return "", errTokenChars()
	}
	return tok, err
}

// errTokenChars refuses a bearer token outside RFC 6750's characters.
func errTokenChars() *Failure {
	return fail(ReasonMalformed, "bearer token has invalid characters", nil)
}

// splitBearer is ParseBearer without the check of the token's characters.
func splitBearer(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", ErrNoCredential
	case 1:
	default:
		return "", fail(ReasonMalformed, "more than one Authorization header", nil)
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fail(ReasonUnsupportedScheme, "only Bearer credentials are accepted", nil)
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", fail(ReasonMalformed, "empty bearer token", nil)
	}
	if len(tok) > MaxTokenLength {
		return "", fail(ReasonMalformed, "bearer token too long", nil)
	}
	return tok, nil
}

// isToken68 reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	// Eight bytes at a time, without a branch per byte (an ID token is
	// hundreds of bytes, checked on every request), then one at a time
	// from the first word that holds another byte.
	for ; i+8 <= len(s); i += 8 {
		if token68Bit[s[i]]&token68Bit[s[i+1]]&token68Bit[s[i+2]]&token68Bit[s[i+3]]&
			token68Bit[s[i+4]]&token68Bit[s[i+5]]&token68Bit[s[i+6]]&token68Bit[s[i+7]] == 0 {
			break
		}
	}
	for i < len(s) && token68Bit[s[i]] != 0 {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// token68Bit is 1 for the characters of a b64token before its padding.
var token68Bit = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			t[c] = 1
		}
	}
	return t
}()

// looksLikeJWT reports whether tok has the three dot-separated parts of a
// JWS compact serialization.
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// unverifiedIssuer reads the iss claim of a JWT without verifying it, only
// to pick the verifier that will.
func unverifiedIssuer(tok string) (string, error) {
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fail(ReasonMalformed, "token payload is not base64url", err)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", fail(ReasonMalformed, "token payload is not a JSON object", err)
	}
	if c.Iss == "" {
		return "", fail(ReasonClaims, "token has no issuer", nil)
	}
	return c.Iss, nil
}

// TokenVerifier verifies a JWT and returns the identity it proves and the
// time after which it must no longer be trusted.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*identity.Identity, time.Time, error)
}

// Observer receives events for metrics. Every method must be safe for
// concurrent use; a nil Observer is allowed.
type Observer interface {
	TokenCacheResult(hit bool)
	KeySetFetch(issuer string, err error)
}

// Bearer authenticates "Authorization: Bearer" credentials: JWTs from a
// trusted issuer (or, failing that, ServiceAccount tokens the Kubernetes
// API server reviews), otherwise API keys. Verified JWTs are cached until they
// expire (or the cache's TTL passes), so a repeated token skips signature
// verification.
type Bearer struct {
	// Issuers maps an issuer URL to its verifier.
	Issuers map[string]TokenVerifier
	// APIKeys authenticates non-JWT tokens; nil means none are accepted.
	APIKeys *APIKeys
	// Kubernetes reviews JWTs whose issuer is not in Issuers (Kubernetes
	// ServiceAccount tokens); nil refuses them.
	Kubernetes *Kubernetes
	// Cache holds verified JWTs; nil disables caching.
	Cache *TokenCache
	// Observer receives cache events; may be nil.
	Observer Observer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// inflight holds the verifications under way, by token hash, so that
	// concurrent requests with the same new token verify it once.
	mu       sync.Mutex
	inflight map[[sha256.Size]byte]*verification
}

// verification is one token's verification under way; done is closed
// once id, until and err are set.
type verification struct {
	done  chan struct{}
	id    *identity.Identity
	until time.Time
	err   error
}

var _ Authenticator = (*Bearer)(nil)

// Authenticate implements Authenticator.
func (b *Bearer) Authenticate(ctx context.Context, r *http.Request) (*identity.Identity, error) {
	tok, err := splitBearer(r.Header.Values("Authorization"))
	if err != nil {
		return nil, err
	}
	jwt := looksLikeJWT(tok)
	var (
		now time.Time
		key [sha256.Size]byte
	)
	if jwt {
		now = b.now()
		// The token's bytes are only read by the hash: no copy of the token.
		key = sha256.Sum256(unsafe.Slice(unsafe.StringData(tok), len(tok)))
		// The cache holds only tokens that passed every check below, by
		// the SHA-256 of their bytes: a hit is those very bytes, checked
		// already, and skips the check of the token's characters.
		if b.Cache != nil {
			if id, ok := b.Cache.Get(key, now); ok {
				b.observeCache(true)
				return id, nil
			}
		}
	}
	if !isToken68(tok) {
		return nil, errTokenChars()
	}
	if !jwt {
		if b.APIKeys == nil || b.APIKeys.Len() == 0 {
			return nil, fail(ReasonMalformed, "bearer token is not a JWT", nil)
		}
		return b.APIKeys.Lookup(tok)
	}
	if b.Cache != nil {
		b.observeCache(false)
	}
	iss, err := unverifiedIssuer(tok)
	if err != nil {
		return nil, err
	}
	v, ok := b.Issuers[iss]
	if !ok && b.Kubernetes != nil && b.Kubernetes.Reviews(iss) {
		v, ok = b.Kubernetes, true
	}
	if !ok {
		return nil, fail(ReasonUnknownIssuer, "token issuer is not trusted", nil)
	}
	if b.Cache == nil {
		id, _, err := v.Verify(ctx, tok)
		return id, err
	}
	return b.verifyOnce(ctx, v, tok, key, now)
}

// verifyOnce verifies tok and caches the result; a request that comes
// with the same token while it is being verified waits for that
// verification instead of starting its own. A waiter whose leader gave up
// because its own caller went away tries again, as leader or waiter.
func (b *Bearer) verifyOnce(ctx context.Context, v TokenVerifier, tok string, key [sha256.Size]byte, now time.Time) (*identity.Identity, error) {
	for {
		b.mu.Lock()
		if f, ok := b.inflight[key]; ok {
			b.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, fail(ReasonIdPUnavailable, "credential could not be verified in time", ctx.Err())
			}
			if f.err != nil && isCanceled(f.err) && ctx.Err() == nil {
				continue
			}
			return f.id, f.err
		}
		// A verification that ended between the cache lookup and now has
		// cached its token before leaving inflight.
		if id, ok := b.Cache.Get(key, now); ok {
			b.mu.Unlock()
			return id, nil
		}
		if b.inflight == nil {
			b.inflight = map[[sha256.Size]byte]*verification{}
		}
		f := &verification{done: make(chan struct{})}
		b.inflight[key] = f
		b.mu.Unlock()

		f.id, f.until, f.err = v.Verify(ctx, tok)
		if f.err == nil {
			b.Cache.Put(key, f.id, f.until, now)
		}
		b.mu.Lock()
		delete(b.inflight, key)
		b.mu.Unlock()
		close(f.done)
		return f.id, f.err
	}
}

// isCanceled reports whether err comes from a canceled context or one
// past its deadline.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (b *Bearer) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bearer) observeCache(hit bool) {
	if b.Observer != nil {
		b.Observer.TokenCacheResult(hit)
	}
}
