package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/proxy"
	"github.com/raygate/raygate/internal/upgrade"
)

// faultyHead is a Ray head that misbehaves in one way. It counts the
// connections the gateway holds open to it.
type faultyHead struct {
	ln   net.Listener
	open atomic.Int64
	srv  *http.Server
}

// Fault modes.
const (
	faultHangUp       = "hang-up"        // accept, read the request, close without answering
	faultReset        = "reset"          // accept, read the request, reset the connection
	faultSlow         = "slow"           // never answer, until the gateway gives up
	faultResetMidBody = "reset-mid-body" // answer 200 with half the body, then reset
	faultWebSocket    = "websocket"      // upgrade, then stream a frame every 10ms
)

type countingConn struct {
	net.Conn
	h    *faultyHead
	once sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() { c.h.open.Add(-1) })
	return c.Conn.Close()
}

type countingListener struct {
	net.Listener
	h *faultyHead
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.h.open.Add(1)
	return &countingConn{Conn: c, h: l.h}, nil
}

func newFaultyHead(t *testing.T, mode string) *faultyHead {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &faultyHead{}
	h.ln = countingListener{Listener: ln, h: h}
	switch mode {
	case faultHangUp, faultReset:
		go func() {
			for {
				c, err := h.ln.Accept()
				if err != nil {
					return
				}
				go func() {
					_, _ = http.ReadRequest(bufio.NewReader(c))
					if mode == faultReset {
						_ = c.(*countingConn).Conn.(*net.TCPConn).SetLinger(0)
					}
					_ = c.Close()
				}()
			}
		}()
	default:
		h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch mode {
			case faultSlow:
				<-r.Context().Done()
			case faultResetMidBody:
				c, _, _ := http.NewResponseController(w).Hijack()
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 10000))
				time.Sleep(100 * time.Millisecond) // let it reach the caller before the reset
				_ = c.(*countingConn).Conn.(*net.TCPConn).SetLinger(0)
				_ = c.Close()
			case faultWebSocket:
				c, rw, _ := http.NewResponseController(w).Hijack()
				defer c.Close()
				_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				_ = rw.Flush()
				go func() {
					// Like a WebSocket server, hang up when the client
					// side is done.
					_, _ = io.Copy(io.Discard, c)
					_ = c.Close()
				}()
				for i := 0; ; i++ {
					msg := fmt.Sprintf("log line %d", i)
					if _, err := c.Write(append([]byte{0x81, byte(len(msg))}, msg...)); err != nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})}
		go func() { _ = h.srv.Serve(h.ln) }()
	}
	t.Cleanup(func() {
		_ = h.ln.Close()
		if h.srv != nil {
			_ = h.srv.Close()
		}
	})
	return h
}

// faultGateway serves clusters team-a/<name> for each upstream, all bound
// to alice as admin, with responseHeaderTimeout short enough for a test.
func faultGateway(t *testing.T, upstreams map[string]string) (*Gateway, *httptest.Server, *syncBuffer, *metrics.Metrics) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "authentication:\n  apiKeys:\n    - {name: alice, sha256: %s, user: alice}\nclusters:\n", keyHash(users["alice"]))
	for name, up := range upstreams {
		fmt.Fprintf(&b, "  - namespace: team-a\n    name: %s\n    upstream: %s\n    access: [{role: admin, users: [alice]}]\n", name, up)
	}
	b.WriteString("proxy:\n  dialTimeout: 2s\n  responseHeaderTimeout: 500ms\n")
	path := filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	m := metrics.New()
	g := New(m, slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(buf))
	st, err := g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(st, 0)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv, buf, m
}

