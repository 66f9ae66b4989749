package authn

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// Limits on identity values taken from tokens.
const (
	maxNameLength = 1024
	maxGroups     = 1000
)

// OIDC verifies JWTs from one trusted issuer: signature by a key from the
// issuer's key set with an allowed algorithm, then iss, aud, exp, nbf and
// iat with bounded clock skew, then the username and groups claims.
type OIDC struct {
	cfg       config.OIDC
	algs      []jose.SignatureAlgorithm
	keys      *KeySet
	now       func() time.Time
	audiences map[string]bool
}

var _ TokenVerifier = (*OIDC)(nil)

// NewOIDC returns the verifier for one validated issuer config, using keys
// for its signing keys.
func NewOIDC(cfg config.OIDC, keys *KeySet) *OIDC {
	v := &OIDC{cfg: cfg, keys: keys, now: time.Now, audiences: map[string]bool{}}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	for _, a := range cfg.Audiences {
		v.audiences[a] = true
	}
	return v
}

// Keys returns the verifier's key set.
func (v *OIDC) Keys() *KeySet { return v.keys }

// Verify implements TokenVerifier. The returned time is the token's expiry.
func (v *OIDC) Verify(ctx context.Context, token string) (*identity.Identity, time.Time, error) {
	payload, err := v.verifySignature(ctx, token)
	if err != nil {
		return nil, time.Time{}, err
	}
	id, exp, _, err := v.checkClaims(payload)
	return id, exp, err
}

// IDToken is a verified ID token from a sign-in or a refresh.
type IDToken struct {
	// Identity is the signed-in caller, built like a bearer token's.
	Identity *identity.Identity
	// Expiry is the token's exp plus the issuer's clock skew.
	Expiry time.Time
	// Subject is the sub claim: the issuer's stable id of the person.
	Subject string
	// Nonce is the nonce claim, "" if absent.
	Nonce string
}

// VerifyIDToken verifies an ID token that the issuer's token endpoint
// issued to clientID, as Verify does, and also checks what OpenID Connect
// requires of an ID token: aud includes clientID, azp (when present) is
// clientID, sub is present, and nonce equals nonce (when nonce is not "";
// a refreshed ID token may carry the sign-in's nonce or none).
func (v *OIDC) VerifyIDToken(ctx context.Context, token, clientID, nonce string) (*IDToken, error) {
	payload, err := v.verifySignature(ctx, token)
	if err != nil {
		return nil, err
	}
	id, exp, claims, err := v.checkClaims(payload)
	if err != nil {
		return nil, err
	}
	auds, err := stringOrList(claims["aud"])
	if err != nil || !slices.Contains(auds, clientID) {
		return nil, fail(ReasonAudience, "ID token was not issued to raygate's client id", err)
	}
	var azp, sub, got string
	if raw, ok := claims["azp"]; ok && (json.Unmarshal(raw, &azp) != nil || azp != clientID) {
		return nil, fail(ReasonAudience, "ID token was authorized for another client", nil)
	}
	if json.Unmarshal(claims["sub"], &sub) != nil || sub == "" {
		return nil, fail(ReasonClaims, "ID token has no subject", nil)
	}
	if raw, ok := claims["nonce"]; ok && json.Unmarshal(raw, &got) != nil {
		return nil, fail(ReasonClaims, "ID token nonce is invalid", nil)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
		return nil, fail(ReasonNonce, "ID token nonce does not match the sign-in", nil)
	}
	return &IDToken{Identity: id, Expiry: exp, Subject: sub, Nonce: got}, nil
}

// verifySignature checks the JWS signature with an allowed algorithm and
// a key of the issuer, and returns the payload.
func (v *OIDC) verifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		var ua *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ua) {
			return nil, fail(ReasonAlgorithm, "token signature algorithm is not allowed", err)
		}
		return nil, fail(ReasonMalformed, "token is not a valid JWS", err)
	}
	return verifyWith(ctx, jws, v.keys)
}

// verifyWith checks a parsed JWS against the keys that may have signed it.
func verifyWith(ctx context.Context, jws *jose.JSONWebSignature, keys *KeySet) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, fail(ReasonMalformed, "token must carry exactly one signature", nil)
	}
	h := jws.Signatures[0].Header
	cands, err := keys.Candidates(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	var payload []byte
	var verr error
	for _, key := range cands {
		if payload, verr = jws.Verify(key.Key); verr == nil {
			return payload, nil
		}
	}
	return nil, fail(ReasonBadSignature, "token signature is invalid", verr)
}

