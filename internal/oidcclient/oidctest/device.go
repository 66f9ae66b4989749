package oidctest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// GrantTypeDeviceCode is the device authorization grant's grant_type.
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// deviceState is the device authorization grant of a Provider.
type deviceState struct {
	codes     map[string]*deviceCode // by device code
	interval  int                    // seconds, in the authorization response; <0 leaves it out
	expiresIn int                    // seconds; 0 is 600
	answers   []string               // what the next polls answer
	polls     int
	userCodes []string
	scopes    []string // of the last device authorization request
}

type deviceCode struct {
	user User
	done bool // tokens were issued
}

// DeviceAnswers scripts the token endpoint's answers to the next device
// code polls, in order: an error code (authorization_pending, slow_down,
// access_denied, expired_token...) or "approve", which issues tokens for
// the user SignInAs named. Once the script is used up, polls are approved.
func (p *Provider) DeviceAnswers(answers ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.device.answers = append([]string(nil), answers...)
}

// SetDeviceTiming sets the interval and expires_in of device authorization
// responses, in seconds; a negative interval leaves it out.
func (p *Provider) SetDeviceTiming(interval, expiresIn int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.device.interval, p.device.expiresIn = interval, expiresIn
}

// DevicePolls is how many times the device code was polled.
func (p *Provider) DevicePolls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.device.polls
}

// DeviceScopes are the scopes of the last device authorization request.
func (p *Provider) DeviceScopes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.device.scopes
}

func (p *Provider) deviceCode(w http.ResponseWriter, r *http.Request) {
	if p.device == nil {
		http.NotFound(w, r)
		return
	}
	if r.PostFormValue("client_id") != p.ClientID {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.device
	code, user := random(), "WDJB-MJHT"
	if n := len(d.userCodes); n > 0 {
		user = "WDJB-MJH" + string(rune('A'+n%26))
	}
	d.codes[code] = &deviceCode{user: p.user}
	d.userCodes = append(d.userCodes, user)
	d.scopes = strings.Fields(r.PostFormValue("scope"))
	exp := d.expiresIn
	if exp == 0 {
		exp = 600
	}
	out := map[string]any{
		"device_code": code, "user_code": user, "expires_in": exp,
		"verification_uri":          p.Issuer + "/device",
		"verification_uri_complete": p.Issuer + "/device?user_code=" + url.QueryEscape(user),
	}
	if d.interval >= 0 {
		out["interval"] = d.interval
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// pollDevice answers a device code poll; the caller holds p.mu.
func (p *Provider) pollDevice(w http.ResponseWriter, code string) {
	d := p.device
	if d == nil {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	c, ok := d.codes[code]
	if !ok || c.done {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	d.polls++
	answer := "approve"
	if len(d.answers) > 0 {
		answer, d.answers = d.answers[0], d.answers[1:]
	}
	if answer != "approve" {
		tokenError(w, http.StatusBadRequest, answer)
		return
	}
	c.done = true
	p.issue(w, c.user, "")
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	if !p.revocation {
		http.NotFound(w, r)
		return
	}
	if r.PostFormValue("client_id") != p.ClientID {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := r.PostFormValue("token")
	delete(p.refresh, tok)
	p.revoked = append(p.revoked, tok)
	w.WriteHeader(http.StatusOK)
}
