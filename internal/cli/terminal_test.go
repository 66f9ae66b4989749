package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/gateway"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
	"github.com/raygate/raygate/internal/tokencache"
)

// testAs makes the test binary play another program (see TestMain).
const testAs = "RAYGATE_CLI_TEST_AS"

// TestMain lets the test binary play a browser (following a sign-in URL
// to its end) or raygate itself (for exec, which replaces the process).
func TestMain(m *testing.M) {
	switch os.Getenv(testAs) {
	case "browser":
		resp, err := http.Get(os.Args[1])
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		os.Exit(0)
	case "raygate":
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// terminalRig is a real gateway offering terminal sign-in with a fake
// provider (browser flow, revocation), a token cache of the test's own,
// and the test binary as the browser.
type terminalRig struct {
	idp *oidctest.Provider
	gw  string
	dir string
}

func newTerminalRig(t *testing.T) *terminalRig {
	t.Helper()
	r := &terminalRig{idp: oidctest.New(t, oidctest.Options{Public: true, Revocation: true}), dir: t.TempDir()}
	path := filepath.Join(t.TempDir(), "raygate.yaml")
	text := fmt.Sprintf(`listen: 127.0.0.1:0
metricsListen: 127.0.0.1:1
authentication:
  oidc:
    - {issuer: %s, audiences: [raygate], cliClientID: raygate, displayName: Test SSO}
clusters:
  - {namespace: team-a, name: ray1, upstream: "http://127.0.0.1:1", access: [{role: viewer, groups: [team-a-viewers]}]}
  - {namespace: team-b, name: ray1, upstream: "http://127.0.0.1:1", access: [{role: developer, groups: [team-b]}]}
`, r.idp.Issuer)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := gateway.New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(io.Discard))
	st, err := g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(st, 0)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	r.gw = srv.URL
	t.Setenv(tokencache.EnvDir, r.dir)
	t.Setenv("RAYGATE_GATEWAY", "")
	t.Setenv("RAY_JOB_HEADERS", "")
	t.Setenv("BROWSER", os.Args[0])
	t.Setenv(testAs, "browser")
	return r
}

func (r *terminalRig) sub(s string) string {
	return strings.NewReplacer("GW", r.gw, "ISSUER", r.idp.Issuer).Replace(s)
}

var jwtRE = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// TestTerminalSignIn: login, status, token, env, exec and logout, as a
// person uses them.
func TestTerminalSignIn(t *testing.T) {
	r := newTerminalRig(t)
	code, out, errOut := run("login", "--gateway", r.gw+"/", "--browser")
	if code != 0 {
		t.Fatalf("login: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		r.sub("Signed in to GW as carol@example.com with Test SSO, until "), " (renewed automatically).\n",
		"Your clusters (give ADDRESS to ray job --address, or to JobSubmissionClient):\n",
		r.sub("  team-a/ray1  viewer  GW/clusters/team-a/ray1\n"),
		r.sub("raygate exec -- ray job submit --address GW/clusters/team-a/ray1 -- python my_job.py"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("login's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "team-b") {
		t.Errorf("login lists a cluster carol has no role on:\n%s", out)
	}
	if !strings.Contains(errOut, "To sign in, open this page in a browser on this computer:") {
		t.Errorf("login's instructions:\n%s", errOut)
	}

	// The gateway is remembered: no --gateway from now on.
	code, tok, errOut := run("token")
	tok = strings.TrimSpace(tok)
	if code != 0 || !jwtRE.MatchString(tok) {
		t.Fatalf("token: exit %d %q %s", code, tok, errOut)
	}
	if strings.Contains(out+errOut, tok) {
		t.Fatal("login printed the token")
	}
	cached, _ := (tokencache.Store{Dir: r.dir}).Load()
	if cached.Current(r.gw).IDToken != tok {
		t.Fatal("token printed another token than the cached one")
	}

	code, out, _ = run("status")
	for _, want := range []string{
		r.sub("Gateway         GW\n"), "User            carol@example.com\n", "Groups          team-a-viewers\n",
		r.sub("Signed in with  ISSUER (client raygate)\n"), "Token           valid until ", "left); renewed automatically with the refresh token\n",
		"Token cache     " + filepath.Join(r.dir, "tokens.json") + "\n", r.sub("  team-a/ray1  viewer  GW/clusters/team-a/ray1\n"),
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status (exit %d) lacks %q:\n%s", code, want, out)
		}
	}

	code, out, _ = run("env")
	if want := `export RAY_JOB_HEADERS='{"Authorization": "Bearer ` + tok + `"}'` + "\n"; code != 0 || out != want {
		t.Errorf("env = %q", out)
	}
	t.Setenv("RAY_JOB_HEADERS", `{"X-Team": "it's a"}`)
	code, out, _ = run("env", "--shell", "fish")
	if want := `set -gx RAY_JOB_HEADERS '{"Authorization": "Bearer ` + tok + `", "X-Team": "it\'s a"}'` + "\n"; code != 0 || out != want {
		t.Errorf("env --shell fish = %q", out)
	}

	var gotPath string
	var gotArgv, gotEnv []string
	execve = func(path string, argv, environ []string, _ Env) error {
		gotPath, gotArgv, gotEnv = path, argv, environ
		return nil
	}
	t.Cleanup(func() { execve = execCommand })
	if code, _, errOut := run("exec", "--", "sh", "-c", "exit 3", "--address", "x"); code != 0 {
		t.Fatalf("exec: exit %d %s", code, errOut)
	}
	sh, _ := exec.LookPath("sh")
	if gotPath != sh || strings.Join(gotArgv, " ") != "sh -c exit 3 --address x" {
		t.Fatalf("exec ran %s %q", gotPath, gotArgv)
	}
	headers := ""
	for _, kv := range gotEnv {
		if v, ok := strings.CutPrefix(kv, "RAY_JOB_HEADERS="); ok {
			headers = v
		}
	}
	if want := `{"Authorization": "Bearer ` + tok + `", "X-Team": "it's a"}`; headers != want {
		t.Fatalf("RAY_JOB_HEADERS %q, want %q", headers, want)
	}

	code, out, _ = run("logout")
	if want := r.sub("Signed out of GW (carol@example.com at ISSUER): tokens removed, refresh token revoked\n"); code != 0 || out != want {
		t.Fatalf("logout: exit %d %q", code, out)
	}
	if len(r.idp.Revoked()) != 1 {
		t.Fatalf("revoked %v", r.idp.Revoked())
	}
	runCases(t, []cliCase{
		{"token after logout", []string{"token"}, ExitFailure, "", r.sub("raygate token: not signed in to GW: run raygate login --gateway GW\n"), true},
		{"status after logout", []string{"status"}, ExitFailure, "", r.sub("raygate status: not signed in to GW: run raygate login --gateway GW\n"), true},
		{"exec after logout", []string{"exec", "--", "true"}, ExitFailure, "", r.sub("raygate exec: not signed in to GW: run raygate login --gateway GW\n"), true},
		{"logout again", []string{"logout"}, ExitOK, r.sub("Not signed in to GW.\n"), "", false},
		{"logout all", []string{"logout", "--all"}, ExitOK, "Not signed in anywhere.\n", "", false},
	})
}

func TestTerminalCommandErrors(t *testing.T) {
	r := newTerminalRig(t)
	if _, out, _ := run("login", "--help"); strings.Count(out, "Usage:") != 1 {
		t.Errorf("login --help prints its usage %d times:\n%s", strings.Count(out, "Usage:"), out)
	}
	runCases(t, []cliCase{
		{"login help", []string{"login", "--help"}, ExitOK, "Usage: raygate login [--gateway URL]", "", false},
		{"token without a gateway", []string{"token"}, ExitFailure, "", "raygate token: no gateway given and none remembered: run raygate login --gateway https://raygate.example.com (the address you open in a browser)", true},
		{"login over plain http", []string{"login", "--gateway", "http://raygate.example.com"}, ExitFailure, "", "raygate login: refusing to send tokens in the clear to http://raygate.example.com: use https", true},
		{"login to a cluster's address", []string{"login", "--gateway", r.gw + "/clusters/team-a/ray1"}, ExitFailure, "", "is a cluster's address: give the gateway's, " + r.gw, true},
		{"device and browser", []string{"login", "--device", "--browser"}, ExitUsage, "", "raygate login: --device and --browser exclude each other", true},
		{"no device grant", []string{"login", "--gateway", r.gw, "--device"}, ExitFailure, "", r.sub("raygate login: the identity provider ISSUER offers no sign-in with a code (device authorization): run raygate login --browser"), true},
		{"bad timeout", []string{"login", "--timeout", "0s"}, ExitUsage, "", "--timeout must be positive", true},
		{"exec without a command", []string{"exec", "--gateway", r.gw}, ExitUsage, "", "raygate exec: give the command to run after --", true},
		{"env for tcsh", []string{"env", "--shell", "tcsh"}, ExitUsage, "", `raygate env: --shell: unknown shell "tcsh" (one of sh, fish, powershell)`, true},
		{"logout all and a gateway", []string{"logout", "--all", "--gateway", r.gw}, ExitUsage, "", "--all and --gateway exclude each other", true},
		{"status extra argument", []string{"status", "x"}, ExitUsage, "", `unexpected argument "x"`, true},
	})
	t.Setenv("RAYGATE_GATEWAY", r.gw)
	if code, _, errOut := run("login"); code != 0 {
		t.Fatalf("login with RAYGATE_GATEWAY: %d %s", code, errOut)
	}
	runCases(t, []cliCase{
		{"exec of a missing command", []string{"exec", "--", "raygate-no-such-command"}, ExitNotFound, "", "raygate exec: raygate-no-such-command: executable file not found in $PATH", true},
	})
}
