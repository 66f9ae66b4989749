//go:build unix

package cli

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/tokencache"
)

// TestExecReplacesItself: raygate exec becomes the command: its exit
// code, standard streams and signals are the command's own.
func TestExecReplacesItself(t *testing.T) {
	r := newTerminalRig(t)
	now := time.Now()
	err := (tokencache.Store{Dir: r.dir}).Update(t.Context(), func(tk *tokencache.Tokens) error {
		tk.Put(r.gw, r.idp.Issuer, &tokencache.Login{ClientID: "raygate", User: "carol@example.com", IDToken: "h.p.s", IssuedAt: now, Expiry: now.Add(time.Hour)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	raygate := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], append([]string{"exec", "--gateway", r.gw, "--"}, args...)...)
		cmd.Env = append(os.Environ(), testAs+"=raygate", `RAY_JOB_HEADERS={"X": "1"}`)
		return cmd
	}
	cmd := raygate("sh", "-c", `read line; printf '%s|%s' "$line" "$RAY_JOB_HEADERS"; exit 7`)
	cmd.Stdin = strings.NewReader("from stdin\n")
	out, err := cmd.Output()
	if cmd.ProcessState.ExitCode() != 7 || string(out) != `from stdin|{"Authorization": "Bearer h.p.s", "X": "1"}` {
		t.Fatalf("exit %d, output %q (%v)", cmd.ProcessState.ExitCode(), out, err)
	}

	cmd = raygate("sh", "-c", `trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("first line %q", lines.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lines.Scan()
	_ = cmd.Wait()
	if lines.Text() != "got TERM" || cmd.ProcessState.ExitCode() != 42 {
		t.Fatalf("after SIGTERM to raygate exec's process: %q, exit %d", lines.Text(), cmd.ProcessState.ExitCode())
	}
}
