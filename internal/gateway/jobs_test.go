package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// submit posts a job as user and returns the id Ray gave it.
func (h *harness) submit(t *testing.T, user, body string) string {
	t.Helper()
	r := h.do(t, user, "POST", "/clusters/team-a/ray1/api/jobs/", body)
	out := readBody(t, r)
	if r.StatusCode != 200 {
		t.Fatalf("submit: %d %s", r.StatusCode, out)
	}
	var resp struct {
		SubmissionID string `json:"submission_id"`
	}
	_ = json.Unmarshal([]byte(out), &resp)
	return resp.SubmissionID
}

func TestSubmitStampsOwner(t *testing.T) {
	h := newHarness(t)
	id := h.submit(t, "alice", `{"entrypoint":"python -c 1","metadata":{"raygate.owner":"root","team":"a"},"runtime_env":{"pip":["x"]}}`)
	ev := lastEvent(t, h)
	if ev.Action != "jobs.submit" || ev.JobID != id || ev.Entrypoint != "python -c 1" || ev.User != "alice" || ev.Reason != "role developer allows jobs.submit" {
		t.Fatalf("submit audit %+v", ev)
	}
	if meta := h.rayA.jobs[id]; meta["raygate.owner"] != "alice" || meta["team"] != "a" {
		t.Fatalf("metadata %v: owner not stamped or fields lost", meta)
	}
	sent := h.rayA.seen[len(h.rayA.seen)-1]
	body := h.rayA.bodies[len(h.rayA.bodies)-1]
	want := `{"entrypoint":"python -c 1","metadata":{"team":"a","raygate.owner":"alice"},"runtime_env":{"pip":["x"]}}`
	if body != want || sent.Header.Get("Content-Type") != "application/json" || sent.ContentLength != int64(len(want)) {
		t.Fatalf("Ray was sent %q (Content-Type %q, length %d), want %q", body, sent.Header.Get("Content-Type"), sent.ContentLength, want)
	}
}

// TestSubmitOneReading: what Ray could read differently from raygate is
// refused before it reaches Ray, with the reason.
func TestSubmitOneReading(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, body string
		hdr        []string
		status     int
		reason     string
	}{
		{"not json", "entrypoint=x", nil, 400, "invalid job submission: body is not valid JSON"},
		{"metadata not strings", `{"entrypoint":"x","metadata":{"a":1}}`, nil, 400, "invalid job submission: metadata is not an object of strings"},
		{"duplicate key", `{"entrypoint":"x","entrypoint":"y"}`, nil, 400, `invalid job submission: key "entrypoint" appears twice in one object`},
		{"unknown field", `{"entrypoint":"x","owner":"y"}`, nil, 400, `invalid job submission: unknown field "owner" (known: entrypoint, submission_id, job_id, runtime_env, metadata, entrypoint_num_cpus, entrypoint_num_gpus, entrypoint_memory, entrypoint_resources, entrypoint_label_selector)`},
		{"submission id with #", `{"entrypoint":"x","submission_id":"raysubmit_1#"}`, nil, 400, "invalid job submission: submission_id: submission id may only contain letters, digits, '-' and '_'"},
		{"job id with ?", `{"entrypoint":"x","job_id":"a?b"}`, nil, 400, "invalid job submission: job_id: submission id may only contain letters, digits, '-' and '_'"},
		{"driver-shaped id", `{"entrypoint":"x","submission_id":"03000000"}`, nil, 400, `invalid job submission: submission_id: submission id "03000000" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
		{"charset utf-7", `{"entrypoint":"x"}`, []string{"Content-Type", "application/json; charset=utf-7"}, 415, `the body must be UTF-8, not charset "utf-7"`},
		{"charset unicode_escape", `{"entrypoint":"x"}`, []string{"Content-Type", "application/json; charset=unicode_escape"}, 415, `the body must be UTF-8, not charset "unicode_escape"`},
		{"form", `{"entrypoint":"x"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, `the body must be application/json, not "application/x-www-form-urlencoded"`},
		{"gzip", `{"entrypoint":"x"}`, []string{"Content-Encoding", "gzip"}, 415, `content encoding "gzip"`},
		{"invalid utf-8", "{\"entrypoint\":\"\xff\"}", nil, 400, "invalid job submission: body is not valid UTF-8"},
		{"too large", `{"entrypoint":"` + strings.Repeat("x", 3000) + `"}`, nil, 413, "request body over limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, "alice", "POST", "/clusters/team-a/ray1/api/jobs/", tc.body, tc.hdr...)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tc.status, readBody(t, r))
			}
			if ev := lastEvent(t, h); ev.Decision != "deny" || ev.Reason != tc.reason {
				t.Fatalf("audit reason %q, want %q", ev.Reason, tc.reason)
			}
		})
	}
	if n := len(h.rayA.calls); n != 0 {
		t.Fatalf("refused submissions reached Ray: %v", h.rayA.calls)
	}
	// Charset utf-8 is fine.
	h.submit(t, "alice", `{"entrypoint":"x"}`)
	// Other requests get the default limit.
	r := h.do(t, "root", "POST", "/clusters/team-a/ray1/api/whatever", strings.Repeat("x", 1500))
	if r.StatusCode != 413 {
		t.Fatalf("default limit: status %d", r.StatusCode)
	}
}

