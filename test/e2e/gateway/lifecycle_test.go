//go:build e2e

package gateway_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raygate/raygate/test/e2e/harness"
)

// extraGateway starts a second raygate in front of the same clusters.
func extraGateway(t *testing.T, name string, mod func(*harness.GatewayConfig)) *harness.Raygate {
	t.Helper()
	s := requireStack(t)
	cfg := s.Config
	cfg.Clusters = append([]harness.ClusterConfig(nil), cfg.Clusters...)
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := harness.StartRaygate(ctx, components.RaygateBin, s.Dir, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	return send(t, "GET", url, bearer, "")
}

func metric(t *testing.T, g *harness.Raygate, prefix string) string {
	t.Helper()
	_, body := get(t, g.MetricsURL+"/metrics", "")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(l, prefix))
		}
	}
	return ""
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHotReload: a config change on disk takes effect without a restart;
// an invalid one is refused, counted, and the old config stays.
func TestHotReload(t *testing.T) {
	g := extraGateway(t, "reload", nil)
	eve := token(t, "eve@example.com")
	url := g.URL + "/clusters/team-a/ray1/api/version"
	if c, _ := get(t, url, eve); c != 404 {
		t.Fatalf("before: %d", c)
	}
	orig, _ := os.ReadFile(g.ConfigPath)
	granted := strings.Replace(string(orig), "      - {role: viewer, groups: [team-a-viewers]}", "      - {role: viewer, groups: [team-a-viewers]}\n      - {role: viewer, users: [eve@example.com]}", 1)
	writeAtomic(t, g.ConfigPath, granted)
	eventually(t, "the new binding", func() bool { c, _ := get(t, url, eve); return c == 200 })

	writeAtomic(t, g.ConfigPath, granted+"not_a_field: 1\n")
	eventually(t, "the refused reload to be counted", func() bool {
		return metric(t, g, `raygate_config_reloads_total{result="failure"}`) == "1"
	})
	if c, _ := get(t, url, eve); c != 200 {
		t.Fatalf("after a refused reload: %d, want the old config in force", c)
	}
	if !strings.Contains(g.Proc.Tail(1<<16), "not_a_field: unknown field") {
		t.Fatalf("refused reload not logged with its reason:\n%s", g.Proc.Tail(2000))
	}

	// SIGHUP reloads too.
	writeAtomic(t, g.ConfigPath, string(orig))
	_ = g.Proc.Signal(syscall.SIGHUP)
	eventually(t, "the binding to go", func() bool { c, _ := get(t, url, eve); return c == 404 })
}

func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamFailures: an unreachable cluster is a JSON 502, a slow one a
// JSON 504 after responseHeaderTimeout, never a hang.
func TestUpstreamFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	wrongToken := filepath.Join(t.TempDir(), "wrong.token")
	_ = os.WriteFile(wrongToken, []byte("not-the-cluster-token\n"), 0o600)
	g := extraGateway(t, "failures", func(c *harness.GatewayConfig) {
		s := requireStack(t)
		c.Clusters = append(c.Clusters,
			harness.ClusterConfig{Namespace: "team-a", Name: "gone", Upstream: "http://" + closed, Access: []string{"{role: admin, groups: [platform-admins]}"}},
			harness.ClusterConfig{Namespace: "team-a", Name: "wrong-token", Upstream: s.RayA.Dashboard, TokenFile: wrongToken, Access: []string{"{role: admin, groups: [platform-admins]}"}},
			harness.ClusterConfig{Namespace: "team-a", Name: "no-token", Upstream: s.RayA.Dashboard, Access: []string{"{role: admin, groups: [platform-admins]}"}},
		)
		c.Extra = "proxy:\n  responseHeaderTimeout: 2s\n"
	})
	dave := token(t, "dave@example.com")
	c, body := get(t, g.URL+"/clusters/team-a/gone/api/version", dave)
	if c != 502 || !strings.Contains(body, `"error":"bad_gateway"`) {
		t.Fatalf("unreachable: %d %s", c, body)
	}
	for _, name := range []string{"wrong-token", "no-token"} {
		c, body = get(t, g.URL+"/clusters/team-a/"+name+"/api/jobs/", dave)
		if c != 502 || !strings.Contains(body, "refused raygate's credentials") {
			t.Fatalf("%s: %d %s", name, c, body)
		}
	}
	start := time.Now()
	c, body = get(t, g.URL+"/clusters/team-a/ray1/api/v0/delay/10", dave) // Ray's own slow test route
	if c != 504 || !strings.Contains(body, `"error":"gateway_timeout"`) || time.Since(start) > 8*time.Second {
		t.Fatalf("slow upstream: %d %s after %s", c, body, time.Since(start))
	}
	if v := metric(t, g, `raygate_upstream_errors_total{cluster="team-a/ray1",kind="timeout"}`); v != "1" {
		t.Fatalf("timeout not counted: %q", v)
	}
}

// TestGracefulShutdown: SIGTERM lets an in-flight request finish.
func TestGracefulShutdown(t *testing.T) {
	g := extraGateway(t, "shutdown", nil)
	dave := token(t, "dave@example.com")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", g.URL+"/clusters/team-a/ray1/api/v0/delay/3", nil)
		req.Header.Set("Authorization", "Bearer "+dave)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{code: resp.StatusCode}
	}()
	time.Sleep(700 * time.Millisecond)
	if err := g.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request during shutdown: %d %v", r.code, r.err)
	}
	if err := g.Proc.Wait(30 * time.Second); err != nil {
		t.Fatalf("raygate did not exit cleanly: %v", err)
	}
	if _, err := http.Get(g.URL + "/healthz"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
	audit, _ := os.ReadFile(g.AuditPath)
	if !strings.Contains(string(audit), "/api/v0/delay/3") {
		t.Fatal("the drained request was not audited")
	}
}

// TestCheckCommand runs `raygate check` on the stack's config and a broken
// one.
func TestCheckCommand(t *testing.T) {
	s := requireStack(t)
	out, err := runRaygate(t, "check", "--config", s.Gateway.ConfigPath)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("check of a valid config: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("listen: 1.2.3.4:80\nclusters:\n  - name: x\n    upstream: ftp://x\n"), 0o600)
	out, err = runRaygate(t, "check", "--config", bad)
	if err == nil || !strings.Contains(out, bad+":4: clusters[0].upstream") {
		t.Fatalf("check of a bad config: %v\n%s", err, out)
	}
}
