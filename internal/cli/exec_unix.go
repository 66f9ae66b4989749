//go:build unix

package cli

import (
	"fmt"
	"syscall"
)

// execCommand replaces the raygate process with the command (execve(2)):
// the command gets raygate's process id, terminal, standard streams and
// signals, and its exit code is the exit code. It returns only if that
// fails.
func execCommand(path string, argv, environ []string, _ Env) error {
	err := syscall.Exec(path, argv, environ)
	return &ExitError{Code: ExitNotFound, Msg: fmt.Sprintf("%s: %v", argv[0], err)}
}
