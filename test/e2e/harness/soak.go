package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SoakOptions tune Soak.
type SoakOptions struct {
	// Duration is how long the load runs.
	Duration time.Duration
	// Workers is the number of concurrent request loops (besides the
	// WebSocket tails).
	Workers int
	// Tails is the number of concurrent WebSocket log tails.
	Tails int
	// Think is each worker's pause between requests.
	Think time.Duration
	// SubmitEvery bounds how often a job is submitted (each one starts a
	// real Ray job).
	SubmitEvery time.Duration
	// SampleEvery is how often raygate's metrics are sampled.
	SampleEvery time.Duration
	// Log receives progress lines; may be nil.
	Log func(format string, args ...any)
}

// SoakReport is what a soak run measured.
type SoakReport struct {
	Duration time.Duration
	// Requests counts requests by operation; Unexpected those whose status
	// was not the one the role and ownership rules give (or that failed).
	Requests   map[string]int
	Total      int
	Unexpected int
	// Examples are the first unexpected outcomes.
	Examples []string
	// Samples of raygate's process, in order.
	Samples []ProcessSample
	// AuditChecked counts the requests whose audit records were checked,
	// AuditMutations the forwarded mutations among them, AuditProblems
	// those whose records were wrong (AuditExamples names the first).
	AuditChecked, AuditMutations, AuditProblems int
	AuditExamples                               []string
}

// ProcessSample is one reading of raygate's metrics listener.
type ProcessSample struct {
	At         time.Duration
	RSS        float64 // process_resident_memory_bytes
	Goroutines float64 // go_goroutines
	FDs        float64 // process_open_fds
}

// soakUser is a caller with its credential and what it may do where.
type soakUser struct {
	name, bearer string
	// roles by cluster ("team-a/ray1"): viewer, developer or admin.
	roles map[string]string
}

// soakJob is a job the soak submitted.
type soakJob struct {
	cluster, id, owner string
}

type soak struct {
	s      *Stack
	opts   SoakOptions
	users  []*soakUser
	client *http.Client

	mu       sync.Mutex
	jobs     []soakJob
	counts   map[string]int
	examples []string
	unexp    atomic.Int64
	total    atomic.Int64
	lastSub  time.Time
	calls    []soakCall
}

// soakClusters are the clusters requests go to: the stack's two and one
// that does not exist.
var soakClusters = []string{"team-a/ray1", "team-b/ray1", "team-c/ray1"}

// Soak runs a mixed load against the stack's gateway for opts.Duration:
// several users with different roles on several clusters read, submit
// jobs, stop their own and others' jobs and tail job logs over
// WebSocket. Every request's status is checked against the one the role
// and ownership rules give, every request's audit records (one response
// record, after a write-ahead request record for a forwarded mutation)
// are checked in the audit log, and raygate's memory, goroutines and open
// file descriptors are sampled from its metrics listener.
func Soak(ctx context.Context, s *Stack, opts SoakOptions) (*SoakReport, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	k := &soak{s: s, opts: opts, counts: map[string]int{}, client: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
	roles := map[string]map[string]string{
		"alice@example.com":   {"team-a/ray1": "developer"},
		"bob@example.com":     {"team-a/ray1": "developer"},
		"carol@example.com":   {"team-a/ray1": "viewer"},
		"dave@example.com":    {"team-a/ray1": "admin", "team-b/ray1": "admin"},
		"eve@example.com":     {"team-b/ray1": "developer"},
		"mallory@example.com": {},
	}
	for _, u := range Users {
		tok, err := s.Dex.Token(ctx, u.Email)
		if err != nil {
			return nil, err
		}
		k.users = append(k.users, &soakUser{name: u.Email, bearer: tok, roles: roles[u.Email]})
	}
	k.users = append(k.users, &soakUser{name: "ci-bot", bearer: s.APIKey, roles: map[string]string{"team-a/ray1": "developer"}})

	// A job per developer to read, stop and tail from the start. A head
	// that has only just started may fail a submission; try again.
	for _, u := range k.users {
		for c, role := range u.roles {
			for try := 0; role == "developer" && try < 3 && !k.submit(ctx, u, c, true); try++ {
				sleep(ctx, 3*time.Second)
			}
		}
	}
	if len(k.jobs) == 0 {
		return nil, fmt.Errorf("soak: no job could be submitted: %s", strings.Join(k.examples, "; "))
	}
	k.examples = nil // setup failures that a retry overcame are not load results

	rep := &SoakReport{}
	start := time.Now()
	sample := func() error {
		ps, err := k.sample(ctx)
		if err != nil {
			return err
		}
		ps.At = time.Since(start).Round(time.Second)
		rep.Samples = append(rep.Samples, ps)
		return nil
	}
	if err := sample(); err != nil {
		return nil, err
	}
	loadCtx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for loadCtx.Err() == nil {
				k.step(loadCtx, r)
				sleep(loadCtx, opts.Think)
			}
		}()
	}
	for i := 0; i < opts.Tails; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(1000+i), uint64(start.UnixNano())))
			for loadCtx.Err() == nil {
				k.tail(loadCtx, r)
				sleep(loadCtx, 250*time.Millisecond)
			}
		}()
	}
	tick := time.NewTicker(opts.SampleEvery)
	defer tick.Stop()
	for loadCtx.Err() == nil {
		select {
		case <-loadCtx.Done():
		case <-tick.C:
			if err := sample(); err != nil {
				logf("sampling metrics: %v", err)
			}
			last := rep.Samples[len(rep.Samples)-1]
			logf("%4s  %6d requests, %d unexpected; RSS %.1f MiB, %v goroutines, %v open fds",
				last.At, k.total.Load(), k.unexp.Load(), last.RSS/(1<<20), last.Goroutines, last.FDs)
		}
	}
	wg.Wait()
	rep.Duration = time.Since(start).Round(time.Second)
	if err := sample(); err != nil {
		return nil, err
	}
	if err := k.checkAudit(ctx, s.Gateway.AuditPath, 15*time.Second, rep); err != nil {
		return nil, err
	}
	rep.Requests, rep.Total, rep.Unexpected = k.counts, int(k.total.Load()), int(k.unexp.Load())
	rep.Examples = k.examples
	return rep, nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// step sends one request chosen at random and checks its status.
