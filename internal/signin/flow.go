package signin

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/returnurl"
	"github.com/raygate/raygate/internal/session"
	"github.com/raygate/raygate/internal/ui"
)

// Result is what an endpoint did, for the audit log.
type Result struct {
	// Action is the audit action: gateway.sign-in or gateway.sign-out.
	Action string
	// Allow says the request was served as asked.
	Allow bool
	// Reason says why, in a few words.
	Reason string
	// Identity is the person signing in or out, when known.
	Identity *identity.Identity
}

// Serve answers one of the Browser's endpoints (Owns(r.URL.Path)).
func (b *Browser) Serve(w http.ResponseWriter, r *http.Request, requestID string) Result {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	switch r.URL.Path {
	case PathSignIn:
		if !getOrHead(w, r, requestID) {
			return Result{Action: ActionSignIn, Reason: "method not allowed"}
		}
		return b.start(w, r, requestID)
	case PathCallback:
		if !getOrHead(w, r, requestID) {
			return Result{Action: ActionSignIn, Reason: "method not allowed"}
		}
		return b.callback(w, r, requestID)
	case PathSignOut:
		return b.signOut(w, r, requestID)
	case PathSignedOut:
		if !getOrHead(w, r, requestID) {
			return Result{Action: ActionSignOut, Reason: "method not allowed"}
		}
		ui.RenderSignedOut(w, r.URL.Query().Get("idp") == "kept")
		return Result{Action: ActionSignOut, Allow: true, Reason: "signed-out page"}
	}
	ui.WriteProblem(w, r, ui.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "not found", RequestID: requestID})
	return Result{Action: ActionSignIn, Reason: "no route"}
}

func getOrHead(w http.ResponseWriter, r *http.Request, requestID string) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	ui.WriteProblem(w, r, ui.Problem{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "use GET", RequestID: requestID})
	return false
}

// start begins a sign-in: it checks the return path, picks the issuer,
// keeps state, nonce and the PKCE verifier in a cookie of the sign-in's
// own, and sends the browser to the issuer.
func (b *Browser) start(w http.ResponseWriter, r *http.Request, requestID string) Result {
	fail := func(status int, reason, msg string) Result {
		ui.WriteProblem(w, r, ui.Problem{Status: status, Code: "sign_in_failed", Heading: "Sign-in cannot start", Message: msg, RequestID: requestID, SignIn: PathSignIn})
		return Result{Action: ActionSignIn, Reason: reason}
	}
	if b.hostMismatch(r) {
		http.Redirect(w, r, b.origin+r.URL.RequestURI(), http.StatusFound)
		return Result{Action: ActionSignIn, Allow: true, Reason: "sign-in moved to externalURL's host"}
	}
	q := r.URL.Query()
	rd := "/"
	if vs, ok := q["rd"]; ok {
		if len(vs) != 1 {
			return fail(http.StatusBadRequest, "return path refused: repeated", "this sign-in link has more than one return address")
		}
		checked, err := returnurl.Check(vs[0])
		if err != nil {
			var e *returnurl.Error
			reason := "not a path on raygate"
			if errors.As(err, &e) {
				reason = e.Reason
			}
			return fail(http.StatusBadRequest, "return path refused: "+reason,
				"this sign-in link would send you back to an address that is not a page of raygate ("+reason+"); it was refused so no other site can use raygate's sign-in to send you there")
		}
		rd = checked
	}
	is, ok := b.pick(q.Get("issuer"))
	if !ok {
		ui.RenderChooser(w, b.issuerLinks(rd))
		return Result{Action: ActionSignIn, Allow: true, Reason: "issuer chooser"}
	}
	p, err := is.discovery.Provider(r.Context())
	if err != nil {
		b.log.Warn("sign-in: identity provider discovery failed", "issuer", is.cfg.Issuer, "request_id", requestID, "error", err)
		return fail(http.StatusServiceUnavailable, "identity provider unavailable", "the identity provider "+is.name+" cannot be reached; try again in a moment")
	}
	now := b.now()
	l := &session.Login{
		State: oidcclient.RandomString(32), Nonce: oidcclient.RandomString(32), Verifier: oidcclient.NewVerifier(),
		Issuer: is.cfg.Issuer, Return: rd, Expires: now.Add(session.LoginLifetime).Unix(),
	}
	b.jar.PruneLogins(w, r)
	if err := b.jar.WriteLogin(w, l); err != nil {
		b.log.Error("sign-in: writing the sign-in cookie failed", "request_id", requestID, "error", err)
		return fail(http.StatusInternalServerError, "sign-in cookie not written", "sign-in could not start")
	}
	client := *is.client
	if len(client.Scopes) == 0 {
		client.Scopes = p.DefaultScopes()
	}
	http.Redirect(w, r, client.AuthCodeURL(p, b.callbackURL(), l.State, l.Nonce, l.Verifier), http.StatusFound)
	return Result{Action: ActionSignIn, Allow: true, Reason: "sent to the identity provider"}
}

