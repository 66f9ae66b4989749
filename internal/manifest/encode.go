package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Style is how Encode lays out YAML.
type Style struct {
	// CompactSequences writes a list under a key at the key's indentation
	// ("key:\n- a"), as kubectl and most Kubernetes examples do, instead
	// of indented under it.
	CompactSequences bool
}

// DetectStyle guesses the layout of data: whether its lists under keys
// are written compact (at the key's indentation) or indented.
func DetectStyle(data []byte) Style {
	compact, indented := 0, 0
	prevIndent, prevKey := -1, false
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		if prevKey && (strings.HasPrefix(trimmed, "- ") || trimmed == "-") {
			if indent == prevIndent {
				compact++
			} else if indent > prevIndent {
				indented++
			}
		}
		body := strings.TrimSpace(trimmed)
		if i := strings.Index(body, " #"); i >= 0 {
			body = strings.TrimSpace(body[:i])
		}
		prevKey = strings.HasSuffix(body, ":")
		prevIndent = indent
		if strings.HasPrefix(trimmed, "- ") {
			prevIndent = indent + 2
		}
	}
	return Style{CompactSequences: compact > indented}
}

// Encode writes the file back: a JSON file as JSON (each document
// indented, keys in their order, numbers as written), a YAML file as
// multi-document YAML with comments and key order as parsed (indentation
// normalised to two spaces).
func (f *File) Encode(style Style) ([]byte, error) {
	var buf bytes.Buffer
	if f.JSON {
		for _, d := range f.Docs {
			writeJSON(&buf, d.Value, "")
			buf.WriteByte('\n')
		}
		return buf.Bytes(), nil
	}
	for i, d := range f.Docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		if d.Node == nil {
			continue
		}
		if r := docRoot(d.Node); r == nil || (r.Kind == yaml.ScalarNode && r.Tag == tagNull && r.Value == "") {
			// An empty document: keep its comments, not a "null".
			for _, c := range []string{d.Node.HeadComment, commentOf(r, 0), commentOf(r, 1), commentOf(r, 2), d.Node.FootComment} {
				if c != "" {
					buf.WriteString(c + "\n")
				}
			}
			continue
		}
		spellFlowNulls(d.Node, false, map[*yaml.Node]bool{})
		var one bytes.Buffer
		enc := yaml.NewEncoder(&one)
		enc.SetIndent(2)
		if style.CompactSequences {
			enc.CompactSeqIndent()
		}
		if err := enc.Encode(d.Node); err != nil {
			return nil, fmt.Errorf("manifest: encode document %d: %w", d.Index, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("manifest: encode document %d: %w", d.Index, err)
		}
		buf.Write(one.Bytes())
	}
	return buf.Bytes(), nil
}

// spellFlowNulls writes empty nulls inside flow collections ({a}, {a: })
// as "null": yaml.v3 would write them as ”, an empty string.
func spellFlowNulls(n *yaml.Node, flow bool, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] || n.Kind == yaml.AliasNode {
		return
	}
	seen[n] = true
	if n.Kind == yaml.ScalarNode {
		if flow && n.Value == "" && n.Tag == tagNull && !isTagged(n) {
			n.Value = "null"
		}
		return
	}
	flow = flow || n.Style&yaml.FlowStyle != 0
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && IsMergeKey(c) && !isTagged(c) {
			// yaml.v3 would write a merge key as "!!merge <<"; untagged,
			// a plain << is read as a merge key again.
			c.Tag = ""
			continue
		}
		spellFlowNulls(c, flow, seen)
	}
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc == nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func commentOf(n *yaml.Node, which int) string {
	if n == nil {
		return ""
	}
	return [...]string{n.HeadComment, n.LineComment, n.FootComment}[which]
}

// writeJSON writes v as indented JSON, mapping keys in their order and
// numbers as they were written.
func writeJSON(buf *bytes.Buffer, v *Value, indent string) {
	inner := indent + "  "
	switch v.Kind() {
	case KindMap:
		if len(v.keys) == 0 {
			buf.WriteString("{}")
			return
		}
		buf.WriteString("{\n")
		for i, k := range v.keys {
			kb, _ := json.Marshal(k)
			buf.WriteString(inner)
			buf.Write(kb)
			buf.WriteString(": ")
			writeJSON(buf, v.m[k], inner)
			if i < len(v.keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "}")
	case KindList:
		if len(v.items) == 0 {
			buf.WriteString("[]")
			return
		}
		buf.WriteString("[\n")
		for i, it := range v.items {
			buf.WriteString(inner)
			writeJSON(buf, it, inner)
			if i < len(v.items)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "]")
	case KindInt, KindFloat:
		if v.num != "" {
			buf.WriteString(v.num)
			return
		}
		b, _ := json.Marshal(v.Interface())
		buf.Write(b)
	default:
		b, _ := json.Marshal(v.Interface())
		buf.Write(b)
	}
}
