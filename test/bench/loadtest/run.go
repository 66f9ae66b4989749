package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// target is one proxy under load.
type target struct {
	name string
	// gc says which GC setting it runs with, for the report.
	gc   string
	url  string
	auth string
	p    *proc
}

// Names of the targets; the report and the last line use them.
const (
	nameBare    = "bare"
	nameRaygate = "raygate"
	nameShipped = "raygate as shipped"
	nameOAuth2  = "oauth2-proxy"
)

func run(o options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (Debian package wrk)")
	}
	if o.oauth2Proxy == "" {
		return errors.New("--oauth2-proxy is required (scripts/build-oauth2-proxy.sh builds it)")
	}
	for _, bin := range []string{o.raygate, o.oauth2Proxy} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("binary: %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "raygate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pl := newPlacement()

	is, err := startIssuer()
	if err != nil {
		return err
	}
	defer is.close()
	tok, err := is.token(6 * time.Hour)
	if err != nil {
		return err
	}
	bearer := "Bearer " + tok

	var started []*proc
	defer func() {
		for _, p := range started {
			p.stop()
		}
	}()
	launch := func(core int, env []string, logName, name string, args ...string) (*proc, error) {
		logFile := ""
		if logName != "" {
			logFile = filepath.Join(dir, logName)
		}
		p, err := start(pl.command(core, name, args...), env, logFile)
		if err == nil {
			started = append(started, p)
		}
		return p, err
	}
	addrs, err := freeAddrs(7)
	if err != nil {
		return err
	}
	upAddr, bareAddr, rgAddr, rgMetrics, shipAddr, shipMetrics, o2Addr := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4], addrs[5], addrs[6]
	streamBytes := o.streamMiB << 20
	gcEnv := []string{"GOMAXPROCS=1", "GOGC=" + o.gogc}
	if _, err := launch(1, []string{"GOMAXPROCS=1"}, "", self, "--role", "upstream", "--addr", upAddr,
		"--stream-bytes", fmt.Sprint(streamBytes)); err != nil {
		return err
	}
	bare, err := launch(0, gcEnv, "", self, "--role", "bare", "--addr", bareAddr, "--target", "http://"+upAddr)
	if err != nil {
		return err
	}
	rgArgs := func(name, listen, metrics string) ([]string, error) {
		cfg := raygateConfig(listen, metrics, is.url, "http://"+upAddr, filepath.Join(dir, name+"-audit.log"), streamBytes)
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		args := []string{"serve", "--config", path}
		if o.pprof {
			args = append(args, "--pprof")
		}
		return args, nil
	}
	args, err := rgArgs("raygate", rgAddr, rgMetrics)
	if err != nil {
		return err
	}
	rg, err := launch(0, gcEnv, "raygate.log", o.raygate, args...)
	if err != nil {
		return err
	}
	if args, err = rgArgs("shipped", shipAddr, shipMetrics); err != nil {
		return err
	}
	// As shipped: no GOGC, so raygate's own default applies.
	ship, err := launch(0, []string{"GOMAXPROCS=1", "GOGC="}, "shipped.log", o.raygate, args...)
	if err != nil {
		return err
	}
	o2, err := launch(0, gcEnv, "oauth2-proxy.log", o.oauth2Proxy, oauth2ProxyArgs(o2Addr, is.url, "http://"+upAddr)...)
	if err != nil {
		return err
	}
	const path = "/api/version"
	targets := []*target{
		// The same request to every proxy: the bare one forwards the token
		// as it is, the others verify it.
		{name: nameBare, gc: "GOGC=" + o.gogc, url: "http://" + bareAddr + path, auth: bearer, p: bare},
		{name: nameRaygate, gc: "GOGC=" + o.gogc, url: "http://" + rgAddr + "/clusters/team-a/ray1" + path, auth: bearer, p: rg},
		{name: nameShipped, gc: "GOGC unset (raygate's default)", url: "http://" + shipAddr + "/clusters/team-a/ray1" + path, auth: bearer, p: ship},
		{name: nameOAuth2, gc: "GOGC=" + o.gogc, url: "http://" + o2Addr + path, auth: bearer, p: o2},
	}
	for _, t := range targets {
		if err := waitUp(t.url, t.auth, 30*time.Second); err != nil {
			return fmt.Errorf("%s: %w (logs in %s)", t.name, err, dir)
		}
	}
	if err := checkAlive(started); err != nil {
		return err
	}

	fmt.Println("raygate benchmark: raygate next to a bare httputil.ReverseProxy and oauth2-proxy")
	fmt.Println("date:     ", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Println("command:  ", strings.Join(append([]string{"loadtest"}, os.Args[1:]...), " "))
	fmt.Println("machine:  ", machine())
	fmt.Println("placement:", pl.describe())
	fmt.Println("workload:  GET of a small JSON answer with an RS256 bearer JWT, the same request to every proxy;")
	fmt.Println("           raygate and oauth2-proxy verify the token, the bare proxy forwards it")
	fmt.Println("           (raygate: OIDC with its verified-token cache, authorization, audit to a file, metrics)")
	for _, t := range targets {
		fmt.Printf("  %-20s GOMAXPROCS=1 %s\n", t.name, t.gc)
	}
	if o.pprof {
		fmt.Println("raygate pprof:", "http://"+rgMetrics+"/debug/pprof/", " as shipped:", "http://"+shipMetrics+"/debug/pprof/")
	}
	for _, t := range targets {
		if _, err := pl.wrk(t.url, t.auth, o.warmup, o.conns); err != nil {
			return fmt.Errorf("%s: warm-up: %w", t.name, err)
		}
	}

	fmt.Printf("\n%d connections: %d rounds; in each, every proxy gets %s next to %s of the bare proxy (order rotates)\n", o.conns, o.rounds, o.duration, o.duration)
	heavy, err := measure(pl, targets, o.rounds, o.duration, o.conns, true)
	if err != nil {
		return err
	}
	fmt.Printf("\n1 connection: %d rounds; in each, every proxy gets %s next to %s of the bare proxy\n", o.latRounds, o.latDuration, o.latDuration)
	light, err := measure(pl, targets, o.latRounds, o.latDuration, 1, false)
	if err != nil {
		return err
	}
	var streams []streamResult
	if o.streamMiB > 0 {
		fmt.Printf("\nstreaming %d MiB through each proxy (resident memory sampled every 20 ms)\n", o.streamMiB)
		for _, t := range []*target{targets[0], targets[2]} {
			base := strings.TrimSuffix(t.url, path)
			for _, dir := range []string{"upload", "download"} {
				r, err := streamThrough(t, base, t.auth, dir, streamBytes)
				if err != nil {
					return err
				}
				streams = append(streams, r)
				fmt.Println("  " + r.String())
			}
		}
	}
	if err := checkAlive(started); err != nil {
		return err
	}
	report(targets, heavy, light, streams, o)
	return nil
}