func TestOwnership(t *testing.T) {
	h := newHarness(t)
	aliceJob := h.submit(t, "alice", `{"entrypoint":"python -c 1"}`)
	bobJob := h.submit(t, "bob", `{"entrypoint":"python -c 1"}`)
	h.rayA.jobs["raysubmit_legacy"] = map[string]string{}
	h.rayA.drivers["02000000"] = aliceJob
	// Jobs created behind raygate's back, owned by alice, whose ids Ray
	// could read another way.
	h.rayA.jobs["03000000"] = map[string]string{"raygate.owner": "alice"}

	jobs := "/clusters/team-a/ray1/api/jobs/"
	for _, tc := range []struct {
		name, user, method, path string
		status                   int
		action, reason           string
		// forwarded is the request Ray receives after the lookup, "" for none.
		forwarded string
	}{
		{"owner stops", "alice", "POST", jobs + aliceJob + "/stop", 200, "jobs.stop", "role developer allows jobs.stop", "POST /api/jobs/" + aliceJob + "/stop"},
		{"owner stops by driver id, sent as submission id", "alice", "POST", jobs + "02000000/stop", 200, "jobs.stop", "role developer allows jobs.stop", "POST /api/jobs/" + aliceJob + "/stop"},
		{"other developer cannot stop", "bob", "POST", jobs + aliceJob + "/stop", 403, "jobs.stop.any", "role developer does not allow jobs.stop.any (needs admin)", ""},
		{"other developer cannot delete", "alice", "DELETE", jobs + bobJob, 403, "jobs.stop.any", "role developer does not allow jobs.stop.any (needs admin)", ""},
		{"ownerless job needs admin", "alice", "POST", jobs + "raysubmit_legacy/stop", 403, "jobs.stop.any", "role developer does not allow jobs.stop.any (needs admin)", ""},
		{"missing job needs admin", "alice", "POST", jobs + "raysubmit_nope/stop", 403, "jobs.stop.any", "role developer does not allow jobs.stop.any (needs admin)", ""},
		{"driver-shaped submission id is not the owner's", "alice", "POST", jobs + "03000000/stop", 403, "jobs.stop.any", "role developer does not allow jobs.stop.any (needs admin)", ""},
		{"driver-shaped submission id is not forwarded for an admin", "root", "POST", jobs + "03000000/stop", 409, "jobs.stop.any", "job has no unambiguous submission id", ""},
		{"admin: missing job", "root", "DELETE", jobs + "raysubmit_nope", 404, "jobs.stop.any", "job not found", ""},
		{"admin stops anyone's", "root", "POST", jobs + bobJob + "/stop", 200, "jobs.stop.any", "role admin allows jobs.stop.any", "POST /api/jobs/" + bobJob + "/stop"},
		{"owner deletes", "bob", "DELETE", jobs + bobJob, 200, "jobs.stop", "role developer allows jobs.stop", "DELETE /api/jobs/" + bobJob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.rayA.calls)
			r := h.do(t, tc.user, tc.method, tc.path, "")
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tc.status, readBody(t, r))
			}
			ev := lastEvent(t, h)
			if ev.Action != tc.action || ev.Reason != tc.reason || ev.JobID == "" {
				t.Fatalf("audit %+v, want action %s reason %q", ev, tc.action, tc.reason)
			}
			calls := h.rayA.calls[before:]
			if len(calls) == 0 || !strings.HasPrefix(calls[0], "GET /api/jobs/") {
				t.Fatalf("no owner lookup: %v", calls)
			}
			var fwd string
			if len(calls) > 1 {
				fwd = calls[1]
			}
			if fwd != tc.forwarded || len(calls) > 2 {
				t.Fatalf("Ray received %v, want the lookup then %q", calls, tc.forwarded)
			}
		})
	}

	// Cheap checks first: a viewer's stop, or a stop of an id Ray could
	// read as URL syntax, is refused before any call to the cluster.
	for _, tc := range []struct {
		name, user, path string
		status           int
		reason           string
	}{
		{"viewer", "carol", jobs + aliceJob + "/stop", 403, "role viewer does not allow jobs.stop (needs developer)"},
		{"encoded #", "alice", jobs + aliceJob + "%23/stop", 400, "job id may only contain letters, digits, '-' and '_'"},
		{"encoded ?", "root", jobs + aliceJob + "%3Fx", 400, "job id may only contain letters, digits, '-' and '_'"},
	} {
		t.Run("no lookup: "+tc.name, func(t *testing.T) {
			before := len(h.rayA.calls)
			method := "POST"
			if !strings.HasSuffix(tc.path, "/stop") {
				method = "DELETE"
			}
			r := h.do(t, tc.user, method, tc.path, "")
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if ev := lastEvent(t, h); ev.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", ev.Reason, tc.reason)
			}
			if calls := h.rayA.calls[before:]; len(calls) != 0 {
				t.Fatalf("the cluster was called: %v", calls)
			}
		})
	}

	// Fail closed: when the cluster cannot say who owns a job, only an
	// admin may stop it, and not even an admin acts on a guess.
	h.rayA.fail = true
	if r := h.do(t, "alice", "POST", jobs+aliceJob+"/stop", ""); r.StatusCode != 403 {
		t.Fatalf("lookup failure: status %d, want 403", r.StatusCode)
	}
	if r := h.do(t, "root", "POST", jobs+aliceJob+"/stop", ""); r.StatusCode != 502 || lastEvent(t, h).Reason != "job lookup failed" {
		t.Fatalf("lookup failure for an admin: status %d, want 502", r.StatusCode)
	}
}

