// Package manifest reads KubeRay manifests (RayCluster, RayJob, RayService)
// from multi-document YAML without losing comments or key order, and finds
// in them the parts raygate checks and hardens: the Ray cluster specs, every
// pod template (head, each worker group, the RayJob submitter) and the
// line of any field path.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds one manifest file; larger ones are refused unread.
const MaxFileSize = 32 << 20

// Group is KubeRay's API group.
const Group = "ray.io"

// Kubernetes kinds of the KubeRay custom resources.
const (
	KindRayCluster = "RayCluster"
	KindRayJob     = "RayJob"
	KindRayService = "RayService"
)

// Document is one YAML document of a file.
type Document struct {
	// Index is the 0-based position of the document in its file.
	Index int
	// Node is the yaml.DocumentNode; nil for an empty document.
	Node *yaml.Node
}

// Root returns the document's top-level node, or nil when it is empty.
func (d Document) Root() *yaml.Node {
	if d.Node == nil || len(d.Node.Content) == 0 {
		return nil
	}
	return d.Node.Content[0]
}

// Object is one KubeRay resource found in a document: the document itself,
// or an item of a kind: List document.
type Object struct {
	// Document is the index of the document that holds the object.
	Document int
	// Prefix is the object's field path inside the document: "" for the
	// document itself, "items[3]" for a List item.
	Prefix string
	// APIVersion is the object's apiVersion, e.g. ray.io/v1.
	APIVersion string
	// Kind is the object's kind: RayCluster, RayJob or RayService for
	// Objects, any kind for Resources.
	Kind string
	// Name and Namespace are from metadata (either may be empty).
	Name, Namespace string
	// Node is the object's mapping node.
	Node *yaml.Node
}

// Path joins the object's prefix with a field path relative to the object.
func (o Object) Path(rel string) string { return JoinPath(o.Prefix, rel) }

// ParseError is a YAML syntax error in a file, with the line it was found on.
type ParseError struct {
	Line int
	Msg  string
}

// Error names the file, document and line that could not be parsed.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse splits data into its YAML documents. A syntax error anywhere is a
// *ParseError: a file that cannot be read whole is not checked in part.
func Parse(data []byte) ([]Document, error) {
	if len(data) > MaxFileSize {
		return nil, &ParseError{Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Document
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, toParseError(err)
		}
		spellNulls(&n, false, false)
		d := Document{Index: i, Node: &n}
		if len(n.Content) == 0 {
			d.Node = nil
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func toParseError(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ParseError{Line: line, Msg: m[2]}
	}
	return &ParseError{Msg: msg}
}

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

// Encode writes documents back as multi-document YAML, with comments and key
// order as parsed (indentation normalised to two spaces).
func Encode(docs []Document, style Style) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		if d.Node == nil {
			continue
		}
		if r := d.Root(); r != nil && r.Kind == yaml.ScalarNode && r.Tag == "!!null" && r.Value == "" {
			// An empty document: keep its comments, not a "null".
			for _, c := range []string{d.Node.HeadComment, r.HeadComment, r.LineComment, r.FootComment, d.Node.FootComment} {
				if c != "" {
					buf.WriteString(c + "\n")
				}
			}
			continue
		}
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

// Objects returns the KubeRay resources of the documents, in order. Other
// kinds (Services, ConfigMaps, ...) are skipped; the items of a kind: List
// are looked into.
func Objects(docs []Document) []Object {
	var out []Object
	for _, o := range Resources(docs) {
		if IsRayKind(o.APIVersion, o.Kind) {
			out = append(out, o)
		}
	}
	return out
}

// Resources returns every Kubernetes object of the documents (anything
// with apiVersion and kind), looking into the items of kind: List.
func Resources(docs []Document) []Object {
	var out []Object
	for _, d := range docs {
		root := resolve(d.Root())
		if root == nil || root.Kind != yaml.MappingNode {
			continue
		}
		if kind := scalar(Get(root, "kind")); kind == "List" || strings.HasSuffix(kind, "List") && Get(root, "items") != nil {
			items := resolve(Get(root, "items"))
			if items == nil || items.Kind != yaml.SequenceNode {
				continue
			}
			for i, it := range items.Content {
				if o, ok := objectOf(resolve(it), d.Index, fmt.Sprintf("items[%d]", i)); ok {
					out = append(out, o)
				}
			}
			continue
		}
		if o, ok := objectOf(root, d.Index, ""); ok {
			out = append(out, o)
		}
	}
	return out
}

func objectOf(n *yaml.Node, doc int, prefix string) (Object, bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		return Object{}, false
	}
	kind, apiVersion := scalar(Get(n, "kind")), scalar(Get(n, "apiVersion"))
	if kind == "" || apiVersion == "" {
		return Object{}, false
	}
	meta := resolve(Get(n, "metadata"))
	return Object{
		Document:   doc,
		Prefix:     prefix,
		APIVersion: apiVersion,
		Kind:       kind,
		Name:       scalar(Get(meta, "name")),
		Namespace:  scalar(Get(meta, "namespace")),
		Node:       n,
	}, true
}

// IsRayKind reports whether apiVersion/kind name a KubeRay resource raygate
// checks.
func IsRayKind(apiVersion, kind string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == Group && (kind == KindRayCluster || kind == KindRayJob || kind == KindRayService)
}
