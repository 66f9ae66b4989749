package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Terminal is a person's shell for the raygate command line: its own
// config folder (RAYGATE_CONFIG_DIR, where raygate login keeps tokens),
// raygate and Ray's CLI on PATH, nothing else of the test's environment
// that raygate reads.
type Terminal struct {
	// Raygate is the raygate binary; RayVenv Ray's virtualenv.
	Raygate, RayVenv string
	// ConfigDir is RAYGATE_CONFIG_DIR; Dir holds the logs of commands
	// started in the background.
	ConfigDir, Dir string
}

// NewTerminal returns a terminal with a fresh config folder under dir.
func NewTerminal(raygate, rayVenv, dir string) (*Terminal, error) {
	t := &Terminal{Raygate: raygate, RayVenv: rayVenv, Dir: dir, ConfigDir: filepath.Join(dir, "config", "raygate")}
	return t, os.MkdirAll(dir, 0o755)
}

// Env is the environment commands run with.
func (t *Terminal) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "RAYGATE_CONFIG_DIR", "RAYGATE_GATEWAY", "RAY_JOB_HEADERS", "RAY_ADDRESS", "BROWSER", "PATH":
			continue
		}
		env = append(env, kv)
	}
	path := filepath.Dir(t.Raygate) + ":" + filepath.Join(t.RayVenv, "bin") + ":" + os.Getenv("PATH")
	return append(env, "RAYGATE_CONFIG_DIR="+t.ConfigDir, "PATH="+path)
}

// Result is how a command ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs a program (raygate when name is "raygate") to its end.
func (t *Terminal) Run(ctx context.Context, name string, args ...string) (Result, error) {
	if name == "raygate" {
		name = t.Raygate
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = t.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code, err = ee.ExitCode(), nil
	}
	return r, err
}

// Start starts raygate with args in the background, its output (stdout
// and stderr) going to Dir/name.log.
func (t *Terminal) Start(name string, args ...string) (*Proc, error) {
	return Start(name, t.Dir, t.Env(), t.Raygate, args...)
}

// WaitLog waits until p's log matches re and returns the submatches; it
// gives up when p ends first or timeout passes.
func WaitLog(p *Proc, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(p.LogPath)
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m, nil
		}
		if done, err := p.Exited(); done {
			return nil, fmt.Errorf("%s ended (%v) before printing %s:\n%s", p.Name, err, re, b)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not print %s within %s:\n%s", p.Name, re, timeout, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ApproveDevice is a person finishing a device sign-in in the browser:
// open Dex's verification page, enter the user code, sign in as email.
func (c *Chromium) ApproveDevice(verificationURI, userCode, email string) error {
	if _, err := c.Navigate(verificationURI); err != nil {
		return err
	}
	if _, err := c.WaitText(30*time.Second, "Enter User Code"); err != nil {
		return err
	}
	if err := c.Fill("#user_code", userCode); err != nil {
		return err
	}
	if err := c.Click("#submit-login"); err != nil {
		return err
	}
	if err := c.DexSignIn(email, Password); err != nil {
		return err
	}
	_, err := c.WaitText(30*time.Second, "Login Successful for "+CLIClientID)
	return err
}
