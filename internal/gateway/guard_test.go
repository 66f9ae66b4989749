package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/proxy"
)

// breakableLog is an audit destination that fails (disk full) while broken.
type breakableLog struct {
	syncBuffer
	broken atomic.Bool
}

func (b *breakableLog) Write(p []byte) (int, error) {
	if b.broken.Load() {
		return 0, syscall.ENOSPC
	}
	return b.syncBuffer.Write(p)
}

// guardHarness is a gateway over fake Ray heads with extra config, a
// breakable audit log, and a hook that runs in team-a's head before it
// answers.
type guardHarness struct {
	*harness
	log    *breakableLog
	sink   *audit.Writer
	before atomic.Pointer[func(*http.Request)]
}

func newGuardHarness(t *testing.T, extra string) *guardHarness {
	t.Helper()
	return newGuardHarnessFlushing(t, extra, 0)
}

// newGuardHarnessFlushing is newGuardHarness with an audit sink that
// gathers reads' lines for flush (0: written at once).
func newGuardHarnessFlushing(t *testing.T, extra string, flush time.Duration) *guardHarness {
	t.Helper()
	gh := &guardHarness{log: &breakableLog{}}
	rayA := &fakeRay{token: "cluster-a-token", jobs: map[string]map[string]string{}}
	rayA.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := gh.before.Load(); f != nil {
			(*f)(r)
		}
		rayA.serve(w, r)
	}))
	t.Cleanup(rayA.srv.Close)
	h := &harness{rayA: rayA, rayB: newFakeRay(t, ""), audit: &gh.log.syncBuffer, m: metrics.New()}
	h.path = testConfig(t, h.rayA.srv.URL, h.rayB.srv.URL, extra)
	cfg, err := config.Load(h.path)
	if err != nil {
		t.Fatal(err)
	}
	gh.sink = audit.New(gh.log, audit.Options{Observer: h.m, FlushInterval: flush})
	h.g = New(h.m, slog.New(slog.NewTextHandler(io.Discard, nil)), gh.sink)
	st, err := h.g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.g.Swap(st, 0)
	h.srv = httptest.NewServer(h.g)
	t.Cleanup(h.srv.Close)
	gh.harness = h
	return gh
}

// metricValue returns the value of the sample whose line starts with
// prefix ("" when there is none).
func metricValue(t *testing.T, m *metrics.Metrics, prefix string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return strings.TrimPrefix(l, prefix+" ")
		}
	}
	return ""
}

func readyz(g *Gateway) int {
	rec := httptest.NewRecorder()
	g.Readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	return rec.Code
}

