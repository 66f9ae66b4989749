// Package upgrade keeps track of connections an HTTP server handed over to
// a handler (WebSocket upgrades, such as a job's log tail), which
// http.Server.Shutdown neither waits for nor closes. On Shutdown each
// WebSocket gets a close frame (1001, going away) at the next frame
// boundary, so clients see a clean end of stream rather than a cut
// connection; what is still open when the deadline passes is closed.
package upgrade

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// CloseGoingAway is the WebSocket status code sent on shutdown.
const CloseGoingAway = 1001

// closeGrace is how long a WebSocket that was sent a close frame may take
// to close before it is closed for it.
const closeGrace = 5 * time.Second

// Tracker follows the upgraded connections of one server. The zero value
// is ready to use.
type Tracker struct {
	mu       sync.Mutex
	conns    map[*Conn]struct{}
	closing  bool
	drained  chan struct{} // closed when closing and no conn is left
	goneOnce sync.Once
}

// Track registers c, taken over by a handler with http.Hijacker, and
// returns the connection the handler must use instead (with rw's writer
// going through it). websocket says the upgrade is to the WebSocket
// protocol; other protocols are only closed, never sent a close frame.
func (t *Tracker) Track(c net.Conn, rw *bufio.ReadWriter, websocket bool) (*Conn, *bufio.ReadWriter) {
	tc := &Conn{Conn: c, t: t, websocket: websocket}
	t.mu.Lock()
	if t.conns == nil {
		t.conns = map[*Conn]struct{}{}
	}
	t.conns[tc] = struct{}{}
	closing := t.closing
	t.mu.Unlock()
	if closing {
		tc.closing.Store(true) // sent once the 101 response is out
	}
	if rw != nil {
		// The handler writes the 101 response through rw: route it
		// through tc as well, so tc sees the whole stream.
		rw = bufio.NewReadWriter(rw.Reader, bufio.NewWriter(tc))
	}
	return tc, rw
}

// Len returns the number of upgraded connections open now.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

func (t *Tracker) remove(c *Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	if t.closing && len(t.conns) == 0 {
		t.goneOnce.Do(func() { close(t.drained) })
	}
	t.mu.Unlock()
}

// Shutdown sends every WebSocket a close frame and waits until all tracked
// connections are closed, or ctx ends; then it closes what is left and
// returns ctx's error. Connections tracked afterwards are sent a close
// frame at once.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	if !t.closing {
		t.closing = true
		t.drained = make(chan struct{})
		if len(t.conns) == 0 {
			t.goneOnce.Do(func() { close(t.drained) })
		}
	}
	conns := make([]*Conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	drained := t.drained
	t.mu.Unlock()
	for _, c := range conns {
		go c.goAway() // a close frame may wait for a slow client
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	conns = conns[:0]
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return ctx.Err()
}

// Conn is a tracked upgraded connection.
type Conn struct {
	net.Conn
	t         *Tracker
	websocket bool

	closing atomic.Bool // a close frame is due at the next frame boundary
	closed  atomic.Bool
	mu      sync.Mutex // serializes writes with the close frame
	frames  frames
	sent    bool // the close frame was sent
	once    sync.Once
}

// Write passes p on, following the WebSocket framing. Once the close frame
// is sent, what the upstream still sends is dropped: the stream is over
// for the client, and the connection closes when both sides agree or
// closeGrace has passed.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.sent {
		c.mu.Unlock()
		if c.closed.Load() {
			return 0, net.ErrClosed
		}
		return len(p), nil
	}
	n, err := c.Conn.Write(p)
	if c.websocket {
		c.frames.feed(p[:n])
	}
	c.mu.Unlock()
	if c.closing.Load() {
		c.trySendClose()
	}
	return n, err
}

// CloseWrite half-closes the connection when the underlying one can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("upgrade: connection cannot half-close")
}

// Close closes the connection and forgets it.
func (c *Conn) Close() error {
	c.closed.Store(true)
	err := c.Conn.Close()
	c.once.Do(func() { c.t.remove(c) })
	return err
}

// goAway asks for a close frame at the next frame boundary: now, if the
// stream is between frames and no write is under way, else after the
// write that ends a frame.
func (c *Conn) goAway() {
	c.closing.Store(true)
	c.trySendClose()
}

// trySendClose sends the close frame unless a write holds the stream (that
// write tries again when it is done).
func (c *Conn) trySendClose() {
	if !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	if c.sent || !c.websocket || !c.frames.between() {
		return
	}
	c.sent = true
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeGrace))
	_, _ = c.Conn.Write(closeFrame(CloseGoingAway, "raygate is shutting down"))
	time.AfterFunc(closeGrace, func() { _ = c.Close() })
}
