package manifest

import (
	"errors"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Edit is one change to a document: the value at Path becomes Value, or,
// with Delete, the field at Path is removed. Paths are from the document's
// root (an object's Path gives them); a list index equal to the list's
// length appends.
type Edit struct {
	Path   Path
	Value  *Value
	Delete bool
	// Comment, when the edit adds a key, is written above it.
	Comment string
}

// Apply applies edits to a Value tree in place (missing mappings on the
// way are created; a null where a mapping is needed becomes one).
func Apply(root *Value, edits []Edit) error {
	for _, e := range edits {
		if len(e.Path) == 0 {
			return errors.New("manifest: an edit needs a path")
		}
		parent, err := valueParent(root, e.Path)
		if err != nil {
			return err
		}
		last := e.Path[len(e.Path)-1]
		switch {
		case e.Delete && last.IsIndex():
			if parent.IsList() && last.Index < len(parent.items) {
				parent.items = append(parent.items[:last.Index:last.Index], parent.items[last.Index+1:]...)
			}
		case e.Delete:
			parent.Remove(last.Key)
		case last.IsIndex():
			if !parent.IsList() || last.Index > len(parent.items) {
				return fmt.Errorf("manifest: %s: no such list item", e.Path)
			}
			if last.Index == len(parent.items) {
				parent.items = append(parent.items, e.Value.Clone())
			} else {
				parent.items[last.Index] = e.Value.Clone()
			}
		default:
			parent.Put(last.Key, e.Value.Clone())
		}
	}
	return nil
}

// valueParent returns the container of the last step of p, creating
// mappings on the way.
func valueParent(root *Value, p Path) (*Value, error) {
	cur := root
	for i, s := range p[:len(p)-1] {
		var next *Value
		if s.IsIndex() {
			next = cur.Index(s.Index)
		} else {
			if !cur.IsMap() {
				return nil, fmt.Errorf("manifest: %s is not a mapping", p[:i])
			}
			next = cur.Get(s.Key)
			if next.IsNull() && !p[i+1].IsIndex() {
				next = NewMap()
				cur.Put(s.Key, next)
			}
		}
		if next == nil {
			return nil, fmt.Errorf("manifest: %s: no such field", p[:i+1])
		}
		cur = next
	}
	return cur, nil
}

// Editor changes the YAML source of one document so that it reads as the
// edited value, keeping comments and layout. A change lands where kubectl
// reads the value from: over an explicit key in place, and after the merge
// key that provides it otherwise (there a new explicit key wins). Aliased
// nodes are copied before they change, so an edit never reaches another
// place that shares the anchor; a node about to disappear takes its
// anchors' aliases with it as copies.
type Editor struct {
	doc *yaml.Node
}

// NewEditor returns an editor of a yaml.v3 document node. Anchor names
// defined twice are made unique first, so that moving nodes cannot
// change which definition an alias names.
func NewEditor(doc *yaml.Node) *Editor {
	e := &Editor{doc: doc}
	e.uniqueAnchors()
	return e
}

// Apply applies edits to the document.
func (e *Editor) Apply(edits []Edit) error {
	for _, ed := range edits {
		var err error
		if ed.Delete {
			err = e.remove(ed.Path)
		} else {
			err = e.set(ed.Path, ed.Value, ed.Comment)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Editor) root() (*yaml.Node, error) {
	if e.doc == nil || len(e.doc.Content) == 0 {
		return nil, errors.New("manifest: the document is empty")
	}
	r := e.doc.Content[0]
	if r.Kind == yaml.AliasNode {
		e.materialize(r)
	}
	return r, nil
}

// walk returns the node that holds the last step of p, made private.
func (e *Editor) walk(p Path) (*yaml.Node, error) {
	cur, err := e.root()
	if err != nil {
		return nil, err
	}
	for i, s := range p[:len(p)-1] {
		next, err := e.child(cur, s, !p[i+1].IsIndex())
		if err != nil {
			return nil, fmt.Errorf("manifest: %s: %w", p[:i+1], err)
		}
		cur = next
	}
	return cur, nil
}

// child steps from the private node cur into s, returning a private
// node. wantMap creates (or turns a null into) a mapping where the key is
// missing.
func (e *Editor) child(cur *yaml.Node, s Step, wantMap bool) (*yaml.Node, error) {
	var next *yaml.Node
	if s.IsIndex() {
		if cur.Kind != yaml.SequenceNode || s.Index >= len(cur.Content) {
			return nil, errors.New("no such list item")
		}
		next = cur.Content[s.Index]
	} else {
		if cur.Kind != yaml.MappingNode {
			return nil, errors.New("not a mapping")
		}
		idx, merged := e.provider(cur, s.Key)
		switch {
		case idx < 0:
			if !wantMap {
				return nil, errors.New("no such field")
			}
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: tagMap}
			cur.Content = append(cur.Content, KeyNode(s.Key), next)
			return next, nil
		case merged:
			v := e.mergedValue(cur.Content[idx+1], s.Key)
			next = deepCopy(v)
			e.putAfter(cur, idx, s.Key, next)
		default:
			next = cur.Content[idx+1]
		}
	}
	if next.Kind == yaml.AliasNode {
		e.materialize(next)
	}
	if wantMap && next.Kind == yaml.ScalarNode && isNullScalar(next) {
		e.detach(next)
		*next = yaml.Node{Kind: yaml.MappingNode, Tag: tagMap, HeadComment: next.HeadComment, LineComment: next.LineComment, FootComment: next.FootComment}
	}
	e.own(next)
	return next, nil
}

func isNullScalar(n *yaml.Node) bool {
	v, err := scalarGo(n)
	return err == nil && v == nil
}

// set makes the value at p v; comment goes above a key it adds.
func (e *Editor) set(p Path, v *Value, comment string) error {
	if len(p) == 0 {
		return errors.New("manifest: an edit needs a path")
	}
	parent, err := e.walk(p)
	if err != nil {
		return err
	}
	n := NodeOf(v)
	last := p[len(p)-1]
	if last.IsIndex() {
		if parent.Kind != yaml.SequenceNode || last.Index > len(parent.Content) {
			return fmt.Errorf("manifest: %s: no such list item", p)
		}
		if last.Index == len(parent.Content) {
			parent.Content = append(parent.Content, n)
			return nil
		}
		old := parent.Content[last.Index]
		e.detach(old)
		keepComments(n, old)
		parent.Content[last.Index] = n
		return nil
	}
	if parent.Kind != yaml.MappingNode {
		return fmt.Errorf("manifest: %s: not a mapping", p[:len(p)-1])
	}
	idx, merged := e.provider(parent, last.Key)
	switch {
	case idx < 0:
		k := KeyNode(last.Key)
		k.HeadComment = comment
		parent.Content = append(parent.Content, k, n)
	case merged:
		e.putAfter(parent, idx, last.Key, n)
	default:
		old := parent.Content[idx+1]
		e.detach(old)
		keepComments(n, old)
		parent.Content[idx+1] = n
	}
	return nil
}

// remove deletes the field at p.
func (e *Editor) remove(p Path) error {
	if len(p) == 0 {
		return errors.New("manifest: an edit needs a path")
	}
	parent, err := e.walk(p)
	if err != nil {
		return err
	}
	last := p[len(p)-1]
	if last.IsIndex() {
		if parent.Kind == yaml.SequenceNode && last.Index < len(parent.Content) {
			e.detach(parent.Content[last.Index])
			parent.Content = append(parent.Content[:last.Index:last.Index], parent.Content[last.Index+1:]...)
		}
		return nil
	}
	if parent.Kind != yaml.MappingNode {
		return nil
	}
	if e.mergeWrites(parent, last.Key) {
		e.flatten(parent)
	}
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if !IsMergeKey(parent.Content[i]) && e.keyName(parent.Content[i]) == last.Key {
			e.detach(parent.Content[i])
			e.detach(parent.Content[i+1])
			parent.Content = append(parent.Content[:i:i], parent.Content[i+2:]...)
			i -= 2
		}
	}
	return nil
}

// keyName is the JSON field a key node names ("" when it names none).
func (e *Editor) keyName(k *yaml.Node) string {
	g, err := newDecoder().key(k, 0)
	if err != nil {
		return ""
	}
	s, err := keyString(g)
	if err != nil {
		return ""
	}
	return s
}

// provider returns the index in m.Content of the entry that sets key last
// (an explicit key, or a merge key whose mappings set it) and whether it
// is a merge key; -1 when nothing sets key.
func (e *Editor) provider(m *yaml.Node, key string) (int, bool) {
	idx, merged := -1, false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if IsMergeKey(k) {
			if e.mergedValue(m.Content[i+1], key) != nil {
				idx, merged = i, true
			}
			continue
		}
		if e.keyName(k) == key {
			idx, merged = i, false
		}
	}
	return idx, merged
}

