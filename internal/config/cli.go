package config

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Name is what people call an issuer: its displayName, else its host.
func (o OIDC) Name() string {
	if o.DisplayName != "" {
		return o.DisplayName
	}
	if u, err := url.Parse(o.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return o.Issuer
}

// CLILoginEnabled reports whether any issuer offers terminal sign-in
// (a cliClientID).
func (c *Config) CLILoginEnabled() bool {
	for _, o := range c.Authentication.OIDC {
		if o.CLIClientID != "" {
			return true
		}
	}
	return false
}

// validateCLI checks terminal sign-in: each cliClientID is a plain client
// id, an accepted audience, and not the browser's confidential client.
func (c *Config) validateCLI(v *validator) {
	for i, o := range c.Authentication.OIDC {
		if o.CLIClientID == "" {
			continue
		}
		p := fmt.Sprintf("authentication.oidc[%d]", i)
		if strings.IndexFunc(o.CLIClientID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 || len(o.CLIClientID) > 256 {
			v.errf(p+".cliClientID", "%q is not a valid client id", o.CLIClientID)
			continue
		}
		if !contains(o.Audiences, o.CLIClientID) {
			v.errf(p+".audiences", "must include cliClientID %q: ID tokens from raygate login are issued to it", o.CLIClientID)
		}
		if o.CLIClientID == o.ClientID && (o.ClientSecret != "" || o.ClientSecretFile != "") {
			v.errf(p+".cliClientID", "is clientID, which has a client secret; raygate login runs on people's computers and needs a public client of its own (no secret)")
		}
		if !o.Login {
			checkScopes(v, p, o.Scopes) // checked with login already
		}
	}
}
