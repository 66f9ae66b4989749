package config

import (
	"math"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Default values; the field docs in config.go repeat them.
const (
	DefaultListen                = "127.0.0.1:8080"
	DefaultMetricsListen         = "127.0.0.1:9090"
	DefaultWebhookListen         = "127.0.0.1:9443"
	DefaultUsernameClaim         = "email"
	DefaultGroupsClaim           = "groups"
	DefaultClockSkew             = 30 * time.Second
	MaxClockSkew                 = 5 * time.Minute
	DefaultTokenCacheSize        = 10000
	DefaultTokenCacheTTL         = 5 * time.Minute
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxIdleConnsPerHost   = 256
	DefaultShutdownTimeout       = 30 * time.Second
	DefaultBodyLimit             = 1 << 20
	DefaultJobSubmitLimit        = 10 << 20
	DefaultPackageUploadLimit    = 100 << 20
	DefaultServeDeployLimit      = 10 << 20
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultBodyTimeout           = 5 * time.Minute
	DefaultIdleTimeout           = 2 * time.Minute
	DefaultMaxRequestTargetBytes = 8 << 10
	DefaultMaxHeaderBytes        = 32 << 10
	DefaultMaxPendingHeadBytes   = 64 << 20
	// MaxRequestTargetLimit and MaxHeaderLimit cap what the two size
	// settings may be raised to.
	MaxRequestTargetLimit     = 64 << 10
	MaxHeaderLimit            = 1 << 20
	DefaultLimitMaxUsers      = 100000
	DefaultSessionMaxLifetime = 12 * time.Hour
	DefaultIAPJWKSURL         = "https://www.gstatic.com/iap/verify/public_key-jwk"
)

// DefaultAlgorithms are the signature algorithms accepted when an issuer
// lists none: every asymmetric JWS algorithm.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// applyDefaults fills every unset field with its default.
func (c *Config) applyDefaults() {
	setDefault(&c.Listen, DefaultListen)
	setDefault(&c.MetricsListen, DefaultMetricsListen)
	setDefault(&c.ExternalURL, loopbackURL(c.Listen, c.TLS != nil))
	c.ExternalURL = strings.TrimSuffix(c.ExternalURL, "/")
	setDefault(&c.ShutdownTimeout, Duration(DefaultShutdownTimeout))
	sv := &c.Server
	setDefault(&sv.ReadHeaderTimeout, Duration(DefaultReadHeaderTimeout))
	setDefault(&sv.BodyTimeout, Duration(DefaultBodyTimeout))
	setDefault(&sv.IdleTimeout, Duration(DefaultIdleTimeout))
	setDefault(&sv.MaxRequestTargetBytes, DefaultMaxRequestTargetBytes)
	setDefault(&sv.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&sv.MaxPendingHeadBytes, DefaultMaxPendingHeadBytes)
	for i := range c.Authentication.OIDC {
		o := &c.Authentication.OIDC[i]
		setDefault(&o.UsernameClaim, DefaultUsernameClaim)
		setDefault(&o.GroupsClaim, DefaultGroupsClaim)
		setDefault(&o.ClockSkew, Duration(DefaultClockSkew))
		if len(o.Algorithms) == 0 {
			o.Algorithms = append([]string(nil), DefaultAlgorithms...)
		}
	}
	setDefault(&c.Authentication.Session.MaxLifetime, Duration(DefaultSessionMaxLifetime))
	if iap := c.Authentication.IAP; iap != nil {
		setDefault(&iap.JWKSURL, DefaultIAPJWKSURL)
		setDefault(&iap.ClockSkew, Duration(DefaultClockSkew))
	}
	tc := &c.Authentication.TokenCache
	if tc.Size == nil {
		n := DefaultTokenCacheSize
		tc.Size = &n
	}
	setDefault(&tc.TTL, Duration(DefaultTokenCacheTTL))
	setDefault(&c.Audit.File, "-")
	setDefault(&c.Audit.OnFailure, AuditRefuse)
	for _, l := range []*Limit{&c.Limits.PerUser, &c.Limits.PerCluster} {
		if l.RequestsPerSecond > 0 && l.Burst == 0 && l.RequestsPerSecond < math.MaxInt32 {
			l.Burst = max(1, int(math.Ceil(l.RequestsPerSecond)))
		}
	}
	setDefault(&c.Limits.MaxUsers, DefaultLimitMaxUsers)
	p := &c.Proxy
	setDefault(&p.DialTimeout, Duration(DefaultDialTimeout))
	setDefault(&p.ResponseHeaderTimeout, Duration(DefaultResponseHeaderTimeout))
	setDefault(&p.IdleConnTimeout, Duration(DefaultIdleConnTimeout))
	setDefault(&p.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	setDefault(&p.MaxBodyBytes.Default, DefaultBodyLimit)
	setDefault(&p.MaxBodyBytes.JobSubmit, DefaultJobSubmitLimit)
	setDefault(&p.MaxBodyBytes.PackageUpload, DefaultPackageUploadLimit)
	setDefault(&p.MaxBodyBytes.ServeDeploy, DefaultServeDeployLimit)
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "json")
	if c.Webhook != nil {
		setDefault(&c.Webhook.Listen, DefaultWebhookListen)
	}
	c.applyKubernetesDefaults()
}

// loopbackURL is the base URL of a listener on a loopback address, "" for
// any other address (behind a load balancer or ingress the public URL
// cannot be guessed).
func loopbackURL(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" || port == "" || !isLoopback(host) {
		return ""
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// resolvePaths makes every file path in the config absolute, relative to
// dir (the config file's folder).
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && *p != "-" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.TLS != nil {
		abs(&c.TLS.CertFile)
		abs(&c.TLS.KeyFile)
	}
	for i := range c.Authentication.OIDC {
		abs(&c.Authentication.OIDC[i].CAFile)
		abs(&c.Authentication.OIDC[i].ClientSecretFile)
	}
	for i := range c.Authentication.Session.KeyFiles {
		abs(&c.Authentication.Session.KeyFiles[i])
	}
	for i := range c.Clusters {
		abs(&c.Clusters[i].RayTokenFile)
	}
	abs(&c.Audit.File)
	if c.Kubernetes != nil {
		abs(&c.Kubernetes.Kubeconfig)
	}
	if c.Webhook != nil {
		abs(&c.Webhook.TLS.CertFile)
		abs(&c.Webhook.TLS.KeyFile)
		abs(&c.Webhook.TenantsFile)
		abs(&c.Webhook.Kubeconfig)
	}
}

// Files lists every file the config refers to whose change should trigger
// a reload (the config itself, TLS material, token files, CA bundles).
func (c *Config) Files() []string {
	out := []string{c.File}
	add := func(p string) {
		if p != "" && p != "-" {
			out = append(out, p)
		}
	}
	if c.TLS != nil {
		add(c.TLS.CertFile)
		add(c.TLS.KeyFile)
	}
	for _, o := range c.Authentication.OIDC {
		add(o.CAFile)
		add(o.ClientSecretFile)
	}
	for _, f := range c.Authentication.Session.KeyFiles {
		add(f)
	}
	for _, cl := range c.Clusters {
		add(cl.RayTokenFile)
	}
	if c.Webhook != nil {
		add(c.Webhook.TLS.CertFile)
		add(c.Webhook.TLS.KeyFile)
		add(c.Webhook.TenantsFile)
	}
	return out
}
