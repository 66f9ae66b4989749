package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/kubeclient"
	"github.com/raygate/raygate/internal/rbac"
)

// Output formats of the policy commands (explain, who-can, access, diff,
// test).
const (
	formatText = "text"
	formatJSON = "json"
)

func checkFormat(f string) error {
	if f != formatText && f != formatJSON {
		return usageErr("unknown --format %q (text or json)", f)
	}
	return nil
}

// listFlag is a flag that may be repeated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// parseInterleaved parses args like parseFlags, but lets flags follow
// positional arguments ("explain POST /path --config F"). "--" ends the
// flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// loadPolicyConfig reads a config for the policy commands: everything is
// checked but the files it names, which may exist only where raygate is
// deployed. Problems are printed one per line.
func loadPolicyConfig(env Env, path string) (*config.Config, error) {
	if path == "" {
		return nil, usageErr("--config is required")
	}
	cfg, err := config.LoadPolicy(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(env.Stderr, p.String())
			}
			return nil, &ExitError{Code: ExitUsage}
		}
		return nil, usageErr("%v", err)
	}
	return cfg, nil
}

// kubeClients connects to the API server of kubeconfig, "" for none.
func kubeClients(kubeconfig string) (*kubeclient.Clients, error) {
	if kubeconfig == "" {
		return nil, nil
	}
	kc, err := kubeclient.Connect(&config.KubernetesAPI{Kubeconfig: kubeconfig})
	if err != nil {
		return nil, usageErr("--kubeconfig: %v", err)
	}
	return kc, nil
}

// loadPolicy is loadPolicyConfig, kubeClients and policyOf in a row: the
// policy of the config at cfgPath, with RBAC roles from the API server of
// kubeconfig ("" for none), and the clients connected to it (nil without).
func loadPolicy(env Env, cfgPath, kubeconfig string) (explain.Policy, *kubeclient.Clients, error) {
	cfg, err := loadPolicyConfig(env, cfgPath)
	if err != nil {
		return explain.Policy{}, nil, err
	}
	kc, err := kubeClients(kubeconfig)
	if err != nil {
		return explain.Policy{}, nil, err
	}
	p, err := policyOf(cfg, kc)
	return p, kc, err
}

// policyOf is cfg's policy, asking the API server of kc for RBAC roles
// when kc is set.
func policyOf(cfg *config.Config, kc *kubeclient.Clients) (explain.Policy, error) {
	var reviewer rbac.Reviewer
	if kc != nil {
		reviewer = kc.Core.AuthorizationV1().SubjectAccessReviews()
	}
	p, err := explain.FromConfig(cfg, reviewer)
	if err != nil {
		return explain.Policy{}, usageErr("%v", err)
	}
	return p, nil
}
