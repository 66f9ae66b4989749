package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/raygate/raygate/internal/access"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/policytest"
	"github.com/raygate/raygate/internal/rbac"
)

func init() {
	whoCan := &Command{
		Name:    "who-can",
		Summary: "list every user, group, service account and API key that holds an action on a cluster, and through which binding",
		Usage:   "who-can --config FILE [--kubeconfig FILE] [--format text|json] ACTION NAMESPACE/NAME",
	}
	whoCan.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(whoCan, env)
		cfgPath := fs.String("config", "", "config file (YAML); the files it names need not exist")
		kubeconfig := fs.String("kubeconfig", "", "in Kubernetes mode, list the RoleBindings and ClusterRoleBindings of this API server that grant the action")
		format := fs.String("format", formatText, "output format: text or json")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if err := checkFormat(*format); err != nil {
			return err
		}
		if len(pos) != 2 {
			return usageErr("want ACTION NAMESPACE/NAME, e.g. jobs.submit team-a/ray1")
		}
		action, err := access.ParseAction(pos[0])
		if err != nil {
			return usageErr("%v", strings.TrimPrefix(err.Error(), "access: "))
		}
		ns, name, ok := strings.Cut(pos[1], "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return usageErr("the cluster is NAMESPACE/NAME, got %q", pos[1])
		}
		p, kc, err := loadPolicy(env, *cfgPath, *kubeconfig)
		if err != nil {
			return err
		}
		var grants func(context.Context, string, string) ([]rbac.Grant, error)
		if kc != nil && p.RBAC() {
			grants = func(ctx context.Context, ns, name string) ([]rbac.Grant, error) {
				return rbac.Grants(ctx, kc.Core, ns, name)
			}
		}
		r, err := access.WhoCan(ctx, p, action, ns, name, grants)
		if err != nil {
			return &ExitError{Code: ExitFailure, Msg: strings.TrimPrefix(err.Error(), "access: ")}
		}
		if *format == formatJSON {
			return explain.WriteJSON(env.Stdout, r)
		}
		return access.WriteWhoCanText(env.Stdout, r)
	}
	register(whoCan)

	acc := &Command{
		Name:    "access",
		Summary: "show what one caller may do: a row per cluster, a column per Ray action",
		Usage:   "access --config FILE --user U [--group G]... [--service-account NS/NAME] [--kubeconfig FILE] [--format text|json]",
	}
	acc.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(acc, env)
		cfgPath := fs.String("config", "", "config file (YAML); the files it names need not exist")
		user := fs.String("user", "", "the caller's username, as authentication reports it")
		var groups listFlag
		fs.Var(&groups, "group", "one of the caller's groups (repeat for several)")
		sa := fs.String("service-account", "", "the caller is this Kubernetes service account (namespace/name)")
		kubeconfig := fs.String("kubeconfig", "", "ask this API server's SubjectAccessReviews for RBAC roles")
		format := fs.String("format", formatText, "output format: text or json")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if err := checkFormat(*format); err != nil {
			return err
		}
		if len(pos) > 0 {
			return usageErr("unexpected argument %q", pos[0])
		}
		id, err := explain.Identity(*user, groups, *sa)
		if err != nil {
			return usageErr("%v", strings.TrimPrefix(err.Error(), "explain: "))
		}
		p, _, err := loadPolicy(env, *cfgPath, *kubeconfig)
		if err != nil {
			return err
		}
		m := access.Of(ctx, p, id)
		if *format == formatJSON {
			return explain.WriteJSON(env.Stdout, m)
		}
		return access.WriteMatrixText(env.Stdout, m)
	}
	register(acc)

	diff := &Command{
		Name:    "diff",
		Summary: "list the access gained and lost between two configs, as (subject, cluster, action)",
		Usage:   "diff [--fail-on-gain] [--format text|json] OLD.yaml NEW.yaml",
	}
	diff.Run = func(_ context.Context, env Env, args []string) error {
		fs := newFlagSet(diff, env)
		failOnGain := fs.Bool("fail-on-gain", false, "exit 1 when any access is gained")
		format := fs.String("format", formatText, "output format: text or json")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if err := checkFormat(*format); err != nil {
			return err
		}
		if len(pos) != 2 {
			return usageErr("want OLD.yaml NEW.yaml")
		}
		old, err := loadPolicyConfig(env, pos[0])
		if err != nil {
			return err
		}
		next, err := loadPolicyConfig(env, pos[1])
		if err != nil {
			return err
		}
		d, err := access.Diff(old, next)
		if err != nil {
			return usageErr("%v", err)
		}
		if *format == formatJSON {
			err = explain.WriteJSON(env.Stdout, d)
		} else {
			err = access.WriteDiffText(env.Stdout, d)
		}
		if err != nil {
			return err
		}
		if *failOnGain && len(d.Gained) > 0 {
			return &ExitError{Code: ExitFailure, Msg: fmt.Sprintf("%d grants gained (--fail-on-gain)", len(d.Gained))}
		}
		return nil
	}
	register(diff)

	test := &Command{
		Name:    "test",
		Summary: "run policy tests: each case a caller, a request and what the gateway must do (allow, deny, notfound)",
		Usage:   "test --config FILE [--kubeconfig FILE] [-v] [--format text|json] TESTS.yaml...",
	}
	test.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(test, env)
		cfgPath := fs.String("config", "", "config file (YAML); the files it names need not exist")
		kubeconfig := fs.String("kubeconfig", "", "ask this API server's SubjectAccessReviews for RBAC roles")
		verbose := fs.Bool("v", false, "list passing cases too")
		format := fs.String("format", formatText, "output format: text or json")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if err := checkFormat(*format); err != nil {
			return err
		}
		if len(pos) == 0 {
			return usageErr("no tests file given")
		}
		var files []*policytest.File
		for _, path := range pos {
			data, err := readLimited(path, policytest.MaxFileSize)
			if err != nil {
				return usageErr("%v", err)
			}
			f, err := policytest.Parse(path, data)
			if err != nil {
				return usageErr("%v", err)
			}
			files = append(files, f)
		}
		p, _, err := loadPolicy(env, *cfgPath, *kubeconfig)
		if err != nil {
			return err
		}
		var results []policytest.Result
		for _, f := range files {
			results = append(results, policytest.Run(ctx, p, f)...)
		}
		if *format == formatJSON {
			err = explain.WriteJSON(env.Stdout, results)
		} else {
			err = policytest.WriteText(env.Stdout, results, *verbose)
		}
		if err != nil {
			return err
		}
		if n := policytest.Failed(results); n > 0 {
			return &ExitError{Code: ExitFailure}
		}
		return nil
	}
	register(test)
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
