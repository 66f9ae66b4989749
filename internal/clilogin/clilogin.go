// Package clilogin is the raygate command line's sign-in to a gateway.
// It asks the gateway which issuers a terminal may use
// (/_raygate/login-config), discovers the chosen issuer, and signs the
// person in there with the device authorization grant (RFC 8628) or the
// authorization code flow with PKCE on a loopback redirect (RFC 8252).
// It keeps the tokens in the user's token cache (tokencache), renews the
// ID token with the refresh token before it expires, and revokes the
// refresh token on sign-out. Every failure a person can meet is an *Error
// whose one-line message says what to do next.
package clilogin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/raygate/raygate/internal/loginconfig"
	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/tokencache"
)

// Client signs in and keeps sign-ins. The zero value is not usable; set
// HTTP and Store at least.
type Client struct {
	// HTTP talks to the gateway and the identity provider.
	HTTP *http.Client
	// Store keeps the tokens.
	Store tokencache.Store
	// Out receives the instructions for the person (the terminal's
	// stderr). Never a credential.
	Out io.Writer
	// Open opens a page in a browser; nil only prints the page's address.
	Open func(url string) error
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Sleep waits between device code polls; nil waits for real.
	Sleep func(ctx context.Context, d time.Duration) error
}

// HTTPTimeout bounds one request to the gateway or the identity provider.
const HTTPTimeout = 30 * time.Second

