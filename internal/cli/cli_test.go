package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// cliCase is one command line and what it must print and exit with.
type cliCase struct {
	name       string
	args       []string
	code       int
	out, err   string // substrings of stdout and stderr
	oneLineErr bool   // stderr must be a single line
}

// runCases runs each case through Main: exit code, output, a single line
// on stderr where required, and never a stack trace.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Fatalf("stdout %q (want %q), stderr %q (want %q)", out, tc.out, errOut, tc.err)
			}
			if tc.oneLineErr && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("stderr is not one line: %q", errOut)
			}
			if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
				t.Fatalf("stack trace on stderr: %s", errOut)
			}
		})
	}
}

func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(good, []byte("authentication:\n  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("listen: x\nclusters:\n  - name: Bad\n"), 0o600)
	inline := filepath.Join(dir, "inline.yaml")
	_ = os.WriteFile(inline, []byte("authentication:\n  oidc:\n    - {issuer: https://idp.example.com, audiences: [raygate], login: true, clientID: raygate, clientSecret: s3cret}\n  session: {keys: ["+strings.Repeat("A", 43)+"=]}\n"), 0o600)

	runCases(t, []cliCase{
		{"no args", nil, ExitUsage, "", "Usage: raygate COMMAND", false},
		{"help", []string{"--help"}, ExitOK, "Commands:", "", false},
		{"help command", []string{"help", "check"}, ExitOK, "Usage: raygate check --config FILE", "", false},
		{"unknown command", []string{"frobnicate"}, ExitUsage, "", "raygate: unknown command \"frobnicate\"", true},
		{"version", []string{"version"}, ExitOK, "raygate dev", "", false},
		{"version json", []string{"version", "--json"}, ExitOK, `"goVersion"`, "", false},
		{"--version", []string{"--version"}, ExitOK, "raygate dev", "", false},
		{"version extra arg", []string{"version", "x"}, ExitUsage, "", "unexpected argument", true},
		{"check help", []string{"check", "--help"}, ExitOK, "--config", "", false},
		{"check ok", []string{"check", "--config", good}, ExitOK, "ok (0 clusters", "", false},
		{"check positional", []string{"check", good}, ExitOK, "ok", "", false},
		{"check bad", []string{"check", "--config", bad}, ExitFailure, "", bad + ":1: listen: \"x\" is not host:port", false},
		{"check warns about inline secrets", []string{"check", "--config", inline}, ExitOK, "ok", inline + ":3: authentication.oidc[0].clientSecret: warning: the client secret is written in the config", false},
		{"check missing file", []string{"check", "--config", filepath.Join(dir, "nope.yaml")}, ExitFailure, "", "nope.yaml: cannot read config: no such file or directory", true},
		{"check no flag", []string{"check"}, ExitUsage, "", "--config is required", true},
		{"check bad flag", []string{"check", "--bogus"}, ExitUsage, "", "flag provided but not defined: -bogus", true},
		{"serve no config", []string{"serve"}, ExitUsage, "", "--config is required", true},
		{"serve bad config", []string{"serve", "--config", bad}, ExitFailure, "", ":3: clusters[0].name", false},
		{"serve negative interval", []string{"serve", "--config", good, "--reload-interval", "-1s"}, ExitUsage, "", "must not be negative", true},
	})
}