// mergeWrites reports whether any merge key of m sets key.
func (e *Editor) mergeWrites(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if IsMergeKey(m.Content[i]) && e.mergedValue(m.Content[i+1], key) != nil {
			return true
		}
	}
	return false
}

// mergedValue returns the value node a merge key's value gives key (the
// first mapping of a list wins), or nil.
func (e *Editor) mergedValue(v *yaml.Node, key string) *yaml.Node {
	v = resolveAlias(v)
	var maps []*yaml.Node
	if v != nil && v.Kind == yaml.SequenceNode {
		maps = v.Content
	} else {
		maps = []*yaml.Node{v}
	}
	for _, m := range maps {
		m = resolveAlias(m)
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		if idx, merged := e.provider(m, key); idx >= 0 {
			if merged {
				return e.mergedValue(m.Content[idx+1], key)
			}
			return m.Content[idx+1]
		}
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// putAfter sets key in m to n after the merge entry at idx (where it
// overrides what the merge gives), removing explicit entries of key
// (which the merge overrode).
func (e *Editor) putAfter(m *yaml.Node, idx int, key string, n *yaml.Node) {
	at := idx + 2
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !IsMergeKey(m.Content[i]) && e.keyName(m.Content[i]) == key {
			e.detach(m.Content[i])
			e.detach(m.Content[i+1])
			m.Content = append(m.Content[:i:i], m.Content[i+2:]...)
			if i < at {
				at -= 2
			}
			i -= 2
		}
	}
	rest := append([]*yaml.Node{KeyNode(key), n}, m.Content[at:]...)
	m.Content = append(m.Content[:at:at], rest...)
}

// flatten replaces the merge keys of m with the entries they give,
// copied, so that every field of m is an explicit key.
func (e *Editor) flatten(m *yaml.Node) {
	type entry struct{ k, v *yaml.Node }
	var order []string
	fields := map[string]entry{}
	var apply func(mm *yaml.Node, own bool)
	apply = func(mm *yaml.Node, own bool) {
		for i := 0; i+1 < len(mm.Content); i += 2 {
			k, v := mm.Content[i], mm.Content[i+1]
			if IsMergeKey(k) {
				src := resolveAlias(v)
				list := []*yaml.Node{src}
				if src != nil && src.Kind == yaml.SequenceNode {
					list = nil
					for j := len(src.Content) - 1; j >= 0; j-- {
						list = append(list, src.Content[j])
					}
				}
				for _, x := range list {
					if x = resolveAlias(x); x != nil && x.Kind == yaml.MappingNode {
						apply(x, false)
					}
				}
				continue
			}
			name := e.keyName(k)
			if _, ok := fields[name]; !ok {
				order = append(order, name)
			}
			if own {
				fields[name] = entry{k, v}
			} else {
				fields[name] = entry{deepCopy(k), deepCopy(v)}
			}
		}
	}
	apply(m, true)
	var removed []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if IsMergeKey(m.Content[i]) {
			removed = append(removed, m.Content[i+1])
		}
	}
	content := make([]*yaml.Node, 0, 2*len(order))
	for _, name := range order {
		content = append(content, fields[name].k, fields[name].v)
	}
	m.Content = content
	// The copies may name anchors defined inside the merged values that
	// just left the document.
	for _, r := range removed {
		e.detach(r)
	}
}

