package httpguard

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer serves h on loopback through the guard.
type testServer struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func (s *testServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// startServer runs an http.Server with the guard in front of a handler
// that answers refusals the way the gateway does (status, then close),
// echoes hijacked connections on /hijack and otherwise reads the body and
// answers 200.
func startServer(t *testing.T, lim Limits, idle time.Duration) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String()}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ref, ok := Refused(r); ok {
			w.Header().Set("Connection", "close")
			w.WriteHeader(ref.Status)
			_, _ = io.WriteString(w, ref.Reason)
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, r.URL.Path)
		s.mu.Unlock()
		if r.URL.Path == "/hijack" {
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			Hijacked(c)
			defer c.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
			_ = rw.Flush()
			_, _ = io.Copy(c, rw)
			return
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		_, _ = io.WriteString(w, "ok "+r.URL.Path)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: lim.HeaderTimeout, IdleTimeout: idle}
	go func() { _ = srv.Serve(NewListener(ln, lim)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// expectClosed waits until the server closes the connection, reading
// (and dropping) whatever it still sends.
func expectClosed(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	_, err := io.Copy(io.Discard, br)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server did not close the connection")
	}
}

var wideLimits = Limits{MaxRequestTarget: 8 << 10, MaxHeaderBytes: 32 << 10, HeaderTimeout: 10 * time.Second, BodyTimeout: 10 * time.Second}

// TestSmugglingNeverReachesTheHandler pipelines a request framed both by
// Content-Length and chunked, whose body hides a second request: the
// first gets 400, the connection closes, the hidden one is never served.
func TestSmugglingNeverReachesTheHandler(t *testing.T) {
	s := startServer(t, wideLimits, time.Minute)
	for _, stream := range []string{
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2b\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		c, br := dial(t, s.addr)
		if _, err := io.WriteString(c, stream); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(stream, "GET /first") {
			if resp, body := readResponse(t, br); resp.StatusCode != 200 || body != "ok /first" {
				t.Fatalf("the good request before: %d %q", resp.StatusCode, body)
			}
		}
		resp, body := readResponse(t, br)
		if resp.StatusCode != 400 || !resp.Close {
			t.Fatalf("%q: %d close=%v %q, want 400 and close", stream, resp.StatusCode, resp.Close, body)
		}
		rest, err := io.ReadAll(br)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server did not close the connection after the refusal")
		}
		if len(rest) != 0 {
			t.Fatalf("after the refusal the server sent %q", rest)
		}
	}
	for _, p := range s.paths() {
		if p == "/smuggled" || p == "/a" {
			t.Fatalf("the handler served %s", p)
		}
	}
}

func TestLimitsAnswered(t *testing.T) {
	s := startServer(t, Limits{MaxRequestTarget: 1024, MaxHeaderBytes: 2048, HeaderTimeout: 10 * time.Second, BodyTimeout: 10 * time.Second}, time.Minute)
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"target", "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"target never ends", "GET /" + strings.Repeat("a", 4000), 414},
		{"64 KiB query", "GET /?q=" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"1 MiB of headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Big: "+strings.Repeat("a", 1000)+"\r\n", 1000) + "\r\n", 431},
		{"headers", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 3000) + "\r\n\r\n", 431},
		{"version", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
		{"fine", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, s.addr)
			_, _ = io.WriteString(c, tc.req)
			if resp, body := readResponse(t, br); resp.StatusCode != tc.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			expectClosed(t, c, br)
		})
	}
}

