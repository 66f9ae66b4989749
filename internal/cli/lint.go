package cli

import (
	"context"
	"fmt"

	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/tenant"
	"github.com/raygate/raygate/internal/version"
)

func init() {
	c := &Command{
		Name:    "lint",
		Summary: "check KubeRay manifests, the KubeRay operator's install and every workload against Pod Security restricted and Ray's rules",
		Usage:   "lint [--format text|json|sarif] [--only ray] [--tenants FILE [--namespace NS]] PATH...   (a file, a folder, or - for stdin)",
	}
	c.Run = func(_ context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		format := fs.String("format", lint.FormatText, "output format: text, json or sarif")
		tenants := fs.String("tenants", "", "a tenants file: check each object against the tenant whose namespace it goes to")
		namespace := fs.String("namespace", "", "the namespace of objects that name none (as kubectl apply -n)")
		only := fs.String("only", "", "ray: check only KubeRay objects, routes to their heads and the KubeRay operator's install, not other workloads")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		rayOnly, err := parseOnly(*only)
		if err != nil {
			return err
		}
		opts := lint.Options{Namespace: *namespace, RayOnly: rayOnly}
		if *tenants != "" {
			data, err := manifest.ReadFile(*tenants, env.Stdin)
			if err != nil {
				return usageErr("--tenants: %v", err)
			}
			tf, err := tenant.Parse(data)
			if err != nil {
				return usageErr("--tenants %s: %v", *tenants, err)
			}
			opts.Tenants = tf
		}
		switch *format {
		case lint.FormatText, lint.FormatJSON, lint.FormatSARIF:
		default:
			return usageErr("unknown --format %q (text, json or sarif)", *format)
		}
		if fs.NArg() == 0 {
			return usageErr("no PATH given (run 'raygate lint --help')")
		}
		files, err := manifest.FindFiles(fs.Args())
		if err != nil {
			return usageErr("%v", err)
		}
		var inputs []lint.Input
		unusable := 0
		for _, f := range files {
			data, err := manifest.ReadFile(f, env.Stdin)
			if err != nil {
				fmt.Fprintf(env.Stderr, "raygate lint: %v\n", err)
				unusable++
				continue
			}
			mf, err := manifest.Read(data)
			if err != nil {
				fmt.Fprintf(env.Stderr, "raygate lint: %s: %v\n", f, err)
				unusable++
				continue
			}
			inputs = append(inputs, lint.Input{Name: f, File: mf})
		}
		// The files are checked together: the KubeRay operator's rules
		// look at its RBAC, Services and clusters wherever they are.
		all := lint.CheckSet(inputs, opts)
		if err := lint.Report(env.Stdout, *format, all, len(files), version.Get().Version); err != nil {
			return err
		}
		switch {
		case unusable > 0:
			return &ExitError{Code: ExitUsage}
		case lint.HasErrors(all):
			return &ExitError{Code: ExitFailure}
		}
		return nil
	}
	register(c)
}

// parseOnly reads --only: "" (everything) or "ray".
func parseOnly(v string) (bool, error) {
	switch v {
	case "":
		return false, nil
	case "ray":
		return true, nil
	}
	return false, usageErr("unknown --only %q (the one value is ray)", v)
}
