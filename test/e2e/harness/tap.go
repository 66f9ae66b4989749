package harness

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

// Tap is a transparent reverse proxy placed between the gateway and a real
// Ray head, recording the headers of every request that reaches Ray. It
// changes nothing; it only lets a test see what Ray was sent, and hold
// chosen requests back for a while (to line up a race).
type Tap struct {
	URL string

	srv   *http.Server
	mu    sync.Mutex
	seen  []http.Header
	holds []*hold
}

// hold keeps requests that match back until released.
type hold struct {
	match    func(*http.Request) bool
	released chan struct{}
	once     sync.Once
}

// StartTap starts a tap forwarding to upstream.
func StartTap(upstream string) (*Tap, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Tap{URL: "http://" + ln.Addr().String()}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	t.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		t.seen = append(t.seen, r.Header.Clone())
		var held []*hold
		for _, h := range t.holds {
			if h.match(r) {
				held = append(held, h)
			}
		}
		t.mu.Unlock()
		for _, h := range held {
			select {
			case <-h.released:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

// Seen returns the headers of every request so far.
func (t *Tap) Seen() []http.Header {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]http.Header(nil), t.seen...)
}

// Hold keeps every later request that match accepts from reaching Ray
// until release is called (release may be called more than once).
func (t *Tap) Hold(match func(*http.Request) bool) (release func()) {
	h := &hold{match: match, released: make(chan struct{})}
	t.mu.Lock()
	t.holds = append(t.holds, h)
	t.mu.Unlock()
	return func() {
		h.once.Do(func() { close(h.released) })
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, x := range t.holds {
			if x == h {
				t.holds = append(t.holds[:i], t.holds[i+1:]...)
				break
			}
		}
	}
}

// Close stops the tap.
func (t *Tap) Close() { _ = t.srv.Close() }
