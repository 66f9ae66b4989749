package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/returnurl"
	"github.com/raygate/raygate/internal/session"
)

// Authenticate returns the identity of the browser session r carries. It
// returns authn.ErrNoCredential when r has no session cookie, and an
// *authn.Failure when the cookie cannot be used: unreadable (tampered, or
// sealed with a key raygate no longer has), expired and not renewable,
// or, with status 403, presented by a request that changes state (any
// method but GET and HEAD, or a WebSocket upgrade) without coming from
// raygate's own origin. A session near or past its ID token's expiry is
// renewed with its refresh token, and the renewed cookie set on w. A
// cookie that cannot be used is cleared.
func (b *Browser) Authenticate(w http.ResponseWriter, r *http.Request) (*identity.Identity, error) {
	s, err := b.jar.ReadSession(r)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return nil, authn.ErrNoCredential
	case errors.Is(err, session.ErrUnknownKey):
		b.jar.ClearSession(w, r)
		return nil, sessionFailure(authn.ReasonSessionInvalid, "your session was sealed with a key raygate no longer holds; sign in again", err)
	case err != nil:
		b.jar.ClearSession(w, r)
		return nil, sessionFailure(authn.ReasonSessionInvalid, "your session cookie is not valid; sign in again", err)
	}
	if needsSameOrigin(r) && !b.SameOrigin(r) {
		return nil, crossSite(r)
	}
	is := b.byIssuer[s.Issuer]
	if is == nil {
		b.jar.ClearSession(w, r)
		return nil, sessionFailure(authn.ReasonSessionInvalid, "your session comes from an identity provider raygate no longer signs in with; sign in again", nil)
	}
	now := b.now()
	if !now.Before(s.SignedInAt().Add(b.maxLifetime)) {
		b.jar.ClearSession(w, r)
		return nil, sessionFailure(authn.ReasonSessionExpired, "your session has reached its maximum lifetime; sign in again", nil)
	}
	if now.Before(s.ExpiresAt().Add(-RefreshMargin)) {
		return b.identity(s), nil
	}
	if s.RefreshToken == "" {
		if now.Before(s.ExpiresAt()) {
			return b.identity(s), nil
		}
		b.jar.ClearSession(w, r)
		return nil, sessionFailure(authn.ReasonSessionExpired, "your session has expired; sign in again", nil)
	}
	renewed, err := b.shared.renew(s.RefreshToken, now, func() (*session.Session, error) { return b.refresh(r.Context(), is, s) })
	if err != nil {
		if now.Before(s.ExpiresAt()) {
			b.log.Warn("session renewal failed; the session holds until its ID token expires", "session", s.ID, "user", s.User, "issuer", s.Issuer, "error", err)
			return b.identity(s), nil
		}
		b.log.Info("session renewal failed; the browser must sign in again", "session", s.ID, "user", s.User, "issuer", s.Issuer, "error", err)
		b.jar.ClearSession(w, r)
		return nil, sessionFailure(authn.ReasonSessionExpired, "your session has expired and could not be renewed; sign in again", err)
	}
	if err := b.jar.WriteSession(w, r, renewed, b.cookieUntil(renewed)); err != nil {
		return nil, sessionFailure(authn.ReasonSessionInvalid, "your renewed session could not be saved; sign in again", err)
	}
	return b.identity(renewed), nil
}

