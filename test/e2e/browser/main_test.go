//go:build e2e

// Package browser_test drives a real headless Chromium through raygate:
// sign-in on Dex's real login page, the landing page, Ray 2.60's own
// dashboard behind the gateway with its network log checked, sign-out,
// and the refusals a browser can meet (tampered or foreign cookies, a
// replayed or forged sign-in, open redirects, cross-site requests), plus
// IAP mode with keys of the test's own.
package browser_test

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

var (
	stack      *harness.Stack
	components harness.Components
	startErr   error
	missing    []string
	// shots is where screenshots and network logs go.
	shots string
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
	art := os.Getenv("RAYGATE_E2E_ARTIFACTS")
	if art == "" {
		art = os.TempDir()
	}
	shots = filepath.Join(art, "browser")
	code := 1
	func() {
		if len(missing) == 0 {
			dir := filepath.Join(art, "browser-"+time.Now().Format("150405"))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			stack, startErr = harness.StartStack(ctx, components, dir, harness.StackOptions{
				Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
			})
			defer stack.Stop()
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// requireStack fails (under CI) or skips the test when a component is
// missing, and fails when the stack did not start.
func requireStack(t *testing.T) *harness.Stack {
	t.Helper()
	if len(missing) > 0 {
		msg := "real components missing: " + strings.Join(missing, ", ")
		if harness.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if startErr != nil {
		t.Fatalf("starting the stack: %v", startErr)
	}
	return stack
}

// chromium starts a browser for one test, saving its network log when the
// test ends.
func chromium(t *testing.T, name string) *harness.Chromium {
	t.Helper()
	s := requireStack(t)
	c, err := harness.StartChromium(context.Background(), harness.RequireChromium(t), s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Net.Save(filepath.Join(shots, name+"-network.jsonl")); err != nil {
			t.Log(err)
		}
		c.Close()
	})
	return c
}

func screenshot(t *testing.T, c *harness.Chromium, name string) {
	t.Helper()
	path := filepath.Join(shots, name+".png")
	if err := c.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
