package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/kubeclient"
)

func init() {
	c := &Command{
		Name:    "explain",
		Summary: "explain the gateway's decision on one request: every step, the role and the binding that gives it, the reason",
		Usage: "explain --config FILE (--user U [--group G]... [--service-account NS/NAME] | --token TOKEN|-) [--kubeconfig FILE] [--job-owner USER | --job-missing] [--upgrade] [--format text|json] METHOD PATH\n" +
			"       raygate explain --audit FILE|- --request-id ID [--config FILE [--kubeconfig FILE]] [--format text|json]",
	}
	c.Run = func(ctx context.Context, env Env, args []string) error {
		fs := newFlagSet(c, env)
		cfgPath := fs.String("config", "", "config file (YAML); the files it names need not exist")
		user := fs.String("user", "", "the caller's username, as authentication reports it")
		var groups listFlag
		fs.Var(&groups, "group", "one of the caller's groups (repeat for several)")
		sa := fs.String("service-account", "", "the caller is this Kubernetes service account (namespace/name)")
		token := fs.String("token", "", "verify this bearer token or API key as the gateway does and explain for whom it proves (- reads it from stdin); only the issuer's key set is fetched")
		kubeconfig := fs.String("kubeconfig", "", "ask this API server: SubjectAccessReviews for RBAC roles, TokenReviews for --token")
		jobOwner := fs.String("job-owner", "", "for a stop or delete: the job's owner as the cluster would report it (\"\" for none); otherwise both cases are explained")
		jobMissing := fs.Bool("job-missing", false, "for a stop or delete: the cluster reports no such job")
		upgrade := fs.Bool("upgrade", false, "the request asks for a protocol upgrade (WebSocket)")
		format := fs.String("format", formatText, "output format: text or json")
		auditFile := fs.String("audit", "", "explain a past request from this audit log (- for stdin), with --request-id")
		requestID := fs.String("request-id", "", "the request id of an error answer (its request_id) or of an audit line")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if err := checkFormat(*format); err != nil {
			return err
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if *auditFile != "" || *requestID != "" {
			for _, f := range []string{"user", "group", "service-account", "token", "job-owner", "job-missing", "upgrade"} {
				if set[f] {
					return usageErr("--%s does not go with --audit", f)
				}
			}
			if len(pos) > 0 {
				return usageErr("unexpected argument %q: --audit explains the recorded request", pos[0])
			}
			return explainAudit(ctx, env, *auditFile, *requestID, *cfgPath, *kubeconfig, *format)
		}
		if len(pos) != 2 {
			return usageErr("want METHOD PATH, e.g. POST /clusters/team-a/ray1/api/jobs/ (run 'raygate explain --help')")
		}
		if err := explain.CheckMethod(pos[0]); err != nil {
			return usageErr("%v", err)
		}
		path, err := explain.ParseTarget(pos[1])
		if err != nil {
			return usageErr("%v", err)
		}
		q := explain.Query{Method: pos[0], Path: path, Upgrade: *upgrade, JobMissing: *jobMissing}
		if set["job-owner"] {
			q.JobOwner = jobOwner
		}
		cfg, err := loadPolicyConfig(env, *cfgPath)
		if err != nil {
			return err
		}
		kc, err := kubeClients(*kubeconfig)
		if err != nil {
			return err
		}
		var who explain.Caller
		switch {
		case set["token"]:
			if *user != "" || len(groups) > 0 || *sa != "" {
				return usageErr("--token names the caller: no --user, --group or --service-account with it")
			}
			tok, err := readToken(*token, env.Stdin)
			if err != nil {
				return err
			}
			if who, err = tokenCaller(cfg, kc, tok); err != nil {
				return err
			}
		default:
			id, err := explain.Identity(*user, groups, *sa)
			if err != nil {
				return usageErr("%v (or --token)", strings.TrimPrefix(err.Error(), "explain: "))
			}
			who = explain.As(id)
		}
		p, err := policyOf(cfg, kc)
		if err != nil {
			return err
		}
		e := explain.Explain(ctx, p, q, who)
		if *format == formatJSON {
			return explain.WriteJSON(env.Stdout, e)
		}
		return explain.WriteText(env.Stdout, e)
	}
	register(c)
}

// readToken reads --token: the value, or stdin's first line for "-".
// A "Bearer " prefix is dropped.
func readToken(v string, stdin io.Reader) (string, error) {
	if v == "-" {
		line, err := bufio.NewReader(io.LimitReader(stdin, authn.MaxTokenLength+64)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", usageErr("--token -: cannot read stdin: %v", err)
		}
		v = line
	}
	v = strings.TrimSpace(v)
	if s, ok := cutPrefixFold(v, "bearer "); ok {
		v = strings.TrimSpace(s)
	} else if strings.EqualFold(v, "bearer") {
		v = ""
	}
	if v == "" {
		return "", usageErr("--token is empty")
	}
	return v, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// tokenCaller verifies tok as the gateway does: OIDC JWTs against their
// issuer's key set (fetched over the network), API keys against the
// config's hashes, ServiceAccount tokens by TokenReview when a kubeconfig
// is given.
func tokenCaller(cfg *config.Config, kc *kubeclient.Clients, tok string) (explain.Caller, error) {
	var k8s *authn.Kubernetes
	if a := cfg.Authentication.Kubernetes; a != nil && kc != nil {
		k8s = authn.NewKubernetes(*a, kc.Core.AuthenticationV1().TokenReviews())
	}
	bearer, err := authn.NewBearer(cfg.Authentication, func(o config.OIDC) (*authn.KeySet, error) {
		return authn.NewKeySet(o.Issuer, o.JWKSURL, o.CAFile, nil)
	}, k8s, nil)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	chain := authn.Chain{bearer}
	return func(ctx context.Context) (*identity.Identity, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://raygate/", nil)
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		return chain.Authenticate(ctx, r)
	}, nil
}

// explainAudit finds a request in an audit log and says what was decided
// and why; with a config, it also explains the same request by the same
// caller under it.
func explainAudit(ctx context.Context, env Env, file, requestID, cfgPath, kubeconfig, format string) error {
	if file == "" || requestID == "" {
		return usageErr("--audit FILE and --request-id ID go together")
	}
	var r io.Reader = env.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return usageErr("--audit: %v", err)
		}
		defer f.Close()
		r = f
	}
	evs, _, err := audit.Find(r, requestID)
	if err != nil {
		return usageErr("--audit %s: %v", file, err)
	}
	rec := explain.NewRecord(requestID, evs)
	if rec == nil {
		return &ExitError{Code: ExitFailure, Msg: fmt.Sprintf("no request %s in %s", requestID, file)}
	}
	if cfgPath != "" {
		p, _, err := loadPolicy(env, cfgPath, kubeconfig)
		if err != nil {
			return err
		}
		if q, err := rec.Query(); err == nil && rec.Final.User != "" {
			id := &identity.Identity{User: rec.Final.User, Groups: rec.Final.Groups}
			rec.Now = explain.Explain(ctx, p, q, explain.As(id))
		}
	}
	if format == formatJSON {
		return explain.WriteJSON(env.Stdout, rec)
	}
	return explain.WriteRecordText(env.Stdout, rec)
}