// refresh renews s with its refresh token: the new ID token must be valid,
// for the same person, and it bounds the renewed session.
func (b *Browser) refresh(ctx context.Context, is *issuer, s *session.Session) (*session.Session, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	p, err := is.discovery.Provider(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := is.client.Refresh(ctx, p, s.RefreshToken)
	if err != nil {
		return nil, err
	}
	idt, err := is.client.VerifyIDToken(ctx, tok.IDToken, "")
	if err != nil {
		return nil, fmt.Errorf("signin: refreshed ID token: %w", err)
	}
	if idt.Subject != s.Subject {
		return nil, errors.New("signin: refreshed ID token names another subject")
	}
	n := *s
	n.User, n.Groups, n.RefreshToken = idt.Identity.User, idt.Identity.Groups, tok.RefreshToken
	n.Expires = b.capExpiry(&n, idt.Expiry)
	if s.IDToken != "" {
		n.IDToken = tok.IDToken
	}
	return &n, nil
}

func sessionFailure(reason, msg string, err error) *authn.Failure {
	return &authn.Failure{Reason: reason, Msg: msg, Status: http.StatusUnauthorized, Err: err}
}

// needsSameOrigin reports whether r may change state: any method but GET
// and HEAD, and WebSocket upgrades (a cross-site page can open one).
func needsSameOrigin(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	return r.Header.Get("Upgrade") != ""
}

// SameOrigin reports whether r comes from raygate's own pages: its Origin
// is externalURL's origin, or, with no Origin, Sec-Fetch-Site says
// same-origin. Anything else (another site, "null", no header at all) is
// not.
func (b *Browser) SameOrigin(r *http.Request) bool {
	if o, ok := r.Header["Origin"]; ok {
		return len(o) == 1 && o[0] == b.origin
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

// Intended returns nil when the person signed in meant to send r, which
// asks for more than reading with the session cookie: it comes from
// raygate's own pages (SameOrigin), or it is a GET or HEAD the person
// started themselves (Sec-Fetch-Site "none": typed into the address bar,
// a bookmark). Otherwise another site made the browser send it (SameSite
// Lax cookies go with any top-level navigation, and Ray acts on some
// GETs), and the answer is a 403 Failure. Unsafe methods and upgrades are
// refused by Authenticate already.
func (b *Browser) Intended(r *http.Request) *authn.Failure {
	if b.SameOrigin(r) {
		return nil
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Sec-Fetch-Site") == "none" {
		if _, ok := r.Header["Origin"]; !ok {
			return nil
		}
	}
	return crossSite(r)
}

// IntendedByProgramOrPage is Intended for a credential that programs send
// as well as browsers, and that a browser sends by itself (IAP's cookie,
// for which IAP adds its signed header to every request it lets
// through). A request with neither Origin nor Sec-Fetch-Site (which
// every current browser sends) comes from a program, and passes. A
// browser's passes when it comes from raygate's own origin (that of
// externalURL; with none configured, an Origin naming the request's own
// host), or is a GET or HEAD the person started (Sec-Fetch-Site "none").
func IntendedByProgramOrPage(r *http.Request, externalURL string) *authn.Failure {
	origins, hasOrigin := r.Header["Origin"]
	site := r.Header.Get("Sec-Fetch-Site")
	switch {
	case hasOrigin:
		if len(origins) == 1 && sameOriginAs(origins[0], externalURL, r.Host) {
			return nil
		}
	case site == "", site == "same-origin":
		return nil
	case site == "none" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return nil
	}
	return crossSite(r)
}

// sameOriginAs reports whether the Origin header value o names
// externalURL's origin or, with no externalURL, the host the request was
// sent to.
func sameOriginAs(o, externalURL, host string) bool {
	if externalURL != "" {
		u, err := url.Parse(externalURL)
		return err == nil && o == origin(u)
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host) && (u.Scheme == "https" || u.Scheme == "http")
}

// crossSite is the refusal of a request that another site made the
// browser send with raygate's session cookie.
func crossSite(r *http.Request) *authn.Failure {
	return &authn.Failure{Reason: authn.ReasonCrossSite, Status: http.StatusForbidden,
		Msg: "this request changes state with raygate's session cookie but does not come from raygate's own pages (Origin " + originOf(r) + "); no role allows that, so it was refused"}
}

func originOf(r *http.Request) string {
	o := r.Header.Get("Origin")
	if o == "" {
		return "absent"
	}
	if len(o) > 100 {
		o = o[:100] + "..."
	}
	return o
}

// returnPath is r's path and query if a sign-in may return there, else /.
func returnPath(r *http.Request) string {
	if p, err := returnurl.Check(r.URL.RequestURI()); err == nil {
		return p
	}
	return "/"
}

// Redirects reports whether a refused request should be sent to sign-in
// rather than answered 401: a browser loading a page (GET or HEAD
// navigation) that has no session, or whose session expired.
func Redirects(f *authn.Failure) bool {
	return f.Reason == authn.ReasonMissing || f.Reason == authn.ReasonSessionExpired
}