// NewHTTPClient is the client the command line talks to gateways and
// identity providers with: the system's roots (and SSL_CERT_FILE), the
// environment's proxy, a bounded timeout.
func NewHTTPClient() *http.Client {
	return &http.Client{Timeout: HTTPTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) out() io.Writer {
	if c.Out == nil {
		return io.Discard
	}
	return c.Out
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Need says how long a cached ID token must still be valid to be used as
// is, given its whole lifetime; a token with less left is renewed first.
type Need func(lifetime time.Duration) time.Duration

// ForUse renews a token in its last minute, or its last tenth for
// lifetimes under ten minutes (at least 5 seconds): enough for one
// request.
func ForUse(lifetime time.Duration) time.Duration {
	return min(max(lifetime/10, 5*time.Second), time.Minute)
}

// ForCommand renews a token past half its lifetime: a command started
// with it may run a while and cannot be given a new one.
func ForCommand(lifetime time.Duration) time.Duration {
	return max(ForUse(lifetime), lifetime/2)
}

// Flow is how Login signs in.
type Flow int

// The flows.
const (
	// FlowAuto uses the device flow where the provider offers it, else
	// the browser.
	FlowAuto Flow = iota
	// FlowDevice prints an address and a code to enter there, from any
	// device (RFC 8628).
	FlowDevice
	// FlowBrowser opens a browser on this computer, which comes back to a
	// one-time listener on 127.0.0.1 (RFC 8252).
	FlowBrowser
)

// LoginOptions tune Login.
type LoginOptions struct {
	// Issuer picks an issuer by name or URL; "" takes the one signed in
	// with last, or the only one.
	Issuer string
	// Flow picks the flow.
	Flow Flow
	// Wait bounds the browser flow's wait for the browser to come back;
	// 0 is 5 minutes.
	Wait time.Duration
}

// Login is a finished sign-in.
type Login struct {
	// Gateway and Issuer are where; Name is the issuer's name.
	Gateway, Issuer, Name string
	// Tokens are what was stored.
	Tokens *tokencache.Login
}

// Login signs in to gw (a normalized gateway address) and stores the
// tokens, making gw the default gateway.
func (c *Client) Login(ctx context.Context, gw string, o LoginOptions) (*Login, error) {
	doc, err := c.LoginConfig(ctx, gw)
	if err != nil {
		return nil, err
	}
	is, err := c.pickIssuer(gw, doc, o.Issuer)
	if err != nil {
		return nil, err
	}
	p, err := c.discover(ctx, is.Issuer)
	if err != nil {
		return nil, err
	}
	scopes := is.Scopes
	if len(scopes) == 0 {
		scopes = p.DefaultScopes()
	}
	oc := &oidcclient.Client{ID: is.ClientID, Scopes: scopes, HTTP: c.HTTP}
	flow := o.Flow
	if flow == FlowDevice && !p.OffersDeviceGrant() {
		return nil, errNoDeviceGrant(is.Issuer)
	}
	if flow == FlowAuto {
		flow = FlowBrowser
		if p.OffersDeviceGrant() {
			flow = FlowDevice
		}
	}
	var tok *oidcclient.Token
	var nonce string
	if flow == FlowDevice {
		tok, err = c.device(ctx, is.Issuer, p, oc)
	} else {
		tok, nonce, err = c.loopback(ctx, is.Issuer, p, oc, o.Wait)
	}
	if err != nil {
		return nil, err
	}
	l, err := c.record(tok, is.Issuer, is.ClientID, nonce)
	if err != nil {
		return nil, err
	}
	if err := c.Store.Update(ctx, func(t *tokencache.Tokens) error { t.Put(gw, is.Issuer, l); return nil }); err != nil {
		return nil, err
	}
	if err := c.Store.SaveSettings(tokencache.Settings{Gateway: gw}); err != nil {
		return nil, err
	}
	return &Login{Gateway: gw, Issuer: is.Issuer, Name: is.Name, Tokens: l}, nil
}

// pickIssuer chooses the issuer to sign in with.
func (c *Client) pickIssuer(gw string, doc *loginconfig.Document, name string) (loginconfig.Issuer, error) {
	var names []string
	for _, is := range doc.Issuers {
		names = append(names, is.Name)
	}
	switch {
	case len(doc.Issuers) == 0:
		return loginconfig.Issuer{}, errNoIssuer(gw)
	case name != "":
		if is, ok := doc.Find(name); ok {
			return is, nil
		}
		return loginconfig.Issuer{}, errUnknownIssuer(gw, name, names)
	case len(doc.Issuers) == 1:
		return doc.Issuers[0], nil
	}
	if t, err := c.Store.Load(); err == nil && t.Gateways[gw] != nil {
		if is, ok := doc.Find(t.Gateways[gw].Issuer); ok {
			return is, nil
		}
	}
	return loginconfig.Issuer{}, errSeveralIssuers(gw, names)
}

// discover fetches an issuer's discovery document.
func (c *Client) discover(ctx context.Context, issuer string) (*oidcclient.Provider, error) {
	p, err := oidcclient.Discover(ctx, c.HTTP, issuer)
	if err == nil {
		return p, nil
	}
	if ctx.Err() != nil {
		return nil, errInterrupted(err)
	}
	if isNetwork(err) {
		return nil, errProviderUnreachable(issuer, err)
	}
	return nil, errProviderUnusable(issuer, err)
}

// record checks a new token response and turns it into a cache entry.
func (c *Client) record(tok *oidcclient.Token, issuer, clientID, nonce string) (*tokencache.Login, error) {
	claims, err := ParseIDToken(tok.IDToken)
	if err != nil {
		return nil, errBadIDToken(issuer, err)
	}
	now := c.now()
	if err := checkNew(claims, issuer, clientID, nonce, now); err != nil {
		return nil, err
	}
	iat := claims.IssuedAt
	if iat.IsZero() || iat.After(now) {
		iat = now
	}
	return &tokencache.Login{
		ClientID: clientID, User: claims.User(), IDToken: tok.IDToken, RefreshToken: tok.RefreshToken,
		IssuedAt: iat, Expiry: claims.Expiry,
	}, nil
}

// isNetwork reports whether err is a failure to talk to a server at all
// (as opposed to an answer it did not like).
func isNetwork(err error) bool {
	var te *oidcclient.TokenError
	if errors.As(err, &te) {
		return false
	}
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne)
}
