package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/raygate/raygate/internal/clilogin"
	"github.com/raygate/raygate/internal/rayenv"
)

// ExitNotFound is exec's exit code when the command cannot be found or
// run, as shells use.
const ExitNotFound = 127

// execve replaces raygate with the command (execCommand); tests replace it.
var execve = execCommand

func init() {
	c := &Command{
		Name:    "exec",
		Summary: "run a command (ray job ..., python, jupyter) with a current token in RAY_JOB_HEADERS",
		Usage:   "exec [--gateway URL] -- COMMAND [ARGS...]",
	}
	c.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		gw := gatewayFlag(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		argv := fs.Args()
		if len(argv) == 0 {
			return usageErr("give the command to run after --, e.g. raygate exec -- ray job submit --address ... -- python job.py")
		}
		_, _, l, err := currentToken(ctx, env, *gw, clilogin.ForCommand)
		if err != nil {
			return err
		}
		environ, err := rayenv.Environ(os.Environ(), l.IDToken)
		if err != nil {
			return err
		}
		path, err := exec.LookPath(argv[0])
		if err != nil {
			return &ExitError{Code: ExitNotFound, Msg: fmt.Sprintf("%s: %v", argv[0], unwrapExec(err))}
		}
		return execve(path, argv, environ, env)
	}
	register(c)
}

// unwrapExec drops os/exec's repetition of the command's name.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}
