package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/raygate/raygate/internal/realip"
	"github.com/raygate/raygate/internal/tenant"
)

// Role names as written in the file, lowest first.
var Roles = []string{"viewer", "developer", "admin"}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsSubdomainRE matches a DNS-1123 subdomain, the form of ServiceAccount
// names.
var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

type validator struct {
	file     string
	lines    map[string]int
	problems Problems
	warnings Problems
}

// warnf records a warning: allowed, but discouraged.
func (v *validator) warnf(path, format string, args ...any) {
	v.warnings = append(v.warnings, Problem{File: v.file, Line: v.lineOf(path), Field: path, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

// errf records a problem at field path, on the line of the deepest part of
// the path the file spelled out.
func (v *validator) errf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.lineOf(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := v.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (v *validator) sorted() Problems { return sortProblems(v.problems) }

// Validate checks an already-defaulted config built in code; Load and Parse
// call it for files.
func (c *Config) Validate() error {
	v := &validator{file: c.File, lines: map[string]int{}}
	c.validate(v)
	if len(v.problems) > 0 {
		return v.sorted()
	}
	c.warnings = sortProblems(v.warnings)
	return nil
}

func (c *Config) validate(v *validator) {
	checkHostPort(v, "listen", c.Listen)
	checkHostPort(v, "metricsListen", c.MetricsListen)
	if c.Listen == c.MetricsListen {
		v.errf("metricsListen", "must differ from listen (metrics are never served on the public listener)")
	}
	if c.TLS != nil {
		checkKeyPair(v, "tls", *c.TLS)
	}
	c.Server.validate(v)
	c.validateAuthentication(v)
	c.validateBrowser(v)
	c.validateCLI(v)
	c.validateClusters(v)
	c.validateKubernetes(v)
	if c.Audit.File != "-" {
		if st, err := os.Stat(filepath.Dir(c.Audit.File)); err != nil || !st.IsDir() {
			v.errf("audit.file", "folder %s does not exist", filepath.Dir(c.Audit.File))
		}
	}
	switch c.Audit.OnFailure {
	case AuditRefuse, AuditContinue:
	default:
		v.errf("audit.onFailure", "must be %s or %s; got %q", AuditRefuse, AuditContinue, c.Audit.OnFailure)
	}
	c.Limits.validate(v)
	p := c.Proxy
	for name, d := range map[string]Duration{"dialTimeout": p.DialTimeout, "responseHeaderTimeout": p.ResponseHeaderTimeout, "idleConnTimeout": p.IdleConnTimeout} {
		if d <= 0 {
			v.errf("proxy."+name, "must be positive")
		}
	}
	if p.MaxIdleConnsPerHost < 0 {
		v.errf("proxy.maxIdleConnsPerHost", "must not be negative")
	}
	for name, n := range map[string]int64{"default": p.MaxBodyBytes.Default, "jobSubmit": p.MaxBodyBytes.JobSubmit, "packageUpload": p.MaxBodyBytes.PackageUpload, "serveDeploy": p.MaxBodyBytes.ServeDeploy} {
		if n <= 0 {
			v.errf("proxy.maxBodyBytes."+name, "must be positive")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.errf("log.level", "must be one of debug, info, warn, error; got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		v.errf("log.format", "must be json or text; got %q", c.Log.Format)
	}
	if c.ShutdownTimeout <= 0 {
		v.errf("shutdownTimeout", "must be positive")
	}
	if c.ShutdownDelay.D() > MaxShutdownDelay {
		v.errf("shutdownDelay", "must be at most %s", MaxShutdownDelay)
	}
	if c.Webhook != nil {
		c.Webhook.validate(v, "webhook")
		if c.Webhook.Listen == c.Listen || c.Webhook.Listen == c.MetricsListen {
			v.errf("webhook.listen", "must differ from listen and metricsListen")
		}
	}
}

func (s *Server) validate(v *validator) {
	for name, d := range map[string]Duration{"readHeaderTimeout": s.ReadHeaderTimeout, "bodyTimeout": s.BodyTimeout, "idleTimeout": s.IdleTimeout} {
		if d <= 0 {
			v.errf("server."+name, "must be positive")
		}
	}
	sizes := true
	if s.MaxRequestTargetBytes < 256 || s.MaxRequestTargetBytes > MaxRequestTargetLimit {
		v.errf("server.maxRequestTargetBytes", "must be between 256 and %d", MaxRequestTargetLimit)
		sizes = false
	}
	if s.MaxHeaderBytes < 1024 || s.MaxHeaderBytes > MaxHeaderLimit {
		v.errf("server.maxHeaderBytes", "must be between 1024 and %d", MaxHeaderLimit)
		sizes = false
	}
	// A buffer grows by doubling: let at least one head of the largest
	// size arrive slowly.
	if least := 2 * int64(s.MaxRequestTargetBytes+s.MaxHeaderBytes); sizes && s.MaxPendingHeadBytes < least {
		v.errf("server.maxPendingHeadBytes", "must be at least twice maxRequestTargetBytes plus maxHeaderBytes (%d)", least)
	}
	for i, p := range s.TrustedProxies {
		if _, err := realip.ParsePrefix(p); err != nil {
			v.errf(fmt.Sprintf("server.trustedProxies[%d]", i), "%q is not a CIDR (10.0.0.0/8, fd00::/8) or an IP address", p)
		}
	}
}

func (w *Webhook) validate(v *validator, path string) {
	checkHostPort(v, path+".listen", w.Listen)
	checkKeyPair(v, path+".tls", w.TLS)
	for i, ns := range w.ExemptNamespaces {
		if !dnsLabelRE.MatchString(ns) || len(ns) > 63 {
			v.errf(fmt.Sprintf("%s.exemptNamespaces[%d]", path, i), "%q is not a valid namespace name", ns)
		}
	}
	if w.TenantsFile != "" {
		if _, err := LoadTenants(w.TenantsFile); err != nil {
			v.errf(path+".tenantsFile", "%v", err)
		}
	}
	if w.Kubeconfig != "" {
		if _, err := os.Stat(w.Kubeconfig); err != nil {
			v.errf(path+".kubeconfig", "%v", err)
		}
	}
}

// LoadTenants reads and checks the tenants file the webhook applies.
func LoadTenants(file string) (*tenant.File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return tenant.Parse(data)
}

func (c *Config) validateAuthentication(v *validator) {
	a := c.Authentication
	if len(a.OIDC) == 0 && len(a.APIKeys) == 0 && a.Kubernetes == nil && a.IAP == nil {
		v.errf("authentication", "no authentication method is configured: every request would be refused (add authentication.oidc, authentication.apiKeys, authentication.iap or authentication.kubernetes)")
	}
	issuers := map[string]int{}
	for i, o := range a.OIDC {
		p := fmt.Sprintf("authentication.oidc[%d]", i)
		checkIssuerURL(v, p+".issuer", o.Issuer)
		if j, dup := issuers[o.Issuer]; dup && o.Issuer != "" {
			v.errf(p+".issuer", "issuer %q is also configured at authentication.oidc[%d]", o.Issuer, j)
		}
		issuers[o.Issuer] = i
		if len(o.Audiences) == 0 {
			v.errf(p+".audiences", "at least one audience is required (tokens minted for other clients must not be accepted)")
		}
		for j, aud := range o.Audiences {
			if strings.TrimSpace(aud) == "" {
				v.errf(fmt.Sprintf("%s.audiences[%d]", p, j), "audience must not be empty")
			}
		}
		if strings.TrimSpace(o.UsernameClaim) == "" {
			v.errf(p+".usernameClaim", "must not be empty")
		}
		for j, alg := range o.Algorithms {
			if !allowedAlgorithm(alg) {
				v.errf(fmt.Sprintf("%s.algorithms[%d]", p, j), "algorithm %q is not accepted (allowed: %s)", alg, strings.Join(DefaultAlgorithms, ", "))
			}
		}
		if o.ClockSkew.D() > MaxClockSkew {
			v.errf(p+".clockSkew", "must be at most %s", MaxClockSkew)
		}
		if o.JWKSURL != "" {
			checkIssuerURL(v, p+".jwksURL", o.JWKSURL)
		}
		if o.CAFile != "" {
			checkCAFile(v, p+".caFile", o.CAFile)
		}
	}
	if len(a.OIDC) > 1 && !a.SharedIssuerNamespace {
		checkPrefixes(v, a.OIDC, "usernamePrefix", func(o OIDC) string { return o.UsernamePrefix })
		checkPrefixes(v, a.OIDC, "groupsPrefix", func(o OIDC) string { return o.GroupsPrefix })
	}
	names, hashes := map[string]int{}, map[string]int{}
	for i, k := range a.APIKeys {
		p := fmt.Sprintf("authentication.apiKeys[%d]", i)
		if strings.TrimSpace(k.Name) == "" {
			v.errf(p+".name", "is required")
		} else if j, dup := names[k.Name]; dup {
			v.errf(p+".name", "name %q is also used by authentication.apiKeys[%d]", k.Name, j)
		}
		names[k.Name] = i
		h := strings.ToLower(k.SHA256)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			v.errf(p+".sha256", "must be the 64 hex digits of the key's SHA-256 (printf %%s \"$KEY\" | sha256sum)")
		} else if j, dup := hashes[h]; dup {
			v.errf(p+".sha256", "the same key is also configured as authentication.apiKeys[%d]", j)
		}
		hashes[h] = i
		checkSubjectName(v, p+".user", k.User)
		for j, g := range k.Groups {
			checkSubjectName(v, fmt.Sprintf("%s.groups[%d]", p, j), g)
		}
	}
	if tc := a.TokenCache; tc.Size != nil && *tc.Size < 0 {
		v.errf("authentication.tokenCache.size", "must not be negative")
	}
}

// checkPrefixes requires, with several OIDC issuers in separate
// namespaces, that every issuer has a non-empty prefix of the given kind
// and that no prefix starts another: otherwise a name one issuer mints
// could equal a name from another issuer.
func checkPrefixes(v *validator, oidc []OIDC, field string, prefix func(OIDC) string) {
	for i, o := range oidc {
		p := fmt.Sprintf("authentication.oidc[%d].%s", i, field)
		pi := prefix(o)
		if pi == "" {
			v.errf(p, "is required when several OIDC issuers are configured, so names from different issuers cannot collide (or set authentication.sharedIssuerNamespace: true if all issuers name the same people and groups)")
			continue
		}
		for j := 0; j < i; j++ {
			if pj := prefix(oidc[j]); pj != "" && (strings.HasPrefix(pi, pj) || strings.HasPrefix(pj, pi)) {
				v.errf(p, "%q overlaps %q of authentication.oidc[%d]: a name from one issuer could equal a name from the other", pi, pj, j)
			}
		}
	}
}

func (c *Config) validateClusters(v *validator) {
	seen := map[string]int{}
	for i, cl := range c.Clusters {
		p := fmt.Sprintf("clusters[%d]", i)
		if !dnsLabelRE.MatchString(cl.Namespace) || len(cl.Namespace) > 63 {
			v.errf(p+".namespace", "%q is not a valid namespace name (lowercase letters, digits and '-', at most 63)", cl.Namespace)
		}
		if !dnsLabelRE.MatchString(cl.Name) || len(cl.Name) > 63 {
			v.errf(p+".name", "%q is not a valid cluster name (lowercase letters, digits and '-', at most 63)", cl.Name)
		}
		key := cl.Namespace + "/" + cl.Name
		if j, dup := seen[key]; dup {
			v.errf(p+".name", "cluster %s is also configured as clusters[%d]", key, j)
		}
		seen[key] = i
		checkUpstream(v, p+".upstream", cl.Upstream)
		if cl.RayTokenFile != "" {
			if _, err := ReadToken(cl.RayTokenFile); err != nil {
				v.errf(p+".rayTokenFile", "%v", err)
			}
		}
		if len(cl.Access) == 0 && c.Authorization.Kubernetes == nil {
			v.errf(p+".access", "no bindings: nobody could use this cluster")
		}
		validateActionRoles(v, p+".actionRoles", cl.ActionRoles)
		validateBindings(v, p+".access", cl.Access)
	}
}

// validateBindings checks role bindings at path (clusters[i].access or
// discovery.kubernetes.access).
func validateBindings(v *validator, path string, bs []Binding) {
	for j, b := range bs {
		bp := fmt.Sprintf("%s[%d]", path, j)
		if !validRole(b.Role) {
			v.errf(bp+".role", "unknown role %q (one of %s)", b.Role, strings.Join(Roles, ", "))
		}
		if len(b.Users)+len(b.Groups)+len(b.ServiceAccounts) == 0 {
			v.errf(bp, "binding names no users, groups or serviceAccounts")
		}
		for k, u := range b.Users {
			checkSubjectName(v, fmt.Sprintf("%s.users[%d]", bp, k), u)
		}
		for k, g := range b.Groups {
			checkSubjectName(v, fmt.Sprintf("%s.groups[%d]", bp, k), g)
		}
		for k, sa := range b.ServiceAccounts {
			ns, name, ok := strings.Cut(sa, "/")
			if !ok || !dnsLabelRE.MatchString(ns) || len(ns) > 63 || !dnsSubdomainRE.MatchString(name) || len(name) > 253 {
				v.errf(fmt.Sprintf("%s.serviceAccounts[%d]", bp, k), "%q must be namespace/name", sa)
			}
		}
	}
}

// ReadToken reads a Ray token file: one non-empty line, surrounding
// whitespace ignored.
func ReadToken(path string) (string, error) { return readOneLine(path, "token") }

// ReadSecret reads a file holding one secret (a client secret, a session
// key): one non-empty line, surrounding whitespace ignored.
func ReadSecret(path string) (string, error) { return readOneLine(path, "secret") }

func readOneLine(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s file: %v", what, unwrapPathErr(err))
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("%s file is empty", what)
	}
	if strings.ContainsAny(t, "\r\n\t ") {
		return "", fmt.Errorf("%s file must hold a single %s", what, what)
	}
	return t, nil
}

func validRole(r string) bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

func allowedAlgorithm(a string) bool {
	for _, x := range DefaultAlgorithms {
		if a == x {
			return true
		}
	}
	return false
}

func checkSubjectName(v *validator, path, s string) {
	if strings.TrimSpace(s) == "" {
		v.errf(path, "must not be empty")
		return
	}
	if s != strings.TrimSpace(s) {
		v.errf(path, "%q has leading or trailing spaces", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ',' {
			v.errf(path, "%q contains a control character or a comma", s)
			return
		}
	}
}

func checkHostPort(v *validator, path, hp string) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		v.errf(path, "%q is not host:port", hp)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errf(path, "port %q is not a number between 0 and 65535", port)
	}
	_ = host
}

func checkIssuerURL(v *validator, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.errf(path, "%q is not an http(s) URL", raw)
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		v.errf(path, "%q must use https (http is allowed only on a loopback host)", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.errf(path, "%q must not have a query, fragment or user info", raw)
	}
}

func checkUpstream(v *validator, path, raw string) {
	if raw == "" {
		v.errf(path, "is required (the Ray dashboard URL, e.g. http://ray-head.team-a.svc:8265)")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.errf(path, "%q is not an http(s) URL", raw)
		return
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.errf(path, "%q must not have a query, fragment or user info", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkKeyPair(v *validator, path string, t TLS) {
	if t.CertFile == "" {
		v.errf(path+".certFile", "is required")
	}
	if t.KeyFile == "" {
		v.errf(path+".keyFile", "is required")
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		v.errf(path, "cannot load certificate and key: %v", unwrapPathErr(err))
	}
}

func checkCAFile(v *validator, path, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		v.errf(path, "cannot read: %v", unwrapPathErr(err))
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		v.errf(path, "holds no PEM certificate")
	}
}

// MaxLimitRate bounds limits.*.requestsPerSecond and burst: larger values
// are no limit at all and are more likely a typo.
const MaxLimitRate = 1e6

// MaxShutdownDelay bounds shutdownDelay.
const MaxShutdownDelay = 5 * time.Minute

func (l Limits) validate(v *validator) {
	for name, s := range map[string]Limit{"perUser": l.PerUser, "perCluster": l.PerCluster} {
		p := "limits." + name
		if r := s.RequestsPerSecond; r < 0 || r > MaxLimitRate || math.IsNaN(r) {
			v.errf(p+".requestsPerSecond", "must be between 0 (no limit) and %d", int(MaxLimitRate))
		}
		if s.Burst < 0 || s.Burst > MaxLimitRate {
			v.errf(p+".burst", "must be between 0 and %d", int(MaxLimitRate))
		} else if s.Burst > 0 && s.RequestsPerSecond == 0 {
			v.errf(p+".burst", "needs requestsPerSecond (a burst above no rate limit means nothing)")
		}
		if s.ConcurrentRequests < 0 {
			v.errf(p+".concurrentRequests", "must not be negative (0 is no limit)")
		}
		if s.ConcurrentStreams < 0 {
			v.errf(p+".concurrentStreams", "must not be negative (0 is no limit)")
		}
	}
	if l.MaxUsers < 0 {
		v.errf("limits.maxUsers", "must not be negative")
	}
}
