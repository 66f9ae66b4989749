package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
)

// manyClusters is the text of a config with n clusters, team-0000/ray1
// to team-<n-1>/ray1, all at upstream, each with its own developers'
// group and a viewer, and an API key for a developer of the last one.
// extra is appended.
func manyClusters(n int, upstream, extra string) string {
	var b strings.Builder
	last := fmt.Sprintf("team-%04d", n-1)
	b.WriteString("authentication:\n  apiKeys: [{name: a, sha256: " + keyHash("bench-key") + ", user: alice, groups: [" + last + "]}]\nclusters:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {namespace: team-%04d, name: ray1, upstream: %s, access: [{role: developer, groups: [team-%04d]}, {role: viewer, users: [auditor-%d@example.com]}]}\n", i, upstream, i, i)
	}
	b.WriteString(extra)
	return b.String()
}

// BenchmarkGatewayClusters is the whole pipeline (API key, route,
// role, classification, decision, audit, metrics, proxy) for the last of
// 1, 100 and 1000 clusters: the cost per request does not grow with the
// number of clusters.
func BenchmarkGatewayClusters(b *testing.B) {
	up := benchUpstream(b)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g := gatewayFromText(b, manyClusters(n, up.URL, ""))
			runParallel(b, g, fmt.Sprintf("/clusters/team-%04d/ray1/api/version", n-1), "Bearer bench-key")
		})
	}
}

// BenchmarkGatewayClustersDenied is routing and authorization alone for
// the last of 1, 100 and 1000 clusters: a viewer's write is refused
// (403) before anything reaches the cluster.
func BenchmarkGatewayClustersDenied(b *testing.B) {
	up := benchUpstream(b)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g := gatewayFromText(b, manyClusters(n, up.URL, ""))
			path := fmt.Sprintf("/clusters/team-%04d/ray1/api/serve/applications/", n-1)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("PUT", path, nil)
					r.Header.Set("Authorization", "Bearer bench-key")
					w := httptest.NewRecorder()
					g.ServeHTTP(w, r)
					if w.Code != http.StatusForbidden {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}

// TestReloadUnderLoadDropsNothing: a config of 1000 clusters is reloaded
// (as on SIGHUP) again and again while requests to its clusters keep
// coming; every request is answered by the old or the new state, none
// fails.
func TestReloadUnderLoadDropsNothing(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ray_version":"2.60.0"}`)
	}))
	t.Cleanup(up.Close)
	const n = 1000
	path := t.TempDir() + "/raygate.yaml"
	if err := writeFile(path, manyClusters(n, up.URL, "")); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(io.Discard))
	st, err := g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(st, 0)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	rl := &Reloader{Path: path, Gateway: g}

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/clusters/team-%04d/ray1/api/version", srv.URL, n-1), nil)
				req.Header.Set("Authorization", "Bearer bench-key")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	const reloads = 10
	for i := 0; i < reloads; i++ {
		// Each reload changes the config: one more viewer on the last
		// cluster, so a new state is built and swapped in every time.
		extra := fmt.Sprintf("  - {namespace: extra-%d, name: ray1, upstream: %s, access: [{role: viewer, users: [v%d@example.com]}]}\n", i, up.URL, i)
		if err := writeFile(path, manyClusters(n, up.URL, extra)); err != nil {
			t.Fatal(err)
		}
		before := g.State()
		if err := rl.Reload("test"); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if g.State() == before {
			t.Fatalf("reload %d swapped in no new state", i)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during %d reloads of %d clusters; first: %v", failed.Load(), failed.Load()+ok.Load(), reloads, n, firstFailure.Load())
	}
	if ok.Load() < reloads {
		t.Fatalf("only %d requests were served during the reloads", ok.Load())
	}
	t.Logf("%d requests, none failed, during %d reloads of %d clusters", ok.Load(), reloads, n)
}

// TestReloadKeepsVerifiedTokens: a reload that leaves authentication as
// it was keeps the verified-token cache (no burst of verifications after
// every reload); one that changes authentication starts a new one.
func TestReloadKeepsVerifiedTokens(t *testing.T) {
	g := New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(io.Discard))
	build := func(text string, prev *State) *State {
		t.Helper()
		cfg, err := config.Parse("raygate.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		st, err := g.Build(cfg, prev)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	extra := "  - {namespace: extra, name: ray1, upstream: http://127.0.0.1:2, access: [{role: viewer, users: [v@example.com]}]}\n"
	first := build(manyClusters(3, "http://127.0.0.1:1", ""), nil)
	clusters := build(manyClusters(3, "http://127.0.0.1:1", extra), first)
	if clusters.tokens == nil || clusters.tokens != first.tokens {
		t.Fatal("a reload that changed only clusters dropped the verified tokens")
	}
	auth := build(manyClusters(3, "http://127.0.0.1:1", "")+"  \n", clusters)
	if auth.tokens != clusters.tokens {
		t.Fatal("a reload with the same authentication dropped the verified tokens")
	}
	changed := build(strings.Replace(manyClusters(3, "http://127.0.0.1:1", ""), "user: alice", "user: bob", 1), auth)
	if changed.tokens == auth.tokens {
		t.Fatal("a reload that changed authentication kept tokens verified under the old rules")
	}
}
