package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// Actions are the Ray action names a cluster's actionRoles may name, with
// the least role each needs by default (SPEC §4, plus logs.read). The
// authorization package classifies requests into these actions; a test
// keeps the two in step.
var Actions = map[string]string{
	"dashboard.view": "viewer",
	"cluster.read":   "viewer",
	"logs.read":      "viewer",
	"jobs.submit":    "developer",
	"jobs.stop":      "developer",
	"jobs.stop.any":  "admin",
	"serve.deploy":   "admin",
	"cluster.admin":  "admin",
}

// SessionKeySize is the size of a session key: AES-256.
const SessionKeySize = 32

// DecodeSessionKey decodes one base64-encoded session key (standard or
// URL alphabet, padded or not) and checks its size.
func DecodeSessionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != SessionKeySize {
				return nil, fmt.Errorf("session key is %d bytes, want %d (generate one with: openssl rand -base64 32)", len(b), SessionKeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("session key is not base64 (generate one with: openssl rand -base64 32)")
}

// SessionKeys returns the session keys in order: keys, then keyFiles. The
// first encrypts; all decrypt.
func SessionKeys(s Session) ([][]byte, error) {
	var out [][]byte
	for i, k := range s.Keys {
		b, err := DecodeSessionKey(k)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		out = append(out, b)
	}
	for i, f := range s.KeyFiles {
		k, err := ReadSecret(f)
		if err != nil {
			return nil, fmt.Errorf("keyFiles[%d]: %w", i, err)
		}
		b, err := DecodeSessionKey(k)
		if err != nil {
			return nil, fmt.Errorf("keyFiles[%d]: %s: %w", i, f, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// ClientSecret returns the issuer's client secret: from clientSecretFile,
// else clientSecret, else "" (a public client).
func ClientSecret(o OIDC) (string, error) {
	if o.ClientSecretFile != "" {
		return ReadSecret(o.ClientSecretFile)
	}
	return o.ClientSecret, nil
}

// LoginEnabled reports whether any issuer offers browser sign-in.
func (c *Config) LoginEnabled() bool {
	for _, o := range c.Authentication.OIDC {
		if o.Login {
			return true
		}
	}
	return false
}

// Warnings are what is allowed but discouraged in the config (secrets
// written inline), in the same form as problems.
func (c *Config) Warnings() Problems { return c.warnings }

// validateBrowser checks externalURL, sign-in, sessions and IAP.
func (c *Config) validateBrowser(v *validator) {
	a := c.Authentication
	if c.ExternalURL != "" {
		checkExternalURL(v, "externalURL", c.ExternalURL)
	}
	login := false
	for i, o := range a.OIDC {
		p := fmt.Sprintf("authentication.oidc[%d]", i)
		if o.ClientSecret != "" {
			v.warnf(p+".clientSecret", "the client secret is written in the config; put it in a file and name it in clientSecretFile")
		}
		if !o.Login {
			continue
		}
		login = true
		if strings.TrimSpace(o.ClientID) == "" {
			v.errf(p+".clientID", "is required with login: true (raygate's client id at the issuer)")
		} else if !contains(o.Audiences, o.ClientID) {
			v.errf(p+".audiences", "must include clientID %q: ID tokens from sign-in are issued to it", o.ClientID)
		}
		if o.ClientSecret != "" && o.ClientSecretFile != "" {
			v.errf(p+".clientSecret", "set clientSecretFile or clientSecret, not both")
		}
		if o.ClientSecretFile != "" {
			if _, err := ReadSecret(o.ClientSecretFile); err != nil {
				v.errf(p+".clientSecretFile", "%v", err)
			}
		}
		checkScopes(v, p, o.Scopes)
	}
	s := a.Session
	if len(s.Keys) > 0 {
		v.warnf("authentication.session.keys", "session keys are written in the config; put each in a file and name it in keyFiles")
	}
	for i, k := range s.Keys {
		if _, err := DecodeSessionKey(k); err != nil {
			v.errf(fmt.Sprintf("authentication.session.keys[%d]", i), "%v", err)
		}
	}
	for i, f := range s.KeyFiles {
		k, err := ReadSecret(f)
		if err == nil {
			_, err = DecodeSessionKey(k)
		}
		if err != nil {
			v.errf(fmt.Sprintf("authentication.session.keyFiles[%d]", i), "%v", err)
		}
	}
	if s.MaxLifetime <= 0 {
		v.errf("authentication.session.maxLifetime", "must be positive")
	}
	if login {
		if len(s.Keys)+len(s.KeyFiles) == 0 {
			v.errf("authentication.session", "browser sign-in needs at least one session key (keyFiles, or keys): generate one with openssl rand -base64 32")
		}
		if c.ExternalURL == "" {
			v.errf("externalURL", "is required for browser sign-in when listen (%s) is not a loopback address: the URL browsers reach raygate at, e.g. https://raygate.example.com", c.Listen)
		}
	}
	if iap := a.IAP; iap != nil {
		if strings.TrimSpace(iap.Audience) == "" {
			v.errf("authentication.iap.audience", "is required (/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID)")
		}
		checkIssuerURL(v, "authentication.iap.jwksURL", iap.JWKSURL)
		if iap.ClockSkew.D() > MaxClockSkew {
			v.errf("authentication.iap.clockSkew", "must be at most %s", MaxClockSkew)
		}
		if len(a.OIDC) > 0 && !a.SharedIssuerNamespace {
			checkIAPPrefix(v, iap.UsernamePrefix, a.OIDC)
		}
	}
}

// checkScopes checks an issuer's scopes: openid among them, each a valid
// scope token.
func checkScopes(v *validator, p string, scopes []string) {
	if len(scopes) > 0 && !contains(scopes, "openid") {
		v.errf(p+".scopes", "must include openid")
	}
	for j, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			v.errf(fmt.Sprintf("%s.scopes[%d]", p, j), "%q is not a valid scope", s)
		}
	}
}

// checkIAPPrefix applies the several-issuers rule to IAP: its users are
// named by Google, so with OIDC issuers too their names must be kept apart.
func checkIAPPrefix(v *validator, prefix string, oidc []OIDC) {
	const p = "authentication.iap.usernamePrefix"
	if prefix == "" {
		v.errf(p, "is required with OIDC issuers configured too, so names from IAP and from an issuer cannot collide (or set authentication.sharedIssuerNamespace: true)")
		return
	}
	for j, o := range oidc {
		if o.UsernamePrefix != "" && (strings.HasPrefix(prefix, o.UsernamePrefix) || strings.HasPrefix(o.UsernamePrefix, prefix)) {
			v.errf(p, "%q overlaps %q of authentication.oidc[%d]: a name from one could equal a name from the other", prefix, o.UsernamePrefix, j)
		}
	}
}

// validateActionRoles checks a cluster's actionRoles: known actions and
// roles, and only raises.
func validateActionRoles(v *validator, path string, m map[string]string) {
	for action, role := range m {
		p := path + "." + action
		def, ok := Actions[action]
		if !ok {
			v.errf(p, "unknown action %q (one of %s)", action, strings.Join(actionNames(), ", "))
			continue
		}
		if !validRole(role) {
			v.errf(p, "unknown role %q (one of %s)", role, strings.Join(Roles, ", "))
			continue
		}
		if roleRank(role) < roleRank(def) {
			v.errf(p, "%s needs %s by default; actionRoles can only raise an action's role, never lower it", action, def)
		}
	}
}

func actionNames() []string {
	out := make([]string, 0, len(Actions))
	for a := range Actions {
		out = append(out, a)
	}
	sortStrings(out)
	return out
}

func roleRank(r string) int {
	for i, x := range Roles {
		if x == r {
			return i
		}
	}
	return -1
}

func checkExternalURL(v *validator, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.errf(path, "%q is not an http(s) URL", raw)
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		v.errf(path, "%q must use https (http is allowed only on a loopback host)", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.errf(path, "%q must be a scheme and host only (no path, query, fragment or user info)", raw)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
