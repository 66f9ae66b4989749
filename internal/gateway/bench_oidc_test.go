package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// benchOIDCGateway returns a gateway trusting an in-memory issuer, and a
// valid ES256 token from it.
func benchOIDCGateway(b *testing.B, cacheSize int) (*Gateway, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var issuer string
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/keys"})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES256", Use: "sig"}}})
		}
	}))
	b.Cleanup(idp.Close)
	issuer = idp.URL
	up := benchUpstream(b)
	g := gatewayFromText(b, "authentication:\n  oidc: [{issuer: "+issuer+", audiences: [raygate]}]\n"+
		"  tokenCache: {size: "+strconv.Itoa(cacheSize)+"}\n"+
		"clusters:\n  - {namespace: team-a, name: ray1, upstream: "+up.URL+", access: [{role: developer, groups: [team-a]}]}\n")
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k"))
	claims, _ := json.Marshal(map[string]any{"iss": issuer, "aud": "raygate", "exp": time.Now().Add(time.Hour).Unix(),
		"email": "alice@example.com", "email_verified": true, "groups": []string{"team-a"}})
	obj, _ := signer.Sign(claims)
	tok, _ := obj.CompactSerialize()
	return g, tok
}

func BenchmarkGatewayOIDCCached(b *testing.B) {
	g, tok := benchOIDCGateway(b, 10000)
	runParallel(b, g, "/clusters/team-a/ray1/api/version", "Bearer "+tok)
}

func BenchmarkGatewayOIDCUncached(b *testing.B) {
	g, tok := benchOIDCGateway(b, 0)
	runParallel(b, g, "/clusters/team-a/ray1/api/version", "Bearer "+tok)
}
