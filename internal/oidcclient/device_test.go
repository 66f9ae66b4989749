package oidcclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/oidcclient"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
)

func TestDeviceGrant(t *testing.T) {
	idp := oidctest.New(t, oidctest.Options{Public: true, Device: true, Revocation: true})
	ctx := context.Background()
	p, err := oidcclient.Discover(ctx, http.DefaultClient, idp.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if !p.OffersDeviceGrant() || p.RevocationEndpoint == "" {
		t.Fatalf("provider %+v offers no device grant or revocation", p)
	}
	c := &oidcclient.Client{ID: idp.ClientID, Scopes: []string{"openid", "email", "offline_access"}, HTTP: http.DefaultClient}
	d, err := c.AuthorizeDevice(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if d.UserCode != "WDJB-MJHT" || !strings.HasSuffix(d.VerificationURI, "/device") || !strings.Contains(d.VerificationURIComplete, "user_code=WDJB-MJHT") ||
		d.Interval != 5*time.Second || d.ExpiresIn != 10*time.Minute {
		t.Fatalf("device authorization %+v", d)
	}
	if got := strings.Join(idp.DeviceScopes(), " "); got != "openid email offline_access" {
		t.Fatalf("scopes sent %q", got)
	}
	idp.DeviceAnswers("authorization_pending", "slow_down")
	for _, want := range []string{oidcclient.ErrAuthorizationPending, oidcclient.ErrSlowDown} {
		_, err := c.PollDevice(ctx, p, d.DeviceCode)
		var te *oidcclient.TokenError
		if !errors.As(err, &te) || te.Code != want {
			t.Fatalf("poll = %v, want %s", err, want)
		}
	}
	tok, err := c.PollDevice(ctx, p, d.DeviceCode)
	if err != nil || tok.IDToken == "" || tok.RefreshToken == "" {
		t.Fatalf("approved poll = %+v, %v", tok, err)
	}
	if err := c.Revoke(ctx, p, tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if got := idp.Revoked(); len(got) != 1 || got[0] != tok.RefreshToken {
		t.Fatalf("revoked %v", got)
	}
	if _, err := c.Refresh(ctx, p, tok.RefreshToken); err == nil {
		t.Fatal("a revoked refresh token still works")
	}
}

func TestNoDeviceGrantOrRevocation(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    oidcclient.Provider
		want bool
	}{
		{"no endpoint", oidcclient.Provider{}, false},
		{"endpoint, grants not listed", oidcclient.Provider{DeviceAuthorizationEndpoint: "https://idp/device"}, true},
		{"endpoint, grant listed", oidcclient.Provider{DeviceAuthorizationEndpoint: "https://idp/device", GrantTypesSupported: []string{"authorization_code", oidcclient.GrantTypeDeviceCode}}, true},
		// Dex advertises the endpoint always and lists the grant only when allowed.
		{"endpoint, grant not allowed", oidcclient.Provider{DeviceAuthorizationEndpoint: "https://idp/device", GrantTypesSupported: []string{"authorization_code"}}, false},
	} {
		if got := tc.p.OffersDeviceGrant(); got != tc.want {
			t.Errorf("%s: OffersDeviceGrant = %v", tc.name, got)
		}
	}
	c := &oidcclient.Client{ID: "cli", HTTP: http.DefaultClient}
	if err := c.Revoke(context.Background(), &oidcclient.Provider{}, "rt", "refresh_token"); !errors.Is(err, oidcclient.ErrNoRevocation) {
		t.Fatalf("Revoke without an endpoint = %v", err)
	}
	if _, err := c.AuthorizeDevice(context.Background(), &oidcclient.Provider{}); err == nil {
		t.Fatal("AuthorizeDevice without an endpoint")
	}
}

// TestDeviceAuthorizationErrors: a provider refusing the device request
// is a TokenError with its code.
func TestDeviceAuthorizationErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unauthorized_client","error_description":"the device grant is not enabled for this client"}`))
	}))
	defer srv.Close()
	c := &oidcclient.Client{ID: "cli", HTTP: http.DefaultClient}
	_, err := c.AuthorizeDevice(context.Background(), &oidcclient.Provider{DeviceAuthorizationEndpoint: srv.URL})
	var te *oidcclient.TokenError
	if !errors.As(err, &te) || te.Code != "unauthorized_client" || !strings.Contains(te.Description, "not enabled") {
		t.Fatalf("AuthorizeDevice = %v", err)
	}
}

