// Package loginconfig is the document a raygate gateway publishes at
// /_raygate/login-config for `raygate login`: the issuers a terminal may
// sign in with, the public client id to use at each, the scopes to ask
// for, and whether the issuer offers the device authorization grant. It
// names nothing secret. The gateway builds it from its config; the command
// line parses and checks it, then discovers each issuer's endpoints
// itself.
package loginconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"

	"github.com/raygate/raygate/internal/config"
)

// Path is where the gateway serves the document.
const Path = "/_raygate/login-config"

// MaxAge is how long clients and caches may keep the document, in seconds.
const MaxAge = 60

// maxSize bounds the document a client reads.
const maxSize = 64 << 10

// Document is the body of /_raygate/login-config.
type Document struct {
	// Issuers are the issuers offering terminal sign-in, in config order.
	Issuers []Issuer `json:"issuers"`
}

// Issuer is one issuer a terminal may sign in with.
type Issuer struct {
	// Issuer is the issuer URL, as in the tokens' iss claim.
	Issuer string `json:"issuer"`
	// Name is what people call it (displayName, else the issuer's host).
	Name string `json:"name"`
	// ClientID is the public client id for command lines (cliClientID).
	ClientID string `json:"clientID"`
	// Scopes are the scopes to ask for; empty means the client chooses
	// from the issuer's discovery document.
	Scopes []string `json:"scopes,omitempty"`
	// DeviceAuthorization says whether the gateway found the device
	// authorization grant offered in the issuer's discovery document.
	DeviceAuthorization bool `json:"deviceAuthorization"`
}

// FromConfig lists the issuers of cfg with a cliClientID; the caller
// fills in DeviceAuthorization.
func FromConfig(cfg *config.Config) []Issuer {
	var out []Issuer
	for _, o := range cfg.Authentication.OIDC {
		if o.CLIClientID == "" {
			continue
		}
		out = append(out, Issuer{Issuer: o.Issuer, Name: o.Name(), ClientID: o.CLIClientID, Scopes: o.Scopes})
	}
	return out
}

// Parse reads and checks a document a gateway sent: JSON of this shape
// (unknown fields are allowed, for later additions), every issuer an
// https URL (http on a loopback host) without query or fragment, a client
// id, scopes that are scope tokens, and names and ids a terminal can show
// without interpreting them.
func Parse(body []byte) (*Document, error) {
	if len(body) > maxSize {
		return nil, errors.New("loginconfig: document too large")
	}
	var raw struct {
		Issuers *[]Issuer `json:"issuers"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("loginconfig: not JSON: %w", err)
	}
	if raw.Issuers == nil {
		return nil, errors.New("loginconfig: no issuers list")
	}
	d := &Document{Issuers: *raw.Issuers}
	seen := map[string]bool{}
	for i, is := range d.Issuers {
		if err := is.check(); err != nil {
			return nil, fmt.Errorf("loginconfig: issuers[%d]: %w", i, err)
		}
		if seen[is.Issuer] {
			return nil, fmt.Errorf("loginconfig: issuers[%d]: %s is listed twice", i, is.Issuer)
		}
		seen[is.Issuer] = true
	}
	return d, nil
}

func (is Issuer) check() error {
	u, err := url.Parse(is.Issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q is not a URL", is.Issuer)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !loopback(u.Hostname())) {
		return fmt.Errorf("issuer %q is not https", is.Issuer)
	}
	if is.ClientID == "" || !plain(is.ClientID, false) {
		return fmt.Errorf("clientID %q is not a client id", is.ClientID)
	}
	if !plain(is.Name, true) {
		return fmt.Errorf("name %q has control characters", is.Name)
	}
	for _, s := range is.Scopes {
		if s == "" || !plain(s, false) || strings.ContainsAny(s, `"\`) {
			return fmt.Errorf("scope %q is not a scope", s)
		}
	}
	return nil
}

// plain accepts a short string with no control characters (and, unless
// spaces, no white space).
func plain(s string, spaces bool) bool {
	if len(s) > 256 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || (!spaces && unicode.IsSpace(r)) {
			return false
		}
	}
	return true
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// Find returns the issuer named name: by issuer URL or by name (case
// insensitive).
func (d *Document) Find(name string) (Issuer, bool) {
	for _, is := range d.Issuers {
		if is.Issuer == name || strings.EqualFold(is.Name, name) {
			return is, true
		}
	}
	return Issuer{}, false
}
