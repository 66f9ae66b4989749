package clilogin

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// ClockTolerance is how far this computer's clock may be from the
// identity provider's before a new token is refused as a sign of a wrong
// clock.
const ClockTolerance = 2 * time.Minute

// maxToken bounds an ID token.
const maxToken = 64 << 10

// Claims are what the command line reads from an ID token. It reads them
// without checking the signature: the token came straight from the
// provider's token endpoint (OpenID Connect Core §3.1.3.7), and the
// gateway verifies it on every request anyway.
type Claims struct {
	Issuer   string
	Audience []string
	Subject  string
	Email    string
	Nonce    string
	Expiry   time.Time
	// IssuedAt is zero when the token has no iat.
	IssuedAt time.Time
}

// User names the person: the email, else the subject.
func (c Claims) User() string {
	if c.Email != "" {
		return c.Email
	}
	return c.Subject
}

// ParseIDToken reads the claims of a compact JWS: three base64url parts,
// a JSON object payload with iss, aud (a string or a list), sub and a
// numeric exp; iat, email and nonce when present.
func ParseIDToken(token string) (Claims, error) {
	var c Claims
	if len(token) > maxToken {
		return c, errors.New("ID token too large")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errors.New("ID token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, errors.New("ID token payload is not base64url")
	}
	var raw struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Sub   string          `json:"sub"`
		Email string          `json:"email"`
		Nonce string          `json:"nonce"`
		Exp   *json.Number    `json:"exp"`
		Iat   *json.Number    `json:"iat"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return c, errors.New("ID token claims are not a JSON object")
	}
	c.Issuer, c.Subject, c.Email, c.Nonce = raw.Iss, raw.Sub, raw.Email, raw.Nonce
	var one string
	if json.Unmarshal(raw.Aud, &one) == nil {
		c.Audience = []string{one}
	} else if json.Unmarshal(raw.Aud, &c.Audience) != nil {
		return c, errors.New("ID token aud is not a string or a list of strings")
	}
	if c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0 {
		return c, errors.New("ID token lacks iss, sub or aud")
	}
	if !printable(c.Subject) || !printable(c.Email) {
		return c, errors.New("ID token sub or email has control characters")
	}
	if c.Expiry, err = numericDate(raw.Exp); err != nil || c.Expiry.IsZero() {
		return c, errors.New("ID token has no valid exp")
	}
	if c.IssuedAt, err = numericDate(raw.Iat); err != nil {
		return c, errors.New("ID token iat is invalid")
	}
	return c, nil
}

// numericDate reads a JWT NumericDate (seconds, possibly fractional);
// nil is the zero time.
func numericDate(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("not a date: %s", n.String())
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// checkNew checks an ID token the provider just issued to clientID at
// issuer, at now by this computer's clock: it must name the issuer and the
// client, carry nonce when nonce is not "", and its dates must fit the
// clock (iat not in the future, exp not past, beyond ClockTolerance).
func checkNew(c Claims, issuer, clientID, nonce string, now time.Time) error {
	if c.Issuer != issuer {
		return errBadIDToken(issuer, fmt.Errorf("it names issuer %q", c.Issuer))
	}
	if !slices.Contains(c.Audience, clientID) {
		return errBadIDToken(issuer, fmt.Errorf("it was not issued to client %s", clientID))
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return errBadIDToken(issuer, errors.New("its nonce is not the sign-in's"))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(ClockTolerance)) {
		return errClockBehind(c.IssuedAt.Sub(now))
	}
	if !c.Expiry.After(now) {
		by := now.Sub(c.Expiry)
		if !c.IssuedAt.IsZero() {
			by = now.Sub(c.IssuedAt)
		}
		return errClockAhead(by)
	}
	return nil
}

// printable reports whether s has no control characters.
func printable(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) < 0
}
