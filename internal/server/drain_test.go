package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
)

const aliceKey = "key-alice"

// fakeHead answers /api/version at once, holds GET /api/jobs/ until
// release is closed, and upgrades /api/jobs/{id}/logs/tail to a WebSocket
// that sends a log line every 10ms until the client side is done.
type fakeHead struct {
	srv     *httptest.Server
	arrived chan string
	release chan struct{}
}

func newFakeHead(t *testing.T) *fakeHead {
	f := &fakeHead{arrived: make(chan string, 16), release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.arrived <- r.URL.Path
		switch {
		case r.URL.Path == "/api/jobs/":
			<-f.release
			_, _ = io.WriteString(w, "[]")
		case strings.HasSuffix(r.URL.Path, "/logs/tail"):
			c, rw, _ := http.NewResponseController(w).Hijack()
			defer c.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = rw.Flush()
			done := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, c); close(done) }()
			for {
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := c.Write([]byte("\x81\x04line")); err != nil {
					return
				}
			}
		default:
			_, _ = io.WriteString(w, `{"ray_version":"2.60.0"}`)
		}
	}))
	t.Cleanup(func() {
		select {
		case <-f.release:
		default:
			close(f.release)
		}
		f.srv.Close()
	})
	return f
}

type running struct {
	public, metrics string
	auditPath       string
	cancel          context.CancelFunc
	stopped         chan struct{} // closed when Run returned, with err
	err             error
}

// wait waits for Run to return, at most d.
func (r *running) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.stopped:
		if r.err != nil {
			t.Fatalf("Run: %v", r.err)
		}
	case <-time.After(d):
		t.Fatal("Run did not return")
	}
}

// start runs the server on free ports in front of head, with extra config.
func start(t *testing.T, head *fakeHead, extra string) *running {
	t.Helper()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(aliceKey))
	r := &running{public: freeAddr(t), metrics: freeAddr(t), auditPath: filepath.Join(dir, "audit.log"), stopped: make(chan struct{})}
	text := fmt.Sprintf(`listen: %s
metricsListen: %s
authentication:
  apiKeys: [{name: alice, sha256: %s, user: alice}]
clusters:
  - {namespace: team-a, name: ray1, upstream: %s, access: [{role: developer, users: [alice]}]}
audit: {file: %s}
%s`, r.public, r.metrics, hex.EncodeToString(sum[:]), head.srv.URL, r.auditPath, extra)
	path := filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.err = Run(ctx, path, cfg, Options{Stderr: stderr})
		close(r.stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.stopped:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	r.waitStatus(t, "http://"+r.public+"/readyz", 200)
	return r
}

// fresh sends each request on its own connection.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

func get(url string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	resp, err := fresh.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (r *running) waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := get(url)
		if err == nil && c == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %v, want %d", url, c, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func auditEvents(t *testing.T, path string) []audit.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestShutdownSequence: on SIGTERM readiness fails on both listeners at
// once, new requests are still served during shutdownDelay, the request in
// flight finishes, and every request is in the audit log at exit.
func TestShutdownSequence(t *testing.T) {
	head := newFakeHead(t)
	r := start(t, head, "shutdownDelay: 3s\nshutdownTimeout: 20s\n")
	base := "http://" + r.public + "/clusters/team-a/ray1"

	slow := make(chan int, 1)
	go func() {
		c, err := get(base + "/api/jobs/")
		if err != nil {
			t.Errorf("request in flight: %v", err)
		}
		slow <- c
	}()
	if p := <-head.arrived; p != "/api/jobs/" {
		t.Fatalf("head got %s", p)
	}

	r.cancel() // SIGTERM
	r.waitStatus(t, "http://"+r.metrics+"/readyz", 503)
	if c, err := get("http://" + r.public + "/readyz"); err != nil || c != 503 {
		t.Fatalf("public /readyz while draining: %d %v", c, err)
	}
	// Load balancers have not caught up yet: a new connection is served.
	if c, err := get(base + "/api/version"); err != nil || c != 200 {
		t.Fatalf("request during shutdownDelay: %d %v", c, err)
	}
	close(head.release)
	if c := <-slow; c != 200 {
		t.Fatalf("request in flight: %d", c)
	}
	r.wait(t, 25*time.Second)
	if _, err := get(base + "/api/version"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
	var paths []string
	for _, e := range auditEvents(t, r.auditPath) {
		paths = append(paths, fmt.Sprint(e.Path, " ", e.Status))
	}
	all := strings.Join(paths, "\n")
	for _, want := range []string{"/clusters/team-a/ray1/api/jobs/ 200", "/clusters/team-a/ray1/api/version 200", "/readyz 503"} {
		if !strings.Contains(all, want) {
			t.Fatalf("audit log lacks %q:\n%s", want, all)
		}
	}
}

// TestShutdownClosesWebSockets: a log tail open at SIGTERM gets a close
// frame, the server stops well before shutdownTimeout, and the stream is
// audited.
func TestShutdownClosesWebSockets(t *testing.T) {
	head := newFakeHead(t)
	r := start(t, head, "shutdownTimeout: 60s\n")
	c, err := net.Dial("tcp", r.public)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /clusters/team-a/ray1/api/jobs/raysubmit_1/logs/tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", aliceKey)
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	start := time.Now()
	r.cancel()
	for {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		p := make([]byte, h[1]&0x7f)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f == 8 {
			if len(p) < 2 || int(p[0])<<8|int(p[1]) != 1001 {
				t.Fatalf("close frame % x, want code 1001", p)
			}
			break
		}
	}
	_, _ = c.Write([]byte{0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe9 ^ 2})
	c.Close()
	r.wait(t, 30*time.Second)
	if time.Since(start) > 30*time.Second {
		t.Fatal("shutdown waited for the stream instead of closing it")
	}
	var found bool
	for _, e := range auditEvents(t, r.auditPath) {
		if strings.HasSuffix(e.Path, "/logs/tail") && e.Status == 101 {
			found = true
		}
	}
	if !found {
		t.Fatal("the closed log tail is not in the audit log")
	}
}
