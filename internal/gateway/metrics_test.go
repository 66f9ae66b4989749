package gateway

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetricsNeverNameHiddenClusters: a request for a cluster that does
// not exist, or one the caller has no role on, is counted without a
// cluster label, so metrics cannot enumerate clusters; a caller with a
// role is counted under the cluster.
func TestMetricsNeverNameHiddenClusters(t *testing.T) {
	h := newHarness(t)
	h.do(t, "alice", "GET", "/clusters/team-z/hidden/api/version", "")
	h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", "")
	h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "")
	rec := httptest.NewRecorder()
	h.m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	m := string(b)
	if strings.Contains(m, "team-z") || strings.Contains(m, "hidden") {
		t.Error("metrics name a cluster that does not exist")
	}
	for _, want := range []string{
		`raygate_requests_total{action="cluster.read",cluster="-",decision="deny",status="404"} 2`,
		`raygate_requests_total{action="cluster.read",cluster="team-a/ray1",decision="allow",status="200"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
