package clilogin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Error is a failure the person at the terminal can act on. Msg is one
// line: what happened, then what to do next. It never holds a credential.
type Error struct {
	Msg string
	Err error
}

// Error returns the message for the terminal.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func problem(err error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Err: err}
}

// loginHint is the command that signs in to gw again.
func loginHint(gw string) string { return "run raygate login --gateway " + gw }

func errNoGateway() error {
	return problem(nil, "no gateway given and none remembered: run raygate login --gateway https://raygate.example.com (the address you open in a browser)")
}

func errGatewayUnreachable(gw string, err error) error {
	return problem(err, "cannot reach raygate at %s (%s): check the address and your network", gw, cause(err))
}

func errNotRaygate(gw, detail string) error {
	return problem(nil, "%s does not answer like a raygate gateway (%s): check the address; it is the one you open in a browser, without /clusters/...", gw, detail)
}

func errNoIssuer(gw string) error {
	return problem(nil, "raygate at %s offers no sign-in from a terminal (no issuer has a cliClientID): ask the people who run it to set it up", gw)
}

func errUnknownIssuer(gw, name string, names []string) error {
	return problem(nil, "raygate at %s offers no issuer %q: choose one of %s with --issuer", gw, name, strings.Join(names, ", "))
}

func errSeveralIssuers(gw string, names []string) error {
	return problem(nil, "raygate at %s offers several issuers: choose one of %s with --issuer", gw, strings.Join(names, ", "))
}

func errProviderUnreachable(issuer string, err error) error {
	return problem(err, "cannot reach the identity provider %s (%s): check your network or VPN, then try again", issuer, cause(err))
}

func errProviderUnusable(issuer string, err error) error {
	return problem(err, "the identity provider %s cannot be used (%s): tell the people who run raygate", issuer, cause(err))
}

func errNoDeviceGrant(issuer string) error {
	return problem(nil, "the identity provider %s offers no sign-in with a code (device authorization): run raygate login --browser", issuer)
}

func errDeviceExpired(valid time.Duration) error {
	return problem(nil, "the sign-in code expired before the sign-in was finished: run raygate login again and finish within %s", short(valid.Round(time.Second)))
}

func errDenied(issuer string) error {
	return problem(nil, "the sign-in was denied at the identity provider %s: run raygate login again and approve it (or ask for access)", issuer)
}

func errRefused(issuer string, err error) error {
	return problem(err, "the identity provider %s refused the sign-in (%s): run raygate login again, and tell the people who run raygate if it keeps happening", issuer, cause(err))
}

func errNoCallback(wait time.Duration) error {
	return problem(nil, "no sign-in came back within %s: run raygate login again (with --device if the browser cannot reach this computer)", short(wait.Round(time.Second)))
}

func errClockBehind(by time.Duration) error {
	return problem(nil, "this computer's clock is about %s behind the identity provider's (a token it just issued is dated in the future): set the clock right (turn on network time), then run raygate login again", short(by.Round(time.Minute)))
}

func errClockAhead(by time.Duration) error {
	return problem(nil, "this computer's clock is at least %s ahead of the identity provider's (a token it just issued has already expired): set the clock right (turn on network time), then run raygate login again", short(by.Round(time.Minute)))
}

func errBadIDToken(issuer string, err error) error {
	return problem(err, "the identity provider %s sent an ID token raygate cannot use (%s): tell the people who run raygate", issuer, cause(err))
}

func errNotSignedIn(gw string) error {
	return problem(nil, "not signed in to %s: %s", gw, loginHint(gw))
}

func errExpired(gw string) error {
	return problem(nil, "your sign-in to %s has expired and cannot be renewed (the identity provider gave no refresh token): %s", gw, loginHint(gw))
}

func errRefreshRefused(gw string, err error) error {
	return problem(err, "your sign-in to %s has expired or was revoked (the identity provider refused to renew it): %s", gw, loginHint(gw))
}

func errRenewUnreachable(gw, issuer string, err error) error {
	return problem(err, "your sign-in to %s has expired and the identity provider %s cannot be reached to renew it (%s): check your network, or %s", gw, issuer, cause(err), loginHint(gw))
}

func errTokenRefused(gw, msg string) error {
	return problem(nil, "raygate at %s does not accept your token (%s): %s", gw, msg, loginHint(gw))
}

func errNewTokenRefused(gw, msg string) error {
	return problem(nil, "raygate at %s does not accept the token the identity provider just issued (%s): ask the people who run raygate to add its cliClientID to the issuer's audiences", gw, msg)
}

func errInterrupted(err error) error {
	return problem(err, "interrupted")
}

// cause is a short, single-line description of err: for a failed HTTP
// request, what failed, without the URL.
func cause(err error) string {
	if err == nil {
		return "unknown error"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timed out"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	s := err.Error()
	for _, p := range []string{"oidcclient: ", "loginconfig: ", "discovery: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return oneLine(s)
}

// short writes d without zero seconds or minutes: 10m, 1h30m, 45s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
