package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Resolve follows an alias (*anchor) to the node it names; other nodes are
// returned as they are.
func Resolve(n *yaml.Node) *yaml.Node { return resolve(n) }

// Get returns the value under key in mapping n, following aliases and merge
// keys (<<); nil if n is not a mapping or has no such key.
func Get(n *yaml.Node, key string) *yaml.Node {
	_, v := GetPair(n, key)
	return v
}

// GetPair is Get that also returns the key node.
func GetPair(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Tag != "!!merge" {
			return n.Content[i], resolve(n.Content[i+1])
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" || n.Content[i].Value == "<<" {
			m := resolve(n.Content[i+1])
			if m != nil && m.Kind == yaml.SequenceNode {
				for _, s := range m.Content {
					if k, v := GetPair(s, key); v != nil {
						return k, v
					}
				}
			} else if k, v := GetPair(m, key); v != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// scalar returns the value of a scalar node, or "".
func scalar(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// Scalar returns the value of a scalar node, or "" for anything else.
func Scalar(n *yaml.Node) string { return scalar(n) }

// IsNull reports whether n is absent or an explicit null.
func IsNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// Bool returns the boolean a scalar node holds and whether it holds one.
// YAML 1.1 spellings (yes, on, ...) count, as they do for kubectl.
func Bool(n *yaml.Node) (value, ok bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return false, false
	}
	if n.Tag == "!!bool" || (n.Style == 0 && n.Tag == "!!str") {
		if b, ok := yaml11Bool(n.Value); ok {
			return b, true
		}
	}
	return false, false
}

func yaml11Bool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y":
		return true, true
	case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N":
		return false, true
	}
	return false, false
}

// JoinPath joins field path parts: JoinPath("spec", "template") is
// "spec.template"; a part starting with "[" is appended without a dot.
func JoinPath(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Index formats a list index path part: Index("containers", 2) is
// "containers[2]".
func Index(name string, i int) string { return fmt.Sprintf("%s[%d]", name, i) }

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(path string) []string {
	var parts []string
	for _, dot := range strings.Split(path, ".") {
		for dot != "" {
			i := strings.IndexByte(dot, '[')
			if i < 0 {
				parts = append(parts, dot)
				break
			}
			if i > 0 {
				parts = append(parts, dot[:i])
			}
			j := strings.IndexByte(dot[i:], ']')
			if j < 0 {
				parts = append(parts, dot[i:])
				break
			}
			parts = append(parts, dot[i:i+j+1])
			dot = dot[i+j+1:]
		}
	}
	return parts
}

// Lookup returns the node at path under n and the deepest node on the way
// that exists (the node itself when found; for a mapping entry, its key).
func Lookup(n *yaml.Node, path string) (found, deepest *yaml.Node) {
	cur := resolve(n)
	deepest = cur
	for _, p := range splitPath(path) {
		if strings.HasPrefix(p, "[") {
			i, err := strconv.Atoi(strings.Trim(p, "[]"))
			if err != nil || cur == nil || cur.Kind != yaml.SequenceNode || i < 0 || i >= len(cur.Content) {
				return nil, deepest
			}
			cur = resolve(cur.Content[i])
			deepest = cur
			continue
		}
		k, v := GetPair(cur, p)
		if v == nil {
			return nil, deepest
		}
		cur = v
		deepest = k
	}
	return cur, deepest
}

// Position returns the line and column of the field at path under n, or of
// the deepest part of the path that exists.
func Position(n *yaml.Node, path string) (line, col int) {
	_, d := Lookup(n, path)
	if d == nil {
		return 0, 0
	}
	return d.Line, d.Column
}
