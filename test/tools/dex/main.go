// Command dex runs a Dex OpenID Connect provider for raygate's demo and
// end-to-end tests: in-memory storage, the local password connector, static
// users with groups and static clients (with the redirect URIs of raygate's
// browser sign-in), refresh tokens that rotate, all read from one JSON
// file. It allows the authorization code, device code (RFC 8628),
// password, refresh token and client credentials grants.
//
//	dex -config dex.json
//
// It listens on the loopback address the file names and stops on SIGINT or
// SIGTERM.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/dexidp/dex/server"
	"github.com/dexidp/dex/server/signer"
	"github.com/dexidp/dex/server/tokens"
	"github.com/dexidp/dex/storage"
	"github.com/dexidp/dex/storage/memory"
)

type user struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

type client struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	RedirectURIs []string `json:"redirectURIs"`
	Public       bool     `json:"public"`
}

type config struct {
	Issuer       string `json:"issuer"`
	Listen       string `json:"listen"`
	Algorithm    string `json:"algorithm"`    // RS256 (default) or ES256
	IDTokenTTL   string `json:"idTokenTTL"`   // default 1h
	KeysRotation string `json:"keysRotation"` // default 6h
	// RefreshReuseInterval is how long a rotated refresh token still
	// works (Dex's expiry.refreshTokens.reuseInterval); default 3s.
	RefreshReuseInterval string `json:"refreshReuseInterval"`
	// DeviceRequestsValidFor is how long a device code works; default 5m.
	DeviceRequestsValidFor string   `json:"deviceRequestsValidFor"`
	Clients                []client `json:"clients"`
	Users                  []user   `json:"users"`
}

func main() {
	path := flag.String("config", "", "path of the JSON config file")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, "dex:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ttl, err := time.ParseDuration(orDefault(c.IDTokenTTL, "1h"))
	if err != nil {
		return fmt.Errorf("idTokenTTL: %w", err)
	}
	deviceTTL, err := time.ParseDuration(orDefault(c.DeviceRequestsValidFor, "5m"))
	if err != nil {
		return fmt.Errorf("deviceRequestsValidFor: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store := memory.New(logger)
	for _, cl := range c.Clients {
		if err := store.CreateClient(ctx, storage.Client{
			ID: cl.ID, Secret: cl.Secret, RedirectURIs: cl.RedirectURIs, Public: cl.Public, Name: cl.ID,
		}); err != nil {
			return fmt.Errorf("client %s: %w", cl.ID, err)
		}
	}
	for i, u := range c.Users {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), 10)
		if err != nil {
			return err
		}
		if err := store.CreatePassword(ctx, storage.Password{
			Email: u.Email, Hash: hash, Username: u.Username,
			UserID: fmt.Sprintf("user-%d", i), Groups: u.Groups,
		}); err != nil {
			return fmt.Errorf("user %s: %w", u.Email, err)
		}
	}
	store = refreshOutsideLock{storage.WithStaticConnectors(store, []storage.Connector{{ID: "local", Type: "local", Name: "Email"}})}

	sc := signer.LocalConfig{KeysRotationPeriod: orDefault(c.KeysRotation, "6h"), Algorithm: jose.SignatureAlgorithm(orDefault(c.Algorithm, "RS256"))}
	sig, err := sc.Open(ctx, store, ttl, time.Now, logger)
	if err != nil {
		return err
	}
	// Refresh tokens rotate on use, as Dex does by default.
	refresh, err := tokens.NewRefreshTokenPolicy(logger, false, "", "", orDefault(c.RefreshReuseInterval, "3s"))
	if err != nil {
		return err
	}
	srv, err := server.NewServer(ctx, server.Config{
		Issuer:  c.Issuer,
		Storage: store,
		AllowedGrantTypes: []string{
			"authorization_code", "password", "refresh_token", "client_credentials",
			"urn:ietf:params:oauth:grant-type:device_code",
		},
		DeviceRequestsValidFor: deviceTTL,
		SkipApprovalScreen:     true,
		PasswordConnector:      "local",
		IDTokensValidFor:       ttl,
		RefreshTokenPolicy:     refresh,
		Logger:                 logger,
		Signer:                 sig,
	})
	if err != nil {
		return err
	}
	hs := &http.Server{Addr: c.Listen, Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "dex: serving %s on %s\n", c.Issuer, c.Listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// refreshOutsideLock runs UpdateRefreshToken's updater outside the
// in-memory storage's lock. Dex's refresh grant reads the storage from
// inside that updater (the offline session, for the connector data), and
// the memory storage's lock is not re-entrant, so a refresh would hang
// forever. The updated token is written only if the stored one did not
// change in between, as the transaction it replaces would guarantee.
type refreshOutsideLock struct{ storage.Storage }

func (s refreshOutsideLock) UpdateRefreshToken(ctx context.Context, id string, updater func(storage.RefreshToken) (storage.RefreshToken, error)) error {
	old, err := s.Storage.GetRefresh(ctx, id)
	if err != nil {
		return err
	}
	updated, err := updater(old)
	if err != nil {
		return err
	}
	return s.Storage.UpdateRefreshToken(ctx, id, func(cur storage.RefreshToken) (storage.RefreshToken, error) {
		if !reflect.DeepEqual(cur, old) {
			return cur, errors.New("refresh token changed while it was being updated")
		}
		return updated, nil
	})
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
