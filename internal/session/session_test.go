package session

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func codec(t testing.TB, keys ...[]byte) *Codec {
	t.Helper()
	c, err := NewCodec(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testSession() *Session {
	return &Session{
		ID: "sid-1", Issuer: "https://idp.example.com", Subject: "u1",
		User: "carol@example.com", Groups: []string{"team-a-viewers"},
		SignedIn: 1_800_000_000, Expires: 1_800_003_600, RefreshToken: "rt-1",
	}
}

func testLogin() *Login {
	return &Login{
		State: strings.Repeat("s", 43), Nonce: strings.Repeat("n", 43), Verifier: strings.Repeat("v", 43),
		Issuer: "https://idp.example.com", Return: "/clusters/team-a/ray1/", Expires: 1_800_000_600,
	}
}

func TestCodec(t *testing.T) {
	old, cur, stranger := codec(t, key(1)), codec(t, key(2), key(1)), codec(t, key(3))
	sealedOld, err := old.Seal("p", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	sealedCur, _ := cur.Seal("p", []byte("hello"))
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	for _, tc := range []struct {
		name    string
		c       *Codec
		purpose string
		value   string
		want    error
	}{
		{"the sealing codec opens", old, "p", sealedOld, nil},
		{"a rotated codec opens a value sealed with its second key", cur, "p", sealedOld, nil},
		{"a rotated codec opens what it sealed", cur, "p", sealedCur, nil},
		{"the old codec cannot open what the new key sealed", old, "p", sealedCur, ErrUnknownKey},
		{"another deployment's value", stranger, "p", sealedOld, ErrUnknownKey},
		{"another purpose", old, "q", sealedOld, ErrInvalid},
		{"a flipped ciphertext bit", old, "p", flip(sealedOld, len(sealedOld)-3), ErrInvalid},
		{"a flipped nonce bit", old, "p", flip(sealedOld, 10), ErrInvalid},
		{"truncated", old, "p", sealedOld[:len(sealedOld)-4], ErrInvalid},
		{"empty", old, "p", "", ErrInvalid},
		{"not base64url", old, "p", "!!!" + sealedOld, ErrInvalid},
		{"padded base64", old, "p", sealedOld + "==", ErrInvalid},
		{"too long", old, "p", strings.Repeat("A", MaxSealed+1), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.c.Open(tc.purpose, tc.value)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
			}
			if tc.want == nil && string(pt) != "hello" {
				t.Fatalf("Open = %q", pt)
			}
		})
	}
	if _, err := NewCodec(nil); err == nil {
		t.Error("NewCodec without keys succeeded")
	}
	if _, err := NewCodec([][]byte{make([]byte, 16)}); err == nil {
		t.Error("NewCodec with a 16-byte key succeeded")
	}
}

func TestSessionRecord(t *testing.T) {
	c := codec(t, key(1))
	v, err := c.EncodeSession(testSession())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DecodeSession(v)
	if err != nil || got.User != "carol@example.com" || got.RefreshToken != "rt-1" || got.ExpiresAt().Unix() != 1_800_003_600 {
		t.Fatalf("DecodeSession = %+v, %v", got, err)
	}
	if _, err := c.DecodeLogin(v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a session opened as a sign-in: %v", err)
	}
	for name, mod := range map[string]func(*Session){
		"no user":               func(s *Session) { s.User = "" },
		"control char in user":  func(s *Session) { s.User = "a\nb" },
		"control char in group": func(s *Session) { s.Groups = []string{"ok", "b\x00"} },
		"no subject":            func(s *Session) { s.Subject = "" },
		"no expiry":             func(s *Session) { s.Expires = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			s := testSession()
			mod(s)
			if _, err := c.EncodeSession(s); err == nil {
				t.Fatal("encoded")
			}
		})
	}
}

func TestLoginRecord(t *testing.T) {
	c := codec(t, key(1))
	for _, tc := range []struct {
		name string
		mod  func(*Login)
		want error
	}{
		{"complete", func(*Login) {}, nil},
		{"no verifier", func(l *Login) { l.Verifier = "" }, ErrNoVerifier},
		{"a verifier too short for PKCE", func(l *Login) { l.Verifier = "short" }, ErrNoVerifier},
		{"no nonce", func(l *Login) { l.Nonce = "" }, errRecord},
		{"short state", func(l *Login) { l.State = "abc" }, errRecord},
		{"no return path", func(l *Login) { l.Return = "" }, errRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLogin()
			tc.mod(l)
			// Seal without the check, as a forged cookie would be.
			b := fmt.Sprintf(`{"st":%q,"n":%q,"v":%q,"iss":%q,"rd":%q,"exp":%d}`, l.State, l.Nonce, l.Verifier, l.Issuer, l.Return, l.Expires)
			v, _ := c.Seal(purposeLogin, []byte(b))
			if _, err := c.DecodeLogin(v); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeLogin: %v, want %v", err, tc.want)
			}
		})
	}
}