// settle waits until the number of goroutines is back to baseline, and
// fails with their stacks if it does not.
func settle(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitZero(t *testing.T, what string, n func() int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d still open", what, n())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUpstreamFaults: a Ray head that is down, hangs up, resets, is slow,
// or resets mid-response gets the caller a JSON 502/504 (or, once the
// response started, a cut connection); every fault is audited, and no
// goroutine or upstream connection is left behind.
func TestUpstreamFaults(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String()
	ln.Close()
	heads := map[string]*faultyHead{}
	ups := map[string]string{"down": down}
	for _, mode := range []string{faultHangUp, faultReset, faultSlow, faultResetMidBody} {
		heads[mode] = newFaultyHead(t, mode)
		ups[mode] = "http://" + heads[mode].ln.Addr().String()
	}
	g, srv, auditBuf, m := faultGateway(t, ups)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	get := func(name string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/clusters/team-a/"+name+"/api/version", nil)
		req.Header.Set("Authorization", "Bearer "+users["alice"])
		return client.Do(req)
	}
	// Warm up the pools so that the baseline counts their goroutines.
	if r, err := get("none"); err == nil {
		r.Body.Close()
	}
	client.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	for _, tc := range []struct {
		name, code, kind string
		status           int
	}{
		{"down", "bad_gateway", proxy.ErrKindConnect, 502},
		{faultHangUp, "bad_gateway", proxy.ErrKindOther, 502},
		{faultReset, "bad_gateway", proxy.ErrKindOther, 502},
		{faultSlow, "gateway_timeout", proxy.ErrKindTimeout, 504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 5; i++ {
				r, err := get(tc.name)
				if err != nil {
					t.Fatal(err)
				}
				var eb proxy.ErrorBody
				body, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if r.StatusCode != tc.status || json.Unmarshal(body, &eb) != nil || eb.Error != tc.code || eb.RequestID == "" {
					t.Fatalf("status %d %s, want %d %s", r.StatusCode, body, tc.status, tc.code)
				}
			}
			if v := metricValue(t, m, fmt.Sprintf(`raygate_upstream_errors_total{cluster="team-a/%s",kind="%s"}`, tc.name, tc.kind)); v != "5" {
				t.Fatalf("upstream errors counted %q, want 5", v)
			}
		})
	}
	t.Run(faultResetMidBody, func(t *testing.T) {
		// Once the response started there is no JSON error to give: the
		// caller's connection is cut, never ended as if complete.
		r, err := get(faultResetMidBody)
		if err != nil {
			t.Logf("connection cut before the response: %v", err)
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || err == nil || n >= 100000 {
			t.Fatalf("status %d, read %d bytes, error %v: a cut response must not look complete", r.StatusCode, n, err)
		}
	})

	client.CloseIdleConnections()
	g.State().transport.CloseIdleConnections()
	for mode, h := range heads {
		waitZero(t, "connections to the "+mode+" head", h.open.Load)
	}
	settle(t, baseline)
	// Every request was audited, with the failure in its reason.
	// (A cut GET may be retried once by the client's transport.)
	evs := auditBuf.events(t)
	if len(evs) < 1+4*5+1 || len(evs) > 1+4*5+2 {
		t.Fatalf("%d audit lines, want %d", len(evs), 1+4*5+1)
	}
	for _, e := range evs[1:] {
		if e.Status >= 500 && !strings.Contains(e.Reason, "upstream") {
			t.Fatalf("failure not in the audit reason: %+v", e)
		}
	}
}

// TestWebSocketShutdown: on Shutdown a proxied WebSocket gets a close frame
// after whole frames, its handler finishes and writes its audit line, and
// nothing is left open.
func TestWebSocketShutdown(t *testing.T) {
	head := newFaultyHead(t, faultWebSocket)
	g, srv, auditBuf, _ := faultGateway(t, map[string]string{"ws": "http://" + head.ln.Addr().String()})
	baseline := runtime.NumGoroutine()

	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /clusters/team-a/ws/api/jobs/raysubmit_1/logs/tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", users["alice"])
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	readFrame := func() (byte, []byte) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		p := make([]byte, h[1]&0x7f)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		return h[0] & 0x0f, p
	}
	if op, p := readFrame(); op != 1 || !strings.HasPrefix(string(p), "log line") {
		t.Fatalf("first frame op %d %q", op, p)
	}
	if g.upgrades.Len() != 1 {
		t.Fatalf("%d upgraded connections tracked, want 1", g.upgrades.Len())
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- g.Shutdown(ctx)
	}()
	for {
		op, p := readFrame()
		if op == 1 {
			continue // whole log lines until the close frame
		}
		if op != 8 || len(p) < 2 || int(p[0])<<8|int(p[1]) != upgrade.CloseGoingAway {
			t.Fatalf("frame op %d % x, want a close frame with 1001", op, p)
		}
		break
	}
	// Answer as a client does: a masked close frame, then close.
	_, _ = c.Write([]byte{0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe9 ^ 2})
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ev := lastEvent(t, &harness{audit: auditBuf})
	if ev.Status != 101 || ev.Action != "cluster.read" || ev.Decision != audit.Allow {
		t.Fatalf("audit %+v", ev)
	}
	waitZero(t, "connections to the head", head.open.Load)
	settle(t, baseline)
}

// TestInvalidConfigsUnderLoad: invalid configs of every kind written over
// the file while requests flow are all refused; no request fails and the
// config in force stays.
func TestInvalidConfigsUnderLoad(t *testing.T) {
	h := newHarness(t)
	rl := &Reloader{Path: h.path, Gateway: h.g}
	rl.Prime()
	orig, _ := os.ReadFile(h.path)
	valid := string(orig)
	inForce := h.g.State()
	invalid := map[string]string{
		"syntax":        valid + "clusters: [\n",
		"unknown field": valid + "bogus: true\n",
		"bad role":      strings.Replace(valid, "role: viewer", "role: owner", 1),
		"missing token": strings.Replace(valid, "rayTokenFile: a.token", "rayTokenFile: gone.token", 1),
		"listen change": strings.Replace(valid, "listen: 127.0.0.1:0", "listen: 127.0.0.1:7", 1),
		"empty":         "",
		"binary":        "\x00\xff\xfe garbage",
		"audit folder":  valid + "audit:\n  file: /nonexistent/audit.log\n",
		"bad limits":    valid + "limits:\n  perUser: {requestsPerSecond: -1}\n",
		"no auth":       strings.Replace(valid, "authentication:", "authenticationx:", 1),
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user, want := "alice", 200
				if i%3 == 0 {
					user, want = "eve", 404
				}
				req, _ := http.NewRequest("GET", h.srv.URL+"/clusters/team-a/ray1/api/version", nil)
				req.Header.Set("Authorization", "Bearer "+users[user])
				resp, err := http.DefaultClient.Do(req)
				sent.Add(1)
				if err != nil || resp.StatusCode != want {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprint(user, " ", err, " ", resp))
					mu.Unlock()
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for round := 0; round < 3; round++ {
		for name, text := range invalid {
			if err := os.WriteFile(h.path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := rl.Reload("test"); err == nil {
				t.Errorf("%s: reload accepted", name)
			}
			if h.g.State() != inForce {
				t.Fatalf("%s: the state in force changed", name)
			}
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() == 0 {
		t.Fatalf("%d of %d requests failed during refused reloads: %v", failed.Load(), sent.Load(), failures[:min(5, len(failures))])
	}
	if v := metricValue(t, h.m, `raygate_config_reloads_total{result="failure"}`); v != fmt.Sprint(3*len(invalid)) {
		t.Fatalf("refused reloads counted %q, want %d", v, 3*len(invalid))
	}
}
