// Package rbac resolves a caller's role on a Ray cluster from Kubernetes
// RBAC: it asks the API server's SubjectAccessReview whether the caller
// may use the custom verbs ray:admin, ray:write or ray:read on the
// RayCluster (rayclusters.ray.io, by name, in its namespace), and combines
// the answer with the cluster's own bindings: the higher role wins. Reviews
// are cached, allows and denies each for their own short TTL, in a bounded
// cache; a failed review is never cached and denies. GrantsOf reads RBAC
// the other way round: which bindings grant the verbs on a cluster.
package rbac

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/lru"
)

// The resource and verbs a review asks about.
const (
	Group     = "ray.io"
	Resource  = "rayclusters"
	VerbRead  = "ray:read"
	VerbWrite = "ray:write"
	VerbAdmin = "ray:admin"
)

// verbs maps verbs to roles, highest first: the first allowed verb gives
// the role.
var verbs = []struct {
	verb   string
	role   authz.Role
	reason string
}{
	{VerbAdmin, authz.RoleAdmin, "rbac " + VerbAdmin},
	{VerbWrite, authz.RoleDeveloper, "rbac " + VerbWrite},
	{VerbRead, authz.RoleViewer, "rbac " + VerbRead},
}

// Reasons the resolver gives besides the verbs'.
const (
	ReasonNone   = "no binding or rbac"
	ReasonFailed = "rbac review failed"
)

// Reviewer creates SubjectAccessReviews; a clientset's
// AuthorizationV1().SubjectAccessReviews() is one.
type Reviewer interface {
	Create(ctx context.Context, sar *authorizationv1.SubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error)
}

// Resolver is an authz.RoleResolver over bindings and RBAC.
type Resolver struct {
	reviewer Reviewer
	allowTTL time.Duration
	denyTTL  time.Duration
	cache    *lru.Cache[[sha256.Size]byte, bool]
	now      func() time.Time
	observe  func(verb string, allowed bool, err error)
}

var _ authz.RoleResolver = (*Resolver)(nil)

// New returns a resolver for a validated config, asking r. observe, if not
// nil, sees every review made (not those served from the cache).
func New(cfg config.KubernetesAuthz, r Reviewer, observe func(verb string, allowed bool, err error)) *Resolver {
	size := config.DefaultReviewCache
	if cfg.CacheSize != nil {
		size = *cfg.CacheSize
	}
	return &Resolver{
		reviewer: r, allowTTL: cfg.AllowTTL.D(), denyTTL: cfg.DenyTTL.D(),
		cache: lru.New[[sha256.Size]byte, bool](size), now: time.Now, observe: observe,
	}
}

// RoleOf implements authz.RoleResolver: the higher of the bindings' role
// and the highest role RBAC allows. A caller the bindings make admin is
// not reviewed. A failed review returns an error (deny).
func (rs *Resolver) RoleOf(ctx context.Context, id *identity.Identity, r authz.Resource) (authz.Role, string, error) {
	bound := r.Bindings.RoleOf(id)
	if id == nil {
		return authz.RoleNone, ReasonNone, nil
	}
	for _, v := range verbs {
		if v.role <= bound {
			break
		}
		ok, err := rs.allowed(ctx, id, r, v.verb)
		if err != nil {
			return authz.RoleNone, ReasonFailed, err
		}
		if ok {
			return v.role, v.reason, nil
		}
	}
	if bound != authz.RoleNone {
		return bound, authz.ReasonBinding, nil
	}
	return authz.RoleNone, ReasonNone, nil
}

func (rs *Resolver) allowed(ctx context.Context, id *identity.Identity, r authz.Resource, verb string) (bool, error) {
	key := cacheKey(id, r, verb)
	now := rs.now()
	if ok, hit := rs.cache.Get(key, now); hit {
		return ok, nil
	}
	sar, err := rs.reviewer.Create(ctx, Review(id, r.Namespace, r.Name, verb), metav1.CreateOptions{})
	if err != nil {
		err = fmt.Errorf("rbac: subject access review: %w", err)
		rs.report(verb, false, err)
		return false, err
	}
	ok := sar.Status.Allowed && !sar.Status.Denied
	rs.report(verb, ok, nil)
	ttl := rs.denyTTL
	if ok {
		ttl = rs.allowTTL
	}
	rs.cache.Put(key, ok, now.Add(ttl), now)
	return ok, nil
}

func (rs *Resolver) report(verb string, allowed bool, err error) {
	if rs.observe != nil {
		rs.observe(verb, allowed, err)
	}
}

// Review builds the SubjectAccessReview asking whether id may use verb on
// the RayCluster namespace/name. The caller is named as raygate
// authenticated it; no groups are added.
func Review(id *identity.Identity, namespace, name, verb string) *authorizationv1.SubjectAccessReview {
	return &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   id.User,
		Groups: id.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Name: name, Verb: verb, Group: Group, Resource: Resource,
		},
	}}
}

// cacheKey hashes everything a review depends on. Names never contain
// NUL (authentication refuses control characters), so NUL separates them
// unambiguously.
func cacheKey(id *identity.Identity, r authz.Resource, verb string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(id.User))
	for _, g := range id.Groups {
		h.Write([]byte{0})
		h.Write([]byte(g))
	}
	h.Write([]byte{0, 1})
	h.Write([]byte(r.Namespace))
	h.Write([]byte{0})
	h.Write([]byte(r.Name))
	h.Write([]byte{0})
	h.Write([]byte(verb))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
