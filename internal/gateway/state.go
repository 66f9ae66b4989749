package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/limit"
	"github.com/raygate/raygate/internal/proxy"
	"github.com/raygate/raygate/internal/realip"
	"github.com/raygate/raygate/internal/route"
	"github.com/raygate/raygate/internal/signin"
	"github.com/raygate/raygate/internal/ui"
)

// State is everything a request needs, built from one config. It is
// immutable: a reload builds a new State and swaps it in whole.
type State struct {
	// Config is the config the state was built from.
	Config *config.Config
	// Authn authenticates requests.
	Authn authn.Authenticator
	// Registry finds clusters.
	Registry route.Registry
	// Roles resolves a caller's role on a cluster.
	Roles authz.RoleResolver
	// Proxy forwards requests upstream.
	Proxy *proxy.Proxy
	// Jobs asks clusters about jobs (owner lookups), through Proxy.
	Jobs jobs.Client
	// Cert is the public listener's certificate, nil without TLS.
	Cert *tls.Certificate
	// Browser is browser sign-in and its session cookie, nil when no
	// issuer offers login.
	Browser *signin.Browser

	cliLogin  *cliLogin
	transport *http.Transport
	keySets   map[string]*authn.KeySet
	iapKeys   *authn.KeySet
	limits    config.BodyLimits
	// proxies are the proxies whose X-Forwarded-For names the client.
	proxies realip.Trusted
	limiter *limit.Limiter // nil: no abuse limits
	// tokens is the verified-token cache, kept across reloads that leave
	// authentication as it was.
	tokens *authn.TokenCache
}

// KeySets returns the key sets to fetch at start: the OIDC issuers', by
// issuer, and IAP's.
func (s *State) KeySets() map[string]*authn.KeySet {
	if s.iapKeys == nil {
		return s.keySets
	}
	out := make(map[string]*authn.KeySet, len(s.keySets)+1)
	for k, v := range s.keySets {
		out[k] = v
	}
	out[authn.IAPIssuer] = s.iapKeys
	return out
}

// Build turns a validated config into a State. prev, the state in force (or
// nil), lends what is unchanged: OIDC key sets whose issuer config is the
// same, and the upstream transport when the proxy settings are the same.
func (g *Gateway) Build(cfg *config.Config, prev *State) (*State, error) {
	st := &State{Config: cfg, keySets: map[string]*authn.KeySet{}, limits: cfg.Proxy.MaxBodyBytes}
	proxies, err := realip.NewTrusted(cfg.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("gateway: server.trustedProxies: %w", err)
	}
	st.proxies = proxies

	if cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: tls: %w", err)
		}
		st.Cert = &cert
	}

	k8s, err := g.kubernetesAuthn(cfg)
	if err != nil {
		return nil, err
	}
	bearer, err := authn.NewBearer(cfg.Authentication, func(o config.OIDC) (*authn.KeySet, error) {
		ks, err := st.keySet(prev, cfg, o, g.metrics)
		if err == nil {
			st.keySets[o.Issuer] = ks
		}
		return ks, err
	}, k8s, g.metrics)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if prev != nil && prev.tokens != nil && reflect.DeepEqual(prev.Config.Authentication, cfg.Authentication) {
		// The same issuers and claims: what was verified stays verified,
		// and a reload costs no burst of signature verifications.
		bearer.Cache = prev.tokens
	} else {
		tc := cfg.Authentication.TokenCache
		bearer.Cache = authn.NewTokenCache(*tc.Size, tc.TTL.D())
	}
	st.tokens = bearer.Cache
	st.Authn = authn.Chain{bearer}
	if err := g.buildBrowser(st, prev, oidcVerifiers(bearer)); err != nil {
		return nil, err
	}
	if st.cliLogin, err = buildCLILogin(cfg, prev); err != nil {
		return nil, fmt.Errorf("gateway: terminal sign-in: %w", err)
	}

	reg, err := route.FromConfig(cfg.Clusters)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	for _, c := range cfg.Clusters {
		if c.RayTokenFile != "" {
			key := c.Namespace + "/" + c.Name
			tok, err := config.ReadToken(c.RayTokenFile)
			if err != nil {
				return nil, fmt.Errorf("gateway: cluster %s: %w", key, err)
			}
			reg[key].Token = tok
		}
	}
	if st.Registry, err = g.registry(cfg, reg); err != nil {
		return nil, err
	}
	if st.Roles, err = g.roles(cfg); err != nil {
		return nil, err
	}

	if prev != nil && reflect.DeepEqual(prev.Config.Limits, cfg.Limits) {
		st.limiter = prev.limiter // keep the counts of requests in flight
	} else {
		st.limiter = limit.New(cfg.Limits)
	}
	if prev != nil && reflect.DeepEqual(prev.Config.Proxy, cfg.Proxy) {
		st.transport, st.Proxy = prev.transport, prev.Proxy
	} else {
		st.transport = proxy.NewTransport(cfg.Proxy)
		st.Proxy = proxy.New(st.transport, g.log, g.metrics.UpstreamError)
		st.Proxy.ErrorPage = ui.WriteError
	}
	st.Jobs = jobs.Client{Upstream: st.Proxy}
	return st, nil
}

// keySet returns the key set for issuer o: the one prev has when its
// settings are the same, a new one otherwise.
func (st *State) keySet(prev *State, cfg *config.Config, o config.OIDC, obs authn.Observer) (*authn.KeySet, error) {
	if prev != nil {
		if old, ok := prev.keySets[o.Issuer]; ok && sameIssuer(prev.Config, cfg, o.Issuer) {
			return old, nil
		}
	}
	return authn.NewKeySet(o.Issuer, o.JWKSURL, o.CAFile, obs)
}

// oidcVerifiers returns the OIDC issuers' verifiers of b, by issuer, for
// browser sign-in.
func oidcVerifiers(b *authn.Bearer) map[string]*authn.OIDC {
	out := make(map[string]*authn.OIDC, len(b.Issuers))
	for iss, v := range b.Issuers {
		if o, ok := v.(*authn.OIDC); ok {
			out[iss] = o
		}
	}
	return out
}

func sameIssuer(a, b *config.Config, issuer string) bool {
	find := func(c *config.Config) *config.OIDC {
		for i := range c.Authentication.OIDC {
			if c.Authentication.OIDC[i].Issuer == issuer {
				return &c.Authentication.OIDC[i]
			}
		}
		return nil
	}
	x, y := find(a), find(b)
	return x != nil && y != nil && x.JWKSURL == y.JWKSURL && x.CAFile == y.CAFile
}

// retire releases what old holds that next does not reuse, once requests
// still using it have had time to finish.
func retire(old, next *State, after time.Duration) {
	if old == nil || old.transport == next.transport {
		return
	}
	time.AfterFunc(after, old.transport.CloseIdleConnections)
}
