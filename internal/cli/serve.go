package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/server"
)

func init() {
	c := &Command{
		Name:    "serve",
		Summary: "run the gateway (and the admission webhook, if configured)",
		Usage:   "serve --config FILE [--reload-interval DURATION] [--pprof]",
	}
	c.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		path := fs.String("config", "", "config file (YAML); required")
		interval := fs.Duration("reload-interval", 2*time.Second, "how often to check the config and the files it names for changes (0 disables; SIGHUP always reloads)")
		pprof := fs.Bool("pprof", false, "serve Go's profiler under /debug/pprof/ on the metrics listener")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *path == "" {
			return usageErr("--config is required")
		}
		if fs.NArg() > 0 {
			return usageErr("unexpected argument %q", fs.Arg(0))
		}
		if *interval < 0 {
			return usageErr("--reload-interval must not be negative")
		}
		cfg, err := loadConfig(env, *path)
		if err != nil {
			return err
		}
		return server.Run(ctx, *path, cfg, server.Options{ReloadInterval: *interval, Pprof: *pprof})
	}
	register(c)
}

// loadConfig loads a config, printing every problem on its own line.
func loadConfig(env Env, path string) (*config.Config, error) {
	return loadConfigWith(env, path, config.Load)
}

// loadConfigWith is loadConfig with config.Load or config.LoadPolicy.
func loadConfigWith(env Env, path string, load func(string) (*config.Config, error)) (*config.Config, error) {
	cfg, err := load(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(env.Stderr, p.String())
			}
			return nil, &ExitError{Code: ExitFailure}
		}
		return nil, err
	}
	return cfg, nil
}