// own makes n private: every alias of n becomes a copy of it.
func (e *Editor) own(n *yaml.Node) {
	for _, a := range e.aliases(func(t *yaml.Node) bool { return t == n }, nil) {
		e.materialize(a)
	}
}

// detach prepares the removal of n: every alias, outside n, of n or of a
// node inside it becomes a copy.
func (e *Editor) detach(n *yaml.Node) {
	inside := map[*yaml.Node]bool{}
	var mark func(x *yaml.Node)
	mark = func(x *yaml.Node) {
		if x == nil || inside[x] {
			return
		}
		inside[x] = true
		for _, c := range x.Content {
			mark(c)
		}
	}
	mark(n)
	for {
		as := e.aliases(func(t *yaml.Node) bool { return inside[t] }, inside)
		if len(as) == 0 {
			return
		}
		for _, a := range as {
			e.materialize(a)
		}
	}
}

// aliases returns the alias nodes of the document whose target matches,
// skipping the nodes in skip.
func (e *Editor) aliases(match func(*yaml.Node) bool, skip map[*yaml.Node]bool) []*yaml.Node {
	var out []*yaml.Node
	seen := map[*yaml.Node]bool{}
	var walk func(x *yaml.Node)
	walk = func(x *yaml.Node) {
		if x == nil || seen[x] || skip[x] {
			return
		}
		seen[x] = true
		if x.Kind == yaml.AliasNode {
			if match(x.Alias) {
				out = append(out, x)
			}
			return
		}
		for _, c := range x.Content {
			walk(c)
		}
	}
	walk(e.doc)
	return out
}

