// Package cli implements raygate's command line: one binary with the
// subcommands serve, check, lint, harden, tenant and version. Each command
// lives in its own file and keeps its logic in the internal packages; this
// package only parses arguments, calls into them and maps results to exit
// codes.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes shared by every command.
const (
	// ExitOK means success.
	ExitOK = 0
	// ExitFailure means the command ran and found a problem: an invalid
	// config for check, an error-severity finding for lint, a failed serve.
	ExitFailure = 1
	// ExitUsage means the command line or an input file was unusable.
	ExitUsage = 2
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Command is one subcommand.
type Command struct {
	// Name is the word that selects the command.
	Name string
	// Summary is one line for the command list.
	Summary string
	// Usage is the synopsis printed by --help, without the leading "raygate".
	Usage string
	// Run executes the command with its own arguments. A returned *ExitError
	// sets the exit code; any other error is printed and exits ExitFailure.
	Run func(ctx context.Context, env Env, args []string) error
}

// ExitError carries an exit code and a one-line message for stderr. An empty
// message prints nothing (the command already reported).
type ExitError struct {
	Code int
	Msg  string
}

// Error returns the message for stderr.
func (e *ExitError) Error() string { return e.Msg }

// usageErr reports a bad command line or unusable input.
func usageErr(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

var commands = map[string]*Command{}

// register adds a command; called from init in each command's file.
func register(c *Command) { commands[c.Name] = c }

// Main runs raygate with args (without the program name) and returns the
// process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		printTopUsage(stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return runCommand(c, env, []string{"--help"})
			}
		}
		printTopUsage(stdout)
		return ExitOK
	case "--version", "-version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "raygate: unknown command %q (run 'raygate --help' for the list)\n", name)
		return ExitUsage
	}
	return runCommand(c, env, args[1:])
}

func runCommand(c *Command, env Env, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.Run(ctx, env, args)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintf(env.Stderr, "raygate %s: %s\n", c.Name, oneLine(ee.Msg))
		}
		return ee.Code
	}
	fmt.Fprintf(env.Stderr, "raygate %s: %s\n", c.Name, oneLine(err.Error()))
	return ExitFailure
}

// oneLine keeps an error to a single line of stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func printTopUsage(w io.Writer) {
	fmt.Fprintln(w, "raygate: the secure front door and hardening toolkit for Ray on Kubernetes")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: raygate COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'raygate COMMAND --help' for a command's flags.")
}

// newFlagSet returns a flag set whose --help prints the command's usage to
// stdout and whose errors go to stderr as one line.
func newFlagSet(c *Command, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage: raygate %s\n\n%s\n", c.Usage, c.Summary)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if b.Len() > 0 {
			fmt.Fprintf(env.Stdout, "\nFlags:\n%s", b.String())
		}
	}
	return fs
}

// parseFlags parses args (the flag set prints usage for --help itself)
// and turns any other flag error into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return usageErr("%v", err)
	}
	return nil
}
