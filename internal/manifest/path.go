package manifest

import (
	"strconv"
	"strings"
)

// Path is a field path inside an object: map keys and list indexes, from
// the object's root.
type Path []Step

// Step is one part of a Path: a map key, or (when Index >= 0) a list
// index.
type Step struct {
	// Key is the map key (when Index < 0).
	Key string
	// Index is the list index, or -1 for a map key.
	Index int
}

// IsIndex reports whether the step is a list index.
func (s Step) IsIndex() bool { return s.Index >= 0 }

// Key appends a map key to p, returning a new path (p is not changed).
func (p Path) Key(k string) Path { return p.append(Step{Key: k, Index: -1}) }

// Index appends a list index to p, returning a new path.
func (p Path) Index(i int) Path { return p.append(Step{Index: i}) }

// Join appends the steps of q to p, returning a new path.
func (p Path) Join(q Path) Path {
	out := make(Path, 0, len(p)+len(q))
	return append(append(out, p...), q...)
}

func (p Path) append(s Step) Path {
	out := make(Path, len(p), len(p)+1)
	copy(out, p)
	return append(out, s)
}

// HasPrefix reports whether q is p or starts like it.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// Equal reports whether p and q are the same path.
func (p Path) Equal(q Path) bool { return len(p) == len(q) && p.HasPrefix(q) }

// String writes the path as raygate reports fields:
// spec.containers[0].securityContext. A key that is not a plain name
// (letters, digits, '-', '_', '/') is written quoted in brackets, so
// that a key with a dot cannot be mistaken for two:
// metadata.annotations["container.apparmor.security.beta.kubernetes.io/ray-head"].
func (p Path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch {
		case s.IsIndex():
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.Index))
			b.WriteByte(']')
		case plainKey(s.Key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Key)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.Key))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '/':
		default:
			return false
		}
	}
	return true
}

// ParsePath reads the dotted form String writes for plain keys:
// "spec.containers[0].securityContext". Bracketed quoted keys are read
// too. It is meant for paths written in code; a malformed part is taken
// as a key.
func ParsePath(s string) Path {
	var p Path
	for s != "" {
		switch {
		case s[0] == '.':
			s = s[1:]
		case s[0] == '[' && len(s) > 1 && s[1] == '"':
			end := strings.Index(s[1:], `"]`)
			if end < 0 {
				return p.Key(s)
			}
			k, err := strconv.Unquote(s[1 : end+2])
			if err != nil {
				k = s[2 : end+1]
			}
			p = p.Key(k)
			s = s[end+3:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			i, err := strconv.Atoi(s[1:max(end, 1)])
			if end < 0 || err != nil || i < 0 {
				return p.Key(s)
			}
			p = p.Index(i)
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			p = p.Key(s[:end])
			s = s[end:]
		}
	}
	return p
}
