package loginconfig

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/raygate/raygate/internal/config"
)

func TestFromConfig(t *testing.T) {
	cfg := &config.Config{Authentication: config.Authentication{OIDC: []config.OIDC{
		{Issuer: "https://browser-only.example.com", Login: true, ClientID: "raygate"},
		{Issuer: "https://idp.example.com/realms/x", CLIClientID: "raygate-cli"},
		{Issuer: "https://corp.example.com", CLIClientID: "cli", DisplayName: "Corp SSO", Scopes: []string{"openid", "email"}},
	}}}
	got, _ := json.Marshal(FromConfig(cfg))
	want := `[{"issuer":"https://idp.example.com/realms/x","name":"idp.example.com","clientID":"raygate-cli","deviceAuthorization":false},` +
		`{"issuer":"https://corp.example.com","name":"Corp SSO","clientID":"cli","scopes":["openid","email"],"deviceAuthorization":false}]`
	if string(got) != want {
		t.Fatalf("FromConfig =\n%s\nwant\n%s", got, want)
	}
}

var parseCases = []struct {
	name, body, err string
}{
	{"one issuer", `{"issuers":[{"issuer":"https://idp.example.com","name":"Example SSO","clientID":"raygate-cli","scopes":["openid","email"],"deviceAuthorization":true}]}`, ""},
	{"loopback http issuer", `{"issuers":[{"issuer":"http://127.0.0.1:5556/dex","name":"127.0.0.1:5556","clientID":"raygate-cli","deviceAuthorization":true}]}`, ""},
	{"none", `{"issuers":[]}`, ""},
	{"unknown fields are later additions", `{"issuers":[],"version":2}`, ""},
	{"no issuers list", `{}`, "no issuers list"},
	{"null issuers", `{"issuers":null}`, "no issuers list"},
	{"not JSON", `<html><body>Welcome to nginx!</body></html>`, "not JSON"},
	{"plain http issuer", `{"issuers":[{"issuer":"http://idp.example.com","clientID":"c"}]}`, "is not https"},
	{"issuer with a query", `{"issuers":[{"issuer":"https://idp.example.com?x=1","clientID":"c"}]}`, "is not a URL"},
	{"issuer with user info", `{"issuers":[{"issuer":"https://u:p@idp.example.com","clientID":"c"}]}`, "is not a URL"},
	{"no client id", `{"issuers":[{"issuer":"https://idp.example.com"}]}`, "is not a client id"},
	{"client id with a space", `{"issuers":[{"issuer":"https://idp.example.com","clientID":"a b"}]}`, "is not a client id"},
	{"escape sequence in the name", `{"issuers":[{"issuer":"https://idp.example.com","clientID":"c","name":"\u001b[31mSSO"}]}`, "control characters"},
	{"bad scope", `{"issuers":[{"issuer":"https://idp.example.com","clientID":"c","scopes":["openid","a\"b"]}]}`, "is not a scope"},
	{"twice", `{"issuers":[{"issuer":"https://idp.example.com","clientID":"c"},{"issuer":"https://idp.example.com","clientID":"d"}]}`, "listed twice"},
	{"too large", `{"issuers":[],"pad":"` + strings.Repeat("x", maxSize) + `"}`, "too large"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.body))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if d.Issuers == nil {
					t.Fatal("nil issuers")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestFind(t *testing.T) {
	d, err := Parse([]byte(parseCases[0].body))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"https://idp.example.com", "example sso", "Example SSO"} {
		if is, ok := d.Find(name); !ok || is.ClientID != "raygate-cli" {
			t.Errorf("Find(%q) = %+v, %v", name, is, ok)
		}
	}
	if _, ok := d.Find("https://idp.example.com/"); ok {
		t.Error("Find matched another issuer URL")
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(body)
		if err != nil {
			return
		}
		for _, is := range d.Issuers {
			if !strings.HasPrefix(is.Issuer, "https://") && !strings.HasPrefix(is.Issuer, "http://") {
				t.Fatalf("issuer %q", is.Issuer)
			}
			for _, s := range append([]string{is.Name, is.ClientID}, is.Scopes...) {
				if strings.IndexFunc(s, unicode.IsControl) >= 0 {
					t.Fatalf("control character in %q", s)
				}
			}
			if is.ClientID == "" {
				t.Fatal("empty client id")
			}
		}
	})
}