// checkAlive fails when a started process has exited: whatever answered
// in its place was not what was meant to be measured.
func checkAlive(ps []*proc) error {
	for _, p := range ps {
		if !p.alive() {
			return fmt.Errorf("%s exited early (its log is kept with the others)", strings.Join(p.cmd.Args, " "))
		}
	}
	return nil
}

// raygateConfig is the config of a raygate under test: one OIDC issuer,
// one cluster, audit to a file, metrics on their own listener, package
// uploads allowed up to past the streamed size.
func raygateConfig(listen, metrics, issuer, upstream, audit string, stream int64) string {
	return fmt.Sprintf(`listen: %s
metricsListen: %s
authentication:
  oidc:
    - issuer: %s
      audiences: [%s]
clusters:
  - namespace: team-a
    name: ray1
    upstream: %s
    access:
      - {role: developer, groups: [team-a]}
proxy:
  maxBodyBytes: {packageUpload: %d}
audit: {file: %s}
log: {level: warn}
`, listen, metrics, issuer, audience, upstream, stream+1<<20, audit)
}

// oauth2ProxyArgs configures oauth2-proxy against the local issuer, with
// bearer JWTs for the same audience (its client id) let through to the
// upstream after verification; its request log goes to its output file,
// as raygate's audit goes to a file.
func oauth2ProxyArgs(listen, issuer, upstream string) []string {
	return []string{
		"--http-address=" + listen,
		"--provider=oidc",
		"--oidc-issuer-url=" + issuer,
		"--client-id=" + audience,
		"--client-secret=benchmark-secret",
		"--cookie-secret=0123456789abcdef0123456789abcdef",
		"--cookie-secure=false",
		"--email-domain=*",
		"--upstream=" + upstream + "/",
		"--skip-jwt-bearer-tokens=true",
		"--bearer-token-login-fallback=false",
		"--skip-provider-button=true",
		"--redirect-url=http://" + listen + "/oauth2/callback",
	}
}
