// Package route maps gateway paths to Ray clusters. It checks a request's
// path for ambiguous forms before anything else looks at it, splits
// /clusters/{namespace}/{name}/{rest} and looks the cluster up in a
// Registry.
package route

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Prefix starts every proxied path.
const Prefix = "/clusters/"

// ErrAmbiguousPath is wrapped by every CheckPath error.
var ErrAmbiguousPath = errors.New("ambiguous path")

// PathError says why a path was refused.
type PathError struct{ Reason string }

// Error says which ambiguous form the path has.
func (e *PathError) Error() string { return "route: " + e.Reason }

// Unwrap makes every PathError match ErrAmbiguousPath.
func (e *PathError) Unwrap() error { return ErrAmbiguousPath }

func pathErr(reason string) error { return &PathError{Reason: reason} }

// CheckPath refuses escaped paths that different HTTP stacks could read
// differently, so the gateway, its classifier and Ray all see one path:
// encoded slashes, backslashes, dots and percent signs; NUL and other
// control characters (C0, DEL and C1), raw or encoded; bytes that do not
// decode as UTF-8 (%ff, overlong forms such as %c0%ae, encoded
// surrogates), raw or encoded; dot segments, raw or with path parameters
// (..;); empty segments (//); and invalid percent-encoding. escaped is the
// path as the client sent it (URL.EscapedPath), without the query.
func CheckPath(escaped string) error {
	if escaped == "" || escaped[0] != '/' {
		return pathErr("path must start with /")
	}
	nonASCII := false
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c >= 0x80:
			nonASCII = true
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return pathErr("invalid percent-encoding")
			}
			b := unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			switch {
			case b == '/':
				return pathErr("encoded slash")
			case b == '\\':
				return pathErr("encoded backslash")
			case b == '.':
				return pathErr("encoded dot")
			case b == '%':
				return pathErr("encoded percent sign (double encoding)")
			case b < 0x20 || b == 0x7f:
				return pathErr("encoded control character")
			case b >= 0x80:
				nonASCII = true
			}
			i += 2
		case c == '\\':
			return pathErr("backslash")
		case c < 0x20 || c == 0x7f:
			return pathErr("control character")
		}
	}
	if nonASCII {
		if err := checkText(escaped); err != nil {
			return err
		}
	}
	for rest := escaped[1:]; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "" && more {
			return pathErr("empty path segment")
		}
		base, _, _ := strings.Cut(seg, ";")
		if base == "." || base == ".." {
			return pathErr("dot segment")
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// checkText refuses a path whose bytes, once percent-decoded, are not
// UTF-8 or hold a C1 control character (U+0080 to U+009F). Only paths
// with bytes above 0x7f get here, so ASCII paths cost nothing.
func checkText(escaped string) error {
	dec, err := url.PathUnescape(escaped)
	if err != nil {
		return pathErr("invalid percent-encoding")
	}
	if !utf8.ValidString(dec) {
		return pathErr("invalid UTF-8")
	}
	for _, r := range dec {
		if r >= 0x80 && r <= 0x9f {
			return pathErr("control character")
		}
	}
	return nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Target is a parsed /clusters/{namespace}/{name}/{rest} path.
type Target struct {
	Namespace, Name string
	// Rest is the decoded remainder, starting with "/"; "" when the path
	// stops at the cluster name (no trailing slash).
	Rest string
	// RawRest is Rest as the client escaped it.
	RawRest string
}

// Key returns "namespace/name".
func (t Target) Key() string { return t.Namespace + "/" + t.Name }

// Split parses an escaped path already accepted by CheckPath. ok is false
// when it is not under Prefix or names no valid namespace and cluster.
func Split(escaped string) (t Target, ok bool) {
	rest, found := strings.CutPrefix(escaped, Prefix)
	if !found {
		return Target{}, false
	}
	ns, rest, found := strings.Cut(rest, "/")
	if !found || !isLabel(ns) {
		return Target{}, false
	}
	name, rawRest, hasRest := strings.Cut(rest, "/")
	if !isLabel(name) {
		return Target{}, false
	}
	t = Target{Namespace: ns, Name: name}
	if hasRest {
		t.RawRest = escaped[len(escaped)-len(rawRest)-1:] // "/" + rawRest, without a copy
		dec, err := url.PathUnescape(t.RawRest)
		if err != nil {
			return Target{}, false
		}
		t.Rest = dec
	}
	return t, true
}

// isLabel reports whether s is a DNS-1123 label, the form of Kubernetes
// namespace and RayCluster names.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || (c == '-' && i != 0 && i != len(s)-1) {
			continue
		}
		return false
	}
	return true
}
