//go:build e2e

package gateway_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// zipWith returns a working_dir package holding main.py with src.
func zipWith(t *testing.T, src string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("main.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(src)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPackageCannotBeReplaced: Ray 2.60 replaces a package on every PUT,
// and a job names its package by URI only, so one developer could swap
// the code another developer's job runs. Through raygate a package is
// written once: bob uploads his package, alice's upload of other code
// under the same name is refused with 409 and never reaches Ray, and
// bob's job runs bob's code.
func TestPackageCannotBeReplaced(t *testing.T) {
	s := requireStack(t)
	alice, bob := token(t, "alice@example.com"), token(t, "bob@example.com")
	name := "_ray_pkg_" + randomSuffix() + randomSuffix() + ".zip"
	path := "/clusters/team-a/ray1/api/packages/gcs/" + name
	marker := "pkg-" + randomSuffix()

	if code, body := call(t, bob, "GET", path, ""); code != 404 {
		t.Fatalf("bob asks for his package before uploading it: %d %s", code, body)
	}
	if code, body := call(t, bob, "PUT", path, zipWith(t, "print('bob "+marker+"')\n")); code != 200 {
		t.Fatalf("bob uploads his package: %d %s", code, body)
	}
	before := len(s.TapA.Seen())
	code, body := call(t, alice, "PUT", path, zipWith(t, "print('alice "+marker+"')\n"))
	if code != 409 || !strings.Contains(body, `"error":"conflict"`) {
		t.Fatalf("alice replaces bob's package: %d %s, want 409 conflict", code, body)
	}
	for _, h := range s.TapA.Seen()[before:] {
		if h.Get("X-Forwarded-User") == "alice@example.com" {
			t.Fatal("alice's upload reached Ray")
		}
	}

	b, _ := json.Marshal(map[string]any{"entrypoint": "python main.py", "runtime_env": map[string]any{"working_dir": "gcs://" + name}})
	code, body = call(t, bob, "POST", "/clusters/team-a/ray1/api/jobs/", string(b))
	if code != 200 {
		t.Fatalf("bob submits a job with his package: %d %s", code, body)
	}
	var sub struct {
		SubmissionID string `json:"submission_id"`
	}
	_ = json.Unmarshal([]byte(body), &sub)
	if j := waitJob(t, bob, "team-a/ray1", sub.SubmissionID, "SUCCEEDED", "FAILED"); j.Status != "SUCCEEDED" {
		t.Fatalf("bob's job: %s", j.Status)
	}
	_, logs := call(t, bob, "GET", "/clusters/team-a/ray1/api/jobs/"+sub.SubmissionID+"/logs", "")
	if !strings.Contains(logs, "bob "+marker) || strings.Contains(logs, "alice "+marker) {
		t.Fatalf("bob's job did not run bob's code: %s", logs)
	}
}
