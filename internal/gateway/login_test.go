package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/loginconfig"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
)

// newLoginGateway serves a gateway whose authentication section is auth
// (YAML under "authentication:").
func newLoginGateway(t *testing.T, auth string) (*Gateway, *httptest.Server, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "raygate.yaml")
	text := "listen: 127.0.0.1:0\nmetricsListen: 127.0.0.1:1\nauthentication:\n" + auth +
		"clusters:\n  - {namespace: team-a, name: ray1, upstream: http://127.0.0.1:1, access: [{role: viewer, groups: [team-a]}]}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := &syncBuffer{}
	g := New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(sink))
	st, err := g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(st, 0)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv, sink
}

func get(t *testing.T, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestLoginConfig: the document names the issuers with a cliClientID,
// their client ids and scopes, and whether each offers the device grant,
// to anyone, without credentials; it is audited and cacheable.
func TestLoginConfig(t *testing.T) {
	device := oidctest.New(t, oidctest.Options{Public: true, Device: true})
	plain := oidctest.New(t, oidctest.Options{Public: true})
	browserOnly := oidctest.New(t, oidctest.Options{})
	down := oidctest.New(t, oidctest.Options{Device: true})
	down.Server.Close()
	auth := fmt.Sprintf(`  sharedIssuerNamespace: true
  oidc:
    - {issuer: %s, audiences: [raygate, raygate-cli], cliClientID: raygate-cli, displayName: Device SSO}
    - {issuer: %s, audiences: [cli], cliClientID: cli, scopes: [openid, email, offline_access]}
    - {issuer: %s, audiences: [raygate]}
    - {issuer: %s, audiences: [cli], cliClientID: cli}
`, device.Issuer, plain.Issuer, browserOnly.Issuer, down.Issuer)
	g, srv, sink := newLoginGateway(t, auth)

	resp, body := get(t, "GET", srv.URL+loginconfig.Path, "Authorization", "Bearer not-even-a-token")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("%s %v\n%s", resp.Status, resp.Header, body)
	}
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	want := fmt.Sprintf(`{"issuers":[`+
		`{"issuer":"%s","name":"Device SSO","clientID":"raygate-cli","deviceAuthorization":true},`+
		`{"issuer":"%s","name":"%s","clientID":"cli","scopes":["openid","email","offline_access"],"deviceAuthorization":false},`+
		`{"issuer":"%s","name":"%s","clientID":"cli","deviceAuthorization":false}]}`,
		device.Issuer, plain.Issuer, host(plain.Issuer), down.Issuer, host(down.Issuer))
	if strings.TrimSpace(body) != want {
		t.Fatalf("login-config =\n%s\nwant\n%s", body, want)
	}
	if _, err := loginconfig.Parse([]byte(body)); err != nil {
		t.Fatalf("the command line cannot read it: %v", err)
	}
	evs := sink.events(t)
	if ev := evs[len(evs)-1]; ev.Action != ActionLoginConfig || ev.Decision != audit.Allow || ev.Reason != "public login configuration" || ev.User != "" || ev.Status != 200 {
		t.Fatalf("audit %+v", ev)
	}

	if resp, body := get(t, "HEAD", srv.URL+loginconfig.Path); resp.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: %s %q", resp.Status, body)
	}
	resp, _ = get(t, "POST", srv.URL+loginconfig.Path)
	if ev := sink.events(t); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || ev[len(ev)-1].Decision != audit.Deny {
		t.Fatalf("POST: %s, audit %+v", resp.Status, ev[len(ev)-1])
	}

	// A reload keeps the discovery already done: the device issuer's
	// answer survives it going away.
	st, err := g.Build(g.State().Config, g.State())
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(st, 0)
	device.Server.Close()
	if _, body := get(t, "GET", srv.URL+loginconfig.Path); !strings.Contains(body, `"clientID":"raygate-cli","deviceAuthorization":true`) {
		t.Fatalf("after a reload:\n%s", body)
	}
}

func TestLoginConfigWithoutTerminalSignIn(t *testing.T) {
	idp := oidctest.New(t, oidctest.Options{})
	_, srv, _ := newLoginGateway(t, fmt.Sprintf("  oidc:\n    - {issuer: %s, audiences: [raygate]}\n", idp.Issuer))
	resp, body := get(t, "GET", srv.URL+loginconfig.Path)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"issuers":[]}` {
		t.Fatalf("%s %s", resp.Status, body)
	}
}
