package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds how deeply a document may nest, so hostile documents
// cannot exhaust the stack.
const maxDepth = 500

// maxNodes bounds how many nodes a document expands to (an alias counts
// each time it is followed), against alias bombs.
const maxNodes = 1 << 20

// tooAliased refuses documents whose nodes come mostly from alias
// expansion, as go-yaml v2 refuses them ("excessive aliasing"): up to 99%
// for small documents, scaling down to 10% for very large ones.
func tooAliased(nodes, aliased int) bool {
	if aliased <= 100 || nodes <= 1000 {
		return false
	}
	const low, high = 400000, 4000000
	allowed := 0.99
	switch {
	case nodes >= high:
		allowed = 0.10
	case nodes > low:
		allowed = 0.99 - 0.89*float64(nodes-low)/float64(high-low)
	}
	return float64(aliased)/float64(nodes) > allowed
}

// chunk is one YAML document as kubectl splits a stream: the lines
// between two lines that start with "---".
type chunk struct {
	text []byte
	line int // the chunk's first line in the file, 1-based
}

// splitYAML splits a YAML stream the way kubectl and the API server's
// YAML reader do (apimachinery's YAMLReader): a line starting with "---"
// ends a document, and may be followed only by spaces or a comment; line
// ends are "\n" or "\r\n". Such a line before any content of a document
// stays in it (where YAML reads it as a document start, or as text).
func splitYAML(data []byte) ([]chunk, error) {
	var out []chunk
	var buf bytes.Buffer
	start := 1
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
			l = bytes.TrimSuffix(l, []byte("\r"))
		} else {
			l, data = data, nil
		}
		if rest, ok := bytes.CutPrefix(l, []byte("---")); ok {
			if t := strings.TrimSpace(string(rest)); t != "" && t[0] != '#' {
				return nil, &ParseError{Line: line, Msg: fmt.Sprintf("invalid document separator %q: only spaces or a comment may follow ---", string(l))}
			}
			if buf.Len() > 0 {
				out = append(out, chunk{text: append([]byte(nil), buf.Bytes()...), line: start})
				buf.Reset()
				continue
			}
		}
		if buf.Len() == 0 {
			start = line
		}
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if buf.Len() > 0 {
		out = append(out, chunk{text: buf.Bytes(), line: start})
	}
	return out, nil
}

// parseChunk parses one chunk with yaml.v3 (which keeps comments and
// positions). A chunk holding more than one YAML document (after a "..."
// end marker) is refused: kubectl would apply only the first.
func parseChunk(c chunk) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(c.text))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			// Nothing but comments (or nothing): keep the comments.
			if c := strings.TrimSpace(string(c.text)); c != "" {
				return &yaml.Node{Kind: yaml.DocumentNode, HeadComment: c, Line: 1}, nil
			}
			return nil, nil
		}
		return nil, shiftError(err, c.line)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		if l := endMarkerLine(c.text); l > 0 {
			return nil, &ParseError{Line: l + c.line - 1, Msg: endMarkerMsg}
		}
		return nil, shiftError(err, c.line)
	default:
		return nil, &ParseError{Line: more.Line + c.line - 1, Msg: endMarkerMsg}
	}
	if len(n.Content) == 0 {
		return nil, nil
	}
	if bytes.IndexByte(c.text, '!') >= 0 {
		quoteNonSpecific(&n, &sourceLines{lines: bytes.Split(c.text, []byte("\n"))}, map[*yaml.Node]bool{})
	}
	shiftLines(&n, c.line-1, map[*yaml.Node]bool{})
	return &n, nil
}

const endMarkerMsg = "a YAML document continues after a document end marker (...) without a --- line: kubectl applies only the part before the marker, so raygate refuses the file"

// endMarkerLine returns the line (in the chunk) of the first "..." end
// marker, or 0.
func endMarkerLine(text []byte) int {
	for i, l := range bytes.Split(text, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(l, []byte("...")); ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t') {
			return i + 1
		}
	}
	return 0
}

// quoteNonSpecific turns every plain scalar written with the
// non-specific tag "!" ("! 12", "&a ! yes", a lone "!") into the
// double-quoted string it is to go-yaml v2, and so to kubectl. yaml.v3
// drops that tag and resolves the text, so without this the decoder, the
// editor's key names and the encoder would all read "! 12" as a number,
// "! yes" as a boolean, and a round trip through Encode would change what
// the manifest says. "! <<" stays as it is: go-yaml v2 still takes it for
// a merge key (libyaml counts a "!" tag as implicit), and as a value it
// is the string "<<" either way.
func quoteNonSpecific(n *yaml.Node, src *sourceLines, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Kind == yaml.ScalarNode && !isTagged(n) && isPlain(n) && n.Value != "<<" && src.nonSpecificTag(n) {
		n.Tag, n.Style = tagStr, yaml.DoubleQuotedStyle
		return
	}
	for _, c := range n.Content {
		quoteNonSpecific(c, src, seen)
	}
}