// pick returns the issuer named by index s, or the only one; false when
// the browser must choose.
func (b *Browser) pick(s string) (*issuer, bool) {
	if s == "" {
		if len(b.issuers) == 1 {
			return b.issuers[0], true
		}
		return nil, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= len(b.issuers) || strconv.Itoa(i) != s {
		return nil, false
	}
	return b.issuers[i], true
}

// safeCode matches the error codes of RFC 6749 §4.1.2.1, which are shown.
var safeCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// callback finishes a sign-in: the state must match a sign-in this
// browser started and not used before, the code is exchanged with the
// PKCE verifier, and the ID token must be valid and carry the nonce.
func (b *Browser) callback(w http.ResponseWriter, r *http.Request, requestID string) Result {
	q := r.URL.Query()
	state := q.Get("state")
	fail := func(status int, reason, msg string) Result {
		ui.WriteProblem(w, r, ui.Problem{Status: status, Code: "sign_in_failed", Heading: "Sign-in failed", Message: msg, RequestID: requestID, SignIn: PathSignIn})
		return Result{Action: ActionSignIn, Reason: "sign-in failed: " + reason}
	}
	if state == "" || len(q["state"]) != 1 {
		return fail(http.StatusBadRequest, "no state", "the identity provider's answer has no state, so it cannot be matched to a sign-in of this browser")
	}
	l, err := b.jar.ReadLogin(r, state)
	b.jar.ClearLogin(w, state)
	switch {
	case errors.Is(err, session.ErrNoLogin):
		return fail(http.StatusBadRequest, "unknown state", "this browser has no sign-in in progress for this answer: it was started elsewhere, took longer than 10 minutes, or was already used. Sign in again")
	case errors.Is(err, session.ErrNoVerifier):
		return fail(http.StatusBadRequest, "no PKCE verifier", "the sign-in's saved state has no PKCE code verifier, so the code cannot be redeemed safely. Sign in again")
	case err != nil:
		return fail(http.StatusBadRequest, "unreadable state", "the sign-in's saved state could not be read (it was changed, or raygate's keys changed). Sign in again")
	}
	now := b.now()
	if now.Unix() > l.Expires {
		return fail(http.StatusBadRequest, "sign-in expired", "this sign-in took longer than 10 minutes. Sign in again")
	}
	if !b.shared.useState(state, time.Unix(l.Expires, 0), now) {
		return fail(http.StatusBadRequest, "state replayed", "this sign-in was already completed; an answer of the identity provider works once. Sign in again")
	}
	is := b.byIssuer[l.Issuer]
	if is == nil {
		return fail(http.StatusBadRequest, "issuer no longer offers login", "the identity provider this sign-in started with no longer signs in to raygate")
	}
	if e := q.Get("error"); e != "" {
		code := "an error"
		if safeCode.MatchString(e) {
			code = e
		}
		return fail(http.StatusUnauthorized, "identity provider refused: "+code, "the identity provider "+is.name+" did not sign you in ("+code+")")
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return fail(http.StatusBadRequest, "no code", "the identity provider's answer has no authorization code")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	p, err := is.discovery.Provider(ctx)
	if err != nil {
		return fail(http.StatusServiceUnavailable, "identity provider unavailable", "the identity provider "+is.name+" cannot be reached; try again in a moment")
	}
	tok, err := is.client.Exchange(ctx, p, code, l.Verifier, b.callbackURL())
	if err != nil {
		var te *oidcclient.TokenError
		if errors.As(err, &te) && safeCode.MatchString(te.Code) {
			b.log.Info("sign-in: code exchange refused", "issuer", is.cfg.Issuer, "request_id", requestID, "error", te.Code)
			return fail(http.StatusBadRequest, "code refused: "+te.Code, "the identity provider refused to redeem this sign-in ("+te.Code+"). Sign in again")
		}
		b.log.Warn("sign-in: code exchange failed", "issuer", is.cfg.Issuer, "request_id", requestID, "error", err)
		return fail(http.StatusBadGateway, "code exchange failed", "the identity provider's token endpoint did not answer properly; try again in a moment")
	}
	idt, err := is.client.VerifyIDToken(ctx, tok.IDToken, l.Nonce)
	if err != nil {
		var f *authn.Failure
		msg, reason := "the identity provider's ID token is not valid for this sign-in", "invalid ID token"
		if errors.As(err, &f) {
			msg, reason = "the identity provider's ID token was refused: "+f.Msg, "ID token: "+f.Reason
			if f.Status == http.StatusServiceUnavailable {
				return fail(http.StatusServiceUnavailable, reason, "the identity provider's keys cannot be fetched; try again in a moment")
			}
		}
		b.log.Info("sign-in: ID token refused", "issuer", is.cfg.Issuer, "request_id", requestID, "error", err)
		return fail(http.StatusUnauthorized, reason, msg)
	}
	s := &session.Session{
		ID: oidcclient.RandomString(12), Issuer: is.cfg.Issuer, Subject: idt.Subject,
		User: idt.Identity.User, Groups: idt.Identity.Groups,
		SignedIn: now.Unix(), RefreshToken: tok.RefreshToken,
	}
	s.Expires = b.capExpiry(s, idt.Expiry)
	if p.EndSessionEndpoint != "" {
		s.IDToken = tok.IDToken
	}
	if err := b.jar.WriteSession(w, r, s, b.cookieUntil(s)); err != nil {
		b.log.Error("sign-in: writing the session cookie failed", "request_id", requestID, "user", s.User, "error", err)
		if errors.Is(err, session.ErrTooLarge) {
			return fail(http.StatusInternalServerError, "session too large", "your identity (user name and groups) is too large for a browser session")
		}
		return fail(http.StatusInternalServerError, "session not written", "the session could not be saved")
	}
	http.Redirect(w, r, l.Return, http.StatusSeeOther)
	return Result{Action: ActionSignIn, Allow: true, Reason: "signed in", Identity: b.identity(s)}
}

// capExpiry bounds a session's identity by its ID token and maxLifetime.
func (b *Browser) capExpiry(s *session.Session, idExpiry time.Time) int64 {
	limit := s.SignedInAt().Add(b.maxLifetime)
	if idExpiry.After(limit) {
		idExpiry = limit
	}
	return idExpiry.Unix()
}

// cookieUntil is how long the browser keeps the session cookie: while the
// session can still be renewed (maxLifetime) if it has a refresh token,
// else until its identity expires.
func (b *Browser) cookieUntil(s *session.Session) time.Time {
	if s.RefreshToken != "" {
		return s.SignedInAt().Add(b.maxLifetime)
	}
	return s.ExpiresAt()
}

func (b *Browser) identity(s *session.Session) *identity.Identity {
	return &identity.Identity{User: s.User, Groups: s.Groups, Method: identity.MethodSession, Source: s.Issuer}
}
