package oidcclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ErrNoRevocation is Revoke's error when the provider advertises no
// revocation_endpoint.
var ErrNoRevocation = errors.New("oidcclient: the issuer offers no token revocation")

// Revoke asks the provider to revoke token (RFC 7009); hint is
// "refresh_token" or "access_token". The provider answers 200 also for a
// token it does not know, so success means the token no longer works.
func (c *Client) Revoke(ctx context.Context, p *Provider, token, hint string) error {
	if p.RevocationEndpoint == "" {
		return ErrNoRevocation
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	status, body, err := c.post(ctx, p, p.RevocationEndpoint, form)
	if err != nil {
		return fmt.Errorf("oidcclient: revocation request: %w", err)
	}
	if status != http.StatusOK {
		_, terr := ParseTokenResponse(status, body, time.Now())
		return fmt.Errorf("oidcclient: revocation: %w", terr)
	}
	return nil
}
