package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/route"
)

// upstreamLog records what reached one fake Ray head.
type upstreamLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (u *upstreamLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, r.Clone(r.Context()))
	u.mu.Unlock()
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/jobs/") {
		// Every job is the caller's, so stop and delete reach the head too.
		_, _ = io.WriteString(w, `{"metadata":{"raygate.owner":"root"}}`)
		return
	}
	_, _ = io.WriteString(w, `{}`)
}

func (u *upstreamLog) take() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.reqs
	u.reqs = nil
	return out
}

// routingGateway is a gateway in front of two recording heads, team-a/ray1
// and team-b/ray1, with an API key ("key-root") that is admin on both, so
// that only the path decides where a request goes.
func routingGateway(tb testing.TB) (*Gateway, map[string]*upstreamLog, *syncBuffer) {
	tb.Helper()
	heads := map[string]*upstreamLog{"team-a/ray1": {}, "team-b/ray1": {}}
	var clusters strings.Builder
	for _, key := range []string{"team-a/ray1", "team-b/ray1"} {
		srv := httptest.NewServer(heads[key])
		tb.Cleanup(srv.Close)
		ns, name, _ := strings.Cut(key, "/")
		fmt.Fprintf(&clusters, "  - {namespace: %s, name: %s, upstream: %q, access: [{role: admin, users: [root]}]}\n", ns, name, srv.URL)
	}
	yaml := "authentication:\n  apiKeys:\n    - {name: root, sha256: " + keyHash("key-root") + ", user: root}\nclusters:\n" + clusters.String()
	cfg, err := config.Parse(tb.TempDir()+"/raygate.yaml", []byte(yaml))
	if err != nil {
		tb.Fatal(err)
	}
	sink := &syncBuffer{}
	g := New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(sink))
	st, err := g.Build(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	g.Swap(st, 0)
	return g, heads, sink
}

// FuzzRouting sends fuzzed request lines through the whole pipeline, as
// the HTTP server parses them, and checks that a request reaches at most
// one cluster: the one its path names, with the path's decoded remainder
// and no dot segment, empty segment or backslash in what Ray sees, and
// with an audit line naming that cluster.
func FuzzRouting(f *testing.F) {
	for _, s := range [][2]string{
		{"GET", "/clusters/team-a/ray1/api/version"},
		{"GET", "/clusters/team-b/ray1/api/jobs/raysubmit_1/logs"},
		{"POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/stop"},
		{"DELETE", "/clusters/team-b/ray1/api/jobs/x"},
		{"GET", "/clusters/team-a/ray1/../../team-b/ray1/api/version"},
		{"GET", "/clusters/team-a/ray1/%2e%2e/%2e%2e/team-b/ray1/"},
		{"GET", "/clusters/team-a/ray1/..;/..;/team-b/ray1/"},
		{"GET", "/clusters/team-a%2Fray1/api/version"},
		{"GET", "/clusters/team-a/ray1//api/version"},
		{"GET", "http://gateway/clusters/team-b/ray1/api/version"},
		{"GET", "//clusters/team-a/ray1/api/version"},
		{"GET", "/clusters/team-a/ray1/static/%252e%252e/x.js"},
		{"GET", "/clusters/team-a/ray1/api/jobs/a%23b"},
		{"GET", "/clusters/team-a/ray1?x=/clusters/team-b/ray1/"},
		{"GET", "/clusters/team-a/ray1/api/jobs/%c0%ae%c0%ae/"},
		{"OPTIONS", "*"},
	} {
		f.Add(s[0], s[1])
	}
	g, heads, sink := routingGateway(f)
	f.Fuzz(func(t *testing.T, method, target string) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer key-root\r\nContent-Length: 0\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // the server answers 400 before the gateway runs
		}
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		evs := sink.events(t)
		sink.mu.Lock()
		sink.b.Reset()
		sink.mu.Unlock()
		if len(evs) != 1 {
			t.Fatalf("%s %q: %d audit lines, want 1", method, target, len(evs))
		}
		ev := evs[0]
		reached := ""
		for key, h := range heads {
			got := h.take()
			if len(got) == 0 {
				continue
			}
			if reached != "" {
				t.Fatalf("%s %q reached both %s and %s", method, target, reached, key)
			}
			reached = key
			tgt, ok := route.Split(req.URL.EscapedPath())
			if !ok || tgt.Key() != key {
				t.Fatalf("%s %q (path %q) reached %s, not the cluster its path names", method, target, req.URL.EscapedPath(), key)
			}
			fwd := got[len(got)-1]
			if fwd.URL.Path != tgt.Rest {
				t.Fatalf("%s %q reached %s as %q, want %q", method, target, key, fwd.URL.Path, tgt.Rest)
			}
			for _, seg := range strings.Split(fwd.URL.Path, "/") {
				if seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
					t.Fatalf("%s %q reached %s with segment %q in %q", method, target, key, seg, fwd.URL.Path)
				}
			}
			if strings.Contains(fwd.URL.Path, "//") {
				t.Fatalf("%s %q reached %s with an empty segment: %q", method, target, key, fwd.URL.Path)
			}
			if ev.Cluster != key || ev.Decision != audit.Allow {
				t.Fatalf("%s %q reached %s but the audit line says %+v", method, target, key, ev)
			}
		}
		if reached == "" && ev.Decision == audit.Allow && rec.Code != http.StatusPermanentRedirect && !strings.HasPrefix(ev.Action, "gateway.") && ev.Action != "" {
			t.Fatalf("%s %q allowed (%+v) but reached no cluster", method, target, ev)
		}
		if rec.Code >= 400 {
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Fatalf("%s %q: status %d without a JSON error: %q", method, target, rec.Code, rec.Body.String())
			}
		}
	})
}
