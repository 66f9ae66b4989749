//go:build e2e

package browser_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/chromedp/cdproto/network"

	"github.com/raygate/raygate/test/e2e/harness"
)

const iapAudience = "/projects/123456/global/backendServices/7890"

// iapSigner is an IAP of the test's own: ES256 keys served as a JWK set on
// a local URL, and assertions signed with them.
type iapSigner struct {
	key  *ecdsa.PrivateKey
	jwks *httptest.Server
}

func newIAPSigner(t *testing.T) *iapSigner {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &iapSigner{key: key}
	s.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "iap-test", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(s.jwks.Close)
	return s
}

func (s *iapSigner) assertion(t *testing.T, email string, mod func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": "https://cloud.google.com/iap", "aud": iapAudience, "sub": "accounts.google.com:" + email,
		"email": email, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	if mod != nil {
		mod(claims)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "iap-test"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	return tok
}

// TestIAPMode runs a raygate in IAP mode in front of the real clusters:
// the identity is the email of the signed assertion; unsigned IAP headers,
// assertions for another backend, expired or signed by another key are
// refused; no x-goog-* header reaches Ray; and a browser behind "IAP" gets
// the landing page and the dashboard.
func TestIAPMode(t *testing.T) {
	s := requireStack(t)
	iap := newIAPSigner(t)
	tap, err := harness.StartTap(s.RayA.Dashboard)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	cfg := harness.GatewayConfig{
		AuthExtra: fmt.Sprintf("  iap: {audience: %q, jwksURL: %s}\n", iapAudience, iap.jwks.URL),
		Clusters: []harness.ClusterConfig{
			{Namespace: "team-a", Name: "ray1", Upstream: tap.URL, TokenFile: s.RayA.TokenFile, Access: []string{"{role: viewer, users: [carol@example.com]}"}},
			{Namespace: "team-b", Name: "ray1", Upstream: s.RayB.Dashboard, TokenFile: s.RayB.TokenFile, Access: []string{"{role: developer, users: [eve@example.com]}"}},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := harness.StartRaygate(ctx, components.RaygateBin, s.Dir, "raygate-iap", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	api := func(path string, hdr ...string) (int, string) {
		t.Helper()
		status, _, body := page(t, harness.NewBrowserClient(), "GET", g.URL+path, append([]string{"Sec-Fetch-Mode", "cors", "Accept", "application/json"}, hdr...)...)
		return status, body
	}
	carol := iap.assertion(t, "carol@example.com", nil)
	if status, body := api("/", "X-Goog-Iap-Jwt-Assertion", carol); status != 200 || !strings.Contains(body, `"user":"carol@example.com"`) || !strings.Contains(body, `"auth_method":"iap"`) {
		t.Fatalf("whoami: %d %s", status, body)
	}
	if status, body := api("/clusters/team-a/ray1/api/version", "X-Goog-Iap-Jwt-Assertion", carol,
		"X-Goog-Authenticated-User-Email", "accounts.google.com:root@example.com", "X-Goog-Authenticated-User-Id", "accounts.google.com:1"); status != 200 {
		t.Fatalf("team-a as carol: %d %s", status, body)
	}
	if status, _ := api("/clusters/team-b/ray1/api/version", "X-Goog-Iap-Jwt-Assertion", carol); status != 404 {
		t.Fatalf("team-b as carol: %d", status)
	}
	other := newIAPSigner(t)
	for name, hdr := range map[string][]string{
		"unsigned headers only":              {"X-Goog-Authenticated-User-Email", "accounts.google.com:carol@example.com", "X-Goog-Authenticated-User-Id", "accounts.google.com:1"},
		"another backend's assertion":        {"X-Goog-Iap-Jwt-Assertion", iap.assertion(t, "carol@example.com", func(c map[string]any) { c["aud"] = "/projects/123456/global/backendServices/1" })},
		"an expired assertion":               {"X-Goog-Iap-Jwt-Assertion", iap.assertion(t, "carol@example.com", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })},
		"an assertion of another issuer":     {"X-Goog-Iap-Jwt-Assertion", iap.assertion(t, "carol@example.com", func(c map[string]any) { c["iss"] = "https://accounts.google.com" })},
		"an assertion signed by another key": {"X-Goog-Iap-Jwt-Assertion", other.assertion(t, "carol@example.com", nil)},
	} {
		if status, body := api("/clusters/team-a/ray1/api/version", hdr...); status != 401 {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	for _, h := range tap.Seen() {
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "x-goog-") {
				t.Fatalf("Ray received %s", k)
			}
		}
	}

	// A browser behind IAP: the proxy adds the assertion to every request.
	c := chromium(t, "iap")
	if err := c.SetHeaders(map[string]string{"X-Goog-Iap-Jwt-Assertion": carol}); err != nil {
		t.Fatal(err)
	}
	must[*network.Response](t)(c.Navigate(g.URL + "/"))
	text := must[string](t)(c.WaitText(30*time.Second, "Your Ray clusters", "carol@example.com", "Google Cloud IAP"))
	if strings.Contains(text, "team-b") || strings.Contains(text, "Sign out") || strings.Contains(text, "Session until") {
		t.Fatalf("IAP landing page:\n%s", text)
	}
	screenshot(t, c, "landing-iap")
	must[*network.Response](t)(c.Navigate(g.URL + "/clusters/team-a/ray1/#/cluster"))
	must[string](t)(c.WaitText(60*time.Second, "Cluster"))
}