// TestSlowClientsAreCut: a head or body that stalls is cut by its own
// timeout, also on a kept-alive connection whose idle timeout is long.
func TestSlowClientsAreCut(t *testing.T) {
	lim := Limits{MaxRequestTarget: 1024, MaxHeaderBytes: 2048, HeaderTimeout: 200 * time.Millisecond, BodyTimeout: 200 * time.Millisecond}
	s := startServer(t, lim, time.Hour)
	t.Run("head on a kept-alive connection", func(t *testing.T) {
		c, br := dial(t, s.addr)
		_, _ = io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := readResponse(t, br); resp.StatusCode != 200 {
			t.Fatalf("first request: %d", resp.StatusCode)
		}
		_, _ = io.WriteString(c, "GET /2 HTTP/1.1\r\nHost: x\r\n") // and never the end
		expectClosed(t, c, br)
	})
	t.Run("body", func(t *testing.T) {
		c, br := dial(t, s.addr)
		_, _ = io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		expectClosed(t, c, br)
	})
	t.Run("chunked body", func(t *testing.T) {
		c, br := dial(t, s.addr)
		_, _ = io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
		expectClosed(t, c, br)
	})
}

// TestHijackedBytesPassUntouched: after an upgrade, whatever the client
// sends (here bytes that would be a malformed head) reaches the handler
// unchanged, and no head timeout cuts the stream.
func TestHijackedBytesPassUntouched(t *testing.T) {
	lim := Limits{MaxRequestTarget: 1024, MaxHeaderBytes: 2048, HeaderTimeout: 100 * time.Millisecond, BodyTimeout: 100 * time.Millisecond}
	s := startServer(t, lim, time.Hour)
	c, br := dial(t, s.addr)
	_, _ = io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	msg := "\x00\xffGET / HTTP/9\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	for i := 0; i < 3; i++ {
		_, _ = io.WriteString(c, msg[:5])
		time.Sleep(150 * time.Millisecond) // longer than the head timeout
		_, _ = io.WriteString(c, msg[5:])
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
}

// TestWithTLS: behind the guard, a handler still sees the request's TLS
// state (net/http fills it in only for a *tls.Conn, which the guard
// wraps), so X-Forwarded-Proto says https.
func TestWithTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(WithTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			w.WriteHeader(500)
			return
		}
		_, _ = io.WriteString(w, "tls")
	})))
	srv.StartTLS() // for its certificate and client
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn := tls.NewListener(ln, srv.TLS)
	hs := &http.Server{Handler: srv.Config.Handler, ConnContext: ConnContext}
	go func() { _ = hs.Serve(NewListener(tlsLn, wideLimits)) }()
	defer hs.Close()
	resp, err := srv.Client().Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "tls" {
		t.Fatalf("%d %q: the handler did not see the TLS state", resp.StatusCode, b)
	}
}

// countingListener counts the read deadlines set on its connections.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	reads int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

func (l *countingListener) count() int { l.mu.Lock(); defer l.mu.Unlock(); return l.reads }

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.l.mu.Lock()
	c.l.reads++
	c.l.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// TestDeadlinesSetLazily: on a kept-alive connection with header and idle
// timeouts, a request sets the socket's read deadline at most three times
// (before the wait for the next request, before net/http's background
// read, and to interrupt it), however often net/http and the guard change
// their minds in between; the idle timeout still closes the connection.
func TestDeadlinesSetLazily(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 300 * time.Millisecond,
	}
	go func() { _ = srv.Serve(NewListener(cl, wideLimits)) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, br := dial(t, ln.Addr().String())
	const requests = 50
	for i := 0; i < requests; i++ {
		_, _ = io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := readResponse(t, br); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if n := cl.count(); n > 3*requests+3 {
		t.Fatalf("%d read deadlines set for %d requests, want at most 3 each", n, requests)
	}
	start := time.Now()
	expectClosed(t, c, br)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the idle connection was closed after %s, want about 300ms", d)
	}
}

