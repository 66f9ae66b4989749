package config

import (
	"errors"
	"strings"
	"testing"
)

const apiKeyOnly = "authentication:\n  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]\n"

func TestExternalURLDefault(t *testing.T) {
	for _, tc := range []struct {
		name, listen, tls, want string
	}{
		{"loopback http", "127.0.0.1:8080", "", "http://127.0.0.1:8080"},
		{"ipv6 loopback", "[::1]:9000", "", "http://[::1]:9000"},
		{"localhost", "localhost:8080", "", "http://localhost:8080"},
		{"loopback https", "127.0.0.1:8443", "tls: {certFile: testdata/tls/cert.pem, keyFile: testdata/tls/key.pem}\n", "https://127.0.0.1:8443"},
		{"all interfaces: cannot be guessed", "0.0.0.0:8080", "", ""},
		{"a public address: cannot be guessed", "10.0.0.5:8080", "", ""},
		{"port 0: not known before listening", "127.0.0.1:0", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte("listen: \""+tc.listen+"\"\n"+tc.tls+apiKeyOnly))
			if err != nil {
				t.Fatal(err)
			}
			if c.ExternalURL != tc.want {
				t.Fatalf("externalURL = %q, want %q", c.ExternalURL, tc.want)
			}
		})
	}
}

func TestLoginNeeds(t *testing.T) {
	const issuer = "authentication:\n  oidc:\n    - {issuer: https://idp.example.com, audiences: [raygate], login: true, clientID: raygate}\n"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"a session key", issuer, "authentication.session: browser sign-in needs at least one session key"},
		{"an external URL off loopback", "listen: 0.0.0.0:8080\n" + issuer + "  session: {keyFiles: [testdata/session.key]}\n", "externalURL: is required for browser sign-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.text))
			var ps Problems
			if !errors.As(err, &ps) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a problem containing %q", err, tc.want)
			}
		})
	}
	c, err := Parse("x.yaml", []byte(issuer+"  session: {keyFiles: [testdata/session.key]}\n"))
	if err != nil {
		t.Fatalf("loopback listen with a key file: %v", err)
	}
	if !c.LoginEnabled() {
		t.Fatal("LoginEnabled = false")
	}
	keys, err := SessionKeys(c.Authentication.Session)
	if err != nil || len(keys) != 1 || len(keys[0]) != SessionKeySize {
		t.Fatalf("SessionKeys = %d keys, %v", len(keys), err)
	}
}

func TestWarnings(t *testing.T) {
	c, err := Load("testdata/valid/browser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("warnings for secrets kept in files: %v", w)
	}
	text := "authentication:\n  oidc:\n    - {issuer: https://idp.example.com, audiences: [raygate], login: true, clientID: raygate, clientSecret: inline}\n" +
		"  session:\n    keys: [" + strings.Repeat("A", 43) + "=]\n"
	c, err = Parse("x.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Warnings().Error()
	for _, want := range []string{
		"x.yaml:3: authentication.oidc[0].clientSecret: warning: the client secret is written in the config; put it in a file and name it in clientSecretFile",
		"x.yaml:5: authentication.session.keys: warning: session keys are written in the config; put each in a file and name it in keyFiles",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings:\n%s\nlack:\n%s", got, want)
		}
	}
}

func TestDecodeSessionKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		ok        bool
	}{
		{"standard padded", strings.Repeat("A", 43) + "=", true},
		{"standard raw", strings.Repeat("A", 43), true},
		{"url alphabet", strings.Repeat("_", 43) + "=", true},
		{"surrounding space", "  " + strings.Repeat("A", 43) + "=\n", true},
		{"too short", "dG9vLXNob3J0", false},
		{"too long", strings.Repeat("A", 64), false},
		{"not base64", strings.Repeat("!", 44), false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeSessionKey(tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && len(b) != SessionKeySize {
				t.Fatalf("%d bytes", len(b))
			}
		})
	}
}

func TestFilesIncludeSecrets(t *testing.T) {
	c, err := Load("testdata/valid/browser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Join(c.Files(), "\n")
	for _, want := range []string{"testdata/client.secret", "testdata/session.key"} {
		if !strings.Contains(files, want) {
			t.Errorf("Files() lacks %s:\n%s", want, files)
		}
	}
}
