package clilogin

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode"
)

var gatewayCases = []struct {
	in, want, err string
}{
	{"https://raygate.example.com", "https://raygate.example.com", ""},
	{"  HTTPS://Raygate.Example.COM:443/ ", "https://raygate.example.com", ""},
	{"https://raygate.example.com:8443", "https://raygate.example.com:8443", ""},
	{"http://127.0.0.1:8080/", "http://127.0.0.1:8080", ""},
	{"http://localhost:8080", "http://localhost:8080", ""},
	{"http://[::1]:8080", "http://[::1]:8080", ""},
	{"http://raygate.example.com", "", `refusing to send tokens in the clear to http://raygate.example.com: use https (plain http is allowed only on this computer, 127.0.0.1)`},
	{"https://raygate.example.com/clusters/team-a/ray1", "", `"https://raygate.example.com/clusters/team-a/ray1" is a cluster's address: give the gateway's, https://raygate.example.com`},
	{"https://raygate.example.com/prefix", "", `"https://raygate.example.com/prefix" has a path: give only the gateway's scheme and host, e.g. https://raygate.example.com`},
	{"raygate.example.com", "", `"raygate.example.com" is not a gateway address: give its URL, e.g. https://raygate.example.com`},
	{"ftp://raygate.example.com", "", `"ftp://raygate.example.com" is not a gateway address: give its URL, e.g. https://raygate.example.com`},
	{"https://user:pw@raygate.example.com", "", `"https://user:pw@raygate.example.com" is not a gateway address: give only its scheme and host, e.g. https://raygate.example.com`},
	{"https://raygate.example.com/?x=1", "", `"https://raygate.example.com/?x=1" is not a gateway address: give only its scheme and host, e.g. https://raygate.example.com`},
	{"", "", `"" is not a gateway address: give its URL, e.g. https://raygate.example.com`},
}

func TestNormalizeGateway(t *testing.T) {
	for _, tc := range gatewayCases {
		got, err := NormalizeGateway(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("NormalizeGateway(%q) = %q, %v\nwant error %s", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeGateway(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzNormalizeGateway(f *testing.F) {
	for _, tc := range gatewayCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeGateway(in)
		if err != nil {
			return
		}
		if again, err := NormalizeGateway(got); err != nil || again != got {
			t.Fatalf("%q normalizes to %q, which normalizes to %q (%v)", in, got, again, err)
		}
		if !strings.HasPrefix(got, "https://") && !strings.HasPrefix(got, "http://") || strings.HasSuffix(got, "/") {
			t.Fatalf("%q normalizes to %q", in, got)
		}
		if strings.HasPrefix(got, "http://") && !strings.HasPrefix(got, "http://127.") && !strings.HasPrefix(got, "http://localhost") && !strings.HasPrefix(got, "http://[") {
			t.Fatalf("plain http to %q", got)
		}
	})
}

func jwt(payload string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
}

var idTokenCases = []struct {
	name, token, err string
}{
	{"complete", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1","email":"a@example.com","nonce":"n","exp":1767326400,"iat":1767322800}`), ""},
	{"audience list, fractional dates", jwt(`{"iss":"https://idp","aud":["x","cli"],"sub":"u1","exp":1767326400.5,"iat":1767322800.25}`), ""},
	{"no iat", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1","exp":1767326400}`), ""},
	{"two parts", "a.b", "ID token is not a JWT"},
	{"padded base64", "a." + base64.URLEncoding.EncodeToString([]byte(`{"iss":"x"}`)) + ".c", "ID token payload is not base64url"},
	{"not an object", jwt(`[1]`), "ID token claims are not a JSON object"},
	{"no exp", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1"}`), "ID token has no valid exp"},
	{"string exp", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1","exp":"soon"}`), "ID token claims are not a JSON object"},
	{"huge exp", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1","exp":1e300}`), "ID token has no valid exp"},
	{"negative iat", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1","exp":1767326400,"iat":-5}`), "ID token iat is invalid"},
	{"aud a number", jwt(`{"iss":"https://idp","aud":5,"sub":"u1","exp":1767326400}`), "ID token aud is not a string or a list of strings"},
	{"no sub", jwt(`{"iss":"https://idp","aud":"cli","exp":1767326400}`), "ID token lacks iss, sub or aud"},
	{"escape in the email", jwt(`{"iss":"https://idp","aud":"cli","sub":"u1","email":"\u001b[2Ja@x","exp":1767326400}`), "ID token sub or email has control characters"},
	{"too large", jwt(`{"x":"` + strings.Repeat("a", maxToken) + `"}`), "ID token too large"},
}

func TestParseIDToken(t *testing.T) {
	for _, tc := range idTokenCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseIDToken(tc.token)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != "https://idp" || c.Subject != "u1" || c.Expiry.Unix() != 1767326400 {
				t.Fatalf("claims %+v", c)
			}
		})
	}
	c, _ := ParseIDToken(idTokenCases[0].token)
	if c.User() != "a@example.com" || c.Nonce != "n" || c.IssuedAt != time.Unix(1767322800, 0).UTC() {
		t.Fatalf("claims %+v", c)
	}
	c, _ = ParseIDToken(idTokenCases[2].token)
	if c.User() != "u1" || !c.IssuedAt.IsZero() {
		t.Fatalf("claims %+v", c)
	}
}

func TestCheckNew(t *testing.T) {
	now := time.Unix(1767323000, 0)
	base := Claims{Issuer: "https://idp", Audience: []string{"cli"}, Subject: "u1", Nonce: "n", IssuedAt: now, Expiry: now.Add(time.Hour)}
	for _, tc := range []struct {
		name   string
		change func(*Claims)
		nonce  string
		want   string
	}{
		{"good", func(*Claims) {}, "n", ""},
		{"another issuer", func(c *Claims) { c.Issuer = "https://evil" }, "", `the identity provider https://idp sent an ID token raygate cannot use (it names issuer "https://evil"): tell the people who run raygate`},
		{"another client", func(c *Claims) { c.Audience = []string{"web"} }, "", `the identity provider https://idp sent an ID token raygate cannot use (it was not issued to client cli): tell the people who run raygate`},
		{"another nonce", func(*Claims) {}, "m", `the identity provider https://idp sent an ID token raygate cannot use (its nonce is not the sign-in's): tell the people who run raygate`},
		{"no iat, not expired", func(c *Claims) { c.IssuedAt = time.Time{} }, "", ""},
		{"expired, no iat", func(c *Claims) { c.IssuedAt = time.Time{}; c.Expiry = now.Add(-3 * time.Hour) }, "",
			"this computer's clock is at least 3h ahead of the identity provider's (a token it just issued has already expired): set the clock right (turn on network time), then run raygate login again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			err := checkNew(c, "https://idp", "cli", tc.nonce, now)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func FuzzParseIDToken(f *testing.F) {
	for _, tc := range idTokenCases {
		if len(tc.token) < 4096 {
			f.Add(tc.token)
		}
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := ParseIDToken(token)
		if err != nil {
			return
		}
		if c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0 || c.Expiry.IsZero() {
			t.Fatalf("accepted %+v", c)
		}
		if strings.IndexFunc(c.User(), unicode.IsControl) >= 0 {
			t.Fatalf("user %q", c.User())
		}
	})
}
