package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/config"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunServesTLSAndMetricsAndStops starts the whole server on loopback:
// HTTPS on the public listener, metrics only on the metrics listener, and a
// clean return when its context ends.
func TestRunServesTLSAndMetricsAndStops(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join("..", "config", "testdata", "tls", f))
		if err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	pub, met := freeAddr(t), freeAddr(t)
	path := filepath.Join(dir, "raygate.yaml")
	cfgText := fmt.Sprintf(`listen: %s
metricsListen: %s
tls: {certFile: cert.pem, keyFile: key.pem}
authentication:
  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]
audit: {file: audit.log}
shutdownTimeout: 2s
`, pub, met)
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logFile, _ := os.Create(filepath.Join(dir, "log"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, path, cfg, Options{Stderr: logFile}) }()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(url string) (int, string) {
		for i := 0; i < 50; i++ {
			resp, err := client.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s never answered", url)
		return 0, ""
	}
	if c, b := get("https://" + pub + "/readyz"); c != 200 || b != "ok\n" {
		t.Fatalf("public readyz over TLS: %d %q", c, b)
	}
	if c, _ := get("https://" + pub + "/metrics"); c != 404 {
		t.Fatalf("metrics on the public listener: %d", c)
	}
	if c, b := get("http://" + met + "/metrics"); c != 200 || !strings.Contains(b, "raygate_config_reloads_total") {
		t.Fatalf("metrics listener: %d", c)
	}
	if c, _ := get("http://" + met + "/healthz"); c != 200 {
		t.Fatalf("metrics healthz: %d", c)
	}
	if c, _ := get("http://" + met + "/clusters/a/b/"); c != 404 {
		t.Fatalf("the metrics listener must not proxy: %d", c)
	}
	if c, _ := get("https://" + pub + "/clusters/a/b/api/version"); c != 401 {
		t.Fatalf("unauthenticated request: %d", c)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	if !strings.Contains(string(audit), `"status":401`) {
		t.Fatalf("audit log: %s", audit)
	}
}

func TestRunRefusesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	text := fmt.Sprintf("listen: %s\nauthentication:\n  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]\n", ln.Addr())
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	devnull, _ := os.Open(os.DevNull)
	err = Run(context.Background(), "c.yaml", cfg, Options{Stderr: devnull})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Run on a busy port: %v", err)
	}
}
