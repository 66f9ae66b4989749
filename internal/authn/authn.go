// Package authn establishes who a request comes from. Each credential kind
// has an Authenticator; a Chain tries them in order and stops at the first
// whose credential the request carries. A credential that is present but
// invalid fails the request: it never falls through to another method.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/raygate/raygate/internal/identity"
)

// ErrNoCredential means the request carries no credential of the
// authenticator's kind; the chain moves on to the next one.
var ErrNoCredential = errors.New("authn: no credential")

// Failure reasons: a closed set, used as metric labels and audit reasons.
const (
	ReasonMissing           = "missing_credential"
	ReasonMalformed         = "malformed"
	ReasonUnsupportedScheme = "unsupported_scheme"
	ReasonUnknownIssuer     = "unknown_issuer"
	ReasonAlgorithm         = "algorithm_not_allowed"
	ReasonUnknownKey        = "unknown_key"
	ReasonBadSignature      = "bad_signature"
	ReasonExpired           = "expired"
	ReasonNotYetValid       = "not_yet_valid"
	ReasonAudience          = "audience"
	ReasonClaims            = "invalid_claims"
	ReasonUnverifiedEmail   = "unverified_email"
	ReasonUnknownAPIKey     = "unknown_api_key"
	ReasonIdPUnavailable    = "idp_unavailable"
	// ReasonReviewRejected: the Kubernetes API server's TokenReview did not
	// authenticate the token.
	ReasonReviewRejected = "review_rejected"
	// ReasonNotServiceAccount refuses a token the Kubernetes API server
	// authenticated as something other than a ServiceAccount.
	ReasonNotServiceAccount = "not_service_account"
	ReasonNonce             = "nonce_mismatch"
	ReasonSessionInvalid    = "session_invalid"
	ReasonSessionExpired    = "session_expired"
	ReasonCrossSite         = "cross_site"
)

// Failure is a refused credential. Msg is safe to show the caller; Err
// holds internal detail for the operational log only. Neither ever holds
// the credential.
type Failure struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Msg is a short, caller-safe explanation.
	Msg string
	// Status is the HTTP status to answer with: 401, or 503 when the
	// credential could not be checked because the identity provider is
	// unreachable.
	Status int
	// Err is the underlying cause, if any.
	Err error
}

// Error describes the failure for logs; it never includes the credential.
func (f *Failure) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("authn: %s: %s: %v", f.Reason, f.Msg, f.Err)
	}
	return fmt.Sprintf("authn: %s: %s", f.Reason, f.Msg)
}

// Unwrap returns the underlying cause.
func (f *Failure) Unwrap() error { return f.Err }

func fail(reason, msg string, err error) *Failure {
	return &Failure{Reason: reason, Msg: msg, Status: http.StatusUnauthorized, Err: err}
}

// Authenticator authenticates one kind of credential.
type Authenticator interface {
	// Authenticate returns the caller's identity; ErrNoCredential when the
	// request carries no credential of this kind; or a *Failure.
	Authenticate(ctx context.Context, r *http.Request) (*identity.Identity, error)
}

// Chain tries authenticators in order.
type Chain []Authenticator

// Authenticate returns the identity from the first authenticator whose
// credential the request carries. Every error is a *Failure; a request with
// no credential at all gets one with ReasonMissing.
func (c Chain) Authenticate(ctx context.Context, r *http.Request) (*identity.Identity, error) {
	for _, a := range c {
		id, err := a.Authenticate(ctx, r)
		if errors.Is(err, ErrNoCredential) {
			continue
		}
		if err != nil {
			var f *Failure
			if !errors.As(err, &f) {
				f = fail(ReasonMalformed, "credential could not be verified", err)
			}
			return nil, f
		}
		if id == nil || id.User == "" {
			return nil, fail(ReasonClaims, "credential names no user", nil)
		}
		return id, nil
	}
	return nil, fail(ReasonMissing, "authentication required", nil)
}
