package clilogin

import (
	"context"
	"errors"
	"sort"

	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/tokencache"
)

// errKeep ends a store update without writing.
var errKeep = errors.New("clilogin: nothing to write")

// fresh reports whether l is valid for at least need(lifetime) more.
func (c *Client) fresh(l *tokencache.Login, need Need) bool {
	return l.Expiry.Sub(c.now()) >= need(l.Expiry.Sub(l.IssuedAt))
}

// valid reports whether l has not expired yet.
func (c *Client) valid(l *tokencache.Login) bool { return c.now().Before(l.Expiry) }

// Token returns gw's current sign-in with an ID token valid for at least
// need of its lifetime, renewing it with the refresh token first if it is
// not. The renewal runs under the cache's lock and reads the cache again
// first, so commands running at once renew once. A renewal the provider
// refuses (the refresh token expired or was revoked) forgets the sign-in
// and says to sign in again; one that cannot reach the provider returns
// the token as is while it is still valid.
func (c *Client) Token(ctx context.Context, gw string, need Need) (*tokencache.Login, error) {
	t, err := c.Store.Load()
	if err != nil {
		return nil, err
	}
	l := t.Current(gw)
	if l == nil {
		return nil, errNotSignedIn(gw)
	}
	if c.fresh(l, need) {
		return l, nil
	}
	var out *tokencache.Login
	var forgotten error
	err = c.Store.Update(ctx, func(t *tokencache.Tokens) error {
		l := t.Current(gw)
		switch {
		case l == nil:
			return errNotSignedIn(gw)
		case c.fresh(l, need):
			out = l // renewed by another command meanwhile
			return errKeep
		case l.RefreshToken == "" && c.valid(l):
			out = l
			return errKeep
		case l.RefreshToken == "":
			return errExpired(gw)
		}
		g := t.Gateways[gw]
		nl, err := c.renew(ctx, g.Issuer, l)
		var te *oidcclient.TokenError
		switch {
		case err == nil:
			g.Logins[g.Issuer] = nl
			out = nl
			return nil
		case ctx.Err() != nil:
			return errInterrupted(err)
		case errors.As(err, &te) && te.Status >= 400 && te.Status < 500:
			delete(g.Logins, g.Issuer)
			forgotten = errRefreshRefused(gw, err)
			return nil
		case isNetwork(err) && c.valid(l):
			out = l
			return errKeep
		case isNetwork(err):
			return errRenewUnreachable(gw, g.Issuer, err)
		}
		var pe *Error
		if errors.As(err, &pe) {
			return err
		}
		return errRefused(g.Issuer, err)
	})
	switch {
	case forgotten != nil:
		return nil, forgotten
	case err != nil && !errors.Is(err, errKeep):
		return nil, err
	}
	return out, nil
}

// renew trades l's refresh token for new tokens at issuer.
func (c *Client) renew(ctx context.Context, issuer string, l *tokencache.Login) (*tokencache.Login, error) {
	p, err := oidcclient.Discover(ctx, c.HTTP, issuer)
	if err != nil {
		return nil, err
	}
	oc := &oidcclient.Client{ID: l.ClientID, HTTP: c.HTTP}
	tok, err := oc.Refresh(ctx, p, l.RefreshToken)
	if err != nil {
		return nil, err
	}
	return c.record(tok, issuer, l.ClientID, "")
}

// SignOut is the outcome of signing out of one issuer at one gateway.
type SignOut struct {
	Gateway, Issuer, User string
	// Revoked says the provider revoked the refresh token.
	Revoked bool
	// Err says why it did not: nil when there was nothing to revoke or the
	// provider offers no revocation (oidcclient.ErrNoRevocation).
	Err error
}

// Logout forgets the sign-ins to the gateways given (all of them when
// gateways is nil) and asks each provider that offers revocation
// (RFC 7009) to revoke the refresh token. The tokens are gone from the
// cache whatever the providers answer.
func (c *Client) Logout(ctx context.Context, gateways []string) ([]SignOut, error) {
	type gone struct {
		gw, issuer string
		l          *tokencache.Login
	}
	var removed []gone
	err := c.Store.Update(ctx, func(t *tokencache.Tokens) error {
		if gateways == nil {
			for gw := range t.Gateways {
				gateways = append(gateways, gw)
			}
		}
		for _, gw := range gateways {
			g := t.Gateways[gw]
			if g == nil {
				continue
			}
			for iss, l := range g.Logins {
				removed = append(removed, gone{gw, iss, l})
			}
			delete(t.Gateways, gw)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(removed, func(i, j int) bool {
		return removed[i].gw+" "+removed[i].issuer < removed[j].gw+" "+removed[j].issuer
	})
	out := make([]SignOut, 0, len(removed))
	for _, r := range removed {
		so := SignOut{Gateway: r.gw, Issuer: r.issuer, User: r.l.User}
		if r.l.RefreshToken != "" {
			so.Revoked, so.Err = c.revoke(ctx, r.issuer, r.l)
		}
		out = append(out, so)
	}
	return out, nil
}

func (c *Client) revoke(ctx context.Context, issuer string, l *tokencache.Login) (bool, error) {
	p, err := oidcclient.Discover(ctx, c.HTTP, issuer)
	if err != nil {
		return false, err
	}
	oc := &oidcclient.Client{ID: l.ClientID, HTTP: c.HTTP}
	if err := oc.Revoke(ctx, p, l.RefreshToken, "refresh_token"); err != nil {
		return false, err
	}
	return true, nil
}