// checkClaims validates a verified payload and builds the identity; it
// also returns the claims, for checks particular to ID tokens.
func (v *OIDC) checkClaims(payload []byte) (*identity.Identity, time.Time, map[string]json.RawMessage, error) {
	var claims map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, time.Time{}, nil, fail(ReasonMalformed, "token claims are not a JSON object", err)
	}
	var iss string
	if err := json.Unmarshal(claims["iss"], &iss); err != nil || iss != v.cfg.Issuer {
		return nil, time.Time{}, nil, fail(ReasonUnknownIssuer, "token issuer does not match", nil)
	}
	auds, err := stringOrList(claims["aud"])
	if err != nil || !slices.ContainsFunc(auds, func(a string) bool { return v.audiences[a] }) {
		return nil, time.Time{}, nil, fail(ReasonAudience, "token audience is not accepted", err)
	}
	now := v.now()
	skew := v.cfg.ClockSkew.D()
	exp, ok, err := numericDate(claims["exp"])
	if err != nil || !ok {
		return nil, time.Time{}, nil, fail(ReasonClaims, "token has no valid exp claim", err)
	}
	if !now.Before(exp.Add(skew)) {
		return nil, time.Time{}, nil, fail(ReasonExpired, "token has expired", nil)
	}
	if nbf, ok, err := numericDate(claims["nbf"]); err != nil {
		return nil, time.Time{}, nil, fail(ReasonClaims, "token nbf claim is invalid", err)
	} else if ok && now.Add(skew).Before(nbf) {
		return nil, time.Time{}, nil, fail(ReasonNotYetValid, "token is not valid yet", nil)
	}
	if iat, ok, err := numericDate(claims["iat"]); err != nil {
		return nil, time.Time{}, nil, fail(ReasonClaims, "token iat claim is invalid", err)
	} else if ok && now.Add(skew).Before(iat) {
		return nil, time.Time{}, nil, fail(ReasonNotYetValid, "token is issued in the future", nil)
	}
	user, err := v.username(claims)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	groups, err := stringOrList(claims[v.cfg.GroupsClaim])
	if err != nil || len(groups) > maxGroups {
		return nil, time.Time{}, nil, fail(ReasonClaims, "token groups claim is invalid", err)
	}
	for i, g := range groups {
		if !safeName(g) {
			return nil, time.Time{}, nil, fail(ReasonClaims, "token groups claim is invalid", nil)
		}
		groups[i] = v.cfg.GroupsPrefix + g
	}
	id := &identity.Identity{User: v.cfg.UsernamePrefix + user, Groups: groups, Method: identity.MethodOIDC, Source: v.cfg.Issuer}
	return id, exp.Add(skew), claims, nil
}

func (v *OIDC) username(claims map[string]json.RawMessage) (string, error) {
	raw, ok := claims[v.cfg.UsernameClaim]
	if !ok {
		return "", fail(ReasonClaims, fmt.Sprintf("token has no %s claim", v.cfg.UsernameClaim), nil)
	}
	var user string
	if err := json.Unmarshal(raw, &user); err != nil || !safeName(user) {
		return "", fail(ReasonClaims, fmt.Sprintf("token %s claim is invalid", v.cfg.UsernameClaim), err)
	}
	if v.cfg.UsernameClaim == "email" {
		if ev, ok := claims["email_verified"]; ok {
			var b bool
			var s string
			switch {
			case json.Unmarshal(ev, &b) == nil:
			case json.Unmarshal(ev, &s) == nil && (s == "true" || s == "false"):
				b = s == "true"
			default:
				return "", fail(ReasonClaims, "token email_verified claim is invalid", nil)
			}
			if !b {
				return "", fail(ReasonUnverifiedEmail, "token email is not verified", nil)
			}
		}
	}
	return user, nil
}

// safeName accepts a username or group that is safe to match and to send
// upstream in a header: non-empty, bounded, no control characters.
func safeName(s string) bool {
	if s == "" || len(s) > maxNameLength {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// stringOrList decodes a claim that is a string or a list of strings; an
// absent or null claim is an empty list.
func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("not a string or a list of strings")
	}
	return many, nil
}

// numericDate decodes a JWT NumericDate (seconds since the epoch, possibly
// fractional). ok is false when the claim is absent.
func numericDate(raw json.RawMessage) (t time.Time, ok bool, err error) {
	if len(raw) == 0 {
		return time.Time{}, false, nil
	}
	var n json.Number
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return time.Time{}, false, errors.New("not a number")
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false, errors.New("not a valid date")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}
