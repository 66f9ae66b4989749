// Command demo runs raygate's local demo: two real Ray clusters with token
// authentication (team-a/ray1, team-b/ray1), a real Dex identity provider
// with users in different groups, and raygate in front with browser
// sign-in. It prints the address to open in a browser and the command that
// signs in from a terminal, shows an allowed job submission running to
// SUCCEEDED through the unchanged Ray CLI, a
// cross-tenant call refused, a viewer refused, and the audit lines, then
// keeps everything running until Ctrl-C (or exits at once with --exit).
//
// scripts/demo.sh installs the components and runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/raygate/raygate/test/e2e/harness"
)

func main() {
	var c harness.Components
	flag.StringVar(&c.RayVenv, "ray-venv", "", "virtualenv with ray[default] (scripts/install-ray.sh)")
	flag.StringVar(&c.DexBin, "dex", "", "Dex binary (scripts/build-dex.sh)")
	flag.StringVar(&c.RaygateBin, "raygate", "", "raygate binary")
	dir := flag.String("dir", ".cache/demo", "folder for logs, configs and the audit log")
	port := flag.Int("port", 8080, "port for raygate, if free (else any free port)")
	exit := flag.Bool("exit", false, "stop everything after the walkthrough instead of waiting for Ctrl-C")
	flag.Parse()
	if c.RayVenv == "" || c.DexBin == "" || c.RaygateBin == "" {
		fmt.Fprintln(os.Stderr, "demo: --ray-venv, --dex and --raygate are required (run scripts/demo.sh)")
		os.Exit(2)
	}
	if err := run(c, *dir, *port, *exit); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(c harness.Components, dir string, port int, exit bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	_ = os.RemoveAll(abs)
	step("Starting the demo (logs in %s)", abs)
	s, err := harness.StartStack(ctx, c, abs, harness.StackOptions{GatewayPort: port, RootIssuer: true, Log: func(f string, a ...any) { fmt.Printf("  - "+f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping raygate, the Ray clusters and Dex")
		s.Stop()
		fmt.Println("  stopped")
	}()
	gw := s.Gateway.URL
	ray := filepath.Join(c.RayVenv, "bin", "ray")

	step("Running")
	fmt.Printf("  raygate         %s   (metrics on %s/metrics)\n", gw, s.Gateway.MetricsURL)
	fmt.Printf("  Dex (OIDC)      %s\n", s.Dex.Issuer)
	fmt.Printf("  team-a/ray1     %s/clusters/team-a/ray1/   (Ray head %s, token auth on)\n", gw, s.RayA.Dashboard)
	fmt.Printf("  team-b/ray1     %s/clusters/team-b/ray1/   (Ray head %s, token auth on)\n", gw, s.RayB.Dashboard)
	fmt.Printf("  config          %s\n  audit log       %s\n", s.Gateway.ConfigPath, s.Gateway.AuditPath)
	fmt.Println()
	fmt.Println("  Users (password \"" + harness.Password + "\"):")
	fmt.Println("    alice@example.com, bob@example.com  group team-a          developer on team-a")
	fmt.Println("    carol@example.com                   group team-a-viewers  viewer on team-a")
	fmt.Println("    eve@example.com                     group team-b          developer on team-b")
	fmt.Println("    dave@example.com                    group platform-admins admin on both")
	fmt.Println("    mallory@example.com                 group contractors     nothing")

	step("Sign in with a browser")
	fmt.Printf("  Open %s/ and sign in on Dex's page as one of the users above\n", gw)
	fmt.Println("  (password \"" + harness.Password + "\"). raygate lists the clusters you have a role on;")
	fmt.Println("  each opens Ray's own dashboard at your role. Try carol (a viewer on team-a),")
	fmt.Println("  eve (team-b only), dave (both) and mallory (none). Sign out from the top right.")
	fmt.Println("  The browser talks to raygate over plain HTTP on 127.0.0.1, so raygate logs a")
	fmt.Println("  warning that its session cookie goes without Secure there; use https anywhere else.")

	step("Sign in from a terminal, then use Ray's own CLI through raygate")
	rg := c.RaygateBin
	fmt.Printf("  %s login --gateway %s\n", rg, gw)
	fmt.Println("  It prints an address and a code: open the address, enter the code, and sign in")
	fmt.Println("  as alice@example.com (password \"" + harness.Password + "\"). With a browser on this computer,")
	fmt.Println("  add --browser: it opens Dex's page and comes back to raygate login by itself.")
	fmt.Println("  Then, without pasting any token:")
	fmt.Printf("  %s status\n", rg)
	fmt.Printf("  %s exec -- %s job submit --address %s/clusters/team-a/ray1 -- python -c \"print('hello from team-a')\"\n", rg, ray, gw)
	fmt.Printf("  %s exec -- %s job list --address %s/clusters/team-a/ray1\n", rg, ray, gw)
	fmt.Printf("  %s logout\n", rg)
	fmt.Println("  (docs/data-scientists.md has the rest: the SDK in a notebook, RAY_JOB_HEADERS, errors.)")

	alice, err := s.Dex.Token(ctx, "alice@example.com")
	if err != nil {
		return err
	}
	fmt.Println("\n  Running a job now as alice (with a token the demo gets from Dex itself):")
	hdr, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + alice})
	cmd := exec.CommandContext(ctx, ray, "job", "submit", "--address", gw+"/clusters/team-a/ray1", "--headers", string(hdr),
		"--", "python", "-c", "print('hello from team-a')")
	out, err := cmd.CombinedOutput()
	fmt.Println(indent(lastLines(string(out), 6)))
	if err != nil {
		return fmt.Errorf("job submission failed: %w", err)
	}

	step("A cross-tenant call is refused: alice asks for team-b's jobs")
	show(ctx, "GET", gw+"/clusters/team-b/ray1/api/jobs/", alice, "")
	step("A viewer cannot submit: carol tries")
	carol, err := s.Dex.Token(ctx, "carol@example.com")
	if err != nil {
		return err
	}
	show(ctx, "POST", gw+"/clusters/team-a/ray1/api/jobs/", carol, `{"entrypoint":"echo hi"}`)
	step("Who am I? (alice)")
	show(ctx, "GET", gw+"/_raygate/whoami", alice, "")

	step("The audit log (%s), one line per decision", s.Gateway.AuditPath)
	time.Sleep(200 * time.Millisecond)
	audit, _ := os.ReadFile(s.Gateway.AuditPath)
	fmt.Println(indent(lastLines(string(audit), 8)))

	if exit {
		return nil
	}
	step("raygate is running. Try the commands above in another terminal; Ctrl-C stops everything.")
	<-ctx.Done()
	return nil
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func show(ctx context.Context, method, url, bearer, body string) {
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, rb)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("  error:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("  %s %s\n  -> %s %s\n", method, url, resp.Status, strings.TrimSpace(string(b)))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
