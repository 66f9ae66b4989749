package clilogin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/gateway"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/oidcclient/oidctest"
	"github.com/raygate/raygate/internal/tokencache"
)

// clock is a fake clock shared by the provider and the command line; a
// sleep moves it on.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// rig is a real gateway offering terminal sign-in with a fake provider,
// and a command line pointed at it.
type rig struct {
	idp   *oidctest.Provider
	gw    string
	clock *clock
	out   *syncBuf
	c     *Client
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newRig starts the provider with o (public client "raygate") and a
// gateway with cliClientID raygate; audiences lists the gateway's
// accepted audiences ("raygate" when empty).
func newRig(t *testing.T, o oidctest.Options, audiences ...string) *rig {
	t.Helper()
	r := &rig{clock: newClock(), out: &syncBuf{}}
	o.Public = true
	if o.Now == nil {
		o.Now = r.clock.Now
	}
	r.idp = oidctest.New(t, o)
	if len(audiences) == 0 {
		audiences = []string{"raygate"}
	}
	r.gw = startGateway(t, fmt.Sprintf("  oidc:\n    - {issuer: %s, audiences: [%s], cliClientID: raygate, displayName: Test SSO}\n", r.idp.Issuer, strings.Join(audiences, ", ")))
	r.c = &Client{
		HTTP: http.DefaultClient, Store: tokencache.Store{Dir: filepath.Join(t.TempDir(), "raygate")},
		Out: r.out, Now: r.clock.Now, Sleep: r.clock.Sleep,
	}
	return r
}

// startGateway serves a real gateway whose authentication section is
// auth, with team-a/ray1 for team-a-viewers, and returns its URL.
func startGateway(t *testing.T, auth string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raygate.yaml")
	text := "listen: 127.0.0.1:0\nmetricsListen: 127.0.0.1:1\nauthentication:\n" + auth +
		"clusters:\n  - {namespace: team-a, name: ray1, upstream: http://127.0.0.1:1, access: [{role: viewer, groups: [team-a-viewers]}]}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := gateway.New(metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(io.Discard))
	st, err := g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Swap(st, 0)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL
}

// browse plays a browser: it follows u through the provider's redirects
// to the loopback listener and returns the status and text of the page
// it ends on.
func browse(u string) (int, string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// wantErr checks that err is an *Error with exactly msg (ISSUER and GW
// stand for the rig's issuer and gateway).
func (r *rig) wantErr(t *testing.T, err error, msg string) {
	t.Helper()
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "ISSUER", r.idp.Issuer), "GW", r.gw)
	if _, ok := err.(*Error); !ok || err.Error() != msg {
		t.Fatalf("error %T %v\nwant: %s", err, err, msg)
	}
}

// serve starts a test server with h.
// refusing returns the URL of a loopback port that refuses connections
// for the whole test: bound, so that no other server of any test can take
// it, but not listening.
func refusing(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
