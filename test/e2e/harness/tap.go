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
// changes nothing; it only lets a test see what Ray was sent.
type Tap struct {
	URL string

	srv  *http.Server
	mu   sync.Mutex
	seen []http.Header
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
		t.mu.Unlock()
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

// Close stops the tap.
func (t *Tap) Close() { _ = t.srv.Close() }
