package harness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Components locates the real programs a Stack runs.
type Components struct {
	// RayVenv is the virtualenv from scripts/install-ray.sh.
	RayVenv string
	// DexBin is the binary from scripts/build-dex.sh.
	DexBin string
	// RaygateBin is a built raygate binary.
	RaygateBin string
}

// Stack is the demo topology: a Dex identity provider, two Ray clusters
// (team-a/ray1 and team-b/ray1) with token authentication on, and raygate
// in front of both.
type Stack struct {
	Dir     string
	Dex     *Dex
	RayA    *Ray
	RayB    *Ray
	Gateway *Raygate
	// TapA records what reaches team-a's Ray head, when requested.
	TapA *Tap
	// APIKey authenticates as ci-bot, a developer on team-a.
	APIKey string
	// Config is the gateway's config as built.
	Config GatewayConfig
	// SessionKey is the gateway's session key (tests forge cookies with
	// it); SessionKeyFile holds it, base64-encoded.
	SessionKey     []byte
	SessionKeyFile string
}

// StackOptions tune StartStack.
type StackOptions struct {
	// TapTeamA puts a recording Tap between the gateway and team-a's head.
	TapTeamA bool
	// GatewayPort is the port raygate should listen on, if free; 0 picks
	// any free port.
	GatewayPort int
	// Log receives progress lines; may be nil.
	Log func(format string, args ...any)
	// RootIssuer serves Dex at the root of its address rather than under
	// /dex, so that raygate login's browser flow works too (see
	// DexOptions.RootIssuer).
	RootIssuer bool
}

// StartStack starts every component under dir. On error, whatever started
// is stopped.
func StartStack(ctx context.Context, c Components, dir string, opts StackOptions) (s *Stack, err error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s = &Stack{Dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	// The gateway's port comes first: Dex must know its callback URL.
	port := opts.GatewayPort
	if port == 0 || !portsFree(port) {
		if port, err = FreePort(); err != nil {
			return s, err
		}
	}
	gw := fmt.Sprintf("http://127.0.0.1:%d", port)
	logf("starting Dex (OpenID Connect provider)")
	if s.Dex, err = StartDexWith(ctx, c.DexBin, dir, DexOptions{RedirectURIs: []string{gw + "/_raygate/callback", gw + "/_raygate/signed-out"}, RootIssuer: opts.RootIssuer}); err != nil {
		return s, err
	}
	login, err := s.writeLoginFiles(dir)
	if err != nil {
		return s, err
	}
	logf("starting Ray clusters team-a/ray1 and team-b/ray1 (token authentication on)")
	var wg sync.WaitGroup
	var errA, errB error
	wg.Add(2)
	go func() { defer wg.Done(); s.RayA, errA = StartRay(ctx, c.RayVenv, dir, "team-a-ray1") }()
	go func() { defer wg.Done(); s.RayB, errB = StartRay(ctx, c.RayVenv, dir, "team-b-ray1") }()
	wg.Wait()
	if err = joinErrs(errA, errB); err != nil {
		return s, err
	}
	upA := s.RayA.Dashboard
	if opts.TapTeamA {
		if s.TapA, err = StartTap(upA); err != nil {
			return s, err
		}
		upA = s.TapA.URL
	}
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	s.APIKey = "rg_" + hex.EncodeToString(key)
	sum := sha256.Sum256([]byte(s.APIKey))
	s.Config = GatewayConfig{
		Issuer:  s.Dex.Issuer,
		Login:   login,
		CLI:     true,
		APIKeys: []string{fmt.Sprintf("{name: ci-bot, sha256: %s, user: ci-bot, groups: [team-a]}", hex.EncodeToString(sum[:]))},
		Clusters: []ClusterConfig{
			{Namespace: "team-a", Name: "ray1", Upstream: upA, TokenFile: s.RayA.TokenFile, Access: []string{
				"{role: developer, groups: [team-a]}",
				"{role: viewer, groups: [team-a-viewers]}",
				"{role: admin, groups: [platform-admins]}",
			}},
			{Namespace: "team-b", Name: "ray1", Upstream: s.RayB.Dashboard, TokenFile: s.RayB.TokenFile, Access: []string{
				"{role: developer, groups: [team-b]}",
				"{role: admin, groups: [platform-admins]}",
			}},
		},
	}
	logf("starting raygate")
	if s.Gateway, err = StartRaygateOn(ctx, c.RaygateBin, dir, "raygate", port, s.Config); err != nil {
		return s, err
	}
	if s.Gateway.URL != gw {
		return s, fmt.Errorf("port %d was taken while the stack started; sign-in would not come back to raygate (try again)", port)
	}
	return s, nil
}

// writeLoginFiles writes the client secret and a fresh session key for
// browser sign-in.
func (s *Stack) writeLoginFiles(dir string) (*LoginConfig, error) {
	s.SessionKey = make([]byte, 32)
	_, _ = rand.Read(s.SessionKey)
	l := &LoginConfig{ClientSecretFile: filepath.Join(dir, "client.secret"), SessionKeyFile: filepath.Join(dir, "session.key")}
	s.SessionKeyFile = l.SessionKeyFile
	if err := os.WriteFile(l.ClientSecretFile, []byte(ClientSecret+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.SessionKeyFile, []byte(base64.StdEncoding.EncodeToString(s.SessionKey)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return l, nil
}

// Stop stops every component that was started.
func (s *Stack) Stop() {
	if s == nil {
		return
	}
	if s.Gateway != nil {
		s.Gateway.Stop()
	}
	if s.TapA != nil {
		s.TapA.Close()
	}
	var wg sync.WaitGroup
	for _, r := range []*Ray{s.RayA, s.RayB} {
		if r != nil {
			wg.Add(1)
			go func() { defer wg.Done(); r.Stop() }()
		}
	}
	wg.Wait()
	if s.Dex != nil {
		s.Dex.Proc.Stop(5 * time.Second)
	}
}
