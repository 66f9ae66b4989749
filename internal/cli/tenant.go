package cli

import (
	"context"
	"fmt"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/tenant"
)

func init() {
	c := &Command{
		Name:    "tenant",
		Summary: "render isolated tenant namespaces (render) and prove their isolation (verify)",
		Usage:   "tenant render|verify --file TENANTS.yaml",
	}
	c.Run = func(_ context.Context, env Env, args []string) error {
		if len(args) == 0 {
			return usageErr("expected a subcommand: render or verify (run 'raygate tenant --help')")
		}
		sub := args[0]
		switch sub {
		case "-h", "--help", "help":
			fs := newFlagSet(c, env)
			fs.String("file", "", "the tenants file (- for stdin)")
			fs.Usage()
			return nil
		case "render", "verify":
		default:
			return usageErr("unknown subcommand %q (render or verify)", sub)
		}
		fs := newFlagSet(c, env)
		file := fs.String("file", "", "the tenants file (- for stdin)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usageErr("unexpected argument %q", fs.Arg(0))
		}
		if *file == "" {
			return usageErr("--file is required")
		}
		data, err := manifest.ReadFile(*file, env.Stdin)
		if err != nil {
			return usageErr("%v", err)
		}
		f, err := tenant.Parse(data)
		if err != nil {
			return usageErr("%s: %v", *file, err)
		}
		for _, w := range f.Warnings {
			fmt.Fprintf(env.Stderr, "raygate tenant: warning: %s: %s\n", *file, w)
		}
		if sub == "render" {
			out, err := tenant.Render(f)
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write(out)
			return err
		}
		r := tenant.Verify(f)
		if err := r.WriteText(env.Stdout); err != nil {
			return err
		}
		if len(r.Violations) > 0 {
			return &ExitError{Code: ExitFailure}
		}
		return nil
	}
	register(c)
}
