package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Raygate is a running `raygate serve`.
type Raygate struct {
	Proc *Proc
	// URL is the public listener's base URL; MetricsURL the metrics one.
	URL, MetricsURL string
	// ConfigPath and AuditPath are its config and audit log files.
	ConfigPath, AuditPath string
}

// GatewayConfig is what a gateway's config file is built from.
type GatewayConfig struct {
	Issuer   string
	Clusters []ClusterConfig
	// APIKeys are extra `authentication.apiKeys` entries, as YAML list items.
	APIKeys []string
	// Authentication is appended under `authentication:` as is (indented
	// YAML), e.g. "  kubernetes: {audiences: [raygate]}\n".
	Authentication string
	// Extra is appended to the file as is (top-level YAML).
	Extra string
	// Login, when set, offers browser sign-in with Issuer.
	Login *LoginConfig
	// CLI offers terminal sign-in (raygate login) with Issuer's public
	// client CLIClientID.
	CLI bool
	// AuthExtra is appended to the authentication section as is (YAML
	// indented by two spaces, e.g. "  iap: {...}\n").
	AuthExtra string
}

// LoginConfig is browser sign-in in a gateway config.
type LoginConfig struct {
	// ClientSecretFile holds ClientSecret; SessionKeyFile a session key.
	ClientSecretFile, SessionKeyFile string
}

// ClusterConfig is one cluster in a gateway config.
type ClusterConfig struct {
	Namespace, Name, Upstream, TokenFile string
	// Access lines, e.g. "{role: developer, groups: [team-a]}".
	Access []string
	// ActionRoles, if not empty, is the cluster's actionRoles as flow
	// YAML, e.g. "{logs.read: developer}".
	ActionRoles string
}

// Render writes the YAML config for listen and metrics addresses.
func (c GatewayConfig) Render(listen, metrics, auditPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\nmetricsListen: %s\n", listen, metrics)
	b.WriteString("authentication:\n")
	if c.Issuer != "" {
		auds := ClientID
		if c.CLI {
			auds += ", " + CLIClientID
		}
		fmt.Fprintf(&b, "  oidc:\n    - issuer: %s\n      audiences: [%s]\n", c.Issuer, auds)
		if c.CLI {
			fmt.Fprintf(&b, "      cliClientID: %s\n", CLIClientID)
		}
		if c.Login != nil {
			fmt.Fprintf(&b, "      login: true\n      clientID: %s\n      clientSecretFile: %s\n", ClientID, c.Login.ClientSecretFile)
		}
	}
	if c.Login != nil {
		fmt.Fprintf(&b, "  session:\n    keyFiles: [%s]\n", c.Login.SessionKeyFile)
	}
	b.WriteString(c.AuthExtra)
	if len(c.APIKeys) > 0 {
		b.WriteString("  apiKeys:\n")
		for _, k := range c.APIKeys {
			fmt.Fprintf(&b, "    - %s\n", k)
		}
	}
	b.WriteString(c.Authentication)
	b.WriteString("clusters:\n")
	for _, cl := range c.Clusters {
		fmt.Fprintf(&b, "  - namespace: %s\n    name: %s\n    upstream: %s\n", cl.Namespace, cl.Name, cl.Upstream)
		if cl.TokenFile != "" {
			fmt.Fprintf(&b, "    rayTokenFile: %s\n", cl.TokenFile)
		}
		if cl.ActionRoles != "" {
			fmt.Fprintf(&b, "    actionRoles: %s\n", cl.ActionRoles)
		}
		b.WriteString("    access:\n")
		for _, a := range cl.Access {
			fmt.Fprintf(&b, "      - %s\n", a)
		}
	}
	fmt.Fprintf(&b, "audit:\n  file: %s\n", auditPath)
	b.WriteString(c.Extra)
	return b.String()
}

// StartRaygate writes the config under dir/name and starts bin serve on
// free loopback ports, waiting until /readyz answers.
func StartRaygate(ctx context.Context, bin, dir, name string, cfg GatewayConfig) (*Raygate, error) {
	return StartRaygateOn(ctx, bin, dir, name, 0, cfg)
}

// StartRaygateOn is StartRaygate with the public listener on port (0 for
// any free port).
func StartRaygateOn(ctx context.Context, bin, dir, name string, port int, cfg GatewayConfig) (*Raygate, error) {
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	var err error
	if port == 0 || !portsFree(port) {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	mport, err := FreePort()
	if err != nil {
		return nil, err
	}
	g := &Raygate{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d", mport),
		ConfigPath: filepath.Join(d, "raygate.yaml"),
		AuditPath:  filepath.Join(d, "audit.log"),
	}
	text := cfg.Render(fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", mport), g.AuditPath)
	if err := os.WriteFile(g.ConfigPath, []byte(text), 0o600); err != nil {
		return nil, err
	}
	p, err := Start(name, d, nil, bin, "serve", "--config", g.ConfigPath, "--reload-interval", "500ms")
	if err != nil {
		return nil, err
	}
	g.Proc = p
	if err := WaitHTTP(ctx, p, g.URL+"/readyz", nil, 30*time.Second, func(r *http.Response) bool { return r.StatusCode == 200 }); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return g, nil
}

// Rewrite replaces the running gateway's config with cfg (same listeners
// and audit log) and waits until the gateway has reloaded it.
func (g *Raygate) Rewrite(ctx context.Context, cfg GatewayConfig) error {
	before := g.reloads(ctx)
	text := cfg.Render(strings.TrimPrefix(g.URL, "http://"), strings.TrimPrefix(g.MetricsURL, "http://"), g.AuditPath)
	if err := os.WriteFile(g.ConfigPath, []byte(text), 0o600); err != nil {
		return err
	}
	return WaitHTTP(ctx, g.Proc, g.MetricsURL+"/metrics", nil, 30*time.Second, func(*http.Response) bool { return g.reloads(ctx) > before })
}

// reloads is the gateway's count of successful reloads.
func (g *Raygate) reloads(ctx context.Context) int {
	req, _ := http.NewRequestWithContext(ctx, "GET", g.MetricsURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, `raygate_config_reloads_total{result="success"} `); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(n)
		}
	}
	return 0
}

// Stop stops the gateway (SIGTERM, then drain).
func (g *Raygate) Stop() { g.Proc.Stop(40 * time.Second) }