func rayCalls(f *fakeRay) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// TestWriteAheadBeforeForwarding: a mutating request's request-stage record
// is in the audit log before the request reaches Ray; its response record
// follows with the same request id. A read has exactly one record.
func TestWriteAheadBeforeForwarding(t *testing.T) {
	h := newGuardHarness(t, "")
	var seenAtRay sync.Map // request id -> audit records present when Ray got it
	hook := func(r *http.Request) {
		id := r.Header.Get(proxy.HeaderRequestID)
		var stages []string
		for _, e := range h.audit.events(t) {
			if e.RequestID == id {
				stages = append(stages, e.Stage)
			}
		}
		seenAtRay.Store(r.Method+" "+r.URL.Path, strings.Join(stages, ","))
	}
	h.before.Store(&hook)

	r := h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"python run.py"}`)
	if r.StatusCode != 200 {
		t.Fatalf("submit: %d %s", r.StatusCode, readBody(t, r))
	}
	rid := r.Header.Get(proxy.HeaderRequestID)
	if got, _ := seenAtRay.Load("POST /api/jobs/"); got != audit.StageRequest {
		t.Fatalf("audit records when Ray got the submission: %q, want the request record only", got)
	}
	var mine []audit.Event
	for _, e := range h.audit.events(t) {
		if e.RequestID == rid {
			mine = append(mine, e)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("%d records for a submission, want 2", len(mine))
	}
	req, resp := mine[0], mine[1]
	if req.Stage != audit.StageRequest || req.Status != 0 || req.Decision != audit.Allow || req.Action != "jobs.submit" ||
		req.Entrypoint != "python run.py" || req.User != "alice" || req.Cluster != "team-a/ray1" {
		t.Fatalf("request record %+v", req)
	}
	if resp.Stage != audit.StageResponse || resp.Status != 200 || resp.JobID == "" {
		t.Fatalf("response record %+v", resp)
	}

	r = h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "")
	rid = r.Header.Get(proxy.HeaderRequestID)
	n := 0
	for _, e := range h.audit.events(t) {
		if e.RequestID == rid {
			n++
			if e.Stage != audit.StageResponse {
				t.Fatalf("read record stage %q", e.Stage)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d records for a read, want 1", n)
	}
}

// TestGatheredAuditMutationsWrittenBeforeResponse: with an audit sink that
// gathers lines, a read's record waits for the batch, but a mutation's
// response record, like its write-ahead record, is written before its
// response completes.
func TestGatheredAuditMutationsWrittenBeforeResponse(t *testing.T) {
	h := newGuardHarnessFlushing(t, "", time.Hour)
	stages := func(rid string) string {
		var out []string
		for _, e := range h.audit.events(t) {
			if e.RequestID == rid {
				out = append(out, e.Stage)
			}
		}
		return strings.Join(out, ",")
	}
	r := h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "")
	readBody(t, r)
	read := r.Header.Get(proxy.HeaderRequestID)
	if got := stages(read); got != "" {
		t.Fatalf("a read's record was written at once (%q): the sink does not gather", got)
	}
	r = h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"python run.py"}`)
	readBody(t, r)
	if r.StatusCode != 200 {
		t.Fatalf("submit: %d", r.StatusCode)
	}
	if got := stages(r.Header.Get(proxy.HeaderRequestID)); got != "request,response" {
		t.Fatalf("a submission's records when its response completed: %q, want request,response", got)
	}
	// The read gathered before it went out first.
	if got := stages(read); got != "response" {
		t.Fatalf("the earlier read's record: %q", got)
	}
}

