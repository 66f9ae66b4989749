package explain

import (
	"context"
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/rbac"
	"github.com/raygate/raygate/internal/route"
)

// Policy is what an explanation reads: the config, the clusters and the
// role resolver the gateway decides with.
type Policy struct {
	// Config is the config in force.
	Config *config.Config
	// Registry finds clusters.
	Registry route.Registry
	// Roles resolves a caller's role on a cluster.
	Roles authz.RoleResolver
	// RBACAsked says that Roles asks the Kubernetes API server. When the
	// config makes RBAC a source of roles and Roles does not ask it, roles
	// come from the bindings alone and the explanation says so.
	RBACAsked bool
	// Reviews, when set, records the access reviews Roles makes, for the
	// explanation to show.
	Reviews *ReviewLog
	// Offline says that Registry holds only the config's clusters: a
	// cluster it lacks is explained as one discovery would find (with
	// discovery.kubernetes.access), when the config discovers clusters.
	Offline bool
	// Private explains a request to its own caller (GET
	// /_raygate/explain): no file paths, and nothing about a cluster the
	// caller has no role on beyond "not found".
	Private bool
}

// FromConfig is the policy of a config read offline: its clusters, their
// bindings, and Kubernetes RBAC when reviewer is set (the API server's
// SubjectAccessReviews; nil leaves roles to the bindings). Every access
// review is made afresh and recorded.
func FromConfig(cfg *config.Config, reviewer rbac.Reviewer) (Policy, error) {
	static, err := route.FromConfig(cfg.Clusters)
	if err != nil {
		return Policy{}, err
	}
	p := Policy{Config: cfg, Registry: static, Roles: authz.BindingsOnly{}, Offline: true}
	if d := cfg.Discovery.Kubernetes; d != nil {
		p.Registry = offlineRegistry{static: static, defaults: authz.NewBindings(d.Access), discovery: d}
	}
	if k := cfg.Authorization.Kubernetes; k != nil && reviewer != nil {
		kc, none := *k, 0
		kc.CacheSize = &none
		p.Reviews = &ReviewLog{Reviewer: reviewer}
		p.Roles = rbac.New(kc, p.Reviews, nil)
		p.RBACAsked = true
	}
	return p, nil
}

// RBAC reports whether Kubernetes RBAC is a source of roles.
func (p Policy) RBAC() bool { return p.Config.Authorization.Kubernetes != nil }

// Watched reports whether discovery may serve a RayCluster in namespace
// ns (a namespaceSelector cannot be read offline: every namespace may be).
func Watched(d *config.KubernetesDiscovery, ns string) bool {
	return d != nil && (len(d.Namespaces) == 0 || slices.Contains(d.Namespaces, ns))
}

// offlineRegistry is the config's clusters, and any other cluster in a
// watched namespace as discovery would serve it: merged with the static
// ones by the gateway's own rules (route.Merged).
type offlineRegistry struct {
	static    route.Static
	defaults  *authz.Bindings
	discovery *config.KubernetesDiscovery
}

func (o offlineRegistry) Lookup(namespace, name string) *route.Cluster {
	if !Watched(o.discovery, namespace) {
		return o.static.Lookup(namespace, name)
	}
	key := namespace + "/" + name
	found := &route.Discovered{Clusters: map[string]*route.Cluster{
		key: {Namespace: namespace, Name: name, Key: key, Source: route.SourceKubernetes},
	}}
	return route.NewMerged(o.static, o.defaults, assumed{found}, nil).Lookup(namespace, name)
}

func (o offlineRegistry) Clusters() []*route.Cluster { return o.static.Clusters() }

type assumed struct{ d *route.Discovered }

func (a assumed) Discovered() *route.Discovered { return a.d }

// Review is one SubjectAccessReview and the API server's answer.
type Review struct {
	// Verb is the verb asked about (ray:admin, ray:write, ray:read).
	Verb string `json:"verb"`
	// Allowed is the verdict.
	Allowed bool `json:"allowed"`
	// Reason is the API server's reason, when it gives one.
	Reason string `json:"reason,omitempty"`
	// Error is why the review failed, when it did.
	Error string `json:"error,omitempty"`
}

// ReviewLog is an rbac.Reviewer that records every review it passes on.
// It is for one explanation at a time.
type ReviewLog struct {
	rbac.Reviewer
	reviews []Review
}

// Create implements rbac.Reviewer.
func (l *ReviewLog) Create(ctx context.Context, sar *authorizationv1.SubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	out, err := l.Reviewer.Create(ctx, sar, opts)
	r := Review{}
	if sar.Spec.ResourceAttributes != nil {
		r.Verb = sar.Spec.ResourceAttributes.Verb
	}
	switch {
	case err != nil:
		r.Error = err.Error()
	case out != nil:
		r.Allowed = out.Status.Allowed && !out.Status.Denied
		r.Reason = out.Status.Reason
		if out.Status.EvaluationError != "" {
			r.Error = out.Status.EvaluationError
		}
	}
	l.reviews = append(l.reviews, r)
	return out, err
}

// take returns the reviews recorded since the last take.
func (l *ReviewLog) take() []Review {
	if l == nil {
		return nil
	}
	r := l.reviews
	l.reviews = nil
	return r
}
