package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/config"
)

// apiKey is the key of user "dev", a developer on team-a/ray1 only (its
// SHA-256 is in the config below).
const apiKey = "foo"

// upstream is a stand-in Ray head that records the paths it is asked
// for and holds WebSocket log tails open until the client hangs up.
type upstream struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.paths = append(u.paths, r.Method+" "+r.URL.Path)
		u.mu.Unlock()
		if r.Header.Get("Upgrade") == "websocket" {
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = rw.Flush()
			_, _ = io.Copy(io.Discard, rw) // until the client hangs up
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ray_version":"2.60.0"}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.paths...)
}

// gatewayUnderTest is a running `raygate serve` in front of upstreams.
type gatewayUnderTest struct {
	addr      string
	auditPath string
}

// runGateway runs Run with team-a/ray1 and team-b/ray1 behind up and
// extra appended to the config, until the test ends.
func runGateway(t *testing.T, up *upstream, extra string) *gatewayUnderTest {
	t.Helper()
	dir := t.TempDir()
	pub, met := freeAddr(t), freeAddr(t)
	path := filepath.Join(dir, "raygate.yaml")
	text := fmt.Sprintf(`listen: %s
metricsListen: %s
authentication:
  apiKeys: [{name: dev, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: dev}]
clusters:
  - {namespace: team-a, name: ray1, upstream: %s, access: [{role: developer, users: [dev]}]}
  - {namespace: team-b, name: ray1, upstream: %s, access: [{role: developer, users: [someone-else]}]}
audit: {file: audit.log}
shutdownTimeout: 2s
%s`, pub, met, up.srv.URL, up.srv.URL, extra)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	devnull, _ := os.Open(os.DevNull)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, path, cfg, Options{Stderr: devnull}) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + pub + "/readyz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatal("gateway never became ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &gatewayUnderTest{addr: pub, auditPath: filepath.Join(dir, "audit.log")}
}

// raw sends req as written on a new connection and returns the first
// response and, when waitClose, whether the server then closed the
// connection.
func raw(t *testing.T, addr, req string, waitClose bool) (*http.Response, string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !waitClose {
		return resp, string(body), false
	}
	_, err = br.ReadByte()
	ne, timeout := err.(net.Error)
	return resp, string(body), err != nil && !(timeout && ne.Timeout())
}

// auditOf waits for the audit line of the request resp answers (reads'
// lines are written in batches a few milliseconds apart) and returns it.
func (g *gatewayUnderTest) auditOf(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	rid := resp.Header.Get("X-Request-Id")
	if rid == "" {
		t.Fatal("the answer has no X-Request-Id")
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(g.auditPath)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["request_id"] == rid {
				return ev
			}
		}
	}
	t.Fatalf("no audit line for request %s", rid)
	return nil
}

const auth = "Authorization: Bearer " + apiKey + "\r\n"

