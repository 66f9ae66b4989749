package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// GrantTypeDeviceCode is the device authorization grant's grant_type
// (RFC 8628 §3.4).
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Token endpoint error codes of the device authorization grant (RFC 8628
// §3.5), besides RFC 6749's.
const (
	ErrAuthorizationPending = "authorization_pending"
	ErrSlowDown             = "slow_down"
	ErrAccessDenied         = "access_denied"
	ErrExpiredToken         = "expired_token"
	ErrInvalidGrant         = "invalid_grant"
)

// DefaultDeviceInterval is how long to wait between polls when the
// provider names no interval (RFC 8628 §3.2).
const DefaultDeviceInterval = 5 * time.Second

// OffersDeviceGrant reports whether the provider offers the device
// authorization grant: it advertises a device_authorization_endpoint, and
// lists the grant in grant_types_supported when it lists grants at all.
func (p *Provider) OffersDeviceGrant() bool {
	if p.DeviceAuthorizationEndpoint == "" {
		return false
	}
	return len(p.GrantTypesSupported) == 0 || slices.Contains(p.GrantTypesSupported, GrantTypeDeviceCode)
}

// DeviceAuthorization is a device authorization response (RFC 8628 §3.2):
// the code the client polls with and what the person must do.
type DeviceAuthorization struct {
	// DeviceCode is what the client polls the token endpoint with. It is a
	// credential: never show or log it.
	DeviceCode string
	// UserCode is what the person enters at VerificationURI.
	UserCode string
	// VerificationURI is the page where the person enters UserCode.
	VerificationURI string
	// VerificationURIComplete, when not "", is VerificationURI with the
	// code filled in.
	VerificationURIComplete string
	// ExpiresIn is how long the codes work after the answer.
	ExpiresIn time.Duration
	// Interval is the least time between polls.
	Interval time.Duration
}

// AuthorizeDevice starts the device authorization grant: it asks the
// provider's device_authorization_endpoint for a device code and a user
// code for the client's scopes.
func (c *Client) AuthorizeDevice(ctx context.Context, p *Provider) (*DeviceAuthorization, error) {
	if p.DeviceAuthorizationEndpoint == "" {
		return nil, errors.New("oidcclient: the issuer offers no device authorization endpoint")
	}
	form := url.Values{"scope": {strings.Join(c.Scopes, " ")}}
	status, body, err := c.post(ctx, p, p.DeviceAuthorizationEndpoint, form)
	if err != nil {
		return nil, fmt.Errorf("oidcclient: device authorization request: %w", err)
	}
	if status != http.StatusOK {
		_, terr := ParseTokenResponse(status, body, time.Now())
		return nil, terr
	}
	return ParseDeviceAuthorization(body)
}

// ParseDeviceAuthorization reads a device authorization response. It
// refuses one without a device code, a user code or a
// verification URI, a verification URI that is not https (or http on a
// loopback host), and a user code with characters a terminal would
// interpret, since both are shown to the person.
func ParseDeviceAuthorization(body []byte) (*DeviceAuthorization, error) {
	var out struct {
		DeviceCode              string      `json:"device_code"`
		UserCode                string      `json:"user_code"`
		VerificationURI         string      `json:"verification_uri"`
		VerificationURL         string      `json:"verification_url"` // Google's spelling
		VerificationURIComplete string      `json:"verification_uri_complete"`
		ExpiresIn               json.Number `json:"expires_in"`
		Interval                json.Number `json:"interval"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("oidcclient: device authorization response is not JSON: %w", err)
	}
	if out.VerificationURI == "" {
		out.VerificationURI = out.VerificationURL
	}
	switch {
	case out.DeviceCode == "":
		return nil, errors.New("oidcclient: device authorization response has no device_code")
	case out.UserCode == "" || len(out.UserCode) > 64 || !printable(out.UserCode):
		return nil, errors.New("oidcclient: device authorization response has no usable user_code")
	case !endpointOK(out.VerificationURI):
		return nil, errors.New("oidcclient: device authorization response has no https verification_uri")
	}
	d := &DeviceAuthorization{
		DeviceCode: out.DeviceCode, UserCode: out.UserCode, VerificationURI: out.VerificationURI,
		Interval: DefaultDeviceInterval,
	}
	if out.VerificationURIComplete != "" && endpointOK(out.VerificationURIComplete) {
		d.VerificationURIComplete = out.VerificationURIComplete
	}
	n, err := out.ExpiresIn.Int64()
	if err != nil || n <= 0 || n > maxExpiresIn {
		return nil, errors.New("oidcclient: device authorization response has no valid expires_in")
	}
	d.ExpiresIn = time.Duration(n) * time.Second
	if out.Interval != "" {
		i, err := out.Interval.Int64()
		if err != nil || i < 0 || i > 3600 {
			return nil, errors.New("oidcclient: device authorization response has an invalid interval")
		}
		if i > 0 {
			d.Interval = time.Duration(i) * time.Second
		}
	}
	return d, nil
}

// PollDevice asks the token endpoint once whether the person has approved
// the device code. Until then it returns a *TokenError with code
// authorization_pending or slow_down; access_denied and expired_token
// end the grant. The answer must hold an ID token.
func (c *Client) PollDevice(ctx context.Context, p *Provider, deviceCode string) (*Token, error) {
	t, err := c.token(ctx, p, url.Values{
		"grant_type":  {GrantTypeDeviceCode},
		"device_code": {deviceCode},
	})
	if err != nil {
		return nil, err
	}
	if t.IDToken == "" {
		return nil, errors.New("oidcclient: token endpoint returned no ID token")
	}
	return t, nil
}

// post sends form to endpoint with the client's credentials, as the
// token endpoint is sent them, and returns the answer's status and body.
func (c *Client) post(ctx context.Context, p *Provider, endpoint string, form url.Values) (int, []byte, error) {
	req, err := c.newPost(ctx, p, endpoint, form)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return 0, nil, err
	}
	if len(body) > maxDocument {
		return 0, nil, errors.New("response too large")
	}
	return resp.StatusCode, body, nil
}
