package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(ents)
}

// connBudget returns how many connections the test may open: want, or
// fewer when the file descriptor limit (raised to its hard limit) would
// not hold perFD descriptors for each.
func connBudget(t *testing.T, want, perConn int) int {
	t.Helper()
	if raceEnabled {
		want /= 4 // the race detector caps goroutines and slows everything
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return want
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if room := (int(lim.Cur) - 256) / perConn; room < want {
		if room < 100 {
			t.Skipf("file descriptor limit %d is too low", lim.Cur)
		}
		return room
	}
	return want
}

// usage is what the process holds at one moment.
type usage struct {
	goroutines, fds int
	mem             uint64 // heap and stacks in use
}

func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{runtime.NumGoroutine(), openFDs(t), ms.HeapInuse + ms.StackInuse}
}

// settle waits until the process is back to at most limit goroutines.
func settle(t *testing.T, limit int) usage {
	t.Helper()
	for i := 0; ; i++ {
		u := measure(t)
		if u.goroutines <= limit {
			return u
		}
		if i == 300 {
			t.Fatalf("%d goroutines remain, want at most %d", u.goroutines, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestManyIdleConnections holds thousands of kept-alive connections
// open at once: each costs one goroutine, one descriptor and a few
// kilobytes (the guard holds no buffer for an idle connection), and the
// idle timeout closes them all.
func TestManyIdleConnections(t *testing.T) {
	n := connBudget(t, 2000, 2)
	up := newUpstream(t)
	g := runGateway(t, up, "server: {idleTimeout: 2s}\n")
	before := measure(t)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(c, "GET /readyz HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d: %v %v", i, resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	held := measure(t)
	perConn := func(a, b int) float64 { return float64(b-a) / float64(n) }
	t.Logf("%d idle connections: %.2f goroutines, %.2f descriptors (both ends) and %.1f KiB each",
		n, perConn(before.goroutines, held.goroutines), perConn(before.fds, held.fds), float64(held.mem-before.mem)/float64(n)/1024)
	if extra := held.goroutines - before.goroutines; extra > n+50 {
		t.Errorf("%d goroutines for %d idle connections, want at most one each", extra, n)
	}
	if extra := held.fds - before.fds; extra > 2*n+50 {
		t.Errorf("%d descriptors for %d connections (both ends), want at most two each", extra, n)
	}
	if per := float64(held.mem-before.mem) / float64(n); per > 32<<10 {
		t.Errorf("%.0f bytes per idle connection, want at most 32 KiB", per)
	}

	// The idle timeout closes every one of them.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("connection %d sent data instead of closing", i)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection %d was not closed by the idle timeout", i)
		}
	}
	settle(t, before.goroutines+20)
}

// TestManyWebSockets holds hundreds of log-tail WebSockets through the
// gateway: each costs a bounded number of goroutines and descriptors, and
// everything is released when the clients hang up.
func TestManyWebSockets(t *testing.T) {
	n := connBudget(t, 500, 4)
	up := newUpstream(t)
	g := runGateway(t, up, "server: {idleTimeout: 2s, readHeaderTimeout: 1s, bodyTimeout: 1s}\n")
	before := measure(t)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		_, _ = io.WriteString(c, "GET /clusters/team-a/ray1/api/jobs/raysubmit_x/logs/tail HTTP/1.1\r\nHost: gw\r\n"+auth+
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("websocket %d: %v %v", i, resp, err)
		}
	}
	// Longer than every head, body and idle timeout: open WebSockets are
	// not cut by them.
	time.Sleep(3 * time.Second)
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("websocket %d: unexpected data", i)
		} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("websocket %d was closed: %v", i, err)
		}
	}
	held := measure(t)
	t.Logf("%d websockets: %.2f goroutines, %.2f descriptors (client, gateway both ways, upstream) and %.1f KiB each",
		n, float64(held.goroutines-before.goroutines)/float64(n), float64(held.fds-before.fds)/float64(n), float64(held.mem-before.mem)/float64(n)/1024)
	if extra := held.goroutines - before.goroutines; extra > 6*n+50 {
		t.Errorf("%d goroutines for %d websockets (gateway and stand-in cluster), want at most 6 each", extra, n)
	}
	if extra := held.fds - before.fds; extra > 4*n+50 {
		t.Errorf("%d descriptors for %d websockets, want at most 4 each", extra, n)
	}
	// Most of it is the two 32 KiB copy buffers of httputil.ReverseProxy's
	// upgrade path and the stand-in cluster's own connection.
	if per := float64(held.mem-before.mem) / float64(n); per > 192<<10 {
		t.Errorf("%.0f bytes per websocket, want at most 192 KiB", per)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	after := settle(t, before.goroutines+20)
	if after.fds > before.fds+20 {
		t.Errorf("%d descriptors still open after the clients hung up (%d before)", after.fds, before.fds)
	}
}
