package clilogin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/raygate/raygate/internal/oidcclient"
)

// slowDownStep is what a slow_down answer adds to the poll interval
// (RFC 8628 §3.5).
const slowDownStep = 5 * time.Second

// maxPollFailures is how many polls in a row may fail to reach the
// provider before the sign-in gives up.
const maxPollFailures = 3

// device signs in with the device authorization grant: it prints the
// verification address and the user code, opens the address (with the
// code filled in, if the provider offers that) when it can, and polls the
// token endpoint until the person has finished, as fast as the provider
// allows.
func (c *Client) device(ctx context.Context, issuer string, p *oidcclient.Provider, oc *oidcclient.Client) (*oidcclient.Token, error) {
	d, err := oc.AuthorizeDevice(ctx, p)
	if err != nil {
		return nil, c.providerError(ctx, issuer, err)
	}
	valid, deadline := d.ExpiresIn, c.now().Add(d.ExpiresIn)
	w := c.out()
	fmt.Fprintf(w, "To sign in, open this page in a browser, on this or any other device:\n\n    %s\n\nand enter the code:  %s\n\n", d.VerificationURI, d.UserCode)
	open := d.VerificationURI
	if d.VerificationURIComplete != "" {
		open = d.VerificationURIComplete
		fmt.Fprintf(w, "(Or open %s, which fills the code in.)\n", d.VerificationURIComplete)
	}
	c.openPage(open)
	fmt.Fprintf(w, "Waiting for the sign-in (the code expires in %s)...\n", valid.Round(time.Second))

	interval, failures := d.Interval, 0
	for {
		if err := c.sleep(ctx, interval); err != nil {
			return nil, errInterrupted(err)
		}
		if !c.now().Before(deadline) {
			return nil, errDeviceExpired(valid)
		}
		tok, err := oc.PollDevice(ctx, p, d.DeviceCode)
		if err == nil {
			return tok, nil
		}
		var te *oidcclient.TokenError
		switch {
		case ctx.Err() != nil:
			return nil, errInterrupted(err)
		case errors.As(err, &te) && te.Code == oidcclient.ErrAuthorizationPending:
			failures = 0
		case errors.As(err, &te) && te.Code == oidcclient.ErrSlowDown:
			failures = 0
			interval += slowDownStep
		case errors.As(err, &te) && te.Code == oidcclient.ErrExpiredToken:
			return nil, errDeviceExpired(valid)
		case errors.As(err, &te) && te.Code == oidcclient.ErrAccessDenied:
			return nil, errDenied(issuer)
		case isNetwork(err) && failures+1 < maxPollFailures:
			failures++
		default:
			return nil, c.providerError(ctx, issuer, err)
		}
	}
}

// providerError turns a failed request to the provider into an *Error.
func (c *Client) providerError(ctx context.Context, issuer string, err error) error {
	var te *oidcclient.TokenError
	switch {
	case ctx.Err() != nil:
		return errInterrupted(err)
	case errors.As(err, &te) && te.Code == oidcclient.ErrAccessDenied:
		return errDenied(issuer)
	case isNetwork(err):
		return errProviderUnreachable(issuer, err)
	}
	return errRefused(issuer, err)
}

// openPage opens u in a browser, if the client may; the address is
// printed either way.
func (c *Client) openPage(u string) {
	if c.Open == nil {
		return
	}
	if err := c.Open(u); err != nil {
		fmt.Fprintf(c.out(), "(Could not open a browser: %s. Open the page yourself.)\n", cause(err))
	}
}
