// Package httpguard checks the framing of every HTTP/1 request on a
// connection before Go's net/http reads it. net/http is lenient where
// proxies in front of raygate may read the same bytes another way: it
// reads a body framed by both Content-Length and Transfer-Encoding as
// chunked and keeps the connection open, dedupes repeated
// Content-Lengths, unfolds obs-fold lines. Any such difference lets bytes
// one hop counts as body become the next request at another (request
// smuggling).
//
// The guard wraps the public listener. Each connection passes a request
// head to net/http only once the whole head has arrived and CheckHead
// accepts it, then follows the body (by Content-Length, or chunk by chunk
// with a strict grammar) to find where the next head starts. A head it
// refuses never reaches net/http: in its place net/http reads a stand-in
// request, which the handler recognises with Refused, answers (400, 414,
// 431 or 505, in order after any earlier pipelined request) and after
// which the connection closes; nothing the client sent after it is read.
//
// The guard also bounds slow clients: a head must arrive within
// Limits.HeaderTimeout of its first byte, a body within Limits.BodyTimeout
// of its head. It holds no buffer while a connection is idle, and all
// heads still arriving on a listener together hold at most
// Limits.MaxPendingHeadBytes beyond a pooled 4 KiB each.
package httpguard

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what a request may take.
type Limits struct {
	// MaxRequestTarget bounds the request target (path and query) in
	// bytes; a longer one is refused with 414.
	MaxRequestTarget int
	// MaxHeaderBytes bounds the header section in bytes; a larger one is
	// refused with 431.
	MaxHeaderBytes int
	// HeaderTimeout bounds the time from a head's first byte to its end.
	HeaderTimeout time.Duration
	// BodyTimeout bounds the time from the end of a head to the end of
	// its body.
	BodyTimeout time.Duration
	// MaxPendingHeadBytes bounds the memory that all connections of a
	// listener together hold for request heads still arriving, beyond the
	// first 4 KiB of each (which every head fits in that arrives at a
	// normal pace). A head that would take more is refused with 503 and
	// its connection closed, so slow clients cannot pile up heads just
	// under MaxHeaderBytes until memory runs out. 0 means no bound.
	MaxPendingHeadBytes int64
}

// NewListener returns ln with every accepted connection guarded.
func NewListener(ln net.Listener, lim Limits) net.Listener {
	return &listener{Listener: ln, lim: lim, pending: &headBudget{limit: lim.MaxPendingHeadBytes}}
}

type listener struct {
	net.Listener
	lim     Limits
	pending *headBudget
}

// Accept waits for and returns the next connection, guarded.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, lim: l.lim, pending: l.pending}, nil
}

// headBudget counts the bytes of head buffers, beyond pooledCap each,
// that a listener's connections hold.
type headBudget struct {
	limit int64 // 0: no bound
	used  atomic.Int64
}

// take reserves n bytes, unless that would pass the limit.
func (b *headBudget) take(n int64) bool {
	if b.used.Add(n) > b.limit && b.limit > 0 {
		b.used.Add(-n)
		return false
	}
	return true
}

type connState uint8

const (
	stateHead    connState = iota // reading a request head
	stateBody                     // reading a Content-Length body
	stateChunked                  // reading a chunked body
	stateOpaque                   // hijacked (WebSocket): bytes pass untouched
	stateRefused                  // a stand-in was handed over: read nothing more
	stateBroken                   // a body broke its framing
)

// conn is one guarded connection. Read is called by one goroutine at a
// time (net/http's reader, or the hijacker); deadlines may be set from
// others.
type conn struct {
	net.Conn
	lim Limits

	state  connState
	buf    *[]byte // pooled; holds out then in
	out    []byte  // checked bytes for net/http
	in     []byte  // bytes read but not yet checked
	head   headScanner
	begun  bool  // the head being read has its first byte
	remain int64 // bytes left in a Content-Length body
	chunk  chunkScanner

	// refused is set with state stateRefused, for Close.
	refused atomic.Bool

	mu          sync.Mutex
	httpTimeout time.Time // the read deadline net/http asked for
	phase       time.Time // the head or body deadline, zero if none
	opaque      bool      // set by Hijacked
	// armed is the read deadline set on the socket. A deadline asked for
	// while no read is under way is only recorded, and set just before
	// the next read blocks: net/http and the phases change the deadline
	// several times per request, mostly between reads, and each change of
	// a socket's deadline re-arms a runtime timer.
	armed   time.Time
	reading bool // a read of the socket is under way

	pending *headBudget
	charged atomic.Int64 // bytes of pending taken for buf
	closed  atomic.Bool  // Close has run
}

// pooledCap is the capacity of a pooled buffer: a head that fits in it
// takes nothing from Limits.MaxPendingHeadBytes.
const pooledCap = 4096

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, pooledCap); return &b }}

