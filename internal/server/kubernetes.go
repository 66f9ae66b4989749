package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/discovery"
	"github.com/raygate/raygate/internal/gateway"
	"github.com/raygate/raygate/internal/kubeclient"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/route"
)

// SyncTimeout bounds the wait for discovery's first list of RayClusters,
// Services and Secrets; past it raygate exits rather than serve a partial
// set of clusters.
const SyncTimeout = 2 * time.Minute

// startKubernetes connects to the API server and, with discovery, starts
// the informers and waits for their first list. The informers stop when
// ctx ends.
func startKubernetes(ctx context.Context, cfg *config.Config, g *gateway.Gateway, m *metrics.Metrics, log *slog.Logger) error {
	if !cfg.UsesKubernetes() {
		return nil
	}
	cl, err := kubeclient.Connect(cfg.Kubernetes)
	if err != nil {
		return err
	}
	k := &gateway.Kubernetes{
		TokenReviews:  cl.Core.AuthenticationV1().TokenReviews(),
		AccessReviews: cl.Core.AuthorizationV1().SubjectAccessReviews(),
	}
	if dc := cfg.Discovery.Kubernetes; dc != nil {
		d, err := discovery.New(*dc, cl.Core, cl.Dynamic, log, func(set *route.Discovered) {
			m.DiscoveredClusters(len(set.Clusters), len(set.Pending))
			if st := g.State(); st != nil {
				if mr, ok := st.Registry.(*route.Merged); ok {
					mr.Refresh()
				}
			}
		})
		if err != nil {
			return err
		}
		d.Start(ctx)
		log.Info("discovery: waiting for the first list of RayClusters", "namespaces", dc.Namespaces, "namespaceSelector", dc.NamespaceSelector)
		sctx, cancel := context.WithTimeout(ctx, SyncTimeout)
		defer cancel()
		if err := d.WaitForSync(sctx); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		set := d.Discovered()
		log.Info("discovery: synced", "served", len(set.Clusters), "pending", len(set.Pending))
		k.Discovered = d
	}
	g.UseKubernetes(k)
	return nil
}

// DiscoveryStatus is the body of /status/discovery on the metrics
// listener.
type DiscoveryStatus struct {
	// Served are the discovered clusters served.
	Served []DiscoveredCluster `json:"served"`
	// Pending maps clusters found but not served to why.
	Pending map[string]string `json:"pending"`
	// Clashes are discovered clusters refused for a static cluster's name.
	Clashes []string `json:"clashes"`
}

// DiscoveredCluster is one served discovered cluster.
type DiscoveredCluster struct {
	// Cluster is "namespace/name".
	Cluster string `json:"cluster"`
	// Upstream is the resolved dashboard URL.
	Upstream string `json:"upstream"`
	// Owner is the RayJob or RayService that manages the cluster, if any.
	Owner string `json:"owner,omitempty"`
	// RayToken says whether raygate injects a Ray token (never the token).
	RayToken bool `json:"rayToken"`
}

// discoveryStatus serves what discovery found, for operators (metrics
// listener only).
func discoveryStatus(g *gateway.Gateway) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		out := DiscoveryStatus{Served: []DiscoveredCluster{}, Pending: map[string]string{}, Clashes: []string{}}
		if mr, ok := g.State().Registry.(*route.Merged); ok {
			for _, c := range mr.Clusters() {
				if c.Source == route.SourceKubernetes {
					out.Served = append(out.Served, DiscoveredCluster{Cluster: c.Key, Upstream: c.Upstream.String(), Owner: c.Owner, RayToken: c.Token != ""})
				}
			}
			sort.Slice(out.Served, func(i, j int) bool { return out.Served[i].Cluster < out.Served[j].Cluster })
			out.Pending = mr.Pending()
			out.Clashes = append(out.Clashes, mr.Clashes()...)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	}
}