// TestPendingHeadBudget: heads that arrive slowly hold their bytes; once
// all of them together would pass MaxPendingHeadBytes, the next one is
// refused with 503 and its connection closed, while the others still
// complete. What a head held is given back when it completes or its
// connection closes, so the budget does not leak.
func TestPendingHeadBudget(t *testing.T) {
	lim := wideLimits
	lim.MaxPendingHeadBytes = 80 << 10
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, lim).(*listener)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ref, ok := Refused(r); ok {
			w.Header().Set("Connection", "close")
			w.WriteHeader(ref.Status)
			_, _ = io.WriteString(w, ref.Reason)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := raw.Addr().String()
	used := func() int64 { return ln.pending.used.Load() }
	waitUsed := func(what string, ok func(int64) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(used()); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d bytes of heads held", what, used())
			}
		}
	}

	partial := "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 30<<10)
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var slow []client
	for i := 1; i <= 2; i++ {
		before := used()
		c, br := dial(t, addr)
		if _, err := io.WriteString(c, partial); err != nil {
			t.Fatal(err)
		}
		// A head holds at least its length beyond the pooled buffer once
		// its buffer has grown for the last time.
		waitUsed("a slow head", func(u int64) bool { return u >= before+int64(len(partial)-pooledCap) })
		slow = append(slow, client{c, br})
	}
	if u := used(); u > lim.MaxPendingHeadBytes {
		t.Fatalf("%d bytes held, over the budget of %d", u, lim.MaxPendingHeadBytes)
	}
	c, br := dial(t, addr)
	if _, err := io.WriteString(c, partial); err != nil {
		t.Fatal(err)
	}
	if resp, body := readResponse(t, br); resp.StatusCode != 503 || !resp.Close || !strings.Contains(body, "server busy") {
		t.Fatalf("the head over the budget: %d close=%v %q, want 503 and close", resp.StatusCode, resp.Close, body)
	}
	expectClosed(t, c, br)

	// With the budget nearly used up, requests that arrive at a normal
	// pace still pass: they fit in a pooled buffer, which never holds
	// more than that (the refused head's grown buffer is not pooled).
	for i := 0; i < 20; i++ {
		c, br := dial(t, addr)
		if _, err := io.WriteString(c, "GET /quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if resp, body := readResponse(t, br); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("a quick request while slow heads hold the budget: %d %q", resp.StatusCode, body)
		}
	}

	for _, s := range slow {
		if _, err := io.WriteString(s.c, "\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if resp, body := readResponse(t, s.br); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("a slow head within the budget: %d %q", resp.StatusCode, body)
		}
	}
	waitUsed("after the heads completed", func(u int64) bool { return u == 0 })

	// Room again; and a connection that closes mid-head gives its share back.
	c, _ = dial(t, addr)
	if _, err := io.WriteString(c, partial); err != nil {
		t.Fatal(err)
	}
	waitUsed("a new slow head", func(u int64) bool { return u > 0 })
	c.Close()
	waitUsed("after the client went away", func(u int64) bool { return u == 0 })
}

// watchedConn calls before ahead of every read of a scriptConn.
type watchedConn struct {
	scriptConn
	before func()
}

func (c *watchedConn) Read(p []byte) (int, error) {
	c.before()
	return c.scriptConn.Read(p)
}

// TestGrownBufferChargedBeforeRead: when a head outgrows the pooled
// buffer, the growth is in the listener's budget before the guard waits
// for the head's next bytes, so that heads which stop arriving never hold
// memory the budget does not count.
func TestGrownBufferChargedBeforeRead(t *testing.T) {
	partial := "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 2*pooledCap)
	budget := &headBudget{limit: 1 << 20}
	var c *conn
	var grown bool
	wc := &watchedConn{scriptConn: scriptConn{data: []byte(partial), step: 1000}, before: func() {
		if c.buf == nil {
			return
		}
		growth := int64(cap(*c.buf) - pooledCap)
		grown = grown || growth > 0
		if used := budget.used.Load(); used < growth {
			t.Fatalf("a read waits with a buffer %d bytes over the pooled size and %d bytes in the budget", growth, used)
		}
	}}
	c = &conn{Conn: wc, lim: wideLimits, pending: budget}
	if _, err := c.Read(make([]byte, 4096)); err != io.EOF {
		t.Fatalf("read of a head cut short: %v", err)
	}
	if !grown {
		t.Fatal("the buffer never grew: the test does not test anything")
	}
}
