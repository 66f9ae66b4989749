package harden

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/raygate/raygate/internal/manifest"
)

// editor applies changes to yaml.Node trees and records them.
type editor struct {
	obj     manifest.Object
	changes []Change
}

func (e *editor) note(field, what string) {
	e.changes = append(e.changes, Change{
		Document: e.obj.Document, Kind: e.obj.Kind, Name: e.obj.Name,
		Field: e.obj.Path(field), Description: what,
	})
}

// valueIndex returns the index in m.Content of key's value, or -1.
func valueIndex(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key && m.Content[i].Tag != "!!merge" {
			return i + 1
		}
	}
	return -1
}

// mapping returns the mapping under key in m, creating it (or replacing a
// null) when absent. It returns nil when the key holds something else
// (a scalar or list), which is left alone.
func (e *editor) mapping(m *yaml.Node, key string) *yaml.Node {
	m = manifest.Resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	if i := valueIndex(m, key); i >= 0 {
		v := manifest.Resolve(m.Content[i])
		if v.Kind == yaml.MappingNode {
			if m.Content[i].Kind == yaml.AliasNode {
				// Do not edit a shared anchor: give this place its own copy.
				v = deepCopy(v)
				m.Content[i] = v
			}
			return v
		}
		if manifest.IsNull(v) {
			nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content[i] = nm
			return nm
		}
		return nil
	}
	nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, keyNode(key), nm)
	return nm
}

// sequence returns the list under key in m (nil when absent or not a list).
func sequence(m *yaml.Node, key string) *yaml.Node {
	v := manifest.Get(m, key)
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil
	}
	return v
}

// set makes key in m hold the scalar value (with tag) and reports whether
// that changed anything.
func set(m *yaml.Node, key, value, tag string) bool {
	m = manifest.Resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	if i := valueIndex(m, key); i >= 0 {
		v := manifest.Resolve(m.Content[i])
		if v.Kind == yaml.ScalarNode && v.Value == value && sameTag(v, tag) {
			return false
		}
		m.Content[i] = scalarNode(value, tag)
		return true
	}
	m.Content = append(m.Content, keyNode(key), scalarNode(value, tag))
	return true
}

// remove deletes key from m and reports whether it was there.
func remove(m *yaml.Node, key string) bool {
	if i := valueIndex(m, key); i >= 0 {
		m.Content = append(m.Content[:i-1], m.Content[i+1:]...)
		return true
	}
	return false
}

func sameTag(v *yaml.Node, tag string) bool {
	switch tag {
	case "!!bool":
		_, ok := manifest.Bool(v)
		return ok
	case "!!int":
		return v.Tag == "!!int"
	default:
		return v.Tag == "!!str" || v.Tag == ""
	}
}

func keyNode(k string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}
}

func scalarNode(v, tag string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
	if tag == "!!str" {
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	return n
}

func boolNode(b bool) (string, string) { return strconv.FormatBool(b), "!!bool" }

func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepCopy(ch)
	}
	return &c
}

// isTrue reports whether n is a scalar true.
func isTrue(n *yaml.Node) bool {
	b, ok := manifest.Bool(n)
	return ok && b
}

// isFalse reports whether n is a scalar false.
func isFalse(n *yaml.Node) bool {
	b, ok := manifest.Bool(n)
	return ok && !b
}
