// Package oidctest is an OpenID Connect provider in memory for raygate's
// unit tests: discovery, a key set, an authorization endpoint that signs
// in a chosen user at once, a token endpoint that checks PKCE and issues
// and rotates refresh tokens, and an end-session endpoint. Its knobs break
// it in the ways the tests need (a wrong nonce, a refused refresh).
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// User is a person the provider signs in.
type User struct {
	Subject string
	Email   string
	Groups  []string
}

// Provider is a running fake issuer.
type Provider struct {
	// Server serves the endpoints; Issuer is its URL.
	Server *httptest.Server
	Issuer string
	// ClientID and ClientSecret are the one registered client.
	ClientID, ClientSecret string

	key *ecdsa.PrivateKey

	mu             sync.Mutex
	user           User          // who the authorization endpoint signs in next
	ttl            time.Duration // the ID tokens' lifetime
	endSession     bool          // discovery advertises end_session_endpoint
	nonce          *string       // replaces the requested nonce in ID tokens
	refuseRefresh  bool          // every refresh fails with invalid_grant
	noRefreshToken bool          // no refresh tokens are issued
	codes          map[string]grant
	refresh        map[string]User
	refreshes      int          // successful refreshes
	endSessions    []url.Values // queries of end-session requests
	deny           bool         // the authorization endpoint denies
	device         *deviceState // the device grant, when offered
	revocation     bool         // discovery advertises revocation_endpoint
	revoked        []string     // tokens revoked
	now            func() time.Time
}

type grant struct {
	user        User
	challenge   string
	nonce       string
	redirectURI string
}

// Options configure a Provider.
type Options struct {
	// IDTokenTTL is the ID tokens' lifetime; default 1h.
	IDTokenTTL time.Duration
	// EndSession advertises an end_session_endpoint.
	EndSession bool
	// NoRefreshTokens makes the token endpoint issue none.
	NoRefreshTokens bool
	// Public registers the client without a secret, as a command-line
	// client is: it authenticates with its client_id alone.
	Public bool
	// Device offers the device authorization grant.
	Device bool
	// Revocation advertises a revocation_endpoint.
	Revocation bool
	// Now is the provider's clock for the tokens it issues; default
	// time.Now.
	Now func() time.Time
}

// New starts a provider with client "raygate" / "secret".
func New(t testing.TB, o Options) *Provider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.IDTokenTTL == 0 {
		o.IDTokenTTL = time.Hour
	}
	p := &Provider{
		ClientID: "raygate", ClientSecret: "secret", key: key, ttl: o.IDTokenTTL,
		endSession: o.EndSession, noRefreshToken: o.NoRefreshTokens, revocation: o.Revocation,
		codes: map[string]grant{}, refresh: map[string]User{},
		user: User{Subject: "u-carol", Email: "carol@example.com", Groups: []string{"team-a-viewers"}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /auth", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /logout", p.logout)
	mux.HandleFunc("POST /device/code", p.deviceCode)
	mux.HandleFunc("POST /revoke", p.revoke)
	if o.Public {
		p.ClientSecret = ""
	}
	if p.now = o.Now; p.now == nil {
		p.now = time.Now
	}
	if o.Device {
		p.device = &deviceState{codes: map[string]*deviceCode{}, interval: 5}
	}
	p.Server = httptest.NewServer(mux)
	p.Issuer = p.Server.URL
	t.Cleanup(p.Server.Close)
	return p
}

// DenySignIn makes the authorization endpoint send the browser back with
// error=access_denied (or sign in again).
func (p *Provider) DenySignIn(deny bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny = deny
}

// Revoked returns the tokens the revocation endpoint revoked.
func (p *Provider) Revoked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.revoked...)
}

