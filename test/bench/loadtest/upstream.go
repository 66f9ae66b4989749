package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// versionBody is what the upstream answers to the measured GET, like a
// Ray head's /api/version.
const versionBody = `{"version":"4","ray_version":"2.60.0","ray_commit":"0000000000000000000000000000000000000000"}`

// serveUpstream answers like a Ray head: GET /api/version, a package
// upload sink (PUT /api/packages/..., answering with the bytes it read;
// a GET of a package finds none, as raygate asks before an upload) and a
// job log stream of stream bytes (GET /api/jobs/{id}/logs).
func serveUpstream(addr string, stream int64) error {
	chunk := []byte(strings.Repeat("raygate benchmark log line 0123456789\n", 1024))
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/packages/"):
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"bytes":%d}`, n)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/packages/"):
			http.NotFound(w, r)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/logs"):
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.FormatInt(stream, 10))
			for left := stream; left > 0; {
				b := chunk
				if int64(len(b)) > left {
					b = b[:left]
				}
				n, err := w.Write(b)
				if err != nil {
					return
				}
				left -= int64(n)
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, versionBody)
		}
	}))
}

// serveBare is the floor: a reverse proxy with a transport tuned like
// raygate's (the same dial and header timeouts, keep-alive and idle pool),
// and nothing else.
func serveBare(addr, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
	return http.ListenAndServe(addr, rp)
}