// roundTrip writes cookies with write and returns a request that carries
// them back, as a browser would.
func roundTrip(write func(w http.ResponseWriter)) (*httptest.ResponseRecorder, *http.Request) {
	rec := httptest.NewRecorder()
	write(rec)
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return rec, r
}

func TestJarSession(t *testing.T) {
	for _, secure := range []bool{true, false} {
		j := &Jar{Codec: codec(t, key(1)), Secure: secure}
		big := testSession()
		for i := 0; i < 400; i++ {
			big.Groups = append(big.Groups, fmt.Sprintf("group-with-a-long-name-%04d", i))
		}
		for _, s := range []*Session{testSession(), big} {
			rec, r := roundTrip(func(w http.ResponseWriter) {
				if err := j.WriteSession(w, httptest.NewRequest("GET", "/", nil), s, time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			})
			cookies := rec.Result().Cookies()
			for _, c := range cookies {
				if c.Secure != secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
					t.Errorf("cookie %s: secure=%v httpOnly=%v sameSite=%v path=%q domain=%q", c.Name, c.Secure, c.HttpOnly, c.SameSite, c.Path, c.Domain)
				}
				if secure != strings.HasPrefix(c.Name, "__Host-") {
					t.Errorf("cookie %s: __Host- prefix when secure=%v", c.Name, secure)
				}
				if line := c.String(); len(line) > 4000 {
					t.Errorf("cookie %s is %d bytes, more than browsers keep", c.Name, len(line))
				}
			}
			if len(s.Groups) > 100 && len(cookies) < 2 {
				t.Errorf("a %d-group session was not chunked", len(s.Groups))
			}
			got, err := j.ReadSession(r)
			if err != nil || got.User != s.User || len(got.Groups) != len(s.Groups) {
				t.Fatalf("secure=%v: ReadSession = %v", secure, err)
			}
		}
	}
}

// TestJarShrinks: a smaller session replacing a chunked one expires the
// chunks it no longer uses.
func TestJarShrinks(t *testing.T) {
	j := &Jar{Codec: codec(t, key(1)), Secure: true}
	big := testSession()
	for i := 0; i < 400; i++ {
		big.Groups = append(big.Groups, fmt.Sprintf("group-with-a-long-name-%04d", i))
	}
	_, r := roundTrip(func(w http.ResponseWriter) {
		_ = j.WriteSession(w, httptest.NewRequest("GET", "/", nil), big, time.Now().Add(time.Hour))
	})
	rec := httptest.NewRecorder()
	if err := j.WriteSession(rec, r, testSession(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			expired++
			if c.Name == SecureSessionName {
				t.Fatal("the session cookie itself was expired")
			}
		}
	}
	if expired == 0 {
		t.Fatal("stale chunks were not expired")
	}
}

func TestJarReadSessionRefuses(t *testing.T) {
	j := &Jar{Codec: codec(t, key(1)), Secure: true}
	other := &Jar{Codec: codec(t, key(9)), Secure: true}
	valid, _ := j.Codec.EncodeSession(testSession())
	fromOther, _ := other.Codec.EncodeSession(testSession())
	for _, tc := range []struct {
		name    string
		cookies []string
		want    error
	}{
		{"no cookie", nil, ErrNoSession},
		{"valid", []string{SecureSessionName + "=" + valid}, nil},
		{"tampered", []string{SecureSessionName + "=" + valid[:40] + "A" + valid[41:]}, ErrInvalid},
		{"another key", []string{SecureSessionName + "=" + fromOther}, ErrUnknownKey},
		{"twice", []string{SecureSessionName + "=" + valid, SecureSessionName + "=" + valid}, ErrInvalid},
		{"plain name on https", []string{PlainSessionName + "=" + valid}, ErrNoSession},
		{"a stray chunk", []string{SecureSessionName + "=" + valid, SecureSessionName + "-1=x"}, ErrInvalid},
		{"chunk count without chunks", []string{SecureSessionName + "=3~" + valid}, ErrInvalid},
		{"chunk count of one", []string{SecureSessionName + "=1~" + valid}, ErrInvalid},
		{"chunk count with a leading zero", []string{SecureSessionName + "=02~" + valid[:10], SecureSessionName + "-1=" + valid[10:]}, ErrInvalid},
		{"chunks in the wrong order", []string{SecureSessionName + "=2~" + valid[10:], SecureSessionName + "-1=" + valid[:10]}, ErrInvalid},
		{"chunks in order", []string{SecureSessionName + "=2~" + valid[:10], SecureSessionName + "-1=" + valid[10:]}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if len(tc.cookies) > 0 {
				r.Header.Set("Cookie", strings.Join(tc.cookies, "; "))
			}
			s, err := j.ReadSession(r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadSession = %+v, %v; want %v", s, err, tc.want)
			}
		})
	}
}

