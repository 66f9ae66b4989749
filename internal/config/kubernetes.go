package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// KubernetesAPI says how raygate reaches the Kubernetes API server, for
// discovery, ServiceAccount token reviews and access reviews.
type KubernetesAPI struct {
	// Kubeconfig is a kubeconfig file (its current context is used).
	// Default "" (the in-cluster ServiceAccount credentials of the pod).
	Kubeconfig string `yaml:"kubeconfig"`
}

// KubernetesAuthn accepts Kubernetes ServiceAccount tokens, checked with
// the API server's TokenReview.
type KubernetesAuthn struct {
	// Audiences lists the audiences a token must be valid for; the API
	// server checks them. Required: a token minted for another audience is
	// refused.
	Audiences []string `yaml:"audiences"`
	// Issuers, when set, lists the iss values of tokens sent for review; a
	// JWT from any other issuer not configured under oidc is refused
	// without asking the API server. Default none: every JWT whose issuer
	// is not an oidc issuer is reviewed.
	Issuers []string `yaml:"issuers"`
	// CacheTTL caps how long a reviewed token is trusted before it is
	// reviewed again (never past its own expiry). Default 30s, at most 5m.
	CacheTTL Duration `yaml:"cacheTTL"`
}

// Authorization configures policy sources beyond the clusters' own
// bindings.
type Authorization struct {
	// Kubernetes, when set, also asks the API server's
	// SubjectAccessReview for the caller's role on every cluster.
	Kubernetes *KubernetesAuthz `yaml:"kubernetes"`
}

// KubernetesAuthz gives callers roles from Kubernetes RBAC: the custom
// verbs ray:read (viewer), ray:write (developer) and ray:admin (admin) on
// rayclusters.ray.io, for the cluster's name in its namespace. A role from
// RBAC and one from bindings combine: the higher wins. An API error denies.
type KubernetesAuthz struct {
	// AllowTTL is how long an allowing review is reused. Default 10s, at
	// most 5m.
	AllowTTL Duration `yaml:"allowTTL"`
	// DenyTTL is how long a denying review is reused. Default 5s, at most
	// 5m.
	DenyTTL Duration `yaml:"denyTTL"`
	// CacheSize bounds the cached reviews; 0 disables the cache. Default
	// 10000.
	CacheSize *int `yaml:"cacheSize"`
}

// Discovery configures sources of clusters beyond the clusters list.
type Discovery struct {
	// Kubernetes, when set, serves every KubeRay RayCluster in the selected
	// namespaces at /clusters/{namespace}/{name}/.
	Kubernetes *KubernetesDiscovery `yaml:"kubernetes"`
}

// Upstream sources of discovered clusters.
const (
	UpstreamFromService        = "service"
	UpstreamFromEndpointSlices = "endpointSlices"
)

// KubernetesDiscovery selects the RayClusters raygate serves.
type KubernetesDiscovery struct {
	// Namespaces lists the namespaces watched. Default none: every
	// namespace (or those namespaceSelector selects).
	Namespaces []string `yaml:"namespaces"`
	// NamespaceSelector is a label selector (kubectl syntax, e.g.
	// "raygate.dev/tenant") on namespaces; only RayClusters in matching
	// namespaces are served. Default "" (no filter). Not together with
	// namespaces.
	NamespaceSelector string `yaml:"namespaceSelector"`
	// UpstreamFrom says how the head Service becomes an address: "service"
	// (its ClusterIP and dashboard port, through kube-proxy) or
	// "endpointSlices" (the first ready address of its EndpointSlices).
	// Default "service".
	UpstreamFrom string `yaml:"upstreamFrom"`
	// Access binds roles on every discovered cluster, like
	// clusters[].access. Default none (roles come from RBAC only).
	Access []Binding `yaml:"access"`
}

// Defaults of the Kubernetes fields.
const (
	DefaultTokenReviewTTL = 30 * time.Second
	DefaultAllowTTL       = 10 * time.Second
	DefaultDenyTTL        = 5 * time.Second
	DefaultReviewCache    = 10000
	MaxReviewTTL          = 5 * time.Minute
)

// UsesKubernetes reports whether any feature needs the Kubernetes API.
func (c *Config) UsesKubernetes() bool {
	return c.Authentication.Kubernetes != nil || c.Authorization.Kubernetes != nil || c.Discovery.Kubernetes != nil
}

func (c *Config) applyKubernetesDefaults() {
	if k := c.Authentication.Kubernetes; k != nil {
		setDefault(&k.CacheTTL, Duration(DefaultTokenReviewTTL))
	}
	if k := c.Authorization.Kubernetes; k != nil {
		setDefault(&k.AllowTTL, Duration(DefaultAllowTTL))
		setDefault(&k.DenyTTL, Duration(DefaultDenyTTL))
		if k.CacheSize == nil {
			n := DefaultReviewCache
			k.CacheSize = &n
		}
	}
	if d := c.Discovery.Kubernetes; d != nil {
		setDefault(&d.UpstreamFrom, UpstreamFromService)
	}
}

