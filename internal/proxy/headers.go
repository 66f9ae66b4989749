package proxy

import (
	"net/http"
	"strings"
)

// RayTokenCookie is the cookie Ray's dashboard accepts its token from.
const RayTokenCookie = "ray-authentication-token"

// GatewayCookiePrefix starts the name of the gateway's older cookies.
const GatewayCookiePrefix = "_raygate"

// gatewayCookiePrefixes start, lowercased, the names of every cookie the
// gateway sets or may set: the browser session and sign-in cookies are
// __Host-raygate-* over HTTPS and raygate-* on plain HTTP.
var gatewayCookiePrefixes = []string{GatewayCookiePrefix, "raygate-", "__host-raygate-", "__secure-raygate-"}

// Headers the gateway sets upstream to tell Ray (and anything behind it)
// who the caller is.
const (
	HeaderUser      = "X-Forwarded-User"
	HeaderEmail     = "X-Forwarded-Email"
	HeaderGroups    = "X-Forwarded-Groups"
	HeaderRequestID = "X-Request-Id"
	HeaderRayAuth   = "X-Ray-Authorization"
)

// identityHeaders are headers that assert an identity or carry a
// credential, in normalized form (lowercase, '_' as '-'). A client's copy
// of any of them is removed in every spelling before the request goes
// upstream.
var identityHeaders = map[string]bool{
	"authorization":                      true,
	"proxy-authorization":                true,
	"x-ray-authorization":                true,
	"x-forwarded-user":                   true,
	"x-forwarded-email":                  true,
	"x-forwarded-groups":                 true,
	"x-forwarded-preferred-username":     true,
	"x-forwarded-access-token":           true,
	"x-auth-request-user":                true,
	"x-auth-request-email":               true,
	"x-auth-request-groups":              true,
	"x-auth-request-preferred-username":  true,
	"x-auth-request-access-token":        true,
	"x-remote-user":                      true,
	"x-remote-group":                     true,
	"x-remote-groups":                    true,
	"x-webauth-user":                     true,
	"remote-user":                        true,
	"x-user":                             true,
	"x-email":                            true,
	"x-goog-authenticated-user-email":    true,
	"x-goog-authenticated-user-id":       true,
	"x-goog-iap-jwt-assertion":           true,
	"x-amzn-oidc-data":                   true,
	"x-amzn-oidc-identity":               true,
	"x-amzn-oidc-accesstoken":            true,
	"impersonate-user":                   true,
	"impersonate-group":                  true,
	"impersonate-uid":                    true,
	"x-ms-client-principal":              true,
	"x-ms-client-principal-name":         true,
	"x-ms-client-principal-id":           true,
	"x-ms-token-aad-id-token":            true,
	"x-ms-token-aad-access-token":        true,
	"cf-access-jwt-assertion":            true,
	"cf-access-authenticated-user-email": true,
	"forwarded":                          true,
	"x-real-ip":                          true,
	"x-request-id":                       true,
}

// identityPrefixes are normalized prefixes of header names treated like
// identityHeaders.
var identityPrefixes = []string{"x-raygate-", "x-remote-extra-", "impersonate-extra-", "x-forwarded-",
	// Google Cloud IAP: the signed assertion and the unsigned
	// x-goog-authenticated-user-email and -id, and whatever IAP adds next.
	"x-goog-iap-", "x-goog-authenticated-user-"}

// normalizeHeaderName lowercases a header name and spells '_' as '-', so
// that X_Forwarded_User and x-forwarded-user compare equal.
func normalizeHeaderName(k string) string {
	return strings.ReplaceAll(strings.ToLower(k), "_", "-")
}

// IsIdentityHeader reports whether a client-sent header named k must be
// removed before the request reaches Ray.
func IsIdentityHeader(k string) bool {
	// Header names are ASCII tokens: fold them into a buffer on the stack.
	// Anything else takes the general path, with Unicode case folding.
	var buf [64]byte
	if len(k) > len(buf) {
		return isIdentityName(normalizeHeaderName(k))
	}
	n := buf[:len(k)]
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 0x80:
			return isIdentityName(normalizeHeaderName(k))
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		n[i] = c
	}
	if identityHeaders[string(n)] { // no copy: a map index by converted bytes
		return true
	}
	for _, p := range identityPrefixes {
		if len(n) >= len(p) && string(n[:len(p)]) == p {
			return true
		}
	}
	return false
}

// isIdentityName is IsIdentityHeader of a normalized name.
func isIdentityName(n string) bool {
	if identityHeaders[n] {
		return true
	}
	for _, p := range identityPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// StripClientHeaders removes from h every credential and identity header
// the client sent, in any spelling, and the cookies that carry a Ray token
// or a gateway session. It leaves every other header as sent.
func StripClientHeaders(h http.Header) {
	for k := range h {
		if IsIdentityHeader(k) {
			delete(h, k)
		}
	}
	if cs, ok := h["Cookie"]; ok {
		kept := filterCookies(cs)
		if kept == "" {
			delete(h, "Cookie")
		} else {
			h["Cookie"] = []string{kept}
		}
	}
}

// isSensitiveCookie reports whether a cookie name carries a credential the
// upstream must not see.
func isSensitiveCookie(name string) bool {
	if strings.EqualFold(name, RayTokenCookie) {
		return true
	}
	n := strings.ToLower(name)
	for _, p := range gatewayCookiePrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// filterCookies joins Cookie header values without the sensitive cookies,
// keeping every other pair byte for byte. Only pairs of RFC 6265's form
// (a token, "=", cookie octets, optionally quoted) are kept: Ray's cookie
// parser also ends a pair at a comma or a space and reads a quoted value
// across semicolons, so a malformed pair could hide a sensitive cookie
// from this reading and show it to Ray's.
func filterCookies(values []string) string {
	var kept []string
	for _, v := range values {
		for _, pair := range strings.Split(v, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, value, ok := strings.Cut(pair, "=")
			if !ok || isSensitiveCookie(strings.TrimSpace(name)) || !isCookieName(name) || !isCookieValue(value) || namesSensitiveCookie(value) {
				continue
			}
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "; ")
}

// namesSensitiveCookie reports whether a quoted cookie value reads as a
// sensitive cookie's pair to a parser that ends a pair at a quote:
// 0="ray-authentication-token=..." is dropped whole.
func namesSensitiveCookie(value string) bool {
	if len(value) < 2 || value[0] != '"' {
		return false
	}
	n, _, ok := strings.Cut(value[1:], "=")
	return ok && isSensitiveCookie(n)
}

// isCookieName reports whether s is an RFC 6265 cookie-name (a token).
func isCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// isCookieValue reports whether s is an RFC 6265 cookie-value: cookie
// octets (no space, comma, semicolon, backslash or quote), optionally
// between two quotes.
func isCookieValue(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// StripSetCookies removes from a Ray response every Set-Cookie that would
// hand the cluster's token (or a cookie in the gateway's namespace) to the
// caller.
func StripSetCookies(h http.Header) {
	vs, ok := h["Set-Cookie"]
	if !ok {
		return
	}
	kept := vs[:0]
	for _, v := range vs {
		name, _, _ := strings.Cut(v, "=")
		if isSensitiveCookie(strings.TrimSpace(name)) {
			continue
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}
