// Package metrics defines raygate's Prometheus metrics. They are served on
// the separate metrics listener only, never on the public one.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector. Create one per process with New.
type Metrics struct {
	registry *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inflight       prometheus.Gauge
	authnFailures  *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	lastReload     prometheus.Gauge
	tokenCache     *prometheus.CounterVec
	keySetFetches  *prometheus.CounterVec
	auditErrors    prometheus.Counter
	rel            reliability
	kube           kubernetes

	// bound caches the request series per label set, so a request costs
	// a map lookup instead of hashing its labels into the vectors.
	boundMu   sync.RWMutex
	bound     map[requestLabels]*requestSeries
	cacheHit  prometheus.Counter
	cacheMiss prometheus.Counter
}

// requestLabels are the labels of one request series.
type requestLabels struct {
	cluster, action, decision string
	status                    int
}

// requestSeries are the collectors a request with given labels updates.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New registers raygate's collectors, plus Go runtime and process metrics,
// on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_requests_total",
			Help: "Requests handled, by cluster (namespace/name, or \"-\" when none was resolved), Ray action, decision and HTTP status.",
		}, []string{"cluster", "action", "decision", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "raygate_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response, by cluster and action.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"cluster", "action"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raygate_requests_in_flight",
			Help: "Requests being handled now.",
		}),
		authnFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_authentication_failures_total",
			Help: "Refused or missing credentials, by reason.",
		}, []string{"reason"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_upstream_errors_total",
			Help: "Failures reaching a Ray cluster, by cluster and kind (timeout, connect, other).",
		}, []string{"cluster", "kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_config_reloads_total",
			Help: "Config reload attempts, by result (success, failure).",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raygate_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last config load that took effect.",
		}),
		tokenCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_token_cache_requests_total",
			Help: "Verified-token cache lookups, by result (hit, miss).",
		}, []string{"result"}),
		keySetFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raygate_oidc_keyset_fetches_total",
			Help: "Fetches of an OIDC issuer's key set, by issuer and result (success, failure).",
		}, []string{"issuer", "result"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "raygate_audit_write_errors_total",
			Help: "Failed audit writes (each failed attempt, retries included).",
		}),
		rel: newReliability(),
	}
	m.registry.MustRegister(m.rel.collectors()...)
	m.registry.MustRegister(m.requests, m.duration, m.inflight, m.authnFailures, m.upstreamErrors,
		m.reloads, m.lastReload, m.tokenCache, m.keySetFetches, m.auditErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.kube = newKubernetes()
	m.registry.MustRegister(m.kube.collectors()...)
	m.bound = map[requestLabels]*requestSeries{}
	m.cacheHit = m.tokenCache.WithLabelValues("hit")
	m.cacheMiss = m.tokenCache.WithLabelValues("miss")
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request records a finished request.
func (m *Metrics) Request(cluster, action, decision string, status int, d time.Duration) {
	s := m.series(requestLabels{cluster: cluster, action: action, decision: decision, status: status})
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// series returns the collectors of a label set, bound on first use. The
// label values are bounded by the config (clusters), the action table,
// two decisions and the status codes, as the series themselves are.
func (m *Metrics) series(k requestLabels) *requestSeries {
	m.boundMu.RLock()
	s := m.bound[k]
	m.boundMu.RUnlock()
	if s != nil {
		return s
	}
	m.boundMu.Lock()
	defer m.boundMu.Unlock()
	if s = m.bound[k]; s == nil {
		s = &requestSeries{
			count:    m.requests.WithLabelValues(k.cluster, k.action, k.decision, statusLabel(k.status)),
			duration: m.duration.WithLabelValues(k.cluster, k.action),
		}
		m.bound[k] = s
	}
	return s
}

// statusLabels are the status codes as label values, made once.
var statusLabels = func() (out [600]string) {
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// InFlight adds delta to the in-flight gauge.
func (m *Metrics) InFlight(delta float64) { m.inflight.Add(delta) }

// AuthnFailure records a refused or missing credential.
func (m *Metrics) AuthnFailure(reason string) { m.authnFailures.WithLabelValues(reason).Inc() }

// UpstreamError records a failure reaching a cluster.
func (m *Metrics) UpstreamError(cluster, kind string) {
	m.upstreamErrors.WithLabelValues(cluster, kind).Inc()
}

// Reload records a reload attempt.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.lastReload.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}

// TokenCacheResult implements authn.Observer.
func (m *Metrics) TokenCacheResult(hit bool) {
	if hit {
		m.cacheHit.Inc()
		return
	}
	m.cacheMiss.Inc()
}

// KeySetFetch implements authn.Observer.
func (m *Metrics) KeySetFetch(issuer string, err error) {
	if err != nil {
		m.keySetFetches.WithLabelValues(issuer, "failure").Inc()
		return
	}
	m.keySetFetches.WithLabelValues(issuer, "success").Inc()
	m.rel.keySetLastUpdate.WithLabelValues(issuer).SetToCurrentTime()
}