func (c *Config) validateKubernetes(v *validator) {
	if c.Kubernetes != nil && c.Kubernetes.Kubeconfig != "" {
		if _, err := os.Stat(c.Kubernetes.Kubeconfig); err != nil {
			v.fileErrf("kubernetes.kubeconfig", "cannot read: %v", unwrapPathErr(err))
		}
	}
	if c.Kubernetes != nil && !c.UsesKubernetes() {
		v.errf("kubernetes", "is set, but nothing uses it (authentication.kubernetes, authorization.kubernetes or discovery.kubernetes)")
	}
	if k := c.Authentication.Kubernetes; k != nil {
		p := "authentication.kubernetes"
		if len(k.Audiences) == 0 {
			v.errf(p+".audiences", "at least one audience is required (tokens minted for the API server or other services must not be accepted unless listed)")
		}
		for i, a := range k.Audiences {
			if strings.TrimSpace(a) == "" {
				v.errf(fmt.Sprintf("%s.audiences[%d]", p, i), "audience must not be empty")
			}
		}
		for i, iss := range k.Issuers {
			if strings.TrimSpace(iss) == "" {
				v.errf(fmt.Sprintf("%s.issuers[%d]", p, i), "issuer must not be empty")
			}
			for j, o := range c.Authentication.OIDC {
				if o.Issuer == iss {
					v.errf(fmt.Sprintf("%s.issuers[%d]", p, i), "%q is also an oidc issuer (authentication.oidc[%d]); its tokens are verified there", iss, j)
				}
			}
		}
		checkTTL(v, p+".cacheTTL", k.CacheTTL)
	}
	if k := c.Authorization.Kubernetes; k != nil {
		p := "authorization.kubernetes"
		checkTTL(v, p+".allowTTL", k.AllowTTL)
		checkTTL(v, p+".denyTTL", k.DenyTTL)
		if k.CacheSize != nil && *k.CacheSize < 0 {
			v.errf(p+".cacheSize", "must not be negative")
		}
	}
	if d := c.Discovery.Kubernetes; d != nil {
		p := "discovery.kubernetes"
		for i, ns := range d.Namespaces {
			if !dnsLabelRE.MatchString(ns) || len(ns) > 63 {
				v.errf(fmt.Sprintf("%s.namespaces[%d]", p, i), "%q is not a valid namespace name", ns)
			}
		}
		if d.NamespaceSelector != "" {
			if len(d.Namespaces) > 0 {
				v.errf(p+".namespaceSelector", "set namespaces or namespaceSelector, not both")
			}
			if _, err := labels.Parse(d.NamespaceSelector); err != nil {
				v.errf(p+".namespaceSelector", "%q is not a label selector: %v", d.NamespaceSelector, err)
			}
		}
		switch d.UpstreamFrom {
		case UpstreamFromService, UpstreamFromEndpointSlices:
		default:
			v.errf(p+".upstreamFrom", "must be %s or %s; got %q", UpstreamFromService, UpstreamFromEndpointSlices, d.UpstreamFrom)
		}
		validateBindings(v, p+".access", d.Access)
		if len(d.Access) == 0 && c.Authorization.Kubernetes == nil {
			v.errf(p+".access", "no bindings and no authorization.kubernetes: nobody could use a discovered cluster")
		}
	}
}

func checkTTL(v *validator, path string, d Duration) {
	if d <= 0 {
		v.errf(path, "must be positive")
	} else if d.D() > MaxReviewTTL {
		v.errf(path, "must be at most %s", MaxReviewTTL)
	}
}

// KubernetesRestart says why next cannot replace old by a reload, ""
// when it can: the API connection and the discovery watches are set up
// once, at start.
func KubernetesRestart(old, next *Config) string {
	kubeconfig := func(c *Config) string {
		if c.Kubernetes == nil {
			return ""
		}
		return c.Kubernetes.Kubeconfig
	}
	switch {
	case !old.UsesKubernetes() && next.UsesKubernetes():
		return "a Kubernetes feature was turned on"
	case old.UsesKubernetes() && kubeconfig(old) != kubeconfig(next):
		return "kubernetes.kubeconfig changed"
	}
	a, b := old.Discovery.Kubernetes, next.Discovery.Kubernetes
	switch {
	case (a == nil) != (b == nil):
		return "discovery.kubernetes was turned on or off"
	case a == nil:
		return ""
	case !slices.Equal(a.Namespaces, b.Namespaces) || a.NamespaceSelector != b.NamespaceSelector:
		return "the namespaces of discovery.kubernetes changed"
	case a.UpstreamFrom != b.UpstreamFrom:
		return "discovery.kubernetes.upstreamFrom changed"
	}
	return ""
}