// TestPackagesAreWriteOnce: a package the cluster already holds cannot be
// replaced through raygate, by another developer or anyone else, so a job
// that names it runs the code its submitter uploaded.
func TestPackagesAreWriteOnce(t *testing.T) {
	h := newHarness(t)
	pkg := "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_0123abcd.zip"
	if r := h.do(t, "bob", "GET", pkg, ""); r.StatusCode != 404 {
		t.Fatalf("GET of a missing package: %d", r.StatusCode)
	}
	if r := h.do(t, "bob", "PUT", pkg, "bob's code"); r.StatusCode != 200 {
		t.Fatalf("first upload: %d %s", r.StatusCode, readBody(t, r))
	}
	for _, user := range []string{"alice", "bob", "root"} {
		r := h.do(t, user, "PUT", pkg, user+"'s code")
		body := readBody(t, r)
		if r.StatusCode != 409 || !strings.Contains(body, `"error":"conflict"`) {
			t.Fatalf("%s replacing the package: %d %s, want 409 conflict", user, r.StatusCode, body)
		}
		if ev := lastEvent(t, h); ev.Decision != "deny" || ev.Action != "jobs.submit" || ev.Reason != "package exists: packages are written once" {
			t.Fatalf("audit of %s's refused upload: %+v", user, ev)
		}
	}
	if got := h.rayA.packages["/api/packages/gcs/_ray_pkg_0123abcd.zip"]; got != "bob's code" {
		t.Fatalf("the cluster holds %q, want bob's upload", got)
	}
	puts := 0
	for _, c := range h.rayA.calls {
		if strings.HasPrefix(c, "PUT ") {
			puts++
		}
	}
	if puts != 1 {
		t.Fatalf("%d uploads reached Ray, want 1: %v", puts, h.rayA.calls)
	}

	// When the cluster cannot say whether the package exists, the upload
	// is refused (fail closed).
	h.rayA.failPackages = true
	r := h.do(t, "alice", "PUT", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_new.zip", "x")
	if r.StatusCode != 502 {
		t.Fatalf("upload with the lookup failing: %d, want 502", r.StatusCode)
	}
	if ev := lastEvent(t, h); ev.Decision != "deny" || ev.Reason != "package lookup failed" {
		t.Fatalf("audit of the upload with the lookup failing: %+v", ev)
	}
	if _, ok := h.rayA.packages["/api/packages/gcs/_ray_pkg_new.zip"]; ok {
		t.Fatal("the upload reached Ray although its lookup failed")
	}
}

// TestRayAnswersCannotRunScripts: every cluster's dashboard is served from
// raygate's one origin, and Ray answers some requests with HTML or SVG
// built from what a job's code names (profiler flame graphs). Every answer
// from Ray but the dashboard's own pages carries a sandboxing CSP, so no
// such answer can run script with the origin's cookies.
func TestRayAnswersCannotRunScripts(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		user, path string
		sandboxed  bool
	}{
		{"carol", "/clusters/team-a/ray1/", false}, // the dashboard itself
		{"carol", "/clusters/team-a/ray1/api/version", true},
		{"root", "/clusters/team-a/ray1/task/cpu_profile?task_id=x&attempt_number=0&node_id=y&format=flamegraph", true},
		{"root", "/clusters/team-a/ray1/api/jobs/nope", true},
	} {
		r := h.do(t, tc.user, "GET", tc.path, "")
		readBody(t, r)
		got := r.Header.Get("Content-Security-Policy")
		if tc.sandboxed && got != "sandbox" || !tc.sandboxed && got != "" {
			t.Errorf("%s: Content-Security-Policy %q, sandboxed want %v", tc.path, got, tc.sandboxed)
		}
	}
}