// sourceLines is a chunk's text by line, to see what yaml.v3 does not
// keep.
type sourceLines struct {
	lines [][]byte
	runes map[int][]rune
}

// nonSpecificTag reports whether scalar n (positions relative to the
// chunk) is written with the tag "!", after its anchor if it has one.
func (s *sourceLines) nonSpecificTag(n *yaml.Node) bool {
	i := n.Line - 1
	if i < 0 || i >= len(s.lines) || bytes.IndexByte(s.lines[i], '!') < 0 {
		return false
	}
	line, ok := s.runes[i]
	if !ok {
		if s.runes == nil {
			s.runes = map[int][]rune{}
		}
		line = []rune(string(s.lines[i]))
		s.runes[i] = line
	}
	c := n.Column - 1
	if c < 0 || c >= len(line) {
		return false
	}
	rest := line[c:]
	if len(rest) > 0 && rest[0] == '&' {
		for len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
			rest = rest[1:]
		}
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			rest = rest[1:]
		}
	}
	return len(rest) > 0 && rest[0] == '!' && (len(rest) == 1 || rest[1] == ' ' || rest[1] == '\t')
}

// shiftLines makes the node positions of a chunk positions in the file.
func shiftLines(n *yaml.Node, by int, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by, seen)
	}
}

// shiftError turns a yaml.v3 error into a *ParseError with the line in the
// file.
func shiftError(err error, first int) error {
	pe := toParseError(err)
	if pe.Line > 0 {
		pe.Line += first - 1
	}
	return pe
}

// decoder turns one YAML document into the Value sigs.k8s.io/yaml and the
// unstructured decoder make of it (go-yaml v2 semantics).
type decoder struct {
	nodes     int
	aliased   int
	expanding map[*yaml.Node]bool
	// lastWins keeps the last of duplicate keys, as kubectl does, instead
	// of refusing them (used by the tests that compare with kubectl).
	lastWins bool
}

func newDecoder() *decoder { return &decoder{expanding: map[*yaml.Node]bool{}} }

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) error {
	return &ParseError{Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// value decodes node n.
func (d *decoder) value(n *yaml.Node, depth int) (*Value, error) {
	if err := d.count(n, depth); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return NewNull(), nil
		}
		return d.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		target, err := d.follow(n)
		if err != nil {
			return nil, err
		}
		defer delete(d.expanding, n)
		v, err := d.value(target, depth+1)
		if err != nil {
			return nil, err
		}
		v.pos = posOf(n)
		return v, nil
	case yaml.ScalarNode:
		g, err := scalarGo(n)
		if err != nil {
			return nil, d.errorf(n, "%v", err)
		}
		v, err := jsonOf(g)
		if err != nil {
			return nil, d.errorf(n, "%v", err)
		}
		v.pos = posOf(n)
		return v, nil
	case yaml.SequenceNode:
		if isTagged(n) && n.Tag != tagSeq {
			return nil, d.errorf(n, "tag %s on a list is not supported", n.Tag)
		}
		v := NewList()
		for _, c := range n.Content {
			it, err := d.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, it)
		}
		v.pos = posOf(n)
		return v, nil
	case yaml.MappingNode:
		if isTagged(n) && n.Tag != tagMap {
			return nil, d.errorf(n, "tag %s on a mapping is not supported", n.Tag)
		}
		mb := &mapBuilder{v: NewMap(), keys: map[string]keyOrigin{}}
		if err := d.mapping(n, mb, depth); err != nil {
			return nil, err
		}
		mb.v.pos = posOf(n)
		return mb.v, nil
	}
	return nil, d.errorf(n, "unsupported YAML node")
}

// count counts one more node read, refusing documents that nest too
// deeply or expand too far.
func (d *decoder) count(n *yaml.Node, depth int) error {
	d.nodes++
	if len(d.expanding) > 0 {
		d.aliased++
	}
	if depth > maxDepth || d.nodes > maxNodes || tooAliased(d.nodes, d.aliased) {
		return d.errorf(n, "the document nests too deeply or its aliases expand too far")
	}
	return nil
}

// follow enters alias n, refusing an alias met again while its own value
// is being read (an anchor that contains itself).
func (d *decoder) follow(n *yaml.Node) (*yaml.Node, error) {
	if d.expanding[n] || n.Alias == nil {
		return nil, d.errorf(n, "anchor %q contains itself", n.Value)
	}
	d.expanding[n] = true
	return n.Alias, nil
}

