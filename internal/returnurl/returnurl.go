// Package returnurl decides where a browser may be sent back to after
// signing in: only a path on raygate itself. A return URL comes from the
// query string of a sign-in link anyone can craft, so everything a browser
// could read as another site is refused: scheme-relative (//evil),
// backslashes (/\evil, which browsers read as //evil), control characters
// and whitespace (browsers drop tabs and newlines, so /\t/evil becomes
// //evil), schemes (https:evil, javascript:), non-ASCII (look-alike
// slashes), dot segments, fragments, and the same forms percent-encoded
// once or several times.
package returnurl

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxLength bounds a return URL.
const MaxLength = 2048

// maxDecodes bounds how many layers of percent-encoding are unwrapped
// while looking for a disguised form; a value still encoded after that
// many is refused.
const maxDecodes = 3

// ErrUnsafe is wrapped by every refusal.
var ErrUnsafe = errors.New("returnurl: not a path on this site")

// Error says why a return URL was refused.
type Error struct{ Reason string }

// Error describes the refusal.
func (e *Error) Error() string { return "returnurl: " + e.Reason }

// Unwrap makes every Error match ErrUnsafe.
func (e *Error) Unwrap() error { return ErrUnsafe }

func refuse(reason string) error { return &Error{Reason: reason} }

// ownPaths are paths a sign-in must not return to: they would start
// another sign-in, replay the callback or sign out.
var ownPaths = []string{"/_raygate/sign-in", "/_raygate/callback", "/_raygate/sign-out"}

// lookalikes are characters some software folds into / or \.
var lookalikes = []rune{'\u2044', '\u2215', '\u2216', '\u29f5', '\u29f8', '\u29f9', '\ufe68', '\uff0f', '\uff3c', '\u3033', '\u3035'}

// Check returns raw unchanged if it is a safe return URL: an absolute
// path with an optional query, in printable ASCII, that no browser reads
// as another origin, however many times it is percent-decoded.
func Check(raw string) (string, error) {
	if raw == "" {
		return "", refuse("empty")
	}
	if len(raw) > MaxLength {
		return "", refuse("too long")
	}
	if err := checkRaw(raw); err != nil {
		return "", err
	}
	s := raw
	for i := 0; strings.Contains(s, "%"); i++ {
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", refuse("invalid percent-encoding")
		}
		if i == maxDecodes {
			return "", refuse("percent-encoded too many times")
		}
		if err := checkDecoded(d); err != nil {
			return "", err
		}
		s = d
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", refuse("not an absolute path")
	}
	for _, p := range ownPaths {
		if u.Path == p || strings.HasPrefix(u.Path, p+"/") {
			return "", refuse("points at sign-in itself")
		}
	}
	return raw, nil
}

// checkRaw checks the return URL as the browser will read it from the
// Location header: printable ASCII only, no fragment.
func checkRaw(s string) error {
	if err := checkShape(s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= 0x20 || c == 0x7f:
			return refuse("control character or whitespace")
		case c >= 0x80:
			return refuse("non-ASCII character")
		case c == '#':
			return refuse("fragment")
		}
	}
	return nil
}

// checkDecoded checks one percent-decoding of the return URL, in case
// something on the way decodes it: the same shape, valid UTF-8, no
// control characters or slash look-alikes.
func checkDecoded(s string) error {
	if err := checkShape(s); err != nil {
		return err
	}
	if !utf8.ValidString(s) {
		return refuse("encoded bytes that are not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return refuse("encoded control character")
		}
		for _, l := range lookalikes {
			if r == l {
				return refuse("look-alike slash")
			}
		}
	}
	return nil
}

// checkShape refuses what changes the origin or the path's meaning: not
// starting with a single /, backslashes, dot segments, empty segments.
func checkShape(s string) error {
	if s == "" || s[0] != '/' {
		return refuse("does not start with /")
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return refuse("scheme-relative (//host)")
	}
	if strings.Contains(s, "\\") {
		return refuse("backslash")
	}
	path, _, _ := strings.Cut(s, "?")
	path, _, _ = strings.Cut(path, "#")
	if strings.Contains(path, "//") {
		return refuse("empty path segment")
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, "..;") || strings.HasPrefix(seg, ".;") {
			return refuse("dot segment")
		}
	}
	return nil
}
