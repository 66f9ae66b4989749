package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// reliability holds the collectors of the audit sink's health, the abuse
// limits and the identity providers' key sets.
type reliability struct {
	auditHealthy     prometheus.Gauge
	auditDropped     prometheus.Counter
	limited          *prometheus.CounterVec
	keySetLastUpdate *prometheus.GaugeVec
}

func newReliability() reliability {
	r := reliability{
		auditHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raygate_audit_sink_healthy",
			Help: "1 while the audit sink writes, 0 from a failed write until a write succeeds again.",
		}),
		auditDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "raygate_audit_events_dropped_total",
			Help: "Audit events given up on: no room to keep them while the sink failed, or still unwritten at shutdown.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_limited_requests_total",
			Help: "Requests refused with 429 by an abuse limit, by cluster, scope (user, cluster) and limit (rate, concurrency, streams, users).",
		}, []string{"cluster", "scope", "limit"}),
		keySetLastUpdate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "raygate_oidc_keyset_last_success_timestamp_seconds",
			Help: "Unix time of the last successful fetch of an OIDC issuer's key set.",
		}, []string{"issuer"}),
	}
	r.auditHealthy.Set(1)
	return r
}

func (r reliability) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.auditHealthy, r.auditDropped, r.limited, r.keySetLastUpdate}
}

// AuditWriteFailed implements audit.Observer: one failed audit write.
func (m *Metrics) AuditWriteFailed() { m.auditErrors.Inc() }

// AuditSinkHealthy implements audit.Observer.
func (m *Metrics) AuditSinkHealthy(ok bool) {
	if ok {
		m.rel.auditHealthy.Set(1)
		return
	}
	m.rel.auditHealthy.Set(0)
}

// AuditEventsDropped implements audit.Observer.
func (m *Metrics) AuditEventsDropped(n int) { m.rel.auditDropped.Add(float64(n)) }

// Limited records a request refused by an abuse limit.
func (m *Metrics) Limited(cluster, scope, limit string) {
	m.rel.limited.WithLabelValues(cluster, scope, limit).Inc()
}