// Read hands net/http checked bytes only.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			c.release()
			return n, nil
		}
		c.mu.Lock()
		if c.opaque && c.state != stateRefused {
			c.state = stateOpaque
		}
		c.mu.Unlock()
		switch c.state {
		case stateOpaque:
			if len(c.in) > 0 {
				n := copy(p, c.in)
				c.in = c.in[n:]
				c.release()
				return n, nil
			}
			return c.readSocket(p)
		case stateRefused:
			return c.discard(p)
		case stateBroken:
			return 0, errChunked
		case stateBody:
			return c.readBody(p)
		case stateChunked:
			return c.readChunked(p)
		default:
			if err := c.readHead(p); err != nil {
				return 0, err
			}
		}
	}
}

// readHead gathers the next head, reading with p (see readMore), and
// either queues it for net/http or queues a stand-in. It returns only
// when out holds bytes, or with an error.
func (c *conn) readHead(p []byte) error {
	for {
		if len(c.in) > 0 {
			if !c.begun {
				c.begun = true
				c.startPhase(c.lim.HeaderTimeout)
			}
			end, ref := c.head.scan(c.in, c.lim)
			if ref != nil {
				c.refuse(ref.describe(c.in))
				return nil
			}
			if end > 0 {
				c.accept(end)
				return nil
			}
		}
		n, err := c.readMore(p)
		if errors.Is(err, errBusy) || n > 0 && !c.charge(false) {
			c.refuse(refuse(http.StatusServiceUnavailable, "server busy: too many request heads arriving at once").describe(c.in))
			return nil
		}
		if err != nil && (n == 0 || !c.head.complete(c.in, c.lim)) {
			return err
		}
	}
}

// charge takes from the listener's budget what the held buffer has grown
// by beyond pooledCap. It reports false when the budget has no room;
// force takes it all the same (a few bytes of the next head, held while a
// chunked body ends). It runs on the reading goroutine; Close may run on
// another, and gives back whatever was taken before or after it.
func (c *conn) charge(force bool) bool {
	if c.pending == nil || c.buf == nil {
		return true
	}
	delta := max(int64(cap(*c.buf))-pooledCap, 0) - c.charged.Load()
	if delta <= 0 {
		return true
	}
	if !c.pending.take(delta) {
		if !force {
			return false
		}
		c.pending.used.Add(delta)
	}
	c.charged.Add(delta)
	if c.closed.Load() {
		c.uncharge()
	}
	return true
}

// uncharge gives back what the connection's buffer took from the budget.
func (c *conn) uncharge() {
	if c.charged.Load() != 0 {
		c.pending.used.Add(-c.charged.Swap(0))
	}
}

// accept checks the complete head of end bytes at the start of in and
// queues it, or a stand-in.
func (c *conn) accept(end int) {
	head := c.in[:end]
	f, ref := CheckHead(head, c.lim)
	if ref != nil {
		c.refuse(ref.describe(head))
		return
	}
	c.out, c.in = head, c.in[end:]
	c.head, c.begun = headScanner{}, false
	switch {
	case f.Chunked:
		c.state, c.chunk = stateChunked, chunkScanner{}
		c.startPhase(c.lim.BodyTimeout)
	case f.Length > 0:
		c.state, c.remain = stateBody, f.Length
		c.startPhase(c.lim.BodyTimeout)
	default:
		c.endPhase()
	}
}

// refuse drops everything read and queues the stand-in for ref.
func (c *conn) refuse(ref *Refusal) {
	c.state = stateRefused
	c.refused.Store(true)
	c.in = nil
	c.uncharge() // the connection closes after the stand-in
	c.out = ref.standIn()
	c.endPhase()
}

// discard reads and drops what the client sends after a refused head,
// until net/http closes the connection or stops the read.
func (c *conn) discard(p []byte) (int, error) {
	for {
		if _, err := c.readSocket(p); err != nil {
			return 0, err
		}
	}
}

// Lingering bounds how long, and how much, a refused connection is read
// after its answer before it closes.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// Close closes the connection. After a refusal it first stops writing and
// reads (and drops) what the client is still sending, for a moment:
// closing a socket with unread input makes the kernel reset the
// connection, and the client could lose the answer that says why.
func (c *conn) Close() error {
	c.closed.Store(true)
	c.uncharge()
	if c.refused.Load() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		}
	}
	return c.Conn.Close()
}

func (c *conn) readBody(p []byte) (int, error) {
	if int64(len(p)) > c.remain {
		p = p[:c.remain]
	}
	var n int
	var err error
	if len(c.in) > 0 {
		n = copy(p, c.in)
		c.in = c.in[n:]
		c.release()
	} else {
		n, err = c.readSocket(p)
	}
	c.remain -= int64(n)
	if c.remain == 0 {
		c.state = stateHead
		c.endPhase()
	}
	return n, err
}

func (c *conn) readChunked(p []byte) (int, error) {
	var n int
	var err error
	fromIn := len(c.in) > 0
	if fromIn {
		n = copy(p, c.in)
	} else if n, err = c.readSocket(p); n == 0 {
		return 0, err
	}
	k, done, serr := c.chunk.scan(p[:n])
	if serr != nil {
		c.state, c.in = stateBroken, nil
		c.endPhase()
		return 0, serr
	}
	if fromIn {
		c.in = c.in[k:]
		c.release()
	} else if k < n {
		c.hold(p[k:n]) // the next request's first bytes
		c.charge(true)
	}
	if done {
		c.state = stateHead
		c.endPhase()
	}
	return k, err
}