// materialize turns alias node a into a copy of what it names, keeping
// its comments.
func (e *Editor) materialize(a *yaml.Node) {
	c := deepCopy(resolveAlias(a))
	c.HeadComment, c.LineComment, c.FootComment = a.HeadComment, a.LineComment, a.FootComment
	c.Line, c.Column = a.Line, a.Column
	*a = *c
}

// deepCopy copies a subtree without its anchors (aliases inside it keep
// naming the original anchors).
func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		c := *n
		return &c
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepCopy(ch)
	}
	return &c
}

// uniqueAnchors renames anchors defined more than once, and the aliases
// that name them.
func (e *Editor) uniqueAnchors() {
	used := map[string]bool{}
	renamed := map[*yaml.Node]string{}
	var define func(x *yaml.Node)
	define = func(x *yaml.Node) {
		if x == nil || x.Kind == yaml.AliasNode {
			return
		}
		if x.Anchor != "" {
			if used[x.Anchor] {
				name := x.Anchor
				for i := 2; used[name]; i++ {
					name = x.Anchor + "-" + strconv.Itoa(i)
				}
				x.Anchor = name
				renamed[x] = name
			}
			used[x.Anchor] = true
		}
		for _, c := range x.Content {
			define(c)
		}
	}
	define(e.doc)
	if len(renamed) == 0 {
		return
	}
	for _, a := range e.aliases(func(t *yaml.Node) bool { return renamed[t] != "" }, nil) {
		a.Value = renamed[a.Alias]
	}
}

func keepComments(n, old *yaml.Node) {
	if n.Kind == yaml.ScalarNode && old.Kind == yaml.ScalarNode {
		n.HeadComment, n.LineComment, n.FootComment = old.HeadComment, old.LineComment, old.FootComment
	}
}

// KeyNode returns a mapping key node for key, quoted where YAML 1.1 would
// read it as something other than that string.
func KeyNode(key string) *yaml.Node { return stringNode(key) }

func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: s}
	if tag, _ := guess11("", s); tag != tagStr || s == "<<" || s == "" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// NodeOf returns yaml.v3 nodes that kubectl reads as v.
func NodeOf(v *Value) *yaml.Node {
	switch v.Kind() {
	case KindBool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagBool, Value: strconv.FormatBool(v.b)}
	case KindInt:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagInt, Value: strconv.FormatInt(v.i, 10)}
	case KindFloat:
		s := strconv.FormatFloat(v.f, 'f', -1, 64)
		if _, g := guess11("", s); g != v.f {
			s = strconv.FormatFloat(v.f, 'e', -1, 64)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagFloat, Value: s}
	case KindString:
		return stringNode(v.s)
	case KindMap:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: tagMap}
		if len(v.keys) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, k := range v.keys {
			n.Content = append(n.Content, KeyNode(k), NodeOf(v.m[k]))
		}
		return n
	case KindList:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: tagSeq}
		if len(v.items) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, it := range v.items {
			n.Content = append(n.Content, NodeOf(it))
		}
		return n
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagNull, Value: "null"}
}
