package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// upgraded tracks the server end and writes a 101 response through the
// returned writer, as httputil.ReverseProxy does.
func upgraded(t *testing.T, tr *Tracker, websocket bool) (*Conn, net.Conn) {
	t.Helper()
	server, client := pair(t)
	tc, rw := tr.Track(server, bufio.NewReadWriter(bufio.NewReader(server), bufio.NewWriter(server)), websocket)
	if _, err := rw.WriteString(head); err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	return tc, client
}

// serveUntilClosed stands in for the proxy's copy loop: it reads what the
// client sends until the client closes, then closes the connection.
func serveUntilClosed(c *Conn) {
	go func() {
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	}()
}

// readAll reads what the client receives until the connection ends.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection not closed: %v", err)
		}
	}
	return b
}

func shutdown(tr *Tracker, d time.Duration) chan error {
	out := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		out <- tr.Shutdown(ctx)
	}()
	return out
}

func TestShutdownSendsCloseFrame(t *testing.T) {
	tr := &Tracker{}
	tc, client := upgraded(t, tr, true)
	serveUntilClosed(tc)
	if _, err := tc.Write(frame(1, []byte("log line"), false)); err != nil {
		t.Fatal(err)
	}
	done := shutdown(tr, 10*time.Second)
	// The client reads the close frame, answers with its own and closes,
	// as a WebSocket client does.
	br := bufio.NewReader(client)
	want := append(append([]byte(head), frame(1, []byte("log line"), false)...), closeFrame(CloseGoingAway, "raygate is shutting down")...)
	got := make([]byte, len(want))
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("client read %q (%v), want %q", got, err, want)
	}
	_, _ = client.Write(frame(8, []byte{0x03, 0xe9}, true))
	client.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v, want every connection closed in time", err)
	}
	if n := tr.Len(); n != 0 {
		t.Fatalf("%d connections still tracked", n)
	}
}

func TestShutdownWaitsForFrameBoundary(t *testing.T) {
	tr := &Tracker{}
	tc, client := upgraded(t, tr, true)
	serveUntilClosed(tc)
	f := frame(2, bytes.Repeat([]byte("z"), 1000), false)
	if _, err := tc.Write(f[:500]); err != nil {
		t.Fatal(err)
	}
	done := shutdown(tr, 10*time.Second)
	time.Sleep(50 * time.Millisecond) // Shutdown has asked for a close frame
	if _, err := tc.Write(f[500:]); err != nil {
		t.Fatal(err)
	}
	// What the upstream sends after the close frame is dropped.
	if n, err := tc.Write(frame(1, []byte("late"), false)); err != nil || n == 0 {
		t.Fatalf("write after close frame: %d %v", n, err)
	}
	client.(*net.TCPConn).CloseWrite()
	got := readAll(t, client)
	want := append(append([]byte(head), f...), closeFrame(CloseGoingAway, "raygate is shutting down")...)
	if !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, want the whole frame then the close frame (%d bytes)", len(got), len(want))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestShutdownDeadlineClosesTheRest(t *testing.T) {
	tr := &Tracker{}
	tc, client := upgraded(t, tr, false) // not a WebSocket: no close frame
	serveUntilClosed(tc)
	if err := <-shutdown(tr, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if got := readAll(t, client); string(got) != head {
		t.Fatalf("client read %q", got)
	}
	if n := tr.Len(); n != 0 {
		t.Fatalf("%d connections still tracked", n)
	}
}

func TestTrackedDuringShutdown(t *testing.T) {
	tr := &Tracker{}
	if err := <-shutdown(tr, time.Second); err != nil {
		t.Fatalf("Shutdown with nothing tracked: %v", err)
	}
	tc, client := upgraded(t, tr, true)
	serveUntilClosed(tc)
	client.(*net.TCPConn).CloseWrite()
	want := append([]byte(head), closeFrame(CloseGoingAway, "raygate is shutting down")...)
	if got := readAll(t, client); !bytes.Equal(got, want) {
		t.Fatalf("client read %q, want the 101 then a close frame", got)
	}
}

func TestCloseWrite(t *testing.T) {
	tr := &Tracker{}
	tc, client := upgraded(t, tr, true)
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, client); string(got) != head {
		t.Fatalf("client read %q", got)
	}
	tc.Close()
	a, _ := net.Pipe()
	if err := (&Conn{Conn: a, t: tr}).CloseWrite(); err == nil {
		t.Fatal("CloseWrite on a conn that cannot half-close succeeded")
	}
}