func (k *soak) step(ctx context.Context, r *rand.Rand) {
	u := k.users[r.IntN(len(k.users))]
	c := soakClusters[r.IntN(len(soakClusters))]
	if r.IntN(20) == 0 {
		// A wrong credential is refused before anything else.
		k.check(ctx, "unauthenticated", &soakUser{name: "nobody", bearer: "rg_not_a_key"}, "GET", "/clusters/"+c+"/api/version", "", []int{401})
		return
	}
	switch n := r.IntN(100); {
	case n < 45:
		paths := []string{"/api/version", "/api/jobs/", "/api/cluster_status", "/", "/api/v0/nodes"}
		if j, ok := k.someJob(r, c); ok {
			paths = append(paths, "/api/jobs/"+j.id, "/api/jobs/"+j.id+"/logs")
		}
		p := paths[r.IntN(len(paths))]
		k.check(ctx, "read", u, "GET", "/clusters/"+c+p, "", expectRole(u, c, "viewer", 200))
	case n < 55:
		k.check(ctx, "whoami", u, "GET", "/_raygate/whoami", "", []int{200})
	case n < 65:
		// A path outside the action table is cluster.admin: an admin's
		// request reaches Ray, which answers it on its own terms (but never
		// refuses raygate's token); everyone else is refused.
		want := expectRole(u, c, "admin", 0)
		if u.roles[c] == "admin" {
			want = rayAnswers
		}
		k.check(ctx, "admin-only", u, "GET", "/clusters/"+c+"/api/jobs", "", want)
	case n < 80:
		if !k.submitDue() {
			k.check(ctx, "read", u, "GET", "/clusters/"+c+"/api/jobs/", "", expectRole(u, c, "viewer", 200))
			return
		}
		k.submit(ctx, u, c, false)
	default:
		j, ok := k.someJob(r, c)
		if !ok {
			return
		}
		want := expectRole(u, c, "developer", 200)
		if u.roles[c] == "developer" && j.owner != u.name {
			want = []int{403} // jobs.stop.any needs admin
		}
		k.check(ctx, "stop", u, "POST", "/clusters/"+c+"/api/jobs/"+j.id+"/stop", "", want)
	}
}

// rayAnswers are the statuses of a request Ray itself judges: anything
// below 500 but 401 and 403, which would mean Ray refused raygate's token.
var rayAnswers = func() []int {
	var out []int
	for s := 200; s < 500; s++ {
		if s != 401 && s != 403 {
			out = append(out, s)
		}
	}
	return out
}()

// expectRole is the status a request needing least role gets from u on
// cluster c: ok when u's role suffices, 403 when u has a weaker role, 404
// when u has none there (or the cluster does not exist).
func expectRole(u *soakUser, c, least string, ok int) []int {
	rank := map[string]int{"viewer": 1, "developer": 2, "admin": 3}
	have := rank[u.roles[c]]
	switch {
	case have == 0:
		return []int{404}
	case have < rank[least]:
		return []int{403}
	}
	return []int{ok}
}

func (k *soak) submitDue() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(k.lastSub) < k.opts.SubmitEvery {
		return false
	}
	k.lastSub = time.Now()
	return true
}

