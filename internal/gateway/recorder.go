package gateway

import (
	"bufio"
	"net"
	"net/http"

	"github.com/raygate/raygate/internal/httpguard"
	"github.com/raygate/raygate/internal/upgrade"
)

// recorder remembers the status of the response it wraps, for the audit
// log. It passes flushing and hijacking (WebSocket upgrades) through.
type recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
	// upgrades, when set, tracks a hijacked connection (websocket: it
	// speaks WebSocket framing).
	upgrades  *upgrade.Tracker
	websocket bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 || (r.status >= 100 && r.status < 200) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// SetStatus records a status that is not sent (a caller that went away).
func (r *recorder) SetStatus(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// Flush implements http.Flusher.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker; a hijacked connection is a switched
// protocol (101), whose bytes the connection guard no longer frames.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		httpguard.Hijacked(c)
		if r.upgrades != nil {
			c, rw = r.upgrades.Track(c, rw, r.websocket)
		}
		r.hijacked = true
		if r.status == 0 {
			r.status = http.StatusSwitchingProtocols
		}
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
