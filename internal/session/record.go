package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Limits on what a record may hold; longer values are refused when
// written and when read.
const (
	maxName   = 1024
	maxGroups = 1000
	maxToken  = 8 << 10
)

// Session is a signed-in browser: who it is, since when, until when the
// identity holds, and what renews it. It is immutable once written.
type Session struct {
	// ID names the session in the audit log and operational log; random.
	ID string `json:"sid"`
	// Issuer is the OIDC issuer the browser signed in with.
	Issuer string `json:"iss"`
	// Subject is the issuer's stable id of the person (the ID token's sub).
	Subject string `json:"sub"`
	// User and Groups are the identity, as authentication built it.
	User   string   `json:"usr"`
	Groups []string `json:"grp,omitempty"`
	// SignedIn is when the browser signed in (Unix seconds); renewals keep
	// it, so maxLifetime counts from here.
	SignedIn int64 `json:"at"`
	// Expires is when the identity stops holding (Unix seconds): the ID
	// token's expiry, renewed with RefreshToken.
	Expires int64 `json:"exp"`
	// RefreshToken renews the session; "" if the issuer gave none.
	RefreshToken string `json:"rt,omitempty"`
	// IDToken is kept only when the issuer ends sessions
	// (end_session_endpoint), as the hint sign-out sends there.
	IDToken string `json:"idt,omitempty"`
}

// ExpiresAt is Expires as a time.
func (s *Session) ExpiresAt() time.Time { return time.Unix(s.Expires, 0) }

// SignedInAt is SignedIn as a time.
func (s *Session) SignedInAt() time.Time { return time.Unix(s.SignedIn, 0) }

// Login is a sign-in in progress: what the callback needs to finish it.
// It lives in a cookie of its own for LoginLifetime and is used once.
type Login struct {
	// State is the OAuth 2.0 state sent to the issuer; the callback must
	// bring it back.
	State string `json:"st"`
	// Nonce is the OpenID Connect nonce the ID token must carry.
	Nonce string `json:"n"`
	// Verifier is the PKCE code verifier; its S256 challenge went to the
	// issuer.
	Verifier string `json:"v"`
	// Issuer is the issuer the browser signs in with.
	Issuer string `json:"iss"`
	// Return is the path to go back to, already checked.
	Return string `json:"rd"`
	// Expires is when the sign-in must have finished (Unix seconds).
	Expires int64 `json:"exp"`
}

// LoginLifetime is how long a sign-in may take, from leaving raygate to
// coming back to the callback.
const LoginLifetime = 10 * time.Minute

// Purposes of sealed values: a value sealed for one is refused as the
// other.
const (
	purposeSession = "raygate session v1"
	purposeLogin   = "raygate login v1"
)

var errRecord = errors.New("session: record is malformed")

// EncodeSession seals s for the session cookie.
func (c *Codec) EncodeSession(s *Session) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("session: encode: %w", err)
	}
	return c.Seal(purposeSession, b)
}

// DecodeSession opens a session cookie's value. Errors are ErrInvalid,
// ErrUnknownKey or a malformed record; it does not judge expiry.
func (c *Codec) DecodeSession(value string) (*Session, error) {
	b, err := c.Open(purposeSession, value)
	if err != nil {
		return nil, err
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errRecord
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Session) check() error {
	switch {
	case s.ID == "" || len(s.ID) > 64, s.Issuer == "" || len(s.Issuer) > maxName, s.Subject == "" || len(s.Subject) > maxName:
		return errRecord
	case !safeName(s.User), len(s.Groups) > maxGroups, s.SignedIn <= 0, s.Expires <= 0:
		return errRecord
	case len(s.RefreshToken) > maxToken, len(s.IDToken) > maxToken:
		return errRecord
	}
	for _, g := range s.Groups {
		if !safeName(g) {
			return errRecord
		}
	}
	return nil
}

// EncodeLogin seals l for its login cookie.
func (c *Codec) EncodeLogin(l *Login) (string, error) {
	if err := l.check(); err != nil {
		return "", err
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("session: encode: %w", err)
	}
	return c.Seal(purposeLogin, b)
}

// DecodeLogin opens a login cookie's value; it does not judge expiry.
func (c *Codec) DecodeLogin(value string) (*Login, error) {
	b, err := c.Open(purposeLogin, value)
	if err != nil {
		return nil, err
	}
	var l Login
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, errRecord
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return &l, nil
}

// check refuses a login that lacks what the callback needs. A verifier
// must be 43 to 128 characters (RFC 7636).
func (l *Login) check() error {
	switch {
	case len(l.State) < 16 || len(l.State) > 128, len(l.Nonce) < 16 || len(l.Nonce) > 128:
		return errRecord
	case len(l.Verifier) < 43 || len(l.Verifier) > 128:
		return ErrNoVerifier
	case l.Issuer == "" || len(l.Issuer) > maxName, l.Return == "" || len(l.Return) > 4096, l.Expires <= 0:
		return errRecord
	}
	return nil
}

// ErrNoVerifier means a sign-in's state holds no usable PKCE verifier.
var ErrNoVerifier = errors.New("session: sign-in state has no PKCE verifier")

func safeName(s string) bool {
	if s == "" || len(s) > maxName {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