// submit posts a job as u on c; a successful one is remembered with its
// owner, and submit reports success. setup submissions are not counted as
// load.
func (k *soak) submit(ctx context.Context, u *soakUser, c string, setup bool) bool {
	body := `{"entrypoint":"echo soak","metadata":{"raygate.owner":"mallory@example.com","soak":"1"}}`
	want := expectRole(u, c, "developer", 200)
	resp, status, err := k.do(ctx, u, "POST", "/clusters/"+c+"/api/jobs/", body)
	if !setup {
		k.record("submit", u, "POST", "/clusters/"+c+"/api/jobs/", status, err, want)
	}
	if err != nil || status != 200 {
		if setup {
			k.mu.Lock()
			k.examples = append(k.examples, fmt.Sprintf("setup submit as %s on %s: %d %v", u.name, c, status, err))
			k.mu.Unlock()
		}
		return false
	}
	var out struct {
		SubmissionID string `json:"submission_id"`
	}
	if json.Unmarshal(resp, &out) != nil || out.SubmissionID == "" {
		return false
	}
	k.mu.Lock()
	k.jobs = append(k.jobs, soakJob{cluster: c, id: out.SubmissionID, owner: u.name})
	k.mu.Unlock()
	return true
}

func (k *soak) someJob(r *rand.Rand, c string) (soakJob, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var on []soakJob
	for _, j := range k.jobs {
		if j.cluster == c {
			on = append(on, j)
		}
	}
	if len(on) == 0 {
		return soakJob{}, false
	}
	return on[r.IntN(len(on))], true
}

// tail opens a job's log tail over WebSocket as a random user and reads it
// for a few seconds.
func (k *soak) tail(ctx context.Context, r *rand.Rand) {
	u := k.users[r.IntN(len(k.users))]
	c := soakClusters[r.IntN(2)]
	j, ok := k.someJob(r, c)
	if !ok {
		sleep(ctx, time.Second)
		return
	}
	want := expectRole(u, c, "viewer", 101)
	path := "/clusters/" + c + "/api/jobs/" + j.id + "/logs/tail"
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(k.s.Gateway.URL, "http://"))
	if err != nil {
		k.record("tail", u, "GET", path, 0, err, want)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer "+u.bearer+"\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	status := 0
	if err == nil {
		status = resp.StatusCode
		k.sent(resp.Header.Get("X-Request-Id"), "GET", path, u, status)
	}
	k.record("tail", u, "GET", path, status, err, want)
	if status != http.StatusSwitchingProtocols {
		return
	}
	// Hold the stream open for a while, reading whatever Ray sends, then
	// hang up.
	hold := time.Duration(2+r.IntN(8)) * time.Second
	_ = conn.SetReadDeadline(time.Now().Add(hold))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	_, _ = io.Copy(io.Discard, br)
}

// check sends a request and records whether its status is one of want.
func (k *soak) check(ctx context.Context, op string, u *soakUser, method, path, body string, want []int) {
	_, status, err := k.do(ctx, u, method, path, body)
	k.record(op, u, method, path, status, err, want)
}

func (k *soak) record(op string, u *soakUser, method, path string, status int, err error, want []int) {
	if err != nil && ctxDone(err) {
		return // the run ended mid-request
	}
	k.total.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.counts[op]++
	if err == nil && slices.Contains(want, status) {
		return
	}
	k.unexp.Add(1)
	if len(k.examples) < 10 {
		what := strconv.Itoa(status)
		if err != nil {
			what = err.Error()
		}
		k.examples = append(k.examples, fmt.Sprintf("%s %s as %s: got %s, want %v", method, path, u.name, what, want))
	}
}

func ctxDone(err error) bool {
	return strings.Contains(err.Error(), context.DeadlineExceeded.Error()) || strings.Contains(err.Error(), context.Canceled.Error())
}

func (k *soak) do(ctx context.Context, u *soakUser, method, path, body string) ([]byte, int, error) {
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.s.Gateway.URL+path, rb)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+u.bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	k.sent(resp.Header.Get("X-Request-Id"), method, path, u, resp.StatusCode)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return b, resp.StatusCode, err
}

// sample reads raygate's RSS, goroutines and open file descriptors from
// its metrics listener (Go's runtime and process collectors).
func (k *soak) sample(ctx context.Context) (ProcessSample, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", k.s.Gateway.MetricsURL+"/metrics", nil)
	if err != nil {
		return ProcessSample{}, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return ProcessSample{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ProcessSample{}, err
	}
	var ps ProcessSample
	found := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		name, val, ok := strings.Cut(string(line), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			ps.RSS, found = f, found+1
		case "go_goroutines":
			ps.Goroutines, found = f, found+1
		case "process_open_fds":
			ps.FDs, found = f, found+1
		}
	}
	if found != 3 {
		return ps, fmt.Errorf("soak: metrics lack process_resident_memory_bytes, go_goroutines or process_open_fds")
	}
	return ps, nil
}

