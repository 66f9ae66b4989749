// Package signin is browser sign-in: the OpenID Connect authorization code
// flow with PKCE, state and nonce under /_raygate/ (sign-in, callback,
// sign-out), the encrypted session cookie it ends in, the authentication
// of requests by that cookie with server-side renewal by refresh token,
// and the same-origin rule for cookie-authenticated requests that change
// state. A Browser is built from one config and is immutable; what must
// outlive a reload (used states, renewals in flight) is handed on.
package signin

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/session"
	"github.com/raygate/raygate/internal/ui"
)

// Paths of the gateway's own endpoints for browsers.
const (
	PathSignIn    = "/_raygate/sign-in"
	PathCallback  = "/_raygate/callback"
	PathSignOut   = "/_raygate/sign-out"
	PathSignedOut = "/_raygate/signed-out"
)

// Audit actions of the endpoints.
const (
	ActionSignIn  = "gateway.sign-in"
	ActionSignOut = "gateway.sign-out"
)

// RefreshMargin is how long before its ID token expires a session is
// renewed: on the first request in that window, or after it.
const RefreshMargin = time.Minute

// Browser serves browser sign-in for one config.
type Browser struct {
	jar         *session.Jar
	issuers     []*issuer
	byIssuer    map[string]*issuer
	external    *url.URL
	origin      string
	maxLifetime time.Duration
	shared      *shared
	log         *slog.Logger
	now         func() time.Time
}

// issuer is one OIDC issuer with login: true.
type issuer struct {
	cfg       config.OIDC
	name      string
	discovery *oidcclient.Discovery
	client    *oidcclient.Client
}

// Options are what New builds a Browser from.
type Options struct {
	// Config is the validated config; its login issuers, session and
	// externalURL are used.
	Config *config.Config
	// Verifiers verify each issuer's ID tokens, by issuer URL.
	Verifiers map[string]*authn.OIDC
	// Log receives operational events; never a credential.
	Log *slog.Logger
	// Prev is the Browser in force, or nil: its replay guard, renewals
	// and, for unchanged issuers, discovered metadata carry over.
	Prev *Browser
}

// New builds the Browser for a config, or returns nil when no issuer
// offers login.
func New(o Options) (*Browser, error) {
	cfg := o.Config
	if !cfg.LoginEnabled() {
		return nil, nil
	}
	keys, err := config.SessionKeys(cfg.Authentication.Session)
	if err != nil {
		return nil, fmt.Errorf("signin: session keys: %w", err)
	}
	codec, err := session.NewCodec(keys)
	if err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	ext, err := url.Parse(cfg.ExternalURL)
	if err != nil || ext.Host == "" {
		return nil, fmt.Errorf("signin: externalURL %q is not a URL", cfg.ExternalURL)
	}
	b := &Browser{
		jar:         &session.Jar{Codec: codec, Secure: ext.Scheme == "https"},
		byIssuer:    map[string]*issuer{},
		external:    ext,
		origin:      origin(ext),
		maxLifetime: cfg.Authentication.Session.MaxLifetime.D(),
		log:         o.Log,
		now:         time.Now,
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if o.Prev != nil {
		b.shared = o.Prev.shared
	} else {
		b.shared = newShared()
	}
	for _, oc := range cfg.Authentication.OIDC {
		if !oc.Login {
			continue
		}
		v := o.Verifiers[oc.Issuer]
		if v == nil {
			return nil, fmt.Errorf("signin: no verifier for issuer %s", oc.Issuer)
		}
		secret, err := config.ClientSecret(oc)
		if err != nil {
			return nil, fmt.Errorf("signin: issuer %s: client secret: %w", oc.Issuer, err)
		}
		httpc, err := authn.NewHTTPClient(oc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("signin: issuer %s: %w", oc.Issuer, err)
		}
		is := &issuer{cfg: oc, name: oc.Name()}
		if prev := o.Prev.find(oc.Issuer); prev != nil && prev.cfg.CAFile == oc.CAFile {
			is.discovery = prev.discovery
		} else {
			is.discovery = oidcclient.NewDiscovery(oc.Issuer, httpc)
		}
		is.client = &oidcclient.Client{ID: oc.ClientID, Secret: secret, Scopes: oc.Scopes, HTTP: httpc, Verifier: v}
		b.issuers = append(b.issuers, is)
		b.byIssuer[oc.Issuer] = is
	}
	if !b.jar.Secure {
		b.log.Warn("browser sign-in over plain HTTP: session cookies are sent without Secure and without the __Host- prefix, which browsers refuse on http; this is allowed on a loopback host only, use https anywhere else",
			"externalURL", cfg.ExternalURL, "cookie", b.jar.SessionName())
	}
	return b, nil
}

func (b *Browser) find(iss string) *issuer {
	if b == nil {
		return nil
	}
	return b.byIssuer[iss]
}

// Owns reports whether path is one of the Browser's endpoints.
func Owns(path string) bool {
	switch path {
	case PathSignIn, PathCallback, PathSignOut, PathSignedOut:
		return true
	}
	return false
}

// callbackURL is where the issuer sends the browser back.
func (b *Browser) callbackURL() string { return b.origin + PathCallback }

// signedOutURL is where the issuer sends the browser after ending its
// session there.
func (b *Browser) signedOutURL() string { return b.origin + PathSignedOut }

// Until is when the session r carries ends at the latest without a new
// sign-in (zero without a readable session).
func (b *Browser) Until(r *http.Request) time.Time {
	s, err := b.jar.ReadSession(r)
	if err != nil {
		return time.Time{}
	}
	return b.cookieUntil(s)
}

// origin is the serialized origin of u, as browsers send it in Origin:
// lowercase scheme and host, no default port.
func origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port
	}
	return scheme + "://" + host
}

// SignInURL is the address that signs a browser in and brings it back to
// r's page, or to / when r's page is not one a sign-in may return to.
func (b *Browser) SignInURL(r *http.Request) string {
	return PathSignIn + "?rd=" + url.QueryEscape(returnPath(r))
}

// hostMismatch reports whether a browser reached raygate at another
// loopback name than externalURL's (localhost for 127.0.0.1): cookies
// set there would not come back with the callback. Only loopback names
// are compared, so a proxy that rewrites Host cannot cause a loop.
func (b *Browser) hostMismatch(r *http.Request) bool {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	eh, ep := b.external.Hostname(), b.external.Port()
	if !loopback(host) || !loopback(eh) {
		return false
	}
	return !strings.EqualFold(host, eh) || port != ep
}

func loopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// issuerLinks lists the login issuers for the chooser, each starting a
// sign-in that returns to rd.
func (b *Browser) issuerLinks(rd string) []ui.Issuer {
	out := make([]ui.Issuer, len(b.issuers))
	for i, is := range b.issuers {
		out[i] = ui.Issuer{Name: is.name, URL: PathSignIn + "?issuer=" + strconv.Itoa(i) + "&rd=" + url.QueryEscape(rd)}
	}
	return out
}
