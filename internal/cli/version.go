package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/raygate/raygate/internal/version"
)

func init() {
	c := &Command{Name: "version", Summary: "print version, commit and Go version", Usage: "version [--json]"}
	c.Run = func(_ context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		asJSON := fs.Bool("json", false, "print as a JSON object")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usageErr("unexpected argument %q", fs.Arg(0))
		}
		info := version.Get()
		if *asJSON {
			return json.NewEncoder(env.Stdout).Encode(info)
		}
		_, err := fmt.Fprintln(env.Stdout, info.String())
		return err
	}
	register(c)
}
