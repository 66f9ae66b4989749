//go:build e2e

// Package gateway_test runs raygate end to end: the built binary in front
// of two real Ray clusters with token authentication, a real Dex, and
// Ray's own CLI and SDK as clients.
package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
)

func TestMain(m *testing.M) {
	components = harness.Components{
		RayVenv:    os.Getenv("RAYGATE_RAY_VENV"),
		DexBin:     os.Getenv("RAYGATE_DEX_BIN"),
		RaygateBin: os.Getenv("RAYGATE_BIN"),
	}
	for name, v := range map[string]string{"RAYGATE_RAY_VENV (scripts/install-ray.sh)": components.RayVenv, "RAYGATE_DEX_BIN (scripts/build-dex.sh)": components.DexBin, "RAYGATE_BIN (go build ./cmd/raygate)": components.RaygateBin} {
		if _, err := os.Stat(v); v == "" || err != nil {
			missing = append(missing, name)
		}
	}
	code := 1
	func() {
		if len(missing) == 0 {
			dir := os.Getenv("RAYGATE_E2E_ARTIFACTS")
			if dir == "" {
				dir = os.TempDir()
			}
			dir = filepath.Join(dir, "gateway-"+time.Now().Format("150405"))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			stack, startErr = harness.StartStack(ctx, components, dir, harness.StackOptions{
				TapTeamA: true,
				Log:      func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
			})
			defer stack.Stop()
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// requireStack fails (under CI) or skips the test when the stack is not
// running.
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

func token(t *testing.T, email string) string {
	t.Helper()
	tok, err := requireStack(t).Dex.Token(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call sends one request through the stack's gateway with a bearer
// credential.
func call(t *testing.T, bearer, method, path, body string) (int, string) {
	t.Helper()
	return send(t, method, requireStack(t).Gateway.URL+path, bearer, body)
}

// send sends one request to url and returns the status and body.
func send(t *testing.T, method, url, bearer, body string) (int, string) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rb)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