// TestAuditFailureRefusesMutations: with the audit log failing, the very
// first mutation is refused with 503 and never reaches Ray; reads are
// served; readiness fails until a write succeeds again.
func TestAuditFailureRefusesMutations(t *testing.T) {
	h := newGuardHarness(t, "")
	owned := h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"x"}`)
	var sub struct {
		SubmissionID string `json:"submission_id"`
	}
	_ = json.Unmarshal([]byte(readBody(t, owned)), &sub)
	if readyz(h.g) != 200 {
		t.Fatal("not ready before the failure")
	}
	h.log.broken.Store(true)
	before := len(rayCalls(h.rayA))

	for _, tc := range []struct {
		name, user, method, path, body string
	}{
		{"submit", "alice", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"rm -rf /"}`},
		{"package upload", "alice", "PUT", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_x.zip", "zip"},
		{"stop", "alice", "POST", "/clusters/team-a/ray1/api/jobs/" + sub.SubmissionID + "/stop", ""},
		{"delete", "alice", "DELETE", "/clusters/team-a/ray1/api/jobs/" + sub.SubmissionID, ""},
		{"serve deploy", "root", "PUT", "/clusters/team-a/ray1/api/serve/applications/", `{}`},
		{"admin post", "root", "POST", "/clusters/team-a/ray1/api/actors/kill", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.user, tc.method, tc.path, tc.body)
			body := readBody(t, r)
			var eb proxy.ErrorBody
			if r.StatusCode != 503 || json.Unmarshal([]byte(body), &eb) != nil || eb.Error != "audit_unavailable" {
				t.Fatalf("status %d %s, want 503 audit_unavailable", r.StatusCode, body)
			}
		})
	}
	for _, c := range rayCalls(h.rayA)[before:] {
		if !strings.HasPrefix(c, "GET ") {
			t.Fatalf("a mutation reached Ray with the audit log failing: %s", c)
		}
	}
	if readyz(h.g) != 503 {
		t.Fatal("ready while the audit log fails")
	}
	if r := h.do(t, "carol", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("read with the audit log failing: %d", r.StatusCode)
	}
	if v := metricValue(t, h.m, "raygate_audit_write_errors_total"); v == "" || v == "0" {
		t.Fatalf("failed writes not counted: %q", v)
	}
	if v := metricValue(t, h.m, "raygate_audit_sink_healthy"); v != "0" {
		t.Fatalf("raygate_audit_sink_healthy = %q, want 0", v)
	}

	// The disk has room again: the retry writes what was kept, in order,
	// and the gateway is ready again.
	h.log.broken.Store(false)
	if err := h.sink.Retry(); err != nil {
		t.Fatal(err)
	}
	if readyz(h.g) != 200 || metricValue(t, h.m, "raygate_audit_sink_healthy") != "1" {
		t.Fatal("not ready after the audit log recovered")
	}
	var refused []audit.Event
	for _, e := range h.audit.events(t) {
		if e.Reason == "audit log unavailable: not forwarded" {
			refused = append(refused, e)
			if e.Stage != audit.StageResponse || e.Status != 503 || e.Decision != audit.Deny {
				t.Fatalf("refusal record %+v", e)
			}
		}
	}
	if len(refused) != 6 {
		t.Fatalf("%d refusals recorded after recovery, want 6", len(refused))
	}
	if r := h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"x"}`); r.StatusCode != 200 {
		t.Fatalf("submit after recovery: %d", r.StatusCode)
	}
}

// TestAuditFailureContinue: with audit.onFailure continue, mutations are
// forwarded anyway and their record says so once the log works again.
func TestAuditFailureContinue(t *testing.T) {
	h := newGuardHarness(t, "audit:\n  onFailure: continue\n")
	h.log.broken.Store(true)
	r := h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"x"}`)
	if r.StatusCode != 200 {
		t.Fatalf("submit under continue: %d %s", r.StatusCode, readBody(t, r))
	}
	if n := len(h.rayA.jobs); n != 1 {
		t.Fatalf("%d jobs reached Ray, want 1", n)
	}
	if readyz(h.g) != 503 {
		t.Fatal("ready while the audit log fails")
	}
	h.log.broken.Store(false)
	if err := h.sink.Retry(); err != nil {
		t.Fatal(err)
	}
	ev := lastEvent(t, h.harness)
	if ev.Action != "jobs.submit" || ev.Status != 200 || !strings.Contains(ev.Reason, "forwarded without write-ahead audit record") {
		t.Fatalf("record %+v", ev)
	}
}

