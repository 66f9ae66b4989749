package gateway

import (
	"errors"
	"net/http"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/rbac"
	"github.com/raygate/raygate/internal/route"
)

// Kubernetes is what Kubernetes mode lends the gateway; the server
// connects it once, and every State built afterwards uses it.
type Kubernetes struct {
	// TokenReviews reviews ServiceAccount tokens.
	TokenReviews authn.TokenReviewer
	// AccessReviews answers SubjectAccessReviews.
	AccessReviews rbac.Reviewer
	// Discovered publishes the discovered clusters; nil without
	// discovery.
	Discovered route.Source
}

// UseKubernetes lends k to every State built from now on. Call it before
// the first Build when the config uses a Kubernetes feature.
func (g *Gateway) UseKubernetes(k *Kubernetes) { g.kube = k }

var errNoKubernetes = errors.New("gateway: the config uses Kubernetes, but no Kubernetes API connection was made")

// kubernetesAuthn returns the ServiceAccount token verifier, nil when the
// config has none.
func (g *Gateway) kubernetesAuthn(cfg *config.Config) (*authn.Kubernetes, error) {
	if cfg.Authentication.Kubernetes == nil {
		return nil, nil
	}
	if g.kube == nil || g.kube.TokenReviews == nil {
		return nil, errNoKubernetes
	}
	return authn.NewKubernetes(*cfg.Authentication.Kubernetes, g.kube.TokenReviews), nil
}

// registry merges the static clusters with the discovered ones.
func (g *Gateway) registry(cfg *config.Config, static route.Static) (route.Registry, error) {
	d := cfg.Discovery.Kubernetes
	if d == nil {
		return static, nil
	}
	if g.kube == nil || g.kube.Discovered == nil {
		return nil, errNoKubernetes
	}
	return route.NewMerged(static, authz.NewBindings(d.Access), g.kube.Discovered, g.reportClashes), nil
}

func (g *Gateway) reportClashes(keys []string) {
	g.metrics.DiscoveryClashes(len(keys))
	for _, k := range keys {
		g.log.Error("discovered cluster clashes with a static cluster: the static one is served", "cluster", k)
	}
}

// roles returns the role resolver: bindings alone, or bindings and RBAC.
func (g *Gateway) roles(cfg *config.Config) (authz.RoleResolver, error) {
	k := cfg.Authorization.Kubernetes
	if k == nil {
		return authz.BindingsOnly{}, nil
	}
	if g.kube == nil || g.kube.AccessReviews == nil {
		return nil, errNoKubernetes
	}
	return rbac.New(*k, g.kube.AccessReviews, g.metrics.AccessReview), nil
}

// callerRayToken is the caller's own ServiceAccount token when the cluster
// is one where Ray checks Kubernetes tokens itself and the caller
// authenticated with one (raygate reviewed it); "" otherwise.
func callerRayToken(c *route.Cluster, id *identity.Identity, r *http.Request) string {
	if !c.RayChecksKubernetesTokens || id.Method != identity.MethodKubernetes {
		return ""
	}
	tok, err := authn.ParseBearer(r.Header.Values("Authorization"))
	if err != nil {
		return ""
	}
	return tok
}
