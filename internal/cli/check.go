package cli

import (
	"context"
	"fmt"

	"github.com/raygate/raygate/internal/config"
)

func init() {
	c := &Command{
		Name:    "check",
		Summary: "validate a config file; list every problem as FILE:LINE: message",
		Usage:   "check --config FILE [--skip-files] [--quiet]",
	}
	c.Run = func(_ context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		path := fs.String("config", "", "config file (YAML); required")
		quiet := fs.Bool("quiet", false, "print nothing when the config is valid")
		skipFiles := fs.Bool("skip-files", false, "do not check the files the config names (certificates, Ray tokens, CA bundles, kubeconfigs, the audit folder), which may exist only where raygate is deployed")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *path == "" && fs.NArg() == 1 {
			*path = fs.Arg(0)
		} else if fs.NArg() > 0 {
			return usageErr("unexpected argument %q", fs.Arg(0))
		}
		if *path == "" {
			return usageErr("--config is required")
		}
		load := config.Load
		if *skipFiles {
			load = config.LoadPolicy
		}
		cfg, err := loadConfigWith(env, *path, load)
		if err != nil {
			return err
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(env.Stderr, w.String())
		}
		if !*quiet {
			fmt.Fprintf(env.Stdout, "%s: ok (%d clusters, %d OIDC issuers, %d API keys)\n",
				*path, len(cfg.Clusters), len(cfg.Authentication.OIDC), len(cfg.Authentication.APIKeys))
		}
		return nil
	}
	register(c)
}
