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
	{"explain-landing", []string{"explain", "--config", demo, "--user", "mallory@example.com", "GET", "/"}},
	{"explain-login-config", []string{"explain", "--config", demo, "--user", "mallory@example.com", "POST", "/_raygate/login-config"}},
	{"explain-sign-in", []string{"explain", "--config", demo, "--user", "mallory@example.com", "GET", "/_raygate/sign-in"}},
	{"explain-authentication-mode", []string{"explain", "--config", demo, "--user", "carol@example.com", "--group", "team-a-viewers", "GET", "/clusters/team-a/ray1/api/authentication_mode"}},
	{"explain-package-upload", []string{"explain", "--config", demo, "--user", "alice@example.com", "--group", "team-a", "PUT", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_0123abcd.zip"}},
	{"explain-upgrade-post", []string{"explain", "--config", demo, "--user", "alice@example.com", "--group", "team-a", "--upgrade", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/logs/tail"}},
	{"explain-raised-logs", []string{"explain", "--config", tdata + "new.yaml", "--user", "auditor@example.com", "GET", "/clusters/team-c/ray1/api/v0/logs/file"}},
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
	{"who-can-raised-logs", []string{"who-can", "--config", tdata + "new.yaml", "logs.read", "team-c/ray1"}},
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

func TestPolicyCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("clusters:\n  - name: Bad\n"), 0o600)
	badTests := filepath.Join(dir, "tests.yaml")
	_ = os.WriteFile(badTests, []byte("tests:\n  - {user: a, request: GET /, expect: maybe}\n"), 0o600)
	runCases(t, []cliCase{
		{"explain help", []string{"explain", "--help"}, ExitOK, "--request-id", "", false},
		{"explain no request", []string{"explain", "--config", demo, "--user", "a"}, ExitUsage, "", "want METHOD PATH", true},
		{"explain bad method", []string{"explain", "--config", demo, "--user", "a", "G(T", "/"}, ExitUsage, "", "not an HTTP method token", true},
		{"explain relative path", []string{"explain", "--config", demo, "--user", "a", "GET", "clusters/a/b/"}, ExitUsage, "", "must start with /", true},
		{"explain no config", []string{"explain", "--user", "a", "GET", "/"}, ExitUsage, "", "--config is required", true},
		{"explain missing config", []string{"explain", "--config", filepath.Join(dir, "nope.yaml"), "--user", "a", "GET", "/"}, ExitUsage, "", "nope.yaml: cannot read config", true},
		{"explain invalid config", []string{"explain", "--config", bad, "--user", "a", "GET", "/"}, ExitUsage, "", bad + ":2: clusters[0].name", false},
		{"explain no user", []string{"explain", "--config", demo, "GET", "/"}, ExitUsage, "", "no user", true},
		{"explain token and user", []string{"explain", "--config", demo, "--token", "x", "--user", "a", "GET", "/"}, ExitUsage, "", "--token names the caller", true},
		{"explain empty token", []string{"explain", "--config", demo, "--token", "Bearer ", "GET", "/"}, ExitUsage, "", "--token is empty", true},
		{"explain bad service account", []string{"explain", "--config", demo, "--service-account", "x", "GET", "/"}, ExitUsage, "", "is not namespace/name", true},
		{"explain bad format", []string{"explain", "--config", demo, "--user", "a", "--format", "xml", "GET", "/"}, ExitUsage, "", "unknown --format", true},
		{"explain bad kubeconfig", []string{"explain", "--config", demo, "--user", "a", "--kubeconfig", filepath.Join(dir, "kc"), "GET", "/"}, ExitUsage, "", "--kubeconfig", true},
		{"explain flags after", []string{"explain", "GET", "/clusters/team-a/ray1/", "--config", demo, "--user", "dave@example.com", "--group", "platform-admins"}, ExitOK, "allow: forwarded", "", false},
		{"explain audit without id", []string{"explain", "--audit", tdata + "audit.log"}, ExitUsage, "", "go together", true},
		{"explain audit with user", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "x", "--user", "a"}, ExitUsage, "", "--user does not go with --audit", true},
		{"explain audit with request", []string{"explain", "--audit", tdata + "audit.log", "--request-id", "x", "GET", "/"}, ExitUsage, "", "unexpected argument", true},
		{"explain audit missing file", []string{"explain", "--audit", filepath.Join(dir, "none.log"), "--request-id", "x"}, ExitUsage, "", "no such file", true},
		{"who-can unknown action", []string{"who-can", "--config", demo, "jobs.run", "team-a/ray1"}, ExitUsage, "", `unknown action "jobs.run"`, true},
		{"who-can bad cluster", []string{"who-can", "--config", demo, "jobs.submit", "team-a"}, ExitUsage, "", "NAMESPACE/NAME", true},
		{"who-can one arg", []string{"who-can", "--config", demo, "jobs.submit"}, ExitUsage, "", "want ACTION NAMESPACE/NAME", true},
		{"access no user", []string{"access", "--config", demo}, ExitUsage, "", "no user", true},
		{"access extra", []string{"access", "--config", demo, "--user", "a", "x"}, ExitUsage, "", "unexpected argument", true},
		{"diff one", []string{"diff", demo}, ExitUsage, "", "want OLD.yaml NEW.yaml", true},
		{"diff invalid", []string{"diff", demo, bad}, ExitUsage, "", bad + ":2:", false},
		{"test no file", []string{"test", "--config", demo}, ExitUsage, "", "no tests file", true},
		{"test bad file", []string{"test", "--config", demo, badTests}, ExitUsage, "", badTests + ":2: expect: must be allow, deny or notfound", true},
		{"test missing file", []string{"test", "--config", demo, filepath.Join(dir, "none.yaml")}, ExitUsage, "", "no such file", true},
	})
}

func TestCheckSkipFiles(t *testing.T) {
	runCases(t, []cliCase{
		{"check reads named files", []string{"check", "--config", tdata + "new.yaml"}, ExitFailure, "", "new.yaml:28: clusters[2].rayTokenFile: cannot read token file", false},
		{"check --skip-files", []string{"check", "--skip-files", "--config", tdata + "new.yaml"}, ExitOK, "ok (3 clusters", "", false},
	})
}

// TestViewerGainingSubmitIsCaught: a change that quietly lets the demo's
// viewers submit jobs (team-a-viewers added to the developers' binding)
// fails raygate diff --fail-on-gain, naming the gain, and fails the demo's
// policy test that a viewer cannot submit, with the binding that allows it.
func TestViewerGainingSubmitIsCaught(t *testing.T) {
	code, out, errOut := run("diff", "--fail-on-gain", demo, tdata+"new.yaml")
	if code != ExitFailure || !strings.Contains(out, "+ group team-a-viewers          team-a/ray1  jobs.submit     developer via group team-a-viewers at testdata/policy/new.yaml:17") ||
		!strings.Contains(errOut, "grants gained (--fail-on-gain)") {
		t.Fatalf("diff: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run("test", "--config", tdata+"new.yaml", demoTest)
	if code != ExitFailure || !strings.Contains(out, "FAIL ../../test/demo/policy-tests.yaml:18: a viewer cannot submit: want deny, got allow") ||
		!strings.Contains(out, "developer from group team-a-viewers at testdata/policy/new.yaml:17") {
		t.Fatalf("test: exit %d\n%s", code, out)
	}
	if code, out, _ := run("test", "--config", demo, demoTest); code != ExitOK {
		t.Fatalf("the demo's own config fails its tests:\n%s", out)
	}
}
