package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// audience is the JWT audience raygate and oauth2-proxy (as its client id)
// accept.
const audience = "raygate"

// issuer is a local OpenID Connect issuer: a discovery document and a key
// set, both served on loopback, and an RSA key that signs the benchmark's
// bearer token. Nothing verifying its tokens needs the network.
type issuer struct {
	url string
	key *rsa.PrivateKey
	srv *http.Server
}

func startIssuer() (*issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	is := &issuer{url: "http://" + ln.Addr().String(), key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.url,
			"authorization_endpoint":                is.url + "/auth",
			"token_endpoint":                        is.url + "/token",
			"userinfo_endpoint":                     is.url + "/userinfo",
			"jwks_uri":                              is.url + "/keys",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid", "email", "groups"},
			"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "email", "email_verified", "groups"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "bench", Algorithm: "RS256", Use: "sig"},
		}})
	})
	is.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

// token returns an RS256 ID token for a developer of team-a, valid for ttl.
func (is *issuer) token(ttl time.Duration) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "bench"))
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims, err := json.Marshal(map[string]any{
		"iss": is.url, "sub": "alice", "aud": audience,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"email": "alice@example.com", "email_verified": true, "groups": []string{"team-a"},
	})
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return obj.CompactSerialize()
}

func (is *issuer) close() { _ = is.srv.Close() }