// minRead is the least room readMore reads into.
const minRead = 512

// errBusy is readMore's answer when the listener's head budget has no
// room for the buffer to grow.
var errBusy = errors.New("httpguard: too many request heads arriving at once")

// readMore reads what the socket has onto the end of in and returns how
// many bytes it read. A read into an empty in, with p of minRead bytes or
// more (net/http's buffer), goes to p, so that no buffer is held while
// the socket is quiet. Any other goes straight into the held buffer's
// spare room: net/http's background read asks for one byte, and a head
// read a byte at a time would cost a system call per byte. A buffer
// grown for the read is charged to the head budget before the read
// blocks (errBusy when there is no room). It is only called when out is
// empty.
func (c *conn) readMore(p []byte) (int, error) {
	if len(c.in) == 0 && len(p) >= minRead {
		n, err := c.readSocket(p)
		if n > 0 {
			c.hold(p[:n])
		}
		return n, err
	}
	if c.buf == nil {
		c.buf = bufPool.Get().(*[]byte)
	}
	buf := append((*c.buf)[:0], c.in...)
	if cap(buf)-len(buf) < minRead {
		buf = slices.Grow(buf, minRead)
	}
	c.in, *c.buf = buf, buf[:0]
	if !c.charge(false) {
		return 0, errBusy // before the read: a grown buffer must not wait uncounted
	}
	n, err := c.readSocket(buf[len(buf):cap(buf)])
	c.in = buf[:len(buf)+n]
	*c.buf = buf[:0]
	c.release()
	return n, err
}

// hold appends b to in, taking a pooled buffer if need be. It is only
// called when out is empty, so what in holds moves to the buffer's front.
func (c *conn) hold(b []byte) {
	if c.buf == nil {
		c.buf = bufPool.Get().(*[]byte)
	}
	buf := append((*c.buf)[:0], c.in...)
	buf = append(buf, b...)
	c.in = buf
	*c.buf = buf[:0]
}

// release returns the buffer to the pool once nothing is held.
func (c *conn) release() {
	if c.buf == nil || len(c.in) > 0 || len(c.out) > 0 {
		return
	}
	if cap(*c.buf) == pooledCap {
		// A buffer that grew goes to the collector: pooled, it would
		// hold its size for a small head, beyond the budget's count.
		bufPool.Put(c.buf)
	}
	c.buf, c.in, c.out = nil, nil, nil
	c.uncharge()
}

// complete reports whether in holds a whole head already, so a read error
// that came with its last bytes is reported after it is handed over.
func (s *headScanner) complete(in []byte, lim Limits) bool {
	probe := *s
	end, ref := probe.scan(in, lim)
	return end > 0 || ref != nil
}

// SetDeadline sets the write deadline and, through SetReadDeadline, the
// read deadline.
func (c *conn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// SetReadDeadline records net/http's read deadline; the connection reads
// with the earlier of it and the head or body deadline in force.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.httpTimeout = t
	return c.applyLocked()
}

func (c *conn) startPhase(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.opaque {
		c.phase = time.Now().Add(d)
	}
	_ = c.applyLocked()
}

func (c *conn) endPhase() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase.IsZero() {
		return
	}
	c.phase = time.Time{}
	_ = c.applyLocked()
}

// applyLocked puts the deadline in force on the socket at once when a
// read is under way (net/http interrupts its background read that way);
// otherwise readSocket sets it before the next read.
func (c *conn) applyLocked() error {
	if !c.reading {
		return nil
	}
	return c.armLocked()
}

// armLocked sets the socket's read deadline to the earlier of net/http's
// and the phase's, unless it is set already.
func (c *conn) armLocked() error {
	d := c.httpTimeout
	if !c.phase.IsZero() && (d.IsZero() || c.phase.Before(d)) {
		d = c.phase
	}
	if d.Equal(c.armed) {
		return nil
	}
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return err
	}
	c.armed = d
	return nil
}

// readSocket reads from the connection with the deadline in force.
func (c *conn) readSocket(p []byte) (int, error) {
	c.mu.Lock()
	err := c.armLocked()
	c.reading = err == nil
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.reading = false
	c.mu.Unlock()
	return n, err
}

// Hijacked tells the guard that c was hijacked (a WebSocket upgrade was
// accepted): from now on its bytes pass untouched and no head or body
// deadline applies. It does nothing for connections the guard did not
// wrap.
func Hijacked(c net.Conn) {
	g, ok := c.(*conn)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.opaque = true
	g.phase = time.Time{}
	_ = g.applyLocked()
}

type connKey struct{}

// ConnContext is an http.Server ConnContext that lets WithTLS find a
// request's connection.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// WithTLS returns h with r.TLS set for requests over guarded TLS
// connections: net/http only fills it in for a *tls.Conn, which the guard
// wraps. The server must use ConnContext.
func WithTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if g, ok := r.Context().Value(connKey{}).(*conn); ok {
				if tc, ok := g.Conn.(*tls.Conn); ok {
					cs := tc.ConnectionState()
					r.TLS = &cs
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}
