package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
)

// maxDepth bounds the nesting ToJSON follows, so hostile documents (alias
// bombs, deep nesting) cannot exhaust the stack.
const maxDepth = 200

// maxNodes bounds how many nodes ToJSON expands (aliases count each time
// they are followed).
const maxNodes = 1 << 20

// ToJSON converts the YAML subtree n to JSON the way kubectl does
// (sigs.k8s.io/yaml): YAML 1.1 booleans, merge keys and aliases resolved,
// mapping keys as strings.
func ToJSON(n *yaml.Node) ([]byte, error) {
	c := &converter{}
	v, err := c.value(n, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// DecodeInto converts n to JSON and decodes it into out with the API
// server's rules: case-sensitive field names, integers kept as integers,
// type mismatches reported.
func DecodeInto(n *yaml.Node, out any) error {
	b, err := ToJSON(n)
	if err != nil {
		return err
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(b, out); err != nil {
		return fmt.Errorf("%s", cleanJSONError(err.Error()))
	}
	return nil
}

var (
	structFieldErr = regexp.MustCompile(`cannot unmarshal (\w+) into Go struct field [^ .]*\.(\S+) of type (\S+)`)
	valueErr       = regexp.MustCompile(`cannot unmarshal (\w+) into Go value of type (\S+)`)
)

// cleanJSONError rewords encoding/json type errors without Go type names:
// "spec.containers.image: expected a string, got an object".
func cleanJSONError(msg string) string {
	msg = strings.TrimPrefix(msg, "json: ")
	if m := structFieldErr.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s: expected %s, got %s", m[2], goTypeName(m[3]), jsonKindName(m[1]))
	}
	if m := valueErr.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("expected %s, got %s", goTypeName(m[2]), jsonKindName(m[1]))
	}
	return msg
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	}
	return "a mapping"
}

func jsonKindName(k string) string {
	switch k {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	}
	return "a " + k
}

type converter struct{ nodes int }

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	c.nodes++
	if depth > maxDepth || c.nodes > maxNodes {
		return nil, fmt.Errorf("document nests too deeply or expands too far")
	}
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		return c.value(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			v, err := c.value(it, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		if err := c.mapping(n, out, depth); err != nil {
			return nil, err
		}
		return out, nil
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// mapping fills out from mapping n; explicit keys win over merged ones.
func (c *converter) mapping(n *yaml.Node, out map[string]any, depth int) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			continue
		}
		key, err := c.value(k, depth+1)
		if err != nil {
			return err
		}
		val, err := c.value(v, depth+1)
		if err != nil {
			return err
		}
		out[keyString(key)] = val
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag != "!!merge" {
			continue
		}
		src := resolve(n.Content[i+1])
		var maps []*yaml.Node
		if src != nil && src.Kind == yaml.SequenceNode {
			maps = src.Content
		} else {
			maps = []*yaml.Node{src}
		}
		for _, m := range maps {
			m = resolve(m)
			if m == nil || m.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: merge key needs a mapping", n.Content[i].Line)
			}
			merged := map[string]any{}
			if err := c.mapping(m, merged, depth+1); err != nil {
				return err
			}
			for k, v := range merged {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		}
	}
	return nil
}

func keyString(k any) string {
	switch v := k.(type) {
	case string:
		return v
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func scalarValue(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, _ := yaml11Bool(n.Value)
		return b, nil
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 0, 64); err == nil {
			return u, nil
		}
		if strings.HasPrefix(s, "0o") {
			if i, err := strconv.ParseInt(s[2:], 8, 64); err == nil {
				return i, nil
			}
		}
		return n.Value, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %q is not a JSON number", n.Line, n.Value)
		}
		return f, nil
	case "!!str", "":
		if n.Style == 0 {
			if b, ok := yaml11Bool(n.Value); ok {
				return b, nil
			}
		}
		return n.Value, nil
	case "!!binary", "!!timestamp":
		return n.Value, nil
	}
	return n.Value, nil
}

// EncodeJSON writes the YAML subtree n as indented JSON with keys in the
// order the document has them (merge keys and aliases resolved).
func EncodeJSON(n *yaml.Node) ([]byte, error) {
	c := &converter{}
	var buf bytes.Buffer
	if err := c.writeJSON(&buf, n, 0, ""); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (c *converter) writeJSON(buf *bytes.Buffer, n *yaml.Node, depth int, indent string) error {
	c.nodes++
	if depth > maxDepth || c.nodes > maxNodes {
		return fmt.Errorf("document nests too deeply or expands too far")
	}
	if n == nil {
		buf.WriteString("null")
		return nil
	}
	inner := indent + "  "
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			buf.WriteString("null")
			return nil
		}
		return c.writeJSON(buf, n.Content[0], depth+1, indent)
	case yaml.AliasNode:
		return c.writeJSON(buf, n.Alias, depth+1, indent)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			buf.WriteString("[]")
			return nil
		}
		buf.WriteString("[\n")
		for i, it := range n.Content {
			buf.WriteString(inner)
			if err := c.writeJSON(buf, it, depth+1, inner); err != nil {
				return err
			}
			if i < len(n.Content)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "]")
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Tag == "!!merge" {
				// Merge keys have no JSON form: fall back to the resolved
				// value, with sorted keys.
				v, err := c.value(n, depth)
				if err != nil {
					return err
				}
				b, err := json.MarshalIndent(v, indent, "  ")
				if err != nil {
					return err
				}
				buf.Write(b)
				return nil
			}
		}
		if len(n.Content) == 0 {
			buf.WriteString("{}")
			return nil
		}
		buf.WriteString("{\n")
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := c.value(n.Content[i], depth+1)
			if err != nil {
				return err
			}
			kb, _ := json.Marshal(keyString(k))
			buf.WriteString(inner)
			buf.Write(kb)
			buf.WriteString(": ")
			if err := c.writeJSON(buf, n.Content[i+1], depth+1, inner); err != nil {
				return err
			}
			if i+2 < len(n.Content) {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "}")
		return nil
	case yaml.ScalarNode:
		v, err := scalarValue(n)
		if err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
	return fmt.Errorf("line %d: unsupported YAML node", n.Line)
}
