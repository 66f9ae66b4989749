//go:build e2e

package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rayCLI runs the Ray CLI from the test virtualenv.
func rayCLI(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(components.RayVenv, "bin", "ray"), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func headersFlag(tok string) string {
	b, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + tok})
	return string(b)
}

type jobInfo struct {
	Status       string            `json:"status"`
	SubmissionID string            `json:"submission_id"`
	Metadata     map[string]string `json:"metadata"`
}

func getJob(t *testing.T, bearer, cluster, id string) jobInfo {
	t.Helper()
	code, body := call(t, bearer, "GET", "/clusters/"+cluster+"/api/jobs/"+id, "")
	if code != 200 {
		t.Fatalf("get job %s: %d %s", id, code, body)
	}
	var j jobInfo
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func waitJob(t *testing.T, bearer, cluster, id string, want ...string) jobInfo {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j := getJob(t, bearer, cluster, id)
		for _, w := range want {
			if j.Status == w {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %v", id, j.Status, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func submitJob(t *testing.T, bearer, cluster, entrypoint string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"entrypoint": entrypoint})
	code, body := call(t, bearer, "POST", "/clusters/"+cluster+"/api/jobs/", string(b))
	if code != 200 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var r struct {
		SubmissionID string `json:"submission_id"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	return r.SubmissionID
}

// TestRayJobSubmitCLI is the README's promise: the unchanged Ray CLI
// submits through raygate with --headers, tails the logs over the
// WebSocket, and the job succeeds.
func TestRayJobSubmitCLI(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	out, err := rayCLI(t, nil, "job", "submit", "--address", s.Gateway.URL+"/clusters/team-a/ray1",
		"--headers", headersFlag(alice), "--submission-id", "cli-e2e-1", "--metadata-json", `{"raygate.owner":"mallory@example.com"}`,
		"--", "python", "-c", "print('hello from raygate')")
	if err != nil {
		t.Fatalf("ray job submit: %v\n%s", err, out)
	}
	if !strings.Contains(out, "hello from raygate") || !strings.Contains(out, "succeeded") {
		t.Fatalf("ray job submit output lacks the job's log or success:\n%s", out)
	}
	j := getJob(t, alice, "team-a/ray1", "cli-e2e-1")
	if j.Status != "SUCCEEDED" || j.Metadata["raygate.owner"] != "alice@example.com" {
		t.Fatalf("job %+v: want SUCCEEDED owned by alice", j)
	}
}

// TestRayJobSubmitWorkingDir uploads a working_dir package through the
// gateway (GET then PUT /api/packages/...) and runs a script from it.
func TestRayJobSubmitWorkingDir(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.py"), []byte("print('from the uploaded working dir')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := rayCLI(t, nil, "job", "submit", "--address", s.Gateway.URL+"/clusters/team-a/ray1",
		"--headers", headersFlag(alice), "--working-dir", dir, "--", "python", "job.py")
	if err != nil || !strings.Contains(out, "from the uploaded working dir") || !strings.Contains(out, "succeeded") {
		t.Fatalf("ray job submit --working-dir: %v\n%s", err, out)
	}
	audit, _ := os.ReadFile(s.Gateway.AuditPath)
	if !strings.Contains(string(audit), `"method":"PUT","path":"/clusters/team-a/ray1/api/packages/gcs/`) {
		t.Fatal("the package upload is not in the audit log as a PUT through the gateway")
	}
	carol := token(t, "carol@example.com")
	if code, _ := call(t, carol, "PUT", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_x.zip", "x"); code != 403 {
		t.Fatalf("viewer uploads a package: %d, want 403", code)
	}
}

// TestJobSubmissionClient drives Ray's Python SDK through raygate: submit,
// tail logs (WebSocket), status, info, logs, list, stop and delete.
func TestJobSubmissionClient(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(components.RayVenv, "bin", "python"), "testdata/sdk.py", s.Gateway.URL+"/clusters/team-a/ray1", alice)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("sdk.py: %v\n%s\n%s", err, out, stderr)
	}
	var r struct {
		Submitted  string            `json:"submitted"`
		Tailed     string            `json:"tailed"`
		Status     string            `json:"status"`
		Metadata   map[string]string `json:"metadata"`
		Logs       string            `json:"logs"`
		Listed     bool              `json:"listed"`
		Stopped    bool              `json:"stop_returned"`
		LongStatus string            `json:"long_status"`
		Deleted    bool              `json:"deleted"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("sdk.py output %q: %v", out, err)
	}
	if r.Status != "SUCCEEDED" || !strings.Contains(r.Tailed, "tick 2") || !strings.Contains(r.Logs, "tick 2") || !r.Listed {
		t.Fatalf("sdk results %+v", r)
	}
	if r.Metadata["raygate.owner"] != "alice@example.com" || r.Metadata["purpose"] != "sdk-test" {
		t.Fatalf("metadata %v: owner must be stamped by the gateway, other keys kept", r.Metadata)
	}
	if !r.Stopped || r.LongStatus != "STOPPED" || !r.Deleted {
		t.Fatalf("stop/delete results %+v", r)
	}
}

// TestOwnership: one developer cannot stop another's job; an admin can;
// the owner can.
func TestOwnership(t *testing.T) {
	alice, bob, dave, eve := token(t, "alice@example.com"), token(t, "bob@example.com"), token(t, "dave@example.com"), token(t, "eve@example.com")
	long := "python -c \"import time; time.sleep(600)\""
	j1 := submitJob(t, alice, "team-a/ray1", long)
	j2 := submitJob(t, alice, "team-a/ray1", long)
	waitJob(t, alice, "team-a/ray1", j1, "RUNNING")

	// Refused for the ownership rule, not for anything else.
	const notOwner = "role developer does not allow jobs.stop.any"
	if code, body := call(t, bob, "POST", "/clusters/team-a/ray1/api/jobs/"+j1+"/stop", ""); code != 403 || !strings.Contains(body, notOwner) {
		t.Fatalf("bob stops alice's job: %d %s", code, body)
	}
	if code, body := call(t, bob, "DELETE", "/clusters/team-a/ray1/api/jobs/"+j1, ""); code != 403 || !strings.Contains(body, notOwner) {
		t.Fatalf("bob deletes alice's job: %d %s", code, body)
	}
	if code, _ := call(t, eve, "POST", "/clusters/team-a/ray1/api/jobs/"+j1+"/stop", ""); code != 404 {
		t.Fatalf("eve (other tenant) stops alice's job: %d, want 404", code)
	}
	if j := getJob(t, alice, "team-a/ray1", j1); j.Status != "RUNNING" && j.Status != "PENDING" {
		t.Fatalf("job %s changed state after refused stops: %s", j1, j.Status)
	}
	if code, body := call(t, dave, "POST", "/clusters/team-a/ray1/api/jobs/"+j1+"/stop", ""); code != 200 {
		t.Fatalf("admin stops alice's job: %d %s", code, body)
	}
	if code, body := call(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/"+j2+"/stop", ""); code != 200 {
		t.Fatalf("alice stops her own job: %d %s", code, body)
	}
	waitJob(t, alice, "team-a/ray1", j1, "STOPPED")
	waitJob(t, alice, "team-a/ray1", j2, "STOPPED")
	if code, body := call(t, alice, "DELETE", "/clusters/team-a/ray1/api/jobs/"+j2, ""); code != 200 {
		t.Fatalf("alice deletes her own job: %d %s", code, body)
	}
}

// TestViewerCannotSubmit: a viewer reads but gets 403 on submit, from the
// Ray CLI too.
func TestViewerCannotSubmit(t *testing.T) {
	s := requireStack(t)
	carol := token(t, "carol@example.com")
	if code, body := call(t, carol, "GET", "/clusters/team-a/ray1/api/jobs/", ""); code != 200 {
		t.Fatalf("viewer lists jobs: %d %s", code, body)
	}
	if code, body := call(t, carol, "POST", "/clusters/team-a/ray1/api/jobs/", `{"entrypoint":"echo hi"}`); code != 403 {
		t.Fatalf("viewer submits: %d %s", code, body)
	}
	out, err := rayCLI(t, nil, "job", "submit", "--no-wait", "--address", s.Gateway.URL+"/clusters/team-a/ray1",
		"--headers", headersFlag(carol), "--", "echo", "hi")
	if err == nil || !strings.Contains(out, "role viewer does not allow jobs.submit") {
		t.Fatalf("ray job submit as viewer should be refused: %v\n%s", err, out)
	}
}

// TestAPIKeyWithRayJobHeaders: a workload authenticates with an API key
// passed the way Ray documents, in RAY_JOB_HEADERS.
func TestAPIKeyWithRayJobHeaders(t *testing.T) {
	s := requireStack(t)
	out, err := rayCLI(t, []string{"RAY_JOB_HEADERS=" + headersFlag(s.APIKey)}, "job", "list", "--address", s.Gateway.URL+"/clusters/team-a/ray1")
	if err != nil {
		t.Fatalf("ray job list with RAY_JOB_HEADERS: %v\n%s", err, out)
	}
	if code, _ := call(t, s.APIKey, "GET", "/clusters/team-b/ray1/api/jobs/", ""); code != 404 {
		t.Fatalf("API key on another tenant: %d", code)
	}
}

func runRaygate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(components.RaygateBin, args...).CombinedOutput()
	return string(out), err
}
