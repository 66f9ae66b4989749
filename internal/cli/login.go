package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raygate/raygate/internal/clilogin"
	"github.com/raygate/raygate/internal/tokencache"
)

func init() {
	c := &Command{
		Name:    "login",
		Summary: "sign in to a gateway from the terminal, for Ray's CLI, SDK and notebooks",
		Usage:   "login [--gateway URL] [--issuer NAME] [--device | --browser] [--no-open] [--timeout DURATION]",
	}
	c.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		gw := gatewayFlag(fs)
		issuer := fs.String("issuer", "", "the issuer to sign in with, by name or URL, when the gateway offers several (default: the one used last)")
		device := fs.Bool("device", false, "sign in with a code entered in a browser on any device (the device authorization grant)")
		browser := fs.Bool("browser", false, "sign in with a browser on this computer, which comes back to raygate on 127.0.0.1")
		noOpen := fs.Bool("no-open", false, "print the sign-in page's address instead of opening a browser")
		wait := fs.Duration("timeout", clilogin.DefaultWait, "how long --browser waits for the browser to come back")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		if *device && *browser {
			return usageErr("--device and --browser exclude each other")
		}
		if *wait <= 0 {
			return usageErr("--timeout must be positive")
		}
		lc, err := newLoginClient(env, !*noOpen)
		if err != nil {
			return err
		}
		addr, err := lc.ResolveGateway(*gw, os.Getenv(clilogin.EnvGateway))
		if err != nil {
			return userErr(err)
		}
		o := clilogin.LoginOptions{Issuer: *issuer, Wait: *wait}
		switch {
		case *device:
			o.Flow = clilogin.FlowDevice
		case *browser:
			o.Flow = clilogin.FlowBrowser
		}
		l, err := lc.Login(ctx, addr, o)
		if err != nil {
			return userErr(err)
		}
		who, err := lc.Check(ctx, addr, l.Tokens, true)
		if err != nil {
			return userErr(err)
		}
		fmt.Fprintf(env.Stdout, "Signed in to %s as %s with %s, until %s%s.\n", addr, who.User, l.Name,
			l.Tokens.Expiry.Local().Format(timeFormat), renewal(l.Tokens))
		printClusters(env.Stdout, addr, who)
		if len(who.Clusters) > 0 {
			fmt.Fprintf(env.Stdout, "\nSubmit a job with Ray's CLI:\n  raygate exec -- ray job submit --address %s%s -- python my_job.py\n",
				addr, strings.TrimSuffix(who.Clusters[0].Path, "/"))
		}
		return nil
	}
	register(c)
}

// timeFormat is how times are shown to people.
const timeFormat = "2006-01-02 15:04:05 MST"

// renewal says whether a sign-in renews itself.
func renewal(l *tokencache.Login) string {
	if l.RefreshToken != "" {
		return " (renewed automatically)"
	}
	return " (the identity provider gave no refresh token: sign in again then)"
}

// printClusters lists the clusters a person can use, with the address to
// give Ray for each.
func printClusters(w io.Writer, gw string, who *clilogin.WhoAmI) {
	if len(who.Clusters) == 0 {
		fmt.Fprintln(w, "You have no role on any cluster yet: ask the people who run raygate for one.")
		return
	}
	fmt.Fprintln(w, "\nYour clusters (give ADDRESS to ray job --address, or to JobSubmissionClient):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLUSTER\tROLE\tADDRESS")
	for _, c := range who.Clusters {
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", c.Cluster, c.Role, gw, strings.TrimSuffix(c.Path, "/"))
	}
	_ = tw.Flush()
}

// gatewayFlag adds --gateway to fs.
func gatewayFlag(fs *flag.FlagSet) *string {
	return fs.String("gateway", "", "the gateway's address, e.g. https://raygate.example.com (default: $"+clilogin.EnvGateway+", else the last one signed in to)")
}

// noArgs refuses positional arguments.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// newLoginClient is the sign-in client of the terminal commands: the
// token cache in the user's config folder, instructions on stderr, and a
// browser opened when open is set and there is one to open.
func newLoginClient(env Env, open bool) (*clilogin.Client, error) {
	dir, err := tokencache.DefaultDir()
	if err != nil {
		return nil, err
	}
	c := &clilogin.Client{HTTP: clilogin.NewHTTPClient(), Store: tokencache.Store{Dir: dir}, Out: env.Stderr}
	if open && clilogin.CanOpenBrowser() {
		c.Open = clilogin.OpenBrowser
	}
	return c, nil
}

// userErr turns a failure the person can act on into its one line.
func userErr(err error) error {
	var e *clilogin.Error
	if errors.As(err, &e) {
		return &ExitError{Code: ExitFailure, Msg: e.Msg}
	}
	return err
}

// until describes how long is left before t.
func until(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "expired"
	}
	return d.String() + " left"
}