// SignInAs makes the authorization endpoint sign in u next.
func (p *Provider) SignInAs(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetNonce makes issued ID tokens carry nonce instead of the requested one.
func (p *Provider) SetNonce(nonce string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonce = &nonce
}

// RefuseRefresh makes every refresh fail (or succeed again).
func (p *Provider) RefuseRefresh(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuseRefresh = refuse
}

// Refreshes is how many refreshes succeeded.
func (p *Provider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// EndSessions returns the queries end-session requests carried.
func (p *Provider) EndSessions() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.endSessions...)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{
		"issuer":                           p.Issuer,
		"authorization_endpoint":           p.Issuer + "/auth",
		"token_endpoint":                   p.Issuer + "/token",
		"jwks_uri":                         p.Issuer + "/keys",
		"scopes_supported":                 []string{"openid", "email", "groups", "profile", "offline_access"},
		"code_challenge_methods_supported": []string{"S256", "plain"},
	}
	if p.endSession {
		doc["end_session_endpoint"] = p.Issuer + "/logout"
	}
	if p.device != nil {
		doc["device_authorization_endpoint"] = p.Issuer + "/device/code"
		doc["grant_types_supported"] = []string{"authorization_code", "refresh_token", GrantTypeDeviceCode}
	}
	if p.revocation {
		doc["revocation_endpoint"] = p.Issuer + "/revoke"
	}
	_ = json.NewEncoder(w).Encode(doc)
}

func (p *Provider) keys(w http.ResponseWriter, _ *http.Request) {
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
}

// authorize signs the current user in at once and redirects back.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	deny := p.deny
	p.mu.Unlock()
	if deny {
		back, _ := url.Parse(q.Get("redirect_uri"))
		bq := back.Query()
		bq.Set("error", "access_denied")
		bq.Set("error_description", "the user denied the request")
		bq.Set("state", q.Get("state"))
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
		return
	}
	code := random()
	p.mu.Lock()
	p.codes[code] = grant{user: p.user, challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirectURI: q.Get("redirect_uri")}
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		g, ok := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case !ok:
			tokenError(w, http.StatusBadRequest, "invalid_grant")
		case g.redirectURI != r.PostFormValue("redirect_uri"):
			tokenError(w, http.StatusBadRequest, "invalid_grant")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			tokenError(w, http.StatusBadRequest, "invalid_grant")
		default:
			p.issue(w, g.user, g.nonce)
		}
	case GrantTypeDeviceCode:
		p.pollDevice(w, r.PostFormValue("device_code"))
	case "refresh_token":
		u, ok := p.refresh[r.PostFormValue("refresh_token")]
		if !ok || p.refuseRefresh {
			tokenError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(p.refresh, r.PostFormValue("refresh_token"))
		p.refreshes++
		p.issue(w, u, "")
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

// issue answers with tokens for u; the caller holds p.mu.
func (p *Provider) issue(w http.ResponseWriter, u User, nonce string) {
	if p.nonce != nil {
		nonce = *p.nonce
	}
	now := p.now()
	claims := map[string]any{
		"iss": p.Issuer, "aud": p.ClientID, "sub": u.Subject, "email": u.Email, "email_verified": true,
		"groups": u.Groups, "iat": now.Unix(), "exp": now.Add(p.ttl).Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	out := map[string]any{"access_token": random(), "token_type": "bearer", "expires_in": int(p.ttl.Seconds()), "id_token": p.Sign(claims)}
	if !p.noRefreshToken {
		rt := random()
		p.refresh[rt] = u
		out["refresh_token"] = rt
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Sign signs claims with the provider's key.
func (p *Provider) Sign(claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	tok, _ := obj.CompactSerialize()
	return tok
}

func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.endSessions = append(p.endSessions, r.URL.Query())
	p.mu.Unlock()
	if back := r.URL.Query().Get("post_logout_redirect_uri"); back != "" {
		http.Redirect(w, r, back, http.StatusFound)
		return
	}
	_, _ = w.Write([]byte("signed out"))
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": code + " from the test provider"})
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
