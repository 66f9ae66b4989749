package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestRequestSeries: requests are counted per label set, each in its own
// series, whether the series was bound before or not.
func TestRequestSeries(t *testing.T) {
	m := New()
	m.Request("team-a/ray1", "cluster.read", "allow", 200, time.Millisecond)
	m.Request("team-a/ray1", "cluster.read", "allow", 200, time.Millisecond)
	m.Request("team-a/ray1", "cluster.read", "deny", 403, time.Millisecond)
	m.Request("-", "cluster.read", "deny", 404, 2*time.Second)
	m.TokenCacheResult(true)
	m.TokenCacheResult(true)
	m.TokenCacheResult(false)
	out := scrape(t, m)
	for _, want := range []string{
		`raygate_requests_total{action="cluster.read",cluster="team-a/ray1",decision="allow",status="200"} 2`,
		`raygate_requests_total{action="cluster.read",cluster="team-a/ray1",decision="deny",status="403"} 1`,
		`raygate_requests_total{action="cluster.read",cluster="-",decision="deny",status="404"} 1`,
		`raygate_request_duration_seconds_count{action="cluster.read",cluster="team-a/ray1"} 3`,
		`raygate_request_duration_seconds_bucket{action="cluster.read",cluster="-",le="1"} 0`,
		`raygate_request_duration_seconds_bucket{action="cluster.read",cluster="-",le="2.5"} 1`,
		`raygate_token_cache_requests_total{result="hit"} 2`,
		`raygate_token_cache_requests_total{result="miss"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRequestAllocations: recording a request of a label set seen before
// allocates nothing (no label hashing into the vectors).
func TestRequestAllocations(t *testing.T) {
	m := New()
	m.Request("team-a/ray1", "cluster.read", "allow", 200, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() {
		m.Request("team-a/ray1", "cluster.read", "allow", 200, time.Millisecond)
		m.TokenCacheResult(true)
		m.InFlight(1)
		m.InFlight(-1)
	}); n != 0 {
		t.Fatalf("a request's metrics allocate %.1f times, want 0", n)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Request("team-a/ray1", "cluster.read", "allow", 200, time.Millisecond)
	}
}