// keyOrigin records which key set a field: go-yaml v2 keeps keys as typed
// values, so 1 and "1" are two keys that sigs.k8s.io/yaml turns into the
// same JSON field, in an order that is not defined.
type keyOrigin struct {
	goKey any
	pos   Pos
}

type mapBuilder struct {
	v    *Value
	keys map[string]keyOrigin
}

// IsMergeKey reports whether a mapping key is a YAML merge key as go-yaml
// v2 sees it: a plain (or !!merge-tagged) <<, not a quoted "<<".
func IsMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == tagMerge
}

// mapping applies the entries of mapping n to mb in order, as go-yaml v2
// does: an entry sets its key (replacing what an earlier entry or merge
// set), a merge key applies the merged mapping's entries at that point.
func (d *decoder) mapping(n *yaml.Node, mb *mapBuilder, depth int) error {
	seen := map[any]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if IsMergeKey(k) {
			if err := d.merge(v, mb, depth+1); err != nil {
				return err
			}
			continue
		}
		goKey, err := d.key(k, depth+1)
		if err != nil {
			return err
		}
		name, err := keyString(goKey)
		if err != nil {
			return d.errorf(k, "%v", err)
		}
		pos := posOf(k)
		if prev, dup := seen[goKey]; dup && !d.lastWins {
			return duplicateKey(name, pos, prev)
		}
		seen[goKey] = pos
		if o, ok := mb.keys[name]; ok && o.goKey != goKey {
			return &ParseError{Line: pos.Line, Msg: fmt.Sprintf(
				"key %s and the key at line %d (%v) are both field %q: which one kubectl keeps is not defined", describeKey(k), o.pos.Line, o.goKey, name)}
		}
		val, err := d.value(v, depth+1)
		if err != nil {
			return err
		}
		val.pos = pos
		mb.keys[name] = keyOrigin{goKey: goKey, pos: pos}
		mb.v.Put(name, val)
	}
	return nil
}

// duplicateKey refuses a key written twice in one mapping.
func duplicateKey(name string, at, prev Pos) error {
	where := fmt.Sprintf("line %d", prev.Line)
	if prev.Line == at.Line {
		where = fmt.Sprintf("column %d", prev.Column)
	}
	return &ParseError{Line: at.Line, Msg: fmt.Sprintf(
		"duplicate key %q (also at %s): kubectl keeps the last one and other tools the first, so raygate refuses the file", name, where)}
}

func describeKey(k *yaml.Node) string {
	if isPlain(k) {
		return k.Value
	}
	return fmt.Sprintf("%q", k.Value)
}

// key resolves a mapping key to the typed value go-yaml v2 uses.
func (d *decoder) key(k *yaml.Node, depth int) (any, error) {
	n := k
	for n.Kind == yaml.AliasNode {
		target, err := d.follow(n)
		if err != nil {
			return nil, err
		}
		defer delete(d.expanding, n)
		n = target
	}
	if n.Kind != yaml.ScalarNode {
		return nil, d.errorf(k, "a mapping or list as a key has no JSON form")
	}
	if err := d.count(k, depth); err != nil {
		return nil, err
	}
	g, err := scalarGo(n)
	if err != nil {
		return nil, d.errorf(k, "%v", err)
	}
	if t, ok := g.(timestampText); ok {
		g = string(t)
	}
	return g, nil
}

var errWantMap = "a merge key (<<) needs a mapping or a list of mappings"

// merge applies a merge key's value: a mapping, an alias of one, or a list
// of those, the first of a list winning (go-yaml v2 applies the list from
// its end).
func (d *decoder) merge(v *yaml.Node, mb *mapBuilder, depth int) error {
	apply := func(m *yaml.Node) error {
		if m.Kind == yaml.AliasNode {
			if m.Alias == nil || m.Alias.Kind != yaml.MappingNode {
				return d.errorf(m, "%s", errWantMap)
			}
			target, err := d.follow(m)
			if err != nil {
				return err
			}
			defer delete(d.expanding, m)
			m = target
		}
		if m.Kind != yaml.MappingNode {
			return d.errorf(m, "%s", errWantMap)
		}
		if err := d.count(m, depth); err != nil {
			return err
		}
		return d.mapping(m, mb, depth+1)
	}
	switch v.Kind {
	case yaml.MappingNode, yaml.AliasNode:
		return apply(v)
	case yaml.SequenceNode:
		for i := len(v.Content) - 1; i >= 0; i-- {
			c := v.Content[i]
			if c.Kind != yaml.MappingNode && c.Kind != yaml.AliasNode {
				return d.errorf(c, "%s", errWantMap)
			}
			if err := apply(c); err != nil {
				return err
			}
		}
		return nil
	}
	return d.errorf(v, "%s", errWantMap)
}
