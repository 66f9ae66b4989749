package oidcclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/raygate/raygate/internal/authn"
)

// IDTokenVerifier verifies an ID token issued to clientID; nonce, when not
// "", must be the token's nonce. *authn.OIDC implements it.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, token, clientID, nonce string) (*authn.IDToken, error)
}

var _ IDTokenVerifier = (*authn.OIDC)(nil)

// Client is raygate as a relying party at one issuer. It is immutable.
type Client struct {
	// ID and Secret are the client's credentials; an empty Secret makes a
	// public client, which PKCE alone protects.
	ID, Secret string
	// Scopes are asked for at authorization.
	Scopes []string
	// HTTP talks to the issuer.
	HTTP *http.Client
	// Verifier checks the ID tokens the token endpoint returns.
	Verifier IDTokenVerifier
}

// AuthCodeURL is the authorization request a browser is sent to: the code
// flow, with state, nonce and the S256 challenge of the PKCE verifier.
func (c *Client) AuthCodeURL(p *Provider, redirectURL, state, nonce, verifier string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.ID},
		"redirect_uri":          {redirectURL},
		"scope":                 {strings.Join(c.Scopes, " ")},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(p.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return p.AuthorizationEndpoint + sep + q.Encode()
}

// Token is a token endpoint's answer.
type Token struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	// Expiry is when the access token expires, zero if not said.
	Expiry time.Time
}

// TokenError is an error answer of the token endpoint (RFC 6749 §5.2).
type TokenError struct {
	Status      int
	Code        string
	Description string
}

// Error names the endpoint's error code and description.
func (e *TokenError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("oidcclient: token endpoint: %s: %s (status %d)", e.Code, e.Description, e.Status)
	}
	return fmt.Sprintf("oidcclient: token endpoint: %s (status %d)", e.Code, e.Status)
}

// Exchange trades an authorization code for tokens, proving the PKCE
// verifier. The answer must hold an ID token.
func (c *Client) Exchange(ctx context.Context, p *Provider, code, verifier, redirectURL string) (*Token, error) {
	t, err := c.token(ctx, p, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURL},
		"code_verifier": {verifier},
	})
	if err != nil {
		return nil, err
	}
	if t.IDToken == "" {
		return nil, errors.New("oidcclient: token endpoint returned no ID token")
	}
	return t, nil
}

// Refresh trades a refresh token for new tokens. An answer without an ID
// token is an error: raygate renews an identity only on a new ID token.
func (c *Client) Refresh(ctx context.Context, p *Provider, refreshToken string) (*Token, error) {
	t, err := c.token(ctx, p, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	})
	if err != nil {
		return nil, err
	}
	if t.IDToken == "" {
		return nil, errors.New("oidcclient: refresh returned no ID token")
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken // the issuer does not rotate them
	}
	return t, nil
}

// token posts a grant to the token endpoint and reads the answer.
func (c *Client) token(ctx context.Context, p *Provider, form url.Values) (*Token, error) {
	status, body, err := c.post(ctx, p, p.TokenEndpoint, form)
	if err != nil {
		return nil, fmt.Errorf("oidcclient: token request: %w", err)
	}
	return ParseTokenResponse(status, body, time.Now())
}

// newPost builds a POST of form to one of the provider's endpoints,
// authenticating the client as at the token endpoint: with HTTP Basic
// (client_secret_basic) unless the issuer supports only
// client_secret_post; a public client sends its client_id alone.
func (c *Client) newPost(ctx context.Context, p *Provider, endpoint string, form url.Values) (*http.Request, error) {
	post := c.Secret != "" && len(p.TokenEndpointAuthMethodsSupported) > 0 &&
		!slices.Contains(p.TokenEndpointAuthMethodsSupported, "client_secret_basic") &&
		slices.Contains(p.TokenEndpointAuthMethodsSupported, "client_secret_post")
	if c.Secret == "" || post {
		form.Set("client_id", c.ID)
	}
	if post {
		form.Set("client_secret", c.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.Secret != "" && !post {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	return req, nil
}

// ParseTokenResponse reads a token endpoint's answer: status and body
// (RFC 6749 §5.1 and §5.2), received at now. Anything but 200 is a
// *TokenError, with code "unexpected_response" when the body names none.
func ParseTokenResponse(status int, body []byte, now time.Time) (*Token, error) {
	var out struct {
		IDToken      string      `json:"id_token"`
		AccessToken  string      `json:"access_token"`
		RefreshToken string      `json:"refresh_token"`
		ExpiresIn    json.Number `json:"expires_in"`
		Error        string      `json:"error"`
		Description  string      `json:"error_description"`
	}
	jerr := json.Unmarshal(body, &out)
	if status != http.StatusOK {
		code := out.Error
		if jerr != nil || code == "" || !printable(code) {
			code = "unexpected_response"
		}
		desc := out.Description
		if jerr != nil || !printable(desc) {
			desc = ""
		}
		return nil, &TokenError{Status: status, Code: code, Description: desc}
	}
	if jerr != nil {
		return nil, fmt.Errorf("oidcclient: token response is not JSON: %w", jerr)
	}
	t := &Token{IDToken: out.IDToken, AccessToken: out.AccessToken, RefreshToken: out.RefreshToken}
	if n, err := out.ExpiresIn.Int64(); err == nil && n > 0 && n < maxExpiresIn {
		t.Expiry = now.Add(time.Duration(n) * time.Second)
	}
	return t, nil
}

// maxExpiresIn bounds a lifetime in seconds read from a provider (ten
// years), so that adding it to a time cannot overflow.
const maxExpiresIn = 10 * 365 * 24 * 3600

// printable reports whether s is short and free of control characters,
// so that it is safe to show in a terminal or a log.
func printable(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// VerifyIDToken checks an ID token the token endpoint returned to this
// client; nonce is the sign-in's ("" after a refresh).
func (c *Client) VerifyIDToken(ctx context.Context, token, nonce string) (*authn.IDToken, error) {
	return c.Verifier.VerifyIDToken(ctx, token, c.ID, nonce)
}

// RandomString returns n random bytes, base64url-encoded: state, nonce,
// PKCE verifiers, session ids.
func RandomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewVerifier returns a PKCE code verifier: 32 random bytes, 43 characters
// (RFC 7636 §4.1).
func NewVerifier() string { return RandomString(32) }

// Challenge is the S256 code challenge of verifier.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
