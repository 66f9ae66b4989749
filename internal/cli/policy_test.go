package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	demo     = "../../test/demo/raygate.yaml"
	demoTest = "../../test/demo/policy-tests.yaml"
	tdata    = "testdata/policy/"
)

// policyCases are the policy commands over the demo's config (and a few
// others), with their text and JSON output in testdata/policy/*.golden.
var policyCases = []struct {
	name string
	args []string
}{
	{"explain-viewer-submits", []string{"explain", "--config", demo, "--user", "carol@example.com", "--group", "team-a-viewers", "POST", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-developer-submits", []string{"explain", "--config", demo, "--user", "alice@example.com", "--group", "team-a", "POST", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-developer-stops", []string{"explain", "--config", demo, "--user", "alice@example.com", "--group", "team-a", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/stop"}},
	{"explain-developer-stops-anothers", []string{"explain", "--config", demo, "--user", "bob@example.com", "--group", "team-a", "--job-owner", "alice@example.com", "DELETE", "/clusters/team-a/ray1/api/jobs/raysubmit_1"}},
	{"explain-admin-stops-missing", []string{"explain", "--config", demo, "--user", "dave@example.com", "--group", "platform-admins", "--job-missing", "POST", "/clusters/team-b/ray1/api/jobs/raysubmit_1/stop"}},
	{"explain-other-tenant", []string{"explain", "--config", demo, "--user", "eve@example.com", "--group", "team-b", "GET", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-missing-cluster", []string{"explain", "--config", demo, "--user", "dave@example.com", "--group", "platform-admins", "GET", "/clusters/team-z/ray1/api/jobs/"}},
	{"explain-ambiguous", []string{"explain", "--config", demo, "--user", "dave@example.com", "GET", "/clusters/team-a/ray1/api/jobs/..%2f..%2fteam-b/"}},
	{"explain-redirect", []string{"explain", "--config", demo, "--user", "carol@example.com", "--group", "team-a-viewers", "GET", "http://127.0.0.1:8080/clusters/team-a/ray1"}},
	{"explain-log-tail", []string{"explain", "--config", demo, "--user", "carol@example.com", "--group", "team-a-viewers", "--upgrade", "GET", "/clusters/team-a/ray1/api/jobs/raysubmit_1/logs/tail"}},
	{"explain-trace", []string{"explain", "--config", demo, "--user", "dave@example.com", "TRACE", "/clusters/team-a/ray1/"}},
	{"explain-whoami", []string{"explain", "--config", demo, "--user", "mallory@example.com", "GET", "/_raygate/whoami"}},
	{"explain-token-apikey", []string{"explain", "--config", demo, "--token", "demo-ci-bot-key", "POST", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-token-wrong", []string{"explain", "--config", demo, "--token", "not-a-key", "GET", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-kube-static", []string{"explain", "--config", tdata + "kube.yaml", "--user", "carol@example.com", "GET", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-kube-service-account", []string{"explain", "--config", tdata + "kube.yaml", "--service-account", "team-a/runner", "POST", "/clusters/team-a/ray1/api/jobs/"}},
	{"explain-kube-discovered", []string{"explain", "--config", tdata + "kube.yaml", "--user", "ann@example.com", "--group", "platform-viewers", "GET", "/clusters/team-c/ray5/api/jobs/"}},
	{"explain-audit", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "7a1c9e0f2b44-1"}},
	{"explain-audit-now", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "7a1c9e0f2b44-1", "--config", tdata + "new.yaml"}},
	{"explain-audit-mutation", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "7a1c9e0f2b44-2"}},
	{"explain-audit-unfinished", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "7a1c9e0f2b44-3"}},
	{"explain-audit-unknown", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "7a1c9e0f2b44-99"}},
	{"who-can-submit", []string{"who-can", "--config", demo, "jobs.submit", "team-a/ray1"}},
	{"who-can-stop", []string{"who-can", "--config", demo, "jobs.stop", "team-b/ray1"}},
	{"who-can-admin", []string{"who-can", "--config", demo, "cluster.admin", "team-b/ray1"}},
	{"who-can-kube", []string{"who-can", "--config", tdata + "kube.yaml", "jobs.submit", "team-a/ray1"}},
	{"who-can-kube-discovered", []string{"who-can", "--config", tdata + "kube.yaml", "cluster.read", "team-d/ray2"}},
	{"who-can-missing", []string{"who-can", "--config", demo, "jobs.submit", "team-z/ray1"}},
	{"access-alice", []string{"access", "--config", demo, "--user", "alice@example.com", "--group", "team-a"}},
	{"access-dave", []string{"access", "--config", demo, "--user", "dave@example.com", "--group", "platform-admins"}},
	{"access-mallory", []string{"access", "--config", demo, "--user", "mallory@example.com", "--group", "contractors"}},
	{"access-kube", []string{"access", "--config", tdata + "kube.yaml", "--service-account", "team-a/runner"}},
	{"diff", []string{"diff", demo, tdata + "new.yaml"}},
	{"diff-fail-on-gain", []string{"diff", "--fail-on-gain", demo, tdata + "new.yaml"}},
	{"diff-same", []string{"diff", "--fail-on-gain", demo, demo}},
	{"test-passing", []string{"test", "--config", demo, demoTest}},
	{"test-passing-verbose", []string{"test", "--config", demo, "-v", demoTest}},
	{"test-failing", []string{"test", "--config", demo, tdata + "failing-tests.yaml"}},
	{"test-new-config", []string{"test", "--config", tdata + "new.yaml", demoTest}},
}

// TestPolicyGolden runs each policy command in text and JSON, and
// compares exit code, stdout and stderr with its golden file
// (go test -run TestPolicyGolden -update rewrites them).
func TestPolicyGolden(t *testing.T) {
	for _, tc := range policyCases {
		for _, format := range []string{"text", "json"} {
			if format == "json" && strings.HasSuffix(tc.name, "-verbose") {
				continue
			}
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				args := append([]string{tc.args[0], "--format", format}, tc.args[1:]...)
				code, out, errOut := run(args...)
				got := fmt.Sprintf("$ raygate %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, out, errOut)
				name := tc.name + ".txt.golden"
				if format == "json" {
					name = tc.name + ".json.golden"
				}
				path := filepath.Join("testdata", "policy", "golden", name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if got != string(want) {
					t.Fatalf("output differs from %s (run with -update to accept):\n%s", path, got)
				}
			})
		}
	}
}