func TestJarLogin(t *testing.T) {
	j := &Jar{Codec: codec(t, key(1)), Secure: true}
	l := testLogin()
	rec, r := roundTrip(func(w http.ResponseWriter) {
		if err := j.WriteLogin(w, l); err != nil {
			t.Fatal(err)
		}
	})
	c := rec.Result().Cookies()[0]
	if !strings.HasPrefix(c.Name, "__Host-raygate-login-") || c.MaxAge != int(LoginLifetime.Seconds()) || !c.HttpOnly || !c.Secure {
		t.Fatalf("login cookie %+v", c)
	}
	got, err := j.ReadLogin(r, l.State)
	if err != nil || got.Verifier != l.Verifier || got.Return != l.Return {
		t.Fatalf("ReadLogin = %+v, %v", got, err)
	}
	// Another state, even one with the same first 22 characters, does
	// not find this sign-in.
	if _, err := j.ReadLogin(r, strings.Repeat("t", 43)); !errors.Is(err, ErrNoLogin) {
		t.Fatalf("another state: %v", err)
	}
	if _, err := j.ReadLogin(r, strings.Repeat("s", 42)+"x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a state sharing the cookie name: %v", err)
	}
	clear := httptest.NewRecorder()
	j.ClearLogin(clear, l.State)
	if cc := clear.Result().Cookies(); len(cc) != 1 || cc[0].Name != c.Name || cc[0].MaxAge >= 0 {
		t.Fatalf("ClearLogin set %+v", cc)
	}
}

// FuzzSessionCookie feeds arbitrary Cookie headers to ReadSession: nothing
// but a value the key sealed may open, and every refusal is one of the
// package's errors.
func FuzzSessionCookie(f *testing.F) {
	j := &Jar{Codec: codec(f, key(1)), Secure: true}
	valid, _ := j.Codec.EncodeSession(testSession())
	parts, _ := Split(valid + strings.Repeat("A", chunkSize))
	f.Add(SecureSessionName + "=" + valid)
	f.Add(SecureSessionName + "=" + parts[0] + "; " + SecureSessionName + "-1=" + parts[1])
	f.Add(SecureSessionName + "=2~abc; " + SecureSessionName + "-1=def")
	f.Add(SecureSessionName + "=" + valid + "; " + SecureSessionName + "=" + valid)
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", header)
		s, err := j.ReadSession(r)
		if err == nil {
			// Only values this key sealed open, and it sealed nothing
			// but testSession (in this process or the one that made the
			// seed).
			if want := testSession(); s.User != want.User || s.Subject != want.Subject || s.RefreshToken != want.RefreshToken {
				t.Fatalf("header %q opened as %+v", header, s)
			}
			return
		}
		for _, known := range []error{ErrNoSession, ErrInvalid, ErrUnknownKey, errRecord} {
			if errors.Is(err, known) {
				return
			}
		}
		t.Fatalf("unexpected error %v", err)
	})
}

// FuzzSplitAssemble checks that every value Split cuts is assembled back
// unchanged.
func FuzzSplitAssemble(f *testing.F) {
	f.Add(strings.Repeat("A", 10))
	f.Add(strings.Repeat("B", chunkSize*3+7))
	f.Fuzz(func(t *testing.T, value string) {
		if strings.Contains(value, chunkMark) || strings.ContainsAny(value, ";, \"\\") {
			return
		}
		parts, err := Split(value)
		if err != nil {
			if len(value) <= chunkSize*maxChunks {
				t.Fatalf("Split(%d bytes): %v", len(value), err)
			}
			return
		}
		var cookies []*http.Cookie
		for i, p := range parts {
			cookies = append(cookies, &http.Cookie{Name: chunkName("c", i), Value: p})
		}
		got, err := Assemble(cookies, "c")
		if value == "" {
			return
		}
		if err != nil || got != value {
			t.Fatalf("Assemble = %d bytes, %v; want %d bytes", len(got), err, len(value))
		}
	})
}

func TestPruneLogins(t *testing.T) {
	j := &Jar{Codec: codec(t, key(1)), Secure: true}
	r := httptest.NewRequest("GET", "/", nil)
	for i := 0; i < MaxLogins-1; i++ {
		r.AddCookie(&http.Cookie{Name: fmt.Sprintf("%s%d", secureLoginPrefix, i), Value: "x"})
	}
	r.AddCookie(&http.Cookie{Name: SecureSessionName, Value: "keep"})
	rec := httptest.NewRecorder()
	j.PruneLogins(rec, r)
	if n := len(rec.Result().Cookies()); n != 0 {
		t.Fatalf("%d sign-ins in progress: %d cookies expired, want none", MaxLogins-1, n)
	}
	r.AddCookie(&http.Cookie{Name: secureLoginPrefix + "last", Value: "x"})
	rec = httptest.NewRecorder()
	j.PruneLogins(rec, r)
	got := rec.Result().Cookies()
	if len(got) != MaxLogins {
		t.Fatalf("%d sign-ins in progress: %d cookies expired, want %d", MaxLogins, len(got), MaxLogins)
	}
	for _, c := range got {
		if c.MaxAge >= 0 || c.Name == SecureSessionName {
			t.Fatalf("expired %+v", c)
		}
	}
}