// TestHostileRequests: each hostile request gets its defined answer, as
// JSON, with an audit line, and nothing reaches the cluster.
func TestHostileRequests(t *testing.T) {
	up := newUpstream(t)
	g := runGateway(t, up, "server: {maxRequestTargetBytes: 1024, maxHeaderBytes: 2048}\n")
	p := "/clusters/team-a/ray1/api/version"
	for _, tc := range []struct {
		name, req string
		status    int
		code      string
		close     bool
		reason    string
	}{
		{"CL and TE", "POST " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request", true, "malformed request: both Content-Length and Transfer-Encoding"},
		{"two Content-Lengths", "POST " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400, "bad_request", true, "malformed request: more than one Content-Length"},
		{"TE gzip", "POST " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "Transfer-Encoding: gzip\r\n\r\n", 400, "bad_request", true, "malformed request: Transfer-Encoding other than chunked"},
		{"obs-fold", "GET " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-A: 1\r\n  folded\r\n\r\n", 400, "bad_request", true, "malformed request: header line folded onto the previous one (obs-fold)"},
		{"target too long", "GET " + p + "?q=" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 414, "uri_too_long", true, "malformed request: request target over 1024 bytes"},
		{"headers too large", "GET " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Big: " + strings.Repeat("a", 3000) + "\r\n\r\n", 431, "header_fields_too_large", true, "malformed request: request headers over 2048 bytes"},
		{"HTTP/2.0 line", "GET " + p + " HTTP/2.0\r\nHost: gw\r\n\r\n", 505, "http_version_not_supported", true, "malformed request: HTTP version other than 1.0 and 1.1"},
		{"CONNECT", "CONNECT 127.0.0.1:8265 HTTP/1.1\r\nHost: 127.0.0.1:8265\r\n" + auth + "\r\n", 405, "method_not_allowed", false, "method CONNECT not allowed"},
		{"TRACE", "TRACE " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 405, "method_not_allowed", false, "method TRACE not allowed"},
		{"lowercase get", "get " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 501, "not_implemented", false, "unknown method"},
		{"unknown method", "PROPFIND " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 501, "not_implemented", false, "unknown method"},
		{"path %ff", "GET /clusters/team-a/ray1/api/jobs/%ff HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400, "bad_request", false, "ambiguous path: invalid UTF-8"},
		{"raw path \\xff\\xfe", "GET /clusters/team-a/ray1/api/jobs/\xff\xfe HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400, "bad_request", false, "ambiguous path: invalid UTF-8"},
		{"overlong dot", "GET /clusters/team-a/ray1/api/jobs/%c0%ae%c0%ae/x HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400, "bad_request", false, "ambiguous path: invalid UTF-8"},
		{"raw overlong dot", "GET /clusters/team-a/ray1/api/jobs/\xc0\xae\xc0\xae/x HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400, "bad_request", false, "ambiguous path: invalid UTF-8"},
		{"encoded C1 control", "GET /clusters/team-a/ray1/api/jobs/%c2%85 HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400, "bad_request", false, "ambiguous path: control character"},
		{"gzip body", "POST /clusters/team-a/ray1/api/jobs/ HTTP/1.1\r\nHost: gw\r\n" + auth + "Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}", 415, "unsupported_media_type", false, `content encoding "gzip"`},
		{"absolute form names another cluster's host", "GET http://team-b.example/clusters/team-b/ray1/api/version HTTP/1.1\r\nHost: team-a\r\n" + auth + "\r\n", 404, "not_found", false, "cluster not found or no role on it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.seen())
			resp, body, closed := raw(t, g.addr, tc.req, tc.close)
			var eb struct{ Error, Message string }
			if resp.StatusCode != tc.status || json.Unmarshal([]byte(body), &eb) != nil || eb.Error != tc.code {
				t.Fatalf("%d %s, want %d with JSON error %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if tc.close && !closed {
				t.Fatal("the connection stayed open")
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
			if ev := g.auditOf(t, resp); ev["reason"] != tc.reason || ev["decision"] != "deny" {
				t.Fatalf("audit %v, want reason %q", ev, tc.reason)
			}
			if after := up.seen(); len(after) != before {
				t.Fatalf("reached the cluster: %v", after[before:])
			}
		})
	}
}

// TestHostDoesNotSelectTheCluster: only the path chooses the cluster;
// an absolute-form target, Host and X-Forwarded-Host are never looked at.
func TestHostDoesNotSelectTheCluster(t *testing.T) {
	up := newUpstream(t)
	g := runGateway(t, up, "")
	for _, req := range []string{
		"GET http://team-b.example/clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: team-b\r\n" + auth + "\r\n",
		"GET /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: team-b.ray1\r\nX-Forwarded-Host: team-b\r\n" + auth + "\r\n",
	} {
		resp, body, _ := raw(t, g.addr, req, false)
		if ev := g.auditOf(t, resp); resp.StatusCode != 200 || ev["cluster"] != "team-a/ray1" {
			t.Fatalf("%q: %d %s, audit cluster %v", req, resp.StatusCode, body, ev["cluster"])
		}
	}
	resp, _, _ := raw(t, g.addr, "GET http://team-a.example/clusters/team-b/ray1/api/version HTTP/1.1\r\nHost: team-a\r\n"+auth+"\r\n", false)
	if resp.StatusCode != 404 {
		t.Fatalf("team-b by path with team-a in the authority: %d", resp.StatusCode)
	}
}

// TestSmuggledRequestNeverReachesRay pipelines, behind a valid request, a
// request whose body hides a job stop: the first is answered, the second
// refused and the connection closed; the stop never reaches the cluster.
func TestSmuggledRequestNeverReachesRay(t *testing.T) {
	up := newUpstream(t)
	g := runGateway(t, up, "")
	hidden := "POST /clusters/team-a/ray1/api/jobs/victim/stop HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n"
	stream := "GET /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n" +
		"POST /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth +
		fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5+len(hidden)) + hidden
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(c, stream)
	br := bufio.NewReader(c)
	var statuses []int
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if len(statuses) != 2 || statuses[0] != 200 || statuses[1] != 400 {
		t.Fatalf("answers %v, want [200 400] and the connection closed", statuses)
	}
	for _, p := range up.seen() {
		if strings.Contains(p, "stop") || strings.HasPrefix(p, "POST") {
			t.Fatalf("the cluster received %s", p)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	up := newUpstream(t)
	xff := "X-Forwarded-For: 203.0.113.7, 198.51.100.23\r\n"
	req := "GET /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth + xff + "\r\n"
	g := runGateway(t, up, "")
	resp, _, _ := raw(t, g.addr, req, false)
	if got := g.auditOf(t, resp)["remote_addr"].(string); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Fatalf("without trusted proxies remote_addr = %q, want the peer", got)
	}
	g = runGateway(t, up, "server: {trustedProxies: [127.0.0.0/8]}\n")
	resp, _, _ = raw(t, g.addr, req, false)
	if got := g.auditOf(t, resp)["remote_addr"]; got != "198.51.100.23" {
		t.Fatalf("behind a trusted proxy remote_addr = %v, want 198.51.100.23", got)
	}
}

// TestSlowHeadsOverTheBudget: heads sent slowly, just under the header
// limit, hold memory until they complete; once they hold
// server.maxPendingHeadBytes together, the next one is answered 503
// (unavailable), audited, and its connection closed.
func TestSlowHeadsOverTheBudget(t *testing.T) {
	up := newUpstream(t)
	g := runGateway(t, up, "server: {maxPendingHeadBytes: 81920}\n")
	partial := "GET /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Pad: " + strings.Repeat("a", 30<<10)
	// Each attempt leaves its head pending; once the gateway has read
	// enough of them, the next is refused at once.
	for attempt := 0; attempt < 8; attempt++ {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, partial); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			continue // held: the budget has room still
		}
		body, _ := io.ReadAll(resp.Body)
		var eb struct{ Error, Message string }
		if resp.StatusCode != 503 || !resp.Close || json.Unmarshal(body, &eb) != nil || eb.Error != "unavailable" {
			t.Fatalf("%d close=%v %s, want 503 unavailable and close", resp.StatusCode, resp.Close, body)
		}
		if attempt < 2 {
			t.Fatalf("refused after %d pending heads; the budget holds two", attempt)
		}
		if ev := g.auditOf(t, resp); ev["reason"] != "server busy: too many request heads arriving at once" || ev["decision"] != "deny" {
			t.Fatalf("audit %v", ev)
		}
		if n := len(up.seen()); n != 0 {
			t.Fatalf("%d requests reached the cluster", n)
		}
		return
	}
	t.Fatal("no head was refused: the budget is not applied")
}
