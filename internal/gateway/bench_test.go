package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/proxy"
)

// The benchmarks compare the whole gateway pipeline with a bare
// httputil.ReverseProxy over the same tuned transport and upstream, in one
// run; compare them with benchstat or as a ratio, never as absolute times.
//
//	go test -run XXX -bench . -benchmem -count 6 ./internal/gateway/ | tee bench.txt

func benchUpstream(b *testing.B) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ray_version":"2.60.0"}`)
	}))
	b.Cleanup(up.Close)
	return up
}

func runParallel(b *testing.B, h http.Handler, path, auth string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", path, nil)
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
}

func BenchmarkBareReverseProxy(b *testing.B) {
	up := benchUpstream(b)
	u, _ := url.Parse(up.URL)
	cfg, _ := config.Parse("x.yaml", []byte("authentication: {apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]}\n"))
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: proxy.NewTransport(cfg.Proxy),
	}
	runParallel(b, rp, "/api/version", "")
}

func benchGateway(b *testing.B) *Gateway {
	up := benchUpstream(b)
	return gatewayFromText(b, "authentication:\n  apiKeys: [{name: a, sha256: "+keyHash("bench-key")+", user: alice, groups: [team-a]}]\n"+
		"clusters:\n  - {namespace: team-a, name: ray1, upstream: "+up.URL+", access: [{role: developer, groups: [team-a]}]}\n")
}

// gatewayFromText builds a serving gateway from a config file's text, with
// audit and logs discarded.
func gatewayFromText(b *testing.B, text string) *Gateway {
	path := b.TempDir() + "/raygate.yaml"
	if err := writeFile(path, text); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	g := New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(io.Discard))
	st, err := g.Build(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	g.Swap(st, 0)
	return g
}

func BenchmarkGatewayAPIKey(b *testing.B) {
	runParallel(b, benchGateway(b), "/clusters/team-a/ray1/api/version", "Bearer bench-key")
}

func BenchmarkGatewayDenied(b *testing.B) {
	g := benchGateway(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/clusters/team-a/ray1/api/serve/applications/", nil)
			r.Header.Set("Authorization", "Bearer bench-key")
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != 403 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