var deviceCases = []struct {
	name, body, err string
}{
	{"complete", `{"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"https://idp.example/device","verification_uri_complete":"https://idp.example/device?c=ABCD-EFGH","expires_in":600,"interval":7}`, ""},
	{"Google's verification_url", `{"device_code":"dc","user_code":"ABCD","verification_url":"https://www.google.com/device","expires_in":1800}`, ""},
	{"numbers as strings", `{"device_code":"dc","user_code":"ABCD","verification_uri":"https://idp/d","expires_in":"600","interval":"5"}`, ""},
	{"no device code", `{"user_code":"ABCD","verification_uri":"https://idp/d","expires_in":600}`, "no device_code"},
	{"no user code", `{"device_code":"dc","verification_uri":"https://idp/d","expires_in":600}`, "no usable user_code"},
	{"terminal escape in user code", `{"device_code":"dc","user_code":"\u001b[2J","verification_uri":"https://idp/d","expires_in":600}`, "no usable user_code"},
	{"C1 control in user code", `{"device_code":"dc","user_code":"AB\u009bCD","verification_uri":"https://idp/d","expires_in":600}`, "no usable user_code"},
	{"plain http verification uri", `{"device_code":"dc","user_code":"ABCD","verification_uri":"http://idp.example/d","expires_in":600}`, "no https verification_uri"},
	{"javascript verification uri", `{"device_code":"dc","user_code":"ABCD","verification_uri":"javascript:alert(1)","expires_in":600}`, "no https verification_uri"},
	{"no expiry", `{"device_code":"dc","user_code":"ABCD","verification_uri":"https://idp/d"}`, "no valid expires_in"},
	{"huge expiry", `{"device_code":"dc","user_code":"ABCD","verification_uri":"https://idp/d","expires_in":99999999999999}`, "no valid expires_in"},
	{"negative interval", `{"device_code":"dc","user_code":"ABCD","verification_uri":"https://idp/d","expires_in":600,"interval":-1}`, "invalid interval"},
	{"not JSON", `<html>`, "not JSON"},
}

func TestParseDeviceAuthorization(t *testing.T) {
	for _, tc := range deviceCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := oidcclient.ParseDeviceAuthorization([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.DeviceCode != "dc" || d.ExpiresIn < 10*time.Minute || d.Interval < 5*time.Second || d.VerificationURI == "" {
				t.Fatalf("parsed %+v", d)
			}
		})
	}
	d, _ := oidcclient.ParseDeviceAuthorization([]byte(deviceCases[0].body))
	if d.Interval != 7*time.Second || d.ExpiresIn != 600*time.Second || d.VerificationURIComplete == "" {
		t.Fatalf("parsed %+v", d)
	}
}

func FuzzParseDeviceAuthorization(f *testing.F) {
	for _, tc := range deviceCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := oidcclient.ParseDeviceAuthorization(body)
		if err != nil {
			return
		}
		if d.DeviceCode == "" || d.UserCode == "" || d.Interval <= 0 || d.ExpiresIn <= 0 {
			t.Fatalf("accepted %+v", d)
		}
		for _, r := range d.UserCode {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("user code with a control character: %q", d.UserCode)
			}
		}
		if !strings.HasPrefix(d.VerificationURI, "https://") && !strings.HasPrefix(d.VerificationURI, "http://") {
			t.Fatalf("verification URI %q", d.VerificationURI)
		}
	})
}

var tokenCases = []struct {
	name   string
	status int
	body   string
	code   string // "" for success
}{
	{"tokens", 200, `{"id_token":"a.b.c","refresh_token":"r","access_token":"x","expires_in":3600}`, ""},
	{"expires_in as a string", 200, `{"id_token":"a.b.c","expires_in":"3600"}`, ""},
	{"pending", 400, `{"error":"authorization_pending"}`, "authorization_pending"},
	{"denied with a description", 400, `{"error":"access_denied","error_description":"the user said no"}`, "access_denied"},
	{"escape sequence in the code", 400, `{"error":"\u001b]0;pwned\u0007"}`, "unexpected_response"},
	{"HTML error page", 502, `<html>bad gateway</html>`, "unexpected_response"},
	{"empty error", 401, `{}`, "unexpected_response"},
}

func TestParseTokenResponse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range tokenCases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := oidcclient.ParseTokenResponse(tc.status, []byte(tc.body), now)
			if tc.code == "" {
				if err != nil || tok.IDToken != "a.b.c" || tok.Expiry != now.Add(time.Hour) {
					t.Fatalf("= %+v, %v", tok, err)
				}
				return
			}
			var te *oidcclient.TokenError
			if !errors.As(err, &te) || te.Code != tc.code || te.Status != tc.status {
				t.Fatalf("= %v, want %s", err, tc.code)
			}
		})
	}
	_, err := oidcclient.ParseTokenResponse(400, []byte(`{"error":"invalid_grant","error_description":"line one\nline two"}`), now)
	if te := (*oidcclient.TokenError)(nil); !errors.As(err, &te) || te.Description != "" {
		t.Fatalf("a description with a newline was kept: %v", err)
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, tc := range tokenCases {
		f.Add(tc.status, []byte(tc.body))
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		tok, err := oidcclient.ParseTokenResponse(status, body, now)
		if err == nil {
			if status != 200 || tok == nil {
				t.Fatalf("status %d gave tokens", status)
			}
			if !tok.Expiry.IsZero() && !tok.Expiry.After(now) {
				t.Fatalf("expiry %v not after now", tok.Expiry)
			}
			return
		}
		var te *oidcclient.TokenError
		if errors.As(err, &te) {
			for _, r := range te.Error() {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character in %q", te.Error())
				}
			}
		}
	})
}