// TestOnlyWebSocketHandshakesAreForwarded: a request that asks to switch
// protocols is forwarded only as a well-formed WebSocket handshake; h2c,
// or a WebSocket handshake without its key or version (which Ray answers
// with a 500 after five seconds), is refused with 400 before anything is
// sent to the cluster.
func TestOnlyWebSocketHandshakesAreForwarded(t *testing.T) {
	h := newHarness(t)
	tail := "/clusters/team-a/ray1/api/jobs/raysubmit_1/logs/tail"
	for _, tc := range []struct {
		name   string
		hdr    []string
		reason string
	}{
		{"h2c", []string{"Connection", "Upgrade, HTTP2-Settings", "Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAAQAAP__"}, "malformed WebSocket handshake: the only upgrade accepted is one Upgrade: websocket"},
		{"no key", []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13"}, "malformed WebSocket handshake: a WebSocket handshake must have one Sec-WebSocket-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(h.rayA.calls)
			r := h.do(t, "alice", "GET", tail, "", tc.hdr...)
			body := readBody(t, r)
			if r.StatusCode != 400 || !strings.Contains(body, `"error":"bad_request"`) || len(h.rayA.calls) != n {
				t.Fatalf("%d %s (Ray called: %v), want 400 before Ray", r.StatusCode, body, len(h.rayA.calls) != n)
			}
			if ev := eventOf(t, h, r); ev.Decision != "deny" || ev.Reason != tc.reason {
				t.Fatalf("audit %+v, want reason %q", ev, tc.reason)
			}
		})
	}
}
