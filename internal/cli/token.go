package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raygate/raygate/internal/clilogin"
	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/rayenv"
	"github.com/raygate/raygate/internal/tokencache"
)

func init() {
	token := &Command{
		Name:    "token",
		Summary: "print a current ID token for the gateway (renewed first if it is about to expire)",
		Usage:   "token [--gateway URL]",
	}
	token.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(token, env)
		gw := gatewayFlag(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		_, _, l, err := currentToken(ctx, env, *gw, clilogin.ForUse)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, l.IDToken)
		return nil
	}
	register(token)

	envCmd := &Command{
		Name:    "env",
		Summary: "print the shell line that sets RAY_JOB_HEADERS with a current token",
		Usage:   "env [--gateway URL] [--shell sh|fish|powershell]",
	}
	envCmd.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(envCmd, env)
		gw := gatewayFlag(fs)
		shell := fs.String("shell", defaultShell(), "the shell to write for: sh (also bash and zsh), fish or powershell")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		if _, err := rayenv.Export(*shell, rayenv.Var, ""); err != nil {
			return usageErr("--shell: %v", err)
		}
		_, _, l, err := currentToken(ctx, env, *gw, clilogin.ForCommand)
		if err != nil {
			return err
		}
		v, err := rayenv.Headers(os.Getenv(rayenv.Var), l.IDToken)
		if err != nil {
			return err
		}
		line, err := rayenv.Export(*shell, rayenv.Var, v)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, line)
		return nil
	}
	register(envCmd)

	logout := &Command{
		Name:    "logout",
		Summary: "sign out: forget the tokens and revoke the refresh token where the provider allows",
		Usage:   "logout [--gateway URL | --all]",
	}
	logout.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(logout, env)
		gw := gatewayFlag(fs)
		all := fs.Bool("all", false, "sign out of every gateway")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		if *all && *gw != "" {
			return usageErr("--all and --gateway exclude each other")
		}
		lc, err := newLoginClient(env, false)
		if err != nil {
			return err
		}
		var gateways []string
		if !*all {
			addr, err := lc.ResolveGateway(*gw, os.Getenv(clilogin.EnvGateway))
			if err != nil {
				return userErr(err)
			}
			gateways = []string{addr}
		}
		outs, err := lc.Logout(ctx, gateways)
		if err != nil {
			return userErr(err)
		}
		if len(outs) == 0 {
			if *all {
				fmt.Fprintln(env.Stdout, "Not signed in anywhere.")
			} else {
				fmt.Fprintf(env.Stdout, "Not signed in to %s.\n", gateways[0])
			}
			return nil
		}
		for _, o := range outs {
			fmt.Fprintf(env.Stdout, "Signed out of %s (%s at %s): %s\n", o.Gateway, o.User, o.Issuer, signOutDetail(o))
		}
		return nil
	}
	register(logout)

	status := &Command{
		Name:    "status",
		Summary: "show who you are at the gateway, until when, and the clusters you can use",
		Usage:   "status [--gateway URL]",
	}
	status.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(status, env)
		gw := gatewayFlag(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		lc, addr, l, err := currentToken(ctx, env, *gw, clilogin.ForUse)
		if err != nil {
			return err
		}
		who, err := lc.Check(ctx, addr, l, false)
		if err != nil {
			return userErr(err)
		}
		t, _ := lc.Store.Load()
		issuer := t.Gateways[addr].Issuer
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "Gateway\t%s\n", addr)
		fmt.Fprintf(tw, "User\t%s\n", who.User)
		fmt.Fprintf(tw, "Groups\t%s\n", orNone(strings.Join(who.Groups, ", ")))
		fmt.Fprintf(tw, "Signed in with\t%s (client %s)\n", issuer, l.ClientID)
		refresh := "renewed automatically with the refresh token"
		if l.RefreshToken == "" {
			refresh = "cannot be renewed (no refresh token): sign in again when it expires"
		}
		fmt.Fprintf(tw, "Token\tvalid until %s (%s); %s\n", l.Expiry.Local().Format(timeFormat), until(l.Expiry, time.Now()), refresh)
		fmt.Fprintf(tw, "Token cache\t%s\n", lc.Store.Path(tokencache.TokensFile))
		_ = tw.Flush()
		printClusters(env.Stdout, addr, who)
		return nil
	}
	register(status)
}

// currentToken resolves the gateway and returns its current sign-in,
// renewed if it has less than need left.
func currentToken(ctx context.Context, env Env, gw string, need clilogin.Need) (lc *clilogin.Client, addr string, l *tokencache.Login, err error) {
	if lc, err = newLoginClient(env, false); err != nil {
		return nil, "", nil, err
	}
	if addr, err = lc.ResolveGateway(gw, os.Getenv(clilogin.EnvGateway)); err != nil {
		return nil, "", nil, userErr(err)
	}
	if l, err = lc.Token(ctx, addr, need); err != nil {
		return nil, "", nil, userErr(err)
	}
	return lc, addr, l, nil
}

func signOutDetail(o clilogin.SignOut) string {
	switch {
	case o.Revoked:
		return "tokens removed, refresh token revoked"
	case o.Err == nil:
		return "tokens removed"
	case errors.Is(o.Err, oidcclient.ErrNoRevocation):
		return "tokens removed (the identity provider offers no revocation: the refresh token it issued stays valid until it expires)"
	}
	return "tokens removed, but the refresh token could not be revoked (" + oneLine(o.Err.Error()) + ")"
}

// defaultShell is the shell env writes for without --shell: from $SHELL.
func defaultShell() string {
	switch filepath.Base(os.Getenv("SHELL")) {
	case "fish":
		return "fish"
	case "pwsh", "powershell":
		return "powershell"
	}
	return "sh"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
