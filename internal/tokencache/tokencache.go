// Package tokencache keeps the raygate command line's sign-ins on disk, in
// the user's config folder: tokens.json holds, per gateway and issuer, the
// ID token, the refresh token and when they were issued; config.json
// remembers the gateway to use when none is given. tokens.json is written
// atomically (a new file renamed over the old) with mode 0600 in a folder
// created with mode 0700, and changed only under an exclusive lock, so
// commands running at once neither corrupt it nor refresh the same
// refresh token twice.
package tokencache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// File names in the folder.
const (
	TokensFile   = "tokens.json"
	SettingsFile = "config.json"
	lockFile     = "tokens.lock"
)

// EnvDir names the environment variable that overrides the folder.
const EnvDir = "RAYGATE_CONFIG_DIR"

// Version is the format of tokens.json.
const Version = 1

// maxFile bounds what is read from the folder.
const maxFile = 4 << 20

// DefaultDir is $RAYGATE_CONFIG_DIR, else raygate/ in the user's config
// folder (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config on Linux,
// ~/Library/Application Support on macOS, %AppData% on Windows).
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("tokencache: no config folder (set %s): %w", EnvDir, err)
	}
	return filepath.Join(base, "raygate"), nil
}

// Tokens is the content of tokens.json.
type Tokens struct {
	Version  int                 `json:"version"`
	Gateways map[string]*Gateway `json:"gateways"`
}

// Gateway is what is kept for one gateway (by its normalized URL).
type Gateway struct {
	// Issuer is the issuer of the last sign-in, the one commands use.
	Issuer string `json:"issuer"`
	// Logins are the sign-ins, by issuer URL.
	Logins map[string]*Login `json:"logins"`
}

// Login is one sign-in at one issuer. IDToken and RefreshToken are
// credentials: never print or log them unless asked.
type Login struct {
	// ClientID is the public client the tokens were issued to.
	ClientID string `json:"clientID"`
	// User names the person (the ID token's email, else its subject).
	User string `json:"user"`
	// IDToken is what is sent to the gateway as a bearer token.
	IDToken string `json:"idToken"`
	// RefreshToken renews IDToken; "" if the issuer gave none.
	RefreshToken string `json:"refreshToken,omitempty"`
	// IssuedAt and Expiry are the ID token's iat and exp.
	IssuedAt time.Time `json:"issuedAt"`
	Expiry   time.Time `json:"expiry"`
}

// Current returns the login commands use for gw, or nil.
func (t *Tokens) Current(gw string) *Login {
	g := t.Gateways[gw]
	if g == nil {
		return nil
	}
	return g.Logins[g.Issuer]
}

// Put records l as gw's sign-in at issuer and makes it the current one.
func (t *Tokens) Put(gw, issuer string, l *Login) {
	g := t.Gateways[gw]
	if g == nil {
		g = &Gateway{Logins: map[string]*Login{}}
		t.Gateways[gw] = g
	}
	g.Issuer = issuer
	g.Logins[issuer] = l
}

// Parse reads tokens.json. A file of another version, or one that is not
// this shape, is an error; so is a login without an ID token or with a
// token that is not one line of printable characters.
func Parse(b []byte) (*Tokens, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return &Tokens{Version: Version, Gateways: map[string]*Gateway{}}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Tokens
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("not a token file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a token file: data after the JSON object")
	}
	if t.Version != Version {
		return nil, fmt.Errorf("written by another version of raygate (format %d, this one reads %d)", t.Version, Version)
	}
	if t.Gateways == nil {
		t.Gateways = map[string]*Gateway{}
	}
	for gw, g := range t.Gateways {
		if g == nil || !token(gw) {
			return nil, fmt.Errorf("gateway %q: not a gateway entry", gw)
		}
		if g.Logins == nil {
			g.Logins = map[string]*Login{}
		}
		for iss, l := range g.Logins {
			if l == nil || !token(iss) || !token(l.IDToken) || (l.RefreshToken != "" && !token(l.RefreshToken)) || !text(l.User) || !text(l.ClientID) {
				return nil, fmt.Errorf("gateway %q: issuer %q: not a sign-in", gw, iss)
			}
		}
	}
	return &t, nil
}

// token accepts a non-empty run of printable characters without spaces.
func token(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// text accepts a string without control characters.
func text(s string) bool { return strings.IndexFunc(s, unicode.IsControl) < 0 }

// Marshal is t as tokens.json holds it.
func (t *Tokens) Marshal() []byte {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		panic(err) // only strings, maps and times
	}
	return append(b, '\n')
}

// Settings is the content of config.json.
type Settings struct {
	// Gateway is the gateway commands use when given none: the last one
	// signed in to.
	Gateway string `json:"gateway,omitempty"`
}

// Store is the folder the files live in.
type Store struct {
	Dir string
}

// Path is the path of one of the store's files.
func (s Store) Path(name string) string { return filepath.Join(s.Dir, name) }

// Load reads tokens.json; a missing file is an empty cache.
func (s Store) Load() (*Tokens, error) {
	b, err := s.read(TokensFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Parse(nil)
	}
	if err != nil {
		return nil, err
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("tokencache: %s: %w; remove it and sign in again", s.Path(TokensFile), err)
	}
	return t, nil
}

// Update changes tokens.json under the store's lock: it waits for the
// lock (until ctx ends), reads the file, calls fn and, if fn returns nil,
// writes the result atomically.
func (s Store) Update(ctx context.Context, fn func(*Tokens) error) error {
	if err := s.mkdir(); err != nil {
		return err
	}
	unlock, err := lock(ctx, s.Path(lockFile))
	if err != nil {
		return fmt.Errorf("tokencache: lock %s: %w", s.Path(lockFile), err)
	}
	defer unlock()
	t, err := s.Load()
	if err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	return s.write(TokensFile, t.Marshal())
}

// Settings reads config.json; a missing file is the zero Settings.
func (s Store) Settings() (Settings, error) {
	var st Settings
	b, err := s.read(SettingsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("tokencache: %s is not a raygate settings file: %w", s.Path(SettingsFile), err)
	}
	return st, nil
}

// SaveSettings writes config.json atomically.
func (s Store) SaveSettings(st Settings) error {
	if err := s.mkdir(); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	return s.write(SettingsFile, append(b, '\n'))
}

func (s Store) mkdir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("tokencache: %w", err)
	}
	return nil
}

// read reads one of the store's files, first narrowing a tokens file
// others can read to mode 0600.
func (s Store) read(name string) ([]byte, error) {
	p := s.Path(name)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("tokencache: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && name == TokensFile && st.Mode().Perm()&0o077 != 0 {
		_ = f.Chmod(0o600)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("tokencache: read %s: %w", p, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("tokencache: %s is larger than %d bytes", p, maxFile)
	}
	return b, nil
}

// write replaces one of the store's files atomically: a new file with mode
// 0600 in the same folder, synced, then renamed over the old one.
func (s Store) write(name string, b []byte) error {
	f, err := os.CreateTemp(s.Dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("tokencache: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename it is gone already
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("tokencache: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("tokencache: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tokencache: write %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tokencache: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.Path(name)); err != nil {
		return fmt.Errorf("tokencache: %w", err)
	}
	return nil
}
