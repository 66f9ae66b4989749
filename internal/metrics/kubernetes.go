package metrics

import "github.com/prometheus/client_golang/prometheus"

// kubernetes holds the collectors of Kubernetes mode.
type kubernetes struct {
	clashes    prometheus.Gauge
	discovered *prometheus.GaugeVec
	reviews    *prometheus.CounterVec
}

func newKubernetes() kubernetes {
	return kubernetes{
		clashes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raygate_discovery_clashes",
			Help: "Discovered RayClusters refused because a static cluster has the same namespace and name.",
		}),
		discovered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "raygate_discovery_clusters",
			Help: "Discovered RayClusters, by state (served, pending).",
		}, []string{"state"}),
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_access_reviews_total",
			Help: "SubjectAccessReviews asked of the Kubernetes API server (cache misses), by verb and result (allow, deny, error).",
		}, []string{"verb", "result"}),
	}
}

func (k kubernetes) collectors() []prometheus.Collector {
	return []prometheus.Collector{k.clashes, k.discovered, k.reviews}
}

// DiscoveryClashes sets the number of discovered clusters refused for a
// name clash with a static cluster.
func (m *Metrics) DiscoveryClashes(n int) { m.kube.clashes.Set(float64(n)) }

// DiscoveredClusters sets the number of discovered clusters served and
// pending.
func (m *Metrics) DiscoveredClusters(served, pending int) {
	m.kube.discovered.WithLabelValues("served").Set(float64(served))
	m.kube.discovered.WithLabelValues("pending").Set(float64(pending))
}

// AccessReview records one SubjectAccessReview.
func (m *Metrics) AccessReview(verb string, allowed bool, err error) {
	result := "deny"
	switch {
	case err != nil:
		result = "error"
	case allowed:
		result = "allow"
	}
	m.kube.reviews.WithLabelValues(verb, result).Inc()
}
