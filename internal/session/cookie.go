package session

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cookie names. Over HTTPS the __Host- prefix makes browsers insist on
// Secure, Path=/ and no Domain, so no other site (a sibling subdomain
// included) can set or shadow them. Over plain HTTP, which raygate allows
// on a loopback host only, browsers refuse both the prefix and Secure, so
// the plain names are used.
const (
	SecureSessionName = "__Host-raygate-session"
	PlainSessionName  = "raygate-session"
	secureLoginPrefix = "__Host-raygate-login-"
	plainLoginPrefix  = "raygate-login-"
)

// Chunking: a cookie's name, value and attributes must fit in 4096 bytes,
// so a large session is split over the session cookie and -1, -2...
const (
	chunkSize = 3800
	maxChunks = MaxSealed/chunkSize + 1
	chunkMark = "~"
)

// Errors of reading cookies.
var (
	// ErrNoSession means the request carries no session cookie.
	ErrNoSession = errors.New("session: no session cookie")
	// ErrNoLogin means the request carries no cookie for the sign-in its
	// state names: it was never started here, has expired, or was used.
	ErrNoLogin = errors.New("session: no sign-in in progress for this state")
	// ErrTooLarge means a session does not fit in the cookies browsers
	// keep (an identity with very many groups).
	ErrTooLarge = errors.New("session: session is too large for a cookie")
)

// Jar reads and writes raygate's cookies. It is immutable.
type Jar struct {
	// Codec seals and opens cookie values.
	Codec *Codec
	// Secure says browsers reach raygate over HTTPS: cookies are Secure
	// and carry the __Host- prefix.
	Secure bool
}

// SessionName is the session cookie's name (its first chunk).
func (j *Jar) SessionName() string {
	if j.Secure {
		return SecureSessionName
	}
	return PlainSessionName
}

func (j *Jar) loginName(state string) string {
	if len(state) > 22 {
		state = state[:22]
	}
	if j.Secure {
		return secureLoginPrefix + state
	}
	return plainLoginPrefix + state
}

func (j *Jar) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: j.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// ReadSession returns the session the request's cookies hold: ErrNoSession
// without one, ErrInvalid or ErrUnknownKey for one that cannot be opened.
// It does not judge expiry.
func (j *Jar) ReadSession(r *http.Request) (*Session, error) {
	value, err := Assemble(r.Cookies(), j.SessionName())
	if err != nil {
		return nil, err
	}
	return j.Codec.DecodeSession(value)
}

