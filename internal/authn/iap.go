package authn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// IAPIssuer is the iss of every assertion Google Cloud IAP signs.
const IAPIssuer = "https://cloud.google.com/iap"

// IAPHeader carries IAP's signed assertion.
const IAPHeader = "X-Goog-Iap-Jwt-Assertion"

// IAP authenticates requests that Google Cloud Identity-Aware Proxy let
// through, by the ES256 JWT it puts in x-goog-iap-jwt-assertion: signed by
// a key of IAP's key set, iss https://cloud.google.com/iap, the configured
// aud, exp and iat within the clock skew, and an email, which names the
// user. The unsigned x-goog-authenticated-user-* headers are never read.
type IAP struct {
	cfg  config.IAP
	keys *KeySet
	// Cache holds verified assertions; nil disables caching.
	Cache *TokenCache
	now   func() time.Time
}

var _ Authenticator = (*IAP)(nil)

// NewIAP returns the IAP authenticator for a validated config, verifying
// with keys (the key set at cfg.JWKSURL).
func NewIAP(cfg config.IAP, keys *KeySet, cache *TokenCache) *IAP {
	return &IAP{cfg: cfg, keys: keys, Cache: cache, now: time.Now}
}

// Authenticate implements Authenticator.
func (a *IAP) Authenticate(ctx context.Context, r *http.Request) (*identity.Identity, error) {
	vals := r.Header.Values(IAPHeader)
	switch len(vals) {
	case 0:
		return nil, ErrNoCredential
	case 1:
	default:
		return nil, fail(ReasonMalformed, "more than one IAP assertion", nil)
	}
	tok := vals[0]
	if tok == "" || len(tok) > MaxTokenLength || !looksLikeJWT(tok) {
		return nil, fail(ReasonMalformed, "IAP assertion is not a JWT", nil)
	}
	now := a.now()
	key := sha256.Sum256([]byte("iap\x00" + tok))
	if a.Cache != nil {
		if id, ok := a.Cache.Get(key, now); ok {
			return id, nil
		}
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		var ua *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ua) {
			return nil, fail(ReasonAlgorithm, "IAP assertion is not signed with ES256", err)
		}
		return nil, fail(ReasonMalformed, "IAP assertion is not a valid JWS", err)
	}
	payload, err := verifyWith(ctx, jws, a.keys)
	if err != nil {
		return nil, err
	}
	id, until, err := CheckIAPClaims(payload, a.cfg, now)
	if err != nil {
		return nil, err
	}
	if a.Cache != nil {
		a.Cache.Put(key, id, until, now)
	}
	return id, nil
}

// CheckIAPClaims validates the payload of a verified IAP assertion at now
// and returns the identity it proves and the time it stops being valid.
func CheckIAPClaims(payload []byte, cfg config.IAP, now time.Time) (*identity.Identity, time.Time, error) {
	var claims map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, time.Time{}, fail(ReasonMalformed, "IAP assertion claims are not a JSON object", err)
	}
	var iss string
	if json.Unmarshal(claims["iss"], &iss) != nil || iss != IAPIssuer {
		return nil, time.Time{}, fail(ReasonUnknownIssuer, "IAP assertion issuer is not "+IAPIssuer, nil)
	}
	auds, err := stringOrList(claims["aud"])
	if err != nil || !slices.Contains(auds, cfg.Audience) {
		return nil, time.Time{}, fail(ReasonAudience, "IAP assertion audience is not accepted", err)
	}
	skew := cfg.ClockSkew.D()
	exp, ok, err := numericDate(claims["exp"])
	if err != nil || !ok {
		return nil, time.Time{}, fail(ReasonClaims, "IAP assertion has no valid exp claim", err)
	}
	if !now.Before(exp.Add(skew)) {
		return nil, time.Time{}, fail(ReasonExpired, "IAP assertion has expired", nil)
	}
	iat, ok, err := numericDate(claims["iat"])
	if err != nil || !ok {
		return nil, time.Time{}, fail(ReasonClaims, "IAP assertion has no valid iat claim", err)
	}
	if now.Add(skew).Before(iat) {
		return nil, time.Time{}, fail(ReasonNotYetValid, "IAP assertion is issued in the future", nil)
	}
	var email string
	if json.Unmarshal(claims["email"], &email) != nil || !safeName(email) {
		return nil, time.Time{}, fail(ReasonClaims, "IAP assertion has no valid email claim", nil)
	}
	id := &identity.Identity{User: cfg.UsernamePrefix + email, Method: identity.MethodIAP, Source: "iap"}
	return id, exp.Add(skew), nil
}