// TestLimits: requests over a limit get 429 with Retry-After and a JSON
// body, are audited and counted, and never reach Ray.
func TestLimits(t *testing.T) {
	h := newGuardHarness(t, "limits:\n  perUser: {requestsPerSecond: 0.001, burst: 2}\n  perCluster: {concurrentRequests: 1}\n")
	for i := 0; i < 2; i++ {
		if r := h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	before := len(rayCalls(h.rayA))
	// A stop needs an owner lookup at Ray: the limit comes first.
	r := h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/stop", "")
	body := readBody(t, r)
	var eb proxy.ErrorBody
	if r.StatusCode != 429 || json.Unmarshal([]byte(body), &eb) != nil || eb.Error != "too_many_requests" || eb.RequestID == "" {
		t.Fatalf("over the rate: %d %s", r.StatusCode, body)
	}
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	if calls := rayCalls(h.rayA)[before:]; len(calls) != 0 {
		t.Fatalf("a limited request reached Ray: %v", calls)
	}
	ev := lastEvent(t, h.harness)
	if ev.Decision != audit.Deny || ev.Reason != "limit: user rate" || ev.Status != 429 || ev.User != "alice" {
		t.Fatalf("audit %+v", ev)
	}
	if v := metricValue(t, h.m, `raygate_limited_requests_total{cluster="team-a/ray1",limit="rate",scope="user"}`); v != "1" {
		t.Fatalf("limited requests counted %q", v)
	}
	// Others are not limited by alice's budget.
	if r := h.do(t, "bob", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("bob: %d", r.StatusCode)
	}
	// A caller with no role on the cluster still gets 404, not 429.
	if r := h.do(t, "eve", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 404 {
		t.Fatalf("eve: %d", r.StatusCode)
	}

	// Concurrency: while bob's request is held at Ray, carol's is refused
	// by the cluster's limit; once it is done, carol gets through.
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	hook := func(r *http.Request) {
		if r.Header.Get("X-Forwarded-User") == "bob" {
			arrived <- struct{}{}
			<-release
		}
	}
	h.before.Store(&hook)
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("GET", h.srv.URL+"/clusters/team-a/ray1/api/version", nil)
		req.Header.Set("Authorization", "Bearer "+users["bob"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-arrived
	r = h.do(t, "carol", "GET", "/clusters/team-a/ray1/api/version", "")
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("carol while bob holds the cluster's slot: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if ev := lastEvent(t, h.harness); ev.Reason != "limit: cluster concurrency" {
		t.Fatalf("audit reason %q", ev.Reason)
	}
	close(release)
	if c := <-done; c != 200 {
		t.Fatalf("bob: %d", c)
	}
	if r := h.do(t, "carol", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("carol after bob finished: %d", r.StatusCode)
	}
}

// TestLimiterKeptAcrossReloads: a reload that does not change the limits
// keeps the limiter (and its counts); one that does starts afresh.
func TestLimiterKeptAcrossReloads(t *testing.T) {
	h := newGuardHarness(t, "limits:\n  perUser: {requestsPerSecond: 1}\n")
	st := h.g.State()
	next, err := h.g.Build(st.Config, st)
	if err != nil {
		t.Fatal(err)
	}
	if next.limiter != st.limiter || next.limiter == nil {
		t.Fatal("an unchanged limits config got a new limiter")
	}
	cfg := *st.Config
	cfg.Limits.PerUser.RequestsPerSecond = 2
	next, err = h.g.Build(&cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if next.limiter == st.limiter {
		t.Fatal("changed limits kept the old limiter")
	}
	cfg.Limits = config.Limits{}
	if next, _ = h.g.Build(&cfg, st); next.limiter != nil {
		t.Fatal("no limits, yet a limiter")
	}
}

// TestLimitsOffByDefault: without a limits section nothing is limited.
func TestLimitsOffByDefault(t *testing.T) {
	h := newGuardHarness(t, "")
	if h.g.State().limiter != nil {
		t.Fatal("a limiter without limits configured")
	}
	for i := 0; i < 50; i++ {
		if r := h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
}

// TestSIGHUPReopensAuditFile: after the audit file is moved away, SIGHUP
// reopens it, even when the config on disk does not load; no line is lost
// or written twice.
func TestSIGHUPReopensAuditFile(t *testing.T) {
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	h := newHarness(t)
	sink, err := audit.Open(auditPath, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	orig, _ := os.ReadFile(h.path)
	if err := os.WriteFile(h.path, append(orig, "audit:\n  file: "+auditPath+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.g = New(h.m, slog.New(slog.NewTextHandler(io.Discard, nil)), sink)
	st, err := h.g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.g.Swap(st, 0)
	h.srv = httptest.NewServer(h.g)
	t.Cleanup(h.srv.Close)
	rl := &Reloader{Path: h.path, Gateway: h.g}
	rl.Prime()
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rl.Run(ctx, hup)

	for i := 0; i < 3; i++ {
		h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "")
	}
	if err := os.Rename(auditPath, auditPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.path, []byte("not: [valid"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(auditPath); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("audit file not reopened")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 2; i++ {
		h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", "")
	}
	count := func(p string) (n int, ids map[string]bool) {
		b, _ := os.ReadFile(p)
		ids = map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e audit.Event
			if json.Unmarshal([]byte(l), &e) == nil {
				n++
				ids[e.RequestID] = true
			}
		}
		return n, ids
	}
	nOld, oldIDs := count(auditPath + ".1")
	nNew, newIDs := count(auditPath)
	if nOld != 3 || nNew != 2 {
		t.Fatalf("%d lines in the rotated file and %d in the new one, want 3 and 2", nOld, nNew)
	}
	for id := range newIDs {
		if oldIDs[id] {
			t.Fatalf("%s written twice", id)
		}
	}
}
