package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
)

// fakeRay is a Ray head's Jobs API in memory: enough to exercise every
// decision the gateway makes. It requires the cluster token.
type fakeRay struct {
	srv   *httptest.Server
	token string
	mu    sync.Mutex
	jobs  map[string]map[string]string // id -> metadata
	// drivers maps a driver job id to the submission id of its job; Ray
	// resolves a job id as a driver id first.
	drivers map[string]string
	// packages maps an uploaded package's path to its content.
	packages map[string]string
	seen     []*http.Request
	bodies   []string
	fail     bool // answer job lookups with 500
	// failPackages answers package requests with 500.
	failPackages bool
	next         int
	calls        []string
}

func newFakeRay(t *testing.T, token string) *fakeRay {
	f := &fakeRay{token: token, jobs: map[string]map[string]string{}, drivers: map[string]string{}, packages: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRay) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, r.Clone(r.Context()))
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	body, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(body))
	if f.token != "" && r.Header.Get("Authorization") == "" && r.Header.Get("X-Ray-Authorization") != "Bearer "+f.token {
		w.WriteHeader(401)
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == "GET" && p == "/api/version":
		_, _ = io.WriteString(w, `{"ray_version":"2.60.0"}`)
	case r.Method == "POST" && p == "/api/jobs/":
		var req struct {
			Metadata map[string]string `json:"metadata"`
		}
		_ = json.Unmarshal(body, &req)
		f.next++
		id := fmt.Sprintf("raysubmit_%d", f.next)
		f.jobs[id] = req.Metadata
		fmt.Fprintf(w, `{"job_id":%q,"submission_id":%q}`, id, id)
	case strings.HasPrefix(p, "/api/jobs/"):
		rest := strings.TrimPrefix(p, "/api/jobs/")
		id, action, _ := strings.Cut(rest, "/")
		driver := ""
		if sub, ok := f.drivers[id]; ok {
			driver, id = id, sub
		}
		meta, ok := f.jobs[id]
		if f.fail {
			w.WriteHeader(500)
			return
		}
		if !ok {
			w.WriteHeader(404)
			return
		}
		switch {
		case r.Method == "GET" && action == "":
			info := map[string]any{"submission_id": id, "metadata": meta}
			if driver != "" {
				info["job_id"] = driver
			}
			_ = json.NewEncoder(w).Encode(info)
		case r.Method == "POST" && action == "stop":
			_, _ = io.WriteString(w, `{"stopped":true}`)
		case r.Method == "DELETE" && action == "":
			delete(f.jobs, id)
			_, _ = io.WriteString(w, `{"deleted":true}`)
		default:
			w.WriteHeader(404)
		}
	case strings.HasPrefix(p, "/api/packages/"):
		// Like Ray: GET says whether the package exists, PUT stores it,
		// replacing what was there.
		_, there := f.packages[p]
		switch {
		case f.failPackages:
			w.WriteHeader(500)
		case r.Method == "PUT":
			f.packages[p] = string(body)
		case r.Method == "GET" && there:
		default:
			w.WriteHeader(404)
		}
	case r.Method == "GET" && p == "/":
		_, _ = io.WriteString(w, "<html>dashboard</html>")
	default:
		w.WriteHeader(404)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) events(t *testing.T) []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Event
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var e audit.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func keyHash(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:])
}

// Users and their API keys.
var users = map[string]string{
	"alice": "key-alice", // team-a developer
	"bob":   "key-bob",   // team-a developer
	"carol": "key-carol", // team-a viewer
	"root":  "key-root",  // team-a admin
	"eve":   "key-eve",   // team-b developer
}

func testConfig(t *testing.T, rayA, rayB string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.token"), []byte("cluster-a-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\nmetricsListen: 127.0.0.1:1\nauthentication:\n  apiKeys:\n")
	for _, u := range []string{"alice", "bob", "carol", "root", "eve"} {
		team := map[string]string{"alice": "team-a", "bob": "team-a", "carol": "auditors", "root": "ops", "eve": "team-b"}[u]
		fmt.Fprintf(&b, "    - {name: %s, sha256: %s, user: %s, groups: [%s]}\n", u, keyHash(users[u]), u, team)
	}
	fmt.Fprintf(&b, `clusters:
  - namespace: team-a
    name: ray1
    upstream: %s
    rayTokenFile: a.token
    access:
      - {role: developer, groups: [team-a]}
      - {role: viewer, users: [carol]}
      - {role: admin, users: [root]}
  - namespace: team-b
    name: ray1
    upstream: %s
    access:
      - {role: developer, groups: [team-b]}
proxy:
  maxBodyBytes: {default: 1000, jobSubmit: 2000}
%s`, rayA, rayB, extra)
	path := filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type harness struct {
	g     *Gateway
	srv   *httptest.Server
	rayA  *fakeRay
	rayB  *fakeRay
	audit *syncBuffer
	path  string
	m     *metrics.Metrics
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{rayA: newFakeRay(t, "cluster-a-token"), rayB: newFakeRay(t, ""), audit: &syncBuffer{}, m: metrics.New()}
	h.path = testConfig(t, h.rayA.srv.URL, h.rayB.srv.URL, "")
	cfg, err := config.Load(h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.g = New(h.m, slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(h.audit))
	st, err := h.g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.g.Swap(st, 0)
	h.srv = httptest.NewServer(h.g)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) do(t *testing.T, user, method, path, body string, hdr ...string) *http.Response {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rb)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+users[user])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lastEvent(t *testing.T, h *harness) audit.Event {
	t.Helper()
	evs := h.audit.events(t)
	if len(evs) == 0 {
		t.Fatal("no audit event")
	}
	return evs[len(evs)-1]
}

// eventOf returns the audit event (the response's, not a write-ahead
// record) of the request resp answers, waiting
// for it: the event is written as the handler returns, which may be after
// the client has read the answer.
func eventOf(t *testing.T, h *harness, resp *http.Response) audit.Event {
	t.Helper()
	id := resp.Header.Get("X-Request-Id")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, e := range h.audit.events(t) {
			if e.RequestID == id && e.Stage == audit.StageResponse {
				return e
			}
		}
	}
	t.Fatalf("no audit event for request %q", id)
	return audit.Event{}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
