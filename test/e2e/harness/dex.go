package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// User is a person in the test identity provider.
type User struct {
	Email  string   `json:"email"`
	Groups []string `json:"groups"`
}

// Password is every test user's password.
const Password = "raygate-demo"

// Client credentials of the gateway at the identity provider.
const (
	ClientID     = "raygate"
	ClientSecret = "raygate-demo-secret"
)

// CLIClientID is the public client (no secret) that raygate login uses.
// Dex lets a public client without registered redirect URIs come back to
// http://127.0.0.1 on any port, and use the device grant, whose callback
// it checks as a redirect URI too, only when the issuer has no path (it
// compares the callback's path with /device/callback). Under /dex the
// client registers ISSUER-PATH/device/callback instead, which keeps the
// device grant and ends the any-port allowance (see DexOptions.RootIssuer).
const CLIClientID = "raygate-cli"

// Users are the people of the demo and the end-to-end tests.
var Users = []User{
	{Email: "alice@example.com", Groups: []string{"team-a"}},         // developer on team-a
	{Email: "bob@example.com", Groups: []string{"team-a"}},           // developer on team-a
	{Email: "carol@example.com", Groups: []string{"team-a-viewers"}}, // viewer on team-a
	{Email: "dave@example.com", Groups: []string{"platform-admins"}}, // admin everywhere
	{Email: "eve@example.com", Groups: []string{"team-b"}},           // developer on team-b
	{Email: "mallory@example.com", Groups: []string{"contractors"}},  // no role anywhere
}

// Dex is a running Dex OpenID Connect provider.
type Dex struct {
	Proc   *Proc
	Issuer string
}

// DexOptions tune StartDexWith.
type DexOptions struct {
	// RedirectURIs are the redirect URIs registered for the raygate
	// client: each gateway's /_raygate/callback and /_raygate/signed-out.
	RedirectURIs []string
	// IDTokenTTL is the ID tokens' lifetime, a Go duration; default 1h.
	IDTokenTTL string
	// Name names Dex's folder and log ("dex" by default), so several can
	// run side by side.
	Name string
	// RootIssuer serves the issuer at the root (http://127.0.0.1:PORT)
	// instead of under /dex: then raygate login's public client can use
	// both the device grant and the browser flow.
	RootIssuer bool
}

// StartDex starts the Dex binary built by scripts/build-dex.sh on a free
// loopback port.
func StartDex(ctx context.Context, bin, dir string) (*Dex, error) {
	return StartDexWith(ctx, bin, dir, DexOptions{})
}

// StartDexWith is StartDex with options.
func StartDexWith(ctx context.Context, bin, dir string, o DexOptions) (*Dex, error) {
	if o.Name == "" {
		o.Name = "dex"
	}
	redirects := append([]string{"http://127.0.0.1/_raygate/callback"}, o.RedirectURIs...)
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	issuer := fmt.Sprintf("http://127.0.0.1:%d/dex", port)
	cli := map[string]any{"id": CLIClientID, "public": true, "redirectURIs": []string{"/dex/device/callback"}}
	if o.RootIssuer {
		issuer = strings.TrimSuffix(issuer, "/dex")
		delete(cli, "redirectURIs")
	}
	type dexUser struct {
		Email    string   `json:"email"`
		Password string   `json:"password"`
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	}
	cfg := map[string]any{
		"issuer": issuer,
		"listen": fmt.Sprintf("127.0.0.1:%d", port),
		"clients": []map[string]any{{
			"id": ClientID, "secret": ClientSecret,
			"redirectURIs": redirects,
		}, cli},
	}
	if o.IDTokenTTL != "" {
		cfg["idTokenTTL"] = o.IDTokenTTL
	}
	var users []dexUser
	for _, u := range Users {
		users = append(users, dexUser{Email: u.Email, Password: Password, Username: strings.Split(u.Email, "@")[0], Groups: u.Groups})
	}
	cfg["users"] = users
	b, _ := json.MarshalIndent(cfg, "", "  ")
	path := filepath.Join(dir, o.Name+".json")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	p, err := Start(o.Name, dir, nil, bin, "-config", path)
	if err != nil {
		return nil, err
	}
	d := &Dex{Proc: p, Issuer: issuer}
	if err := WaitHTTP(ctx, p, issuer+"/.well-known/openid-configuration", nil, 60*time.Second, func(r *http.Response) bool { return r.StatusCode == 200 }); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return d, nil
}

// Token returns an ID token for email, obtained with the password grant.
func (d *Dex) Token(ctx context.Context, email string) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "username": {email}, "password": {Password},
		"scope": {"openid email groups profile"},
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", d.Issuer+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(ClientID, ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("dex token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.IDToken == "" {
		return "", fmt.Errorf("dex token for %s: status %d %s %v", email, resp.StatusCode, out.Error, err)
	}
	return out.IDToken, nil
}
