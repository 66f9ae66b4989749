//go:build e2e

// Package login_test signs in from a terminal end to end: the built
// raygate binary's login (device grant and loopback browser flow) against
// a real Dex, approved in a real headless Chromium; Ray 2.60's own CLI
// and SDK run under raygate exec through the gateway; the cached token is
// renewed after it expires (Dex issues ID tokens for one minute here);
// logout; and no token in any log.
package login_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/test/e2e/harness"
)

// idTokenTTL is Dex's ID token lifetime in these tests: short, so a
// renewal happens within a test.
const idTokenTTL = time.Minute

// env is what the tests run against.
type env struct {
	dir     string
	dex     *harness.Dex
	ray     *harness.Ray
	gateway *harness.Raygate
}

var (
	components harness.Components
	stack      *env
	startErr   error
	missing    []string
	artifacts  string
)

func TestMain(m *testing.M) {
	components = harness.Components{
		RayVenv:    os.Getenv("RAYGATE_RAY_VENV"),
		DexBin:     os.Getenv("RAYGATE_DEX_BIN"),
		RaygateBin: os.Getenv("RAYGATE_BIN"),
	}
	for name, v := range map[string]string{
		"RAYGATE_RAY_VENV (scripts/install-ray.sh)": components.RayVenv, "RAYGATE_DEX_BIN (scripts/build-dex.sh)": components.DexBin,
		"RAYGATE_BIN (go build ./cmd/raygate)": components.RaygateBin, "RAYGATE_CHROMIUM (scripts/install-chromium.sh)": os.Getenv("RAYGATE_CHROMIUM"),
	} {
		if _, err := os.Stat(v); v == "" || err != nil {
			missing = append(missing, name)
		}
	}
	if artifacts = os.Getenv("RAYGATE_E2E_ARTIFACTS"); artifacts == "" {
		artifacts = os.TempDir()
	}
	code := 1
	func() {
		if len(missing) == 0 {
			dir := filepath.Join(artifacts, "login-"+time.Now().Format("150405"))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			stack, startErr = start(ctx, dir)
			defer stack.stop()
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// start runs Dex (at the root of its address, so that the public client
// raygate-cli has both the device grant and the browser flow; one-minute
// ID tokens), one Ray cluster (team-a/ray1) and raygate offering
// terminal sign-in.
func start(ctx context.Context, dir string) (e *env, err error) {
	e = &env{dir: dir}
	defer func() {
		if err != nil {
			e.stop()
			e = nil
		}
	}()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) }
	logf("starting Dex (ID tokens valid for %s)", idTokenTTL)
	if e.dex, err = harness.StartDexWith(ctx, components.DexBin, dir, harness.DexOptions{IDTokenTTL: idTokenTTL.String(), RootIssuer: true}); err != nil {
		return e, err
	}
	logf("starting Ray cluster team-a/ray1")
	if e.ray, err = harness.StartRay(ctx, components.RayVenv, dir, "team-a-ray1"); err != nil {
		return e, err
	}
	logf("starting raygate")
	e.gateway, err = harness.StartRaygate(ctx, components.RaygateBin, dir, "raygate", harness.GatewayConfig{
		Issuer: e.dex.Issuer, CLI: true,
		Clusters: []harness.ClusterConfig{{Namespace: "team-a", Name: "ray1", Upstream: e.ray.Dashboard, TokenFile: e.ray.TokenFile, Access: []string{
			"{role: developer, groups: [team-a]}",
		}}},
	})
	return e, err
}

func (e *env) stop() {
	if e == nil {
		return
	}
	if e.gateway != nil {
		e.gateway.Stop()
	}
	if e.ray != nil {
		e.ray.Stop()
	}
	if e.dex != nil {
		e.dex.Proc.Stop(5 * time.Second)
	}
}

// requireEnv fails (under CI) or skips the test when a component is
// missing, and fails when the components did not start.
func requireEnv(t *testing.T) *env {
	t.Helper()
	if len(missing) > 0 {
		msg := "real components missing: " + strings.Join(missing, ", ")
		if harness.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if startErr != nil {
		t.Fatalf("starting Dex, Ray and raygate: %v", startErr)
	}
	return stack
}

// terminal is a fresh terminal for one test.
func terminal(t *testing.T, e *env, name string) *harness.Terminal {
	t.Helper()
	term, err := harness.NewTerminal(components.RaygateBin, components.RayVenv, filepath.Join(e.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return term
}

// chromium starts a browser for one test, saving a screenshot and its
// network log when the test ends.
func chromium(t *testing.T, e *env, name string) *harness.Chromium {
	t.Helper()
	c, err := harness.StartChromium(context.Background(), harness.RequireChromium(t), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		shots := filepath.Join(artifacts, "login")
		if err := c.Screenshot(filepath.Join(shots, name+".png")); err != nil {
			t.Log(err)
		}
		if err := c.Net.Save(filepath.Join(shots, name+"-network.jsonl")); err != nil {
			t.Log(err)
		}
		c.Close()
	})
	return c
}
