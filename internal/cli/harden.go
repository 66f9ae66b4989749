package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/manifest"
)

func init() {
	c := &Command{
		Name:    "harden",
		Summary: "print manifests with secure defaults applied to KubeRay objects and every workload (comments and key order kept; idempotent)",
		Usage:   "harden [--write] [--explain] [--only ray] PATH   (a file, - for stdin, or with --write a folder)",
	}
	c.Run = func(_ context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		write := fs.Bool("write", false, "rewrite the files in place instead of printing them")
		explain := fs.Bool("explain", false, "list every change on stderr")
		only := fs.String("only", "", "ray: harden only KubeRay objects and the KubeRay operator's workload, not other workloads")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		rayOnly, err := parseOnly(*only)
		if err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("expected exactly one PATH (run 'raygate harden --help')")
		}
		path := fs.Arg(0)
		if !*write {
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				return usageErr("%s is a folder: use --write to harden its files in place", path)
			}
		} else if path == "-" {
			return usageErr("--write needs a file or folder, not stdin")
		}
		files, err := manifest.FindFiles([]string{path})
		if err != nil {
			return usageErr("%v", err)
		}
		for _, f := range files {
			data, err := manifest.ReadFile(f, env.Stdin)
			if err != nil {
				return usageErr("%v", err)
			}
			out, changes, err := harden.FileWith(data, harden.Options{RayOnly: rayOnly})
			if err != nil {
				return usageErr("%s: %v", f, err)
			}
			if *explain {
				for _, ch := range changes {
					fmt.Fprintf(env.Stderr, "%s: %s\n", f, ch)
				}
			}
			if !*write {
				if _, err := env.Stdout.Write(out); err != nil {
					return err
				}
				continue
			}
			if bytes.Equal(out, data) {
				continue
			}
			st, err := os.Stat(f)
			if err != nil {
				return fmt.Errorf("harden: %w", err)
			}
			if err := os.WriteFile(f, out, st.Mode().Perm()); err != nil {
				return fmt.Errorf("harden: write %s: %w", f, err)
			}
		}
		return nil
	}
	register(c)
}
