package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/proxy"
	"github.com/raygate/raygate/internal/route"
)

// upstreamLog records what reached one fake Ray head: the requests the
// gateway forwarded for a caller (they carry the caller's identity) apart
// from its own job lookups (they do not).
type upstreamLog struct {
	mu      sync.Mutex
	reqs    []*http.Request
	lookups []*http.Request
}

func (u *upstreamLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	lookup := r.Header.Get(proxy.HeaderUser) == ""
	u.mu.Lock()
	if lookup {
		u.lookups = append(u.lookups, r.Clone(r.Context()))
	} else {
		u.reqs = append(u.reqs, r.Clone(r.Context()))
	}
	u.mu.Unlock()
	if lookup {
		// Every job is the caller's, under the id asked for, so stop and
		// delete reach the head too.
		id, _ := json.Marshal(path.Base(r.URL.Path))
		_, _ = fmt.Fprintf(w, `{"submission_id":%s,"metadata":{"raygate.owner":"root"}}`, id)
		return
	}
	_, _ = io.WriteString(w, `{}`)
}

func (u *upstreamLog) take() (reqs, lookups []*http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	reqs, lookups = u.reqs, u.lookups
	u.reqs, u.lookups = nil, nil
	return reqs, lookups
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
// one cluster: the one its path names, with the path's decoded remainder,
// valid UTF-8 without control characters and with no dot segment, empty
// segment or backslash in what Ray sees, and with an audit line naming
// that cluster. The gateway's own job lookups go only to that cluster, as
// GET /api/jobs/{id}.
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
		{"GET", "/clusters/team-a/ray1/api/jobs/%ff"},
		{"GET", "/clusters/team-a/ray1/api/jobs/%ed%a0%80/logs"},
		{"GET", "/clusters/team-a/ray1/api/%C2%85/version"},
		{"GET", "/clusters/team-a/ray1/api/\xc2\x9b/version"},
		{"GET", "/clusters/team-a/ray1/api/%e2%80%8f/version"},
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
		// Start clean, also after an input that failed.
		for _, h := range heads {
			h.take()
		}
		sink.mu.Lock()
		sink.b.Reset()
		sink.mu.Unlock()
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		evs := sink.events(t)
		// One response record, after the write-ahead request record of a
		// request that changes the cluster.
		if len(evs) == 0 || len(evs) > 2 || evs[len(evs)-1].Stage != audit.StageResponse {
			t.Fatalf("%s %q: audit lines %+v, want one response record, after at most one request record", method, target, evs)
		}
		ev := evs[len(evs)-1]
		var wal *audit.Event
		if len(evs) == 2 {
			wal = &evs[0]
			if wal.Stage != audit.StageRequest || wal.RequestID != ev.RequestID || wal.Cluster != ev.Cluster || wal.Action != ev.Action || wal.Decision != audit.Allow {
				t.Fatalf("%s %q: request record %+v does not go with the response record %+v", method, target, *wal, ev)
			}
		}
		reached := ""
		for key, h := range heads {
			got, lookups := h.take()
			for _, l := range lookups {
				tgt, ok := route.Split(req.URL.EscapedPath())
				if !ok || tgt.Key() != key {
					t.Fatalf("%s %q (path %q) looked up a job on %s, not the cluster its path names", method, target, req.URL.EscapedPath(), key)
				}
				if id, ok := strings.CutPrefix(l.URL.Path, "/api/jobs/"); l.Method != http.MethodGet || !ok || jobs.CheckID(id) != nil {
					t.Fatalf("%s %q: the gateway sent %s a lookup %s %q", method, target, key, l.Method, l.URL.Path)
				}
			}
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
			if !utf8.ValidString(fwd.URL.Path) {
				t.Fatalf("%s %q reached %s with a path that is not UTF-8: %q", method, target, key, fwd.URL.Path)
			}
			for _, r := range fwd.URL.Path {
				if unicode.IsControl(r) {
					t.Fatalf("%s %q reached %s with the control character %U in %q", method, target, key, r, fwd.URL.Path)
				}
			}
			if strings.Contains(fwd.URL.Path, "//") {
				t.Fatalf("%s %q reached %s with an empty segment: %q", method, target, key, fwd.URL.Path)
			}
			if ev.Cluster != key || ev.Decision != audit.Allow {
				t.Fatalf("%s %q reached %s but the audit line says %+v", method, target, key, ev)
			}
		}
		if wal != nil && reached != wal.Cluster {
			t.Fatalf("%s %q: a request record for %s, but the request reached %q", method, target, wal.Cluster, reached)
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
