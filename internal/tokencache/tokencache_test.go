package tokencache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func login(id string) *Login {
	return &Login{ClientID: "raygate-cli", User: "alice@example.com", IDToken: id, RefreshToken: "rt-" + id,
		IssuedAt: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), Expiry: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)}
}

func TestStoreRoundTrip(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "raygate")}
	empty, err := s.Load()
	if err != nil || len(empty.Gateways) != 0 {
		t.Fatalf("Load of nothing = %+v, %v", empty, err)
	}
	const gw, iss = "https://raygate.example.com", "https://idp.example.com"
	err = s.Update(context.Background(), func(tk *Tokens) error {
		tk.Put(gw, iss, login("a.b.c"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if l := got.Current(gw); l == nil || l.IDToken != "a.b.c" || l.RefreshToken != "rt-a.b.c" || !l.Expiry.Equal(login("").Expiry) {
		t.Fatalf("Current = %+v", l)
	}
	if got.Current("https://other.example.com") != nil {
		t.Fatal("a login for a gateway never signed in to")
	}
	for path, want := range map[string]os.FileMode{s.Dir: 0o700, s.Path(TokensFile): 0o600, s.Path(lockFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, st.Mode().Perm(), want, err)
		}
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// A failing change writes nothing.
	boom := errors.New("boom")
	if err := s.Update(context.Background(), func(tk *Tokens) error { delete(tk.Gateways, gw); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if got, _ := s.Load(); got.Current(gw) == nil {
		t.Fatal("a failed update was written")
	}
}

func TestLooseModeIsNarrowed(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := os.WriteFile(s.Path(TokensFile), []byte(`{"version":1,"gateways":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Path(TokensFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(s.Path(TokensFile)); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after reading", st.Mode().Perm())
	}
}

func TestDamagedFile(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := os.WriteFile(s.Path(TokensFile), []byte(`{"version":1,"gateways":{"https://gw":{"issuer":"x","logins":{"x":{"idToken":"a b"}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load()
	want := "tokencache: " + s.Path(TokensFile) + `: gateway "https://gw": issuer "x": not a sign-in; remove it and sign in again`
	if err == nil || err.Error() != want {
		t.Fatalf("Load = %v\nwant %s", err, want)
	}
}

var parseCases = []struct {
	name, text, err string
}{
	{"empty file", ``, ""},
	{"no gateways", `{"version":1}`, ""},
	{"one login", `{"version":1,"gateways":{"https://gw":{"issuer":"https://idp","logins":{"https://idp":{"clientID":"c","user":"alice@example.com","idToken":"a.b.c","refreshToken":"r","issuedAt":"2026-01-02T03:00:00Z","expiry":"2026-01-02T04:00:00Z"}}}}}`, ""},
	{"another version", `{"version":2,"gateways":{}}`, "written by another version of raygate (format 2, this one reads 1)"},
	{"unknown field", `{"version":1,"gateways":{},"x":1}`, `not a token file: json: unknown field "x"`},
	{"two objects", `{"version":1}{"version":1}`, "data after the JSON object"},
	{"not JSON", `hello`, "not a token file"},
	{"null gateway", `{"version":1,"gateways":{"https://gw":null}}`, "not a gateway entry"},
	{"null login", `{"version":1,"gateways":{"https://gw":{"issuer":"i","logins":{"i":null}}}}`, "not a sign-in"},
	{"no ID token", `{"version":1,"gateways":{"https://gw":{"issuer":"i","logins":{"i":{"clientID":"c"}}}}}`, "not a sign-in"},
	{"newline in a refresh token", `{"version":1,"gateways":{"https://gw":{"issuer":"i","logins":{"i":{"idToken":"a","refreshToken":"r\nx"}}}}}`, "not a sign-in"},
	{"escape in the user", `{"version":1,"gateways":{"https://gw":{"issuer":"i","logins":{"i":{"idToken":"a","user":"\u001b[2J"}}}}}`, "not a sign-in"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := Parse([]byte(tc.text))
			if tc.err == "" {
				if err != nil || tk.Gateways == nil || tk.Version != Version {
					t.Fatalf("Parse = %+v, %v", tk, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.text))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := Parse(b)
		if err != nil {
			return
		}
		// What was accepted is written back and read again unchanged.
		out := tk.Marshal()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-reading %s: %v", out, err)
		}
		if !bytes.Equal(again.Marshal(), out) {
			t.Fatalf("round trip changed %s", out)
		}
	})
}

// TestConcurrentUpdates: commands changing the file at once lose nothing.
func TestConcurrentUpdates(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(context.Background(), func(tk *Tokens) error {
				time.Sleep(2 * time.Millisecond) // between reading and writing
				tk.Put(fmt.Sprintf("https://gw%d", i), "https://idp", login(fmt.Sprintf("t%d", i)))
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	tk, err := s.Load()
	if err != nil || len(tk.Gateways) != n {
		t.Fatalf("%d gateways after %d updates at once (%v)", len(tk.Gateways), n, err)
	}
}

func TestLockWaitEndsWithContext(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Update(context.Background(), func(*Tokens) error { close(held); <-release; return nil })
	}()
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Update(ctx, func(*Tokens) error { t.Error("ran without the lock"); return nil })
	if err == nil || !strings.Contains(err.Error(), "another raygate command holds it") {
		t.Fatalf("Update while locked = %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSettings(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "new")}
	if st, err := s.Settings(); err != nil || st.Gateway != "" {
		t.Fatalf("Settings of nothing = %+v, %v", st, err)
	}
	if err := s.SaveSettings(Settings{Gateway: "https://raygate.example.com"}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Settings(); err != nil || st.Gateway != "https://raygate.example.com" {
		t.Fatalf("Settings = %+v, %v", st, err)
	}
	if err := os.WriteFile(s.Path(SettingsFile), []byte("gateway = x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settings(); err == nil || !strings.Contains(err.Error(), "is not a raygate settings file") {
		t.Fatalf("Settings of a damaged file = %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(EnvDir, "/tmp/rg-x")
	if d, err := DefaultDir(); err != nil || d != "/tmp/rg-x" {
		t.Fatalf("DefaultDir = %s, %v", d, err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	t.Setenv(EnvDir, "")
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg")
	if d, err := DefaultDir(); err != nil || d != "/tmp/xdg/raygate" {
		t.Fatalf("DefaultDir = %s, %v", d, err)
	}
}