// WriteSession sets the session cookies to s, kept by the browser until
// until, and expires chunks the request carried that s does not need.
func (j *Jar) WriteSession(w http.ResponseWriter, r *http.Request, s *Session, until time.Time) error {
	value, err := j.Codec.EncodeSession(s)
	if err != nil {
		return err
	}
	parts, err := Split(value)
	if err != nil {
		return err
	}
	maxAge := int(time.Until(until).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	base := j.SessionName()
	for i, p := range parts {
		http.SetCookie(w, j.cookie(chunkName(base, i), p, maxAge))
	}
	for _, c := range r.Cookies() {
		if i, ok := chunkIndex(base, c.Name); ok && i >= len(parts) {
			http.SetCookie(w, j.cookie(c.Name, "", -1))
		}
	}
	return nil
}

// ClearSession expires every session cookie the request carried.
func (j *Jar) ClearSession(w http.ResponseWriter, r *http.Request) {
	base := j.SessionName()
	cleared := false
	for _, c := range r.Cookies() {
		if _, ok := chunkIndex(base, c.Name); ok {
			http.SetCookie(w, j.cookie(c.Name, "", -1))
			cleared = cleared || c.Name == base
		}
	}
	if !cleared {
		http.SetCookie(w, j.cookie(base, "", -1))
	}
}

// WriteLogin sets the cookie of a sign-in in progress; each sign-in has its
// own, so sign-ins started in several tabs do not undo each other.
func (j *Jar) WriteLogin(w http.ResponseWriter, l *Login) error {
	value, err := j.Codec.EncodeLogin(l)
	if err != nil {
		return err
	}
	http.SetCookie(w, j.cookie(j.loginName(l.State), value, int(LoginLifetime.Seconds())))
	return nil
}

// ReadLogin returns the sign-in that state names, from its cookie:
// ErrNoLogin without one; ErrInvalid, ErrUnknownKey or ErrNoVerifier for
// one that cannot be used; ErrInvalid also when the cookie's state is not
// state. It does not judge expiry.
func (j *Jar) ReadLogin(r *http.Request, state string) (*Login, error) {
	name := j.loginName(state)
	var value string
	n := 0
	for _, c := range r.Cookies() {
		if c.Name == name {
			value, n = c.Value, n+1
		}
	}
	switch n {
	case 0:
		return nil, ErrNoLogin
	case 1:
	default:
		return nil, ErrInvalid
	}
	l, err := j.Codec.DecodeLogin(value)
	if err != nil {
		return nil, err
	}
	if !constantTimeEqual(l.State, state) {
		return nil, ErrInvalid
	}
	return l, nil
}

// MaxLogins is how many sign-ins one browser may have in progress; past
// it, starting another expires the cookies of the others, so abandoned
// sign-ins cannot pile up into a request too large to serve.
const MaxLogins = 5

// PruneLogins expires every sign-in cookie r carries when it carries
// MaxLogins or more.
func (j *Jar) PruneLogins(w http.ResponseWriter, r *http.Request) {
	prefix := plainLoginPrefix
	if j.Secure {
		prefix = secureLoginPrefix
	}
	var names []string
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, prefix) {
			names = append(names, c.Name)
		}
	}
	if len(names) < MaxLogins {
		return
	}
	for _, n := range names {
		http.SetCookie(w, j.cookie(n, "", -1))
	}
}

// ClearLogin expires the cookie of the sign-in that state names.
func (j *Jar) ClearLogin(w http.ResponseWriter, state string) {
	http.SetCookie(w, j.cookie(j.loginName(state), "", -1))
}

// Split cuts a sealed value into cookie values: one when it fits, else a
// first value that says how many follow ("N~...") and the rest.
func Split(value string) ([]string, error) {
	if len(value) <= chunkSize {
		return []string{value}, nil
	}
	n := (len(value) + chunkSize - 1) / chunkSize
	if n > maxChunks {
		return nil, ErrTooLarge
	}
	parts := make([]string, n)
	for i := range parts {
		end := min((i+1)*chunkSize, len(value))
		parts[i] = value[i*chunkSize : end]
	}
	parts[0] = strconv.Itoa(n) + chunkMark + parts[0]
	return parts, nil
}

// Assemble joins the chunks of the cookie named base from a request's
// cookies: ErrNoSession when base is absent, ErrInvalid when a chunk is
// missing, repeated or surplus to the count.
func Assemble(cookies []*http.Cookie, base string) (string, error) {
	byIndex := map[int]string{}
	for _, c := range cookies {
		i, ok := chunkIndex(base, c.Name)
		if !ok {
			continue
		}
		if _, dup := byIndex[i]; dup {
			return "", ErrInvalid
		}
		byIndex[i] = c.Value
	}
	first, ok := byIndex[0]
	if !ok {
		return "", ErrNoSession
	}
	count, rest, chunked := strings.Cut(first, chunkMark)
	if !chunked {
		if len(byIndex) > 1 {
			return "", ErrInvalid
		}
		return first, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 2 || n > maxChunks || len(byIndex) != n || strconv.Itoa(n) != count {
		return "", ErrInvalid
	}
	var b strings.Builder
	b.WriteString(rest)
	for i := 1; i < n; i++ {
		p, ok := byIndex[i]
		if !ok {
			return "", ErrInvalid
		}
		b.WriteString(p)
	}
	return b.String(), nil
}

func chunkName(base string, i int) string {
	if i == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(i)
}

// chunkIndex reports whether name is a chunk of base, and which.
func chunkIndex(base, name string) (int, bool) {
	if name == base {
		return 0, true
	}
	rest, ok := strings.CutPrefix(name, base+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 1 || i >= maxChunks || strconv.Itoa(i) != rest {
		return 0, false
	}
	return i, true
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