// Flatness bounds: over the run, the median of the last third of the
// samples may exceed the median of the first third by at most this much.
const (
	MaxRSSGrowth       = 0.25    // fraction
	MaxRSSSlack        = 8 << 20 // bytes, on top of the fraction
	MaxGoroutineGrowth = 25
	MaxFDGrowth        = 25
)

// Violations lists what makes the run fail: unexpected statuses, and
// memory, goroutines or file descriptors that grew instead of staying
// flat.
func (r *SoakReport) Violations() []string {
	var out []string
	if r.Unexpected > 0 {
		out = append(out, fmt.Sprintf("%d unexpected statuses, e.g. %s", r.Unexpected, strings.Join(r.Examples[:min(2, len(r.Examples))], "; ")))
	}
	if r.Total == 0 {
		out = append(out, "no request was sent")
	}
	if r.AuditProblems > 0 {
		out = append(out, fmt.Sprintf("%d requests with wrong audit records, e.g. %s", r.AuditProblems, strings.Join(r.AuditExamples[:min(2, len(r.AuditExamples))], "; ")))
	}
	if r.Total > 0 && r.AuditChecked == 0 {
		out = append(out, "no answer carried an X-Request-Id to find its audit records by")
	}
	first, last := r.windows()
	if len(first) == 0 {
		return append(out, "too few samples to judge growth")
	}
	if f, l := median(first, rss), median(last, rss); l > f*(1+MaxRSSGrowth)+MaxRSSSlack {
		out = append(out, fmt.Sprintf("RSS grew from %.1f MiB to %.1f MiB", f/(1<<20), l/(1<<20)))
	}
	if f, l := median(first, gor), median(last, gor); l > f+MaxGoroutineGrowth {
		out = append(out, fmt.Sprintf("goroutines grew from %.0f to %.0f", f, l))
	}
	if f, l := median(first, fds), median(last, fds); l > f+MaxFDGrowth {
		out = append(out, fmt.Sprintf("open file descriptors grew from %.0f to %.0f", f, l))
	}
	return out
}

// windows returns the first and last thirds of the samples taken under
// load (the first sample, before the load, is left out).
func (r *SoakReport) windows() (first, last []ProcessSample) {
	if len(r.Samples) < 4 {
		return nil, nil
	}
	s := r.Samples[1:]
	n := len(s) / 3
	if n == 0 {
		n = 1
	}
	return s[:n], s[len(s)-n:]
}

func rss(p ProcessSample) float64 { return p.RSS }
func gor(p ProcessSample) float64 { return p.Goroutines }
func fds(p ProcessSample) float64 { return p.FDs }

func median(ps []ProcessSample, f func(ProcessSample) float64) float64 {
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = f(p)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// Write prints the report: totals, requests by operation, and the first,
// middle, last and highest readings of each resource.
func (r *SoakReport) Write(w io.Writer) {
	fmt.Fprintf(w, "soak: %s, %d requests (%.0f/s), %d unexpected statuses\n", r.Duration, r.Total, float64(r.Total)/r.Duration.Seconds(), r.Unexpected)
	var ops []string
	for op, n := range r.Requests {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "  requests by kind: %s\n", strings.Join(ops, ", "))
	for _, ex := range r.Examples {
		fmt.Fprintf(w, "  unexpected: %s\n", ex)
	}
	fmt.Fprintf(w, "  audit: %d requests checked (%d forwarded mutations with a write-ahead record), %d with wrong records\n", r.AuditChecked, r.AuditMutations, r.AuditProblems)
	for _, ex := range r.AuditExamples {
		fmt.Fprintf(w, "  audit: %s\n", ex)
	}
	if len(r.Samples) == 0 {
		return
	}
	first, last := r.windows()
	row := func(name string, f func(ProcessSample) float64, unit float64, format string) {
		hi := 0.0
		for _, s := range r.Samples {
			hi = max(hi, f(s))
		}
		line := fmt.Sprintf("  %-11s idle "+format+"  under load: first third "+format+", last third "+format+", max "+format+"\n",
			name, f(r.Samples[0])/unit, median(first, f)/unit, median(last, f)/unit, hi/unit)
		if len(first) == 0 {
			line = fmt.Sprintf("  %-11s idle "+format+", max "+format+"\n", name, f(r.Samples[0])/unit, hi/unit)
		}
		fmt.Fprint(w, line)
	}
	row("RSS (MiB)", rss, 1<<20, "%.1f")
	row("goroutines", gor, 1, "%.0f")
	row("open fds", fds, 1, "%.0f")
}
