package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// ServiceAccountPrefix starts the username of every Kubernetes
// ServiceAccount: system:serviceaccount:NAMESPACE:NAME.
const ServiceAccountPrefix = "system:serviceaccount:"

// TokenReviewer creates TokenReviews; a clientset's
// AuthenticationV1().TokenReviews() is one.
type TokenReviewer interface {
	Create(ctx context.Context, tr *authenticationv1.TokenReview, opts metav1.CreateOptions) (*authenticationv1.TokenReview, error)
}

// Kubernetes verifies Kubernetes ServiceAccount tokens with the API
// server's TokenReview, for the configured audiences. Only ServiceAccounts
// are accepted. A review that cannot be made is a 503, never an allow.
type Kubernetes struct {
	reviewer  TokenReviewer
	audiences []string
	issuers   map[string]bool
	ttl       time.Duration
	now       func() time.Time
}

var _ TokenVerifier = (*Kubernetes)(nil)

// NewKubernetes returns the verifier for a validated config, asking r.
func NewKubernetes(cfg config.KubernetesAuthn, r TokenReviewer) *Kubernetes {
	k := &Kubernetes{reviewer: r, audiences: slices.Clone(cfg.Audiences), ttl: cfg.CacheTTL.D(), now: time.Now}
	if len(cfg.Issuers) > 0 {
		k.issuers = map[string]bool{}
		for _, iss := range cfg.Issuers {
			k.issuers[iss] = true
		}
	}
	return k
}

// Reviews reports whether a JWT from issuer is sent for review.
func (k *Kubernetes) Reviews(issuer string) bool {
	return k.issuers == nil || k.issuers[issuer]
}

// Verify implements TokenVerifier. The returned time is the earlier of the
// token's exp and the cache TTL from now.
func (k *Kubernetes) Verify(ctx context.Context, token string) (*identity.Identity, time.Time, error) {
	tr, err := k.reviewer.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: k.audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, time.Time{}, &Failure{Reason: ReasonIdPUnavailable, Msg: "the token could not be reviewed; try again later",
			Status: http.StatusServiceUnavailable, Err: fmt.Errorf("authn: token review: %w", err)}
	}
	st := tr.Status
	if !st.Authenticated {
		var cause error
		if st.Error != "" {
			cause = fmt.Errorf("authn: token review: %s", st.Error)
		}
		return nil, time.Time{}, fail(ReasonReviewRejected, "the Kubernetes API server did not authenticate the token", cause)
	}
	if !intersects(st.Audiences, k.audiences) {
		return nil, time.Time{}, fail(ReasonAudience, "token is not valid for this audience", nil)
	}
	id, err := ServiceAccountIdentity(st.User)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := k.now()
	until := now.Add(k.ttl)
	if exp, ok := unverifiedExpiry(token); ok && exp.Before(until) {
		until = exp // the review vouched for this token, exp included
	}
	return id, until, nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// ServiceAccountIdentity turns a reviewed user into an identity: the
// username must be system:serviceaccount:NAMESPACE:NAME with a valid
// namespace and name, and every group a safe name.
func ServiceAccountIdentity(u authenticationv1.UserInfo) (*identity.Identity, error) {
	ns, name, ok := ParseServiceAccount(u.Username)
	if !ok {
		return nil, fail(ReasonNotServiceAccount, "only Kubernetes ServiceAccount tokens are accepted", nil)
	}
	if len(u.Groups) > maxGroups {
		return nil, fail(ReasonClaims, "too many groups", nil)
	}
	for _, g := range u.Groups {
		if !safeName(g) {
			return nil, fail(ReasonClaims, "a group name is empty, too long or has control characters", nil)
		}
	}
	return &identity.Identity{
		User: u.Username, Groups: slices.Clone(u.Groups), Method: identity.MethodKubernetes,
		Source: "tokenreview", ServiceAccount: ns + "/" + name,
	}, nil
}

// ParseServiceAccount splits system:serviceaccount:NAMESPACE:NAME. ok is
// false unless the namespace is a DNS label and the name a DNS subdomain,
// as the API server requires.
func ParseServiceAccount(username string) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(username, ServiceAccountPrefix)
	if !found {
		return "", "", false
	}
	namespace, name, found = strings.Cut(rest, ":")
	if !found || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", false
	}
	return namespace, name, true
}

// unverifiedExpiry reads a JWT's exp claim without verifying the token; use
// it only on a token something else has verified.
func unverifiedExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp json.RawMessage `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Exp == nil {
		return time.Time{}, false
	}
	t, ok, err := numericDate(c.Exp)
	return t, ok && err == nil
}
