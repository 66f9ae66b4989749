package route

import (
	"net/url"

	"github.com/raygate/raygate/internal/authz"
)

// Cluster is one Ray cluster behind the gateway.
type Cluster struct {
	// Namespace and Name address the cluster.
	Namespace, Name string
	// Key is "namespace/name", the audit log's cluster field.
	Key string
	// Upstream is the base URL of the cluster's dashboard/Jobs API.
	Upstream *url.URL
	// Token is the cluster's Ray authentication token, "" if none. It is
	// sent upstream and never shown to callers.
	Token string
	// Bindings give callers their role on the cluster.
	Bindings *authz.Bindings
	// Source is SourceStatic or SourceKubernetes.
	Source string
	// Owner names the object that manages a discovered cluster, as
	// "Kind/name" (a RayJob or RayService); "" if none.
	Owner string
	// RayChecksKubernetesTokens is true when Ray itself checks Kubernetes
	// ServiceAccount tokens (KubeRay authOptions.enableK8sTokenAuth): there
	// is no shared token, and the caller's own reviewed ServiceAccount
	// token is what Ray needs.
	RayChecksKubernetesTokens bool
	// Policy is the least role per action on the cluster; nil is the
	// defaults.
	Policy *authz.Policy
}

// Where a cluster comes from.
const (
	SourceStatic     = "static"
	SourceKubernetes = "kubernetes"
)

// Registry finds clusters by namespace and name. Implementations must be
// safe for concurrent use.
type Registry interface {
	// Lookup returns the cluster, or nil if there is none.
	Lookup(namespace, name string) *Cluster
	// Clusters returns every cluster, in no particular order.
	Clusters() []*Cluster
}

// Static is a fixed set of clusters, built from the config file.
type Static map[string]*Cluster

var _ Registry = Static(nil)

// Lookup implements Registry.
func (s Static) Lookup(namespace, name string) *Cluster { return s[namespace+"/"+name] }

// Clusters returns every cluster, for listing a caller's own access.
func (s Static) Clusters() []*Cluster {
	out := make([]*Cluster, 0, len(s))
	for _, c := range s {
		out = append(out, c)
	}
	return out
}
