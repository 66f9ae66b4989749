// Package oidcclient is raygate's OpenID Connect relying party: discovery
// of an issuer's endpoints, the authorization code flow with PKCE (S256),
// code exchange, refresh, the end-session URL, the device authorization
// grant (RFC 8628) and token revocation (RFC 7009). ID tokens are verified
// by the same verifier bearer tokens go through (authn.OIDC), behind the
// IDTokenVerifier interface. Browser sign-in uses it; so can any other
// sign-in (a terminal's loopback or device flow).
package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Provider is what an issuer's discovery document says about it.
type Provider struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
}

// maxDocument bounds a discovery document or token response.
const maxDocument = 1 << 20

// Discover fetches issuer's /.well-known/openid-configuration with client
// and checks it: it names issuer exactly, has authorization and token
// endpoints, every endpoint is https (or http on a loopback host, as the
// issuer may be), and PKCE with S256 is supported if the document lists
// challenge methods at all.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Provider, error) {
	var p Provider
	if err := getJSON(ctx, client, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &p); err != nil {
		return nil, fmt.Errorf("oidcclient: discovery: %w", err)
	}
	if err := p.check(issuer); err != nil {
		return nil, fmt.Errorf("oidcclient: discovery of %s: %w", issuer, err)
	}
	return &p, nil
}

func (p *Provider) check(issuer string) error {
	if p.Issuer != issuer {
		return fmt.Errorf("document names issuer %q", p.Issuer)
	}
	for name, raw := range map[string]string{"authorization_endpoint": p.AuthorizationEndpoint, "token_endpoint": p.TokenEndpoint} {
		if raw == "" {
			return fmt.Errorf("no %s", name)
		}
	}
	for name, raw := range map[string]string{
		"authorization_endpoint": p.AuthorizationEndpoint, "token_endpoint": p.TokenEndpoint,
		"end_session_endpoint": p.EndSessionEndpoint, "device_authorization_endpoint": p.DeviceAuthorizationEndpoint,
		"revocation_endpoint": p.RevocationEndpoint,
	} {
		if raw != "" && !endpointOK(raw) {
			return fmt.Errorf("%s %q is not an https URL", name, raw)
		}
	}
	if len(p.CodeChallengeMethodsSupported) > 0 && !slices.Contains(p.CodeChallengeMethodsSupported, "S256") {
		return errors.New("the issuer does not support PKCE with S256")
	}
	return nil
}

// endpointOK accepts an absolute https URL without a fragment, or http on
// a loopback host.
func endpointOK(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || (ip != nil && ip.IsLoopback())
	}
	return false
}

// DefaultScopes are the scopes to ask for when the config names none:
// openid and email, groups and profile if the issuer lists them, and
// offline_access (a refresh token) if it lists that.
func (p *Provider) DefaultScopes() []string {
	out := []string{"openid", "email"}
	for _, s := range []string{"groups", "profile", "offline_access"} {
		if slices.Contains(p.ScopesSupported, s) {
			out = append(out, s)
		}
	}
	return out
}

// EndSessionURL is where to send a browser to end its session at the
// issuer (RP-initiated logout), and false if the issuer advertises no
// end_session_endpoint.
func (p *Provider) EndSessionURL(clientID, idTokenHint, postLogoutRedirect, state string) (string, bool) {
	if p.EndSessionEndpoint == "" {
		return "", false
	}
	u, err := url.Parse(p.EndSessionEndpoint)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("client_id", clientID)
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	return u.String(), true
}

// Discovery holds an issuer's provider metadata: fetched on first use,
// kept for MaxAge, fetched again at most every RetryAfter while the issuer
// cannot be reached. It is safe for concurrent use.
type Discovery struct {
	issuer string
	client *http.Client

	mu      sync.Mutex
	p       *Provider
	fetched time.Time
	tried   time.Time
	err     error
}

// Discovery refresh intervals.
const (
	MaxAge     = time.Hour
	RetryAfter = 10 * time.Second
)

// NewDiscovery returns the lazily fetched metadata of issuer.
func NewDiscovery(issuer string, client *http.Client) *Discovery {
	return &Discovery{issuer: issuer, client: client}
}

// Issuer is the issuer this discovery is for.
func (d *Discovery) Issuer() string { return d.issuer }

// Provider returns the issuer's metadata, fetching it when it is missing or
// older than MaxAge (keeping the old metadata if that fails).
func (d *Discovery) Provider(ctx context.Context) (*Provider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if d.p != nil && now.Sub(d.fetched) < MaxAge {
		return d.p, nil
	}
	if !d.tried.IsZero() && now.Sub(d.tried) < RetryAfter {
		if d.p != nil {
			return d.p, nil
		}
		return nil, d.err
	}
	d.tried = now
	p, err := Discover(ctx, d.client, d.issuer)
	if err != nil {
		d.err = err
		if d.p != nil {
			return d.p, nil
		}
		return nil, err
	}
	d.p, d.fetched, d.err = p, now, nil
	return p, nil
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return err
	}
	if len(body) > maxDocument {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocument)
	}
	return json.Unmarshal(body, v)
}
