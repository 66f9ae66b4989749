// Package manifest reads Kubernetes manifests exactly as kubectl and the
// API server read them, and finds in them the parts raygate checks and
// hardens.
//
// One reading: a file is split into documents as kubectl splits it, each
// YAML document is resolved with the rules of sigs.k8s.io/yaml (go-yaml v2:
// YAML 1.1 scalars, merge keys applied in order, aliases expanded, keys
// turned into JSON field names) and each document with an items field is a
// list, as apimachinery's unstructured decoder decides. The result is one
// tree of Values per document, with the line and column every value came
// from; lint, harden and the admission webhook all read that tree. Every
// file is also run through kubectl's own decoder (apimachinery's
// YAMLOrJSONDecoder and UnstructuredJSONScheme) and refused if the two
// readings differ in any field, so what raygate checks is what the API
// server stores. Documents kubectl would read in an undefined or
// surprising way are refused with the line to fix: duplicate keys, keys
// that become the same JSON field, unknown tags, a second document after
// "..." in one chunk.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
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
	// KindRayCronJob (KubeRay 1.6.0 and later) runs a RayJob, its
	// spec.jobTemplate, on a schedule.
	KindRayCronJob = "RayCronJob"
)

// File is a manifest file as kubectl reads it.
type File struct {
	// Docs are the file's documents, in order.
	Docs []*Document
	// JSON reports whether kubectl reads the file as a stream of JSON
	// values (it starts with "{" and every document is JSON); harden then
	// answers in JSON too.
	JSON bool
}

// Document is one document of a file.
type Document struct {
	// Index is the 0-based position of the document in its file.
	Index int
	// Line is the document's first line in the file.
	Line int
	// Node is the yaml.v3 document node, which harden edits and writes
	// back with its comments; nil for JSON documents and empty chunks.
	Node *yaml.Node
	// Value is the document as kubectl reads it; nil when it is empty.
	Value *Value
	// Objects are the Kubernetes objects the document holds: the document
	// itself, or the items of a list.
	Objects []Object
}

// Object is one Kubernetes object of a document.
type Object struct {
	// Document is the index of the document that holds the object.
	Document int
	// Prefix is the object's path inside the document: empty for the
	// document itself, items[3] for a list item.
	Prefix Path
	// APIVersion and Kind are the object's type (for a list item without
	// them, those apimachinery gives it: the list's apiVersion and its
	// kind without the List suffix).
	APIVersion, Kind string
	// Name and Namespace are from metadata (either may be empty).
	Name, Namespace string
	// Value is the object.
	Value *Value
	// ListDocument marks a document with items (kubectl applies the items
	// instead) that is itself a KubeRay object: clients that store a
	// document whole (the API server given it directly, tools that do not
	// unwrap lists) would store it, so it is checked too.
	ListDocument bool
}

// Path returns the path of a field of the object inside its document.
func (o Object) Path(rel Path) Path { return o.Prefix.Join(rel) }

// Field renders the path of a field of the object, as findings report it.
func (o Object) Field(rel Path) string { return o.Path(rel).String() }

// Position returns where the field at rel (or, when it is absent, its
// deepest parent that exists) is written; zero when unknown.
func (o Object) Position(rel Path) Pos {
	cur := o.Value
	pos := cur.Pos()
	for _, s := range rel {
		var next *Value
		if s.IsIndex() {
			next = cur.Index(s.Index)
		} else {
			next = cur.Get(s.Key)
		}
		if next == nil {
			break
		}
		cur = next
		pos = cur.Pos()
	}
	return pos
}

// IsRay reports whether the object is a RayCluster, RayJob, RayService or
// RayCronJob.
func (o Object) IsRay() bool { return IsRayKind(o.APIVersion, o.Kind) }

// ParseError is a file raygate cannot read, or refuses to read, with the
// line it was found on.
type ParseError struct {
	Line int
	Msg  string
}

// Error names the line that could not be read.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func toParseError(err error) *ParseError {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe
	}
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

// Read reads a manifest file the way kubectl does. Any error is a
// *ParseError: a file that cannot be read whole, or whose reading is
// ambiguous, is not checked in part.
func Read(data []byte) (*File, error) {
	f, err := read(data, false)
	if err != nil {
		return nil, err
	}
	if err := verify(data, f); err != nil {
		return nil, err
	}
	return f, nil
}

// read reads a file without the comparison with kubectl's decoder;
// lastWins keeps the last of duplicate keys instead of refusing them.
func read(data []byte, lastWins bool) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, &ParseError{Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	data, err := checkEncoding(data)
	if err != nil {
		return nil, err
	}
	f := &File{}
	skip := 0
	if looksJSON(data) {
		docs, ok, err := readJSON(data, lastWins)
		if err != nil {
			return nil, err
		}
		if ok {
			f.JSON, f.Docs = true, docs
			return f, f.findObjects()
		}
		// Not JSON after all: kubectl reads the stream as YAML, after
		// dropping the spaces up to and including the first line end.
		skip = leadingSpaceThroughNewline(data)
	}
	chunks, err := splitYAML(data[skip:])
	if err != nil {
		return nil, err
	}
	shift := bytes.Count(data[:skip], []byte("\n"))
	for i, c := range chunks {
		c.line += shift
		n, err := parseChunk(c)
		if err != nil {
			return nil, err
		}
		d := &Document{Index: i, Line: c.line, Node: n}
		if n != nil {
			dec := newDecoder()
			dec.lastWins = lastWins
			v, err := dec.value(n, 0)
			if err != nil {
				return nil, toParseError(err)
			}
			if !v.IsNull() {
				d.Value = v
			}
		}
		f.Docs = append(f.Docs, d)
	}
	return f, f.findObjects()
}

// checkEncoding drops a UTF-8 byte order mark and refuses what is not
// UTF-8 (kubectl would silently convert UTF-16 and replace invalid
// bytes).
func checkEncoding(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(data, []byte("\xfe\xff")) || bytes.HasPrefix(data, []byte("\xff\xfe")) {
		return nil, &ParseError{Msg: "the file is UTF-16: convert it to UTF-8"}
	}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, &ParseError{Line: line, Msg: "the file is not valid UTF-8"}
	}
	return data, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// looksJSON reports whether kubectl treats the stream as JSON: its first
// non-space character within the first 4096 bytes is "{".
func looksJSON(data []byte) bool {
	head := data[:min(len(data), 4096)]
	return bytes.HasPrefix(bytes.TrimLeftFunc(head, unicode.IsSpace), []byte("{"))
}

// leadingSpaceThroughNewline is how many bytes kubectl drops before reading
// a stream as YAML once JSON failed: spaces up to and including the first
// line end, stopping at anything else.
func leadingSpaceThroughNewline(data []byte) int {
	i := 0
	for i < len(data) {
		r, size := utf8.DecodeRune(data[i:])
		if !unicode.IsSpace(r) {
			return i
		}
		i += size
		if r == '\n' {
			return i
		}
	}
	return i
}

// findObjects lists the objects of every document.
func (f *File) findObjects() error {
	for _, d := range f.Docs {
		objs, err := objectsOf(d.Index, d.Value)
		if err != nil {
			return err
		}
		d.Objects = objs
	}
	return nil
}

// objectsOf returns the objects of one document as apimachinery's
// unstructured decoder finds them: a document with an items field, of any
// kind, is a list whose items are the objects (and the document's own
// fields are not applied); an item without kind and apiVersion takes the
// list's apiVersion and its kind without the List suffix.
func objectsOf(doc int, v *Value) ([]Object, error) {
	if !v.IsMap() {
		return nil, nil
	}
	items, isList := v.m["items"]
	if !isList {
		if o, ok := objectOf(doc, nil, v); ok {
			return []Object{o}, nil
		}
		return nil, nil
	}
	var out []Object
	if o, ok := objectOf(doc, nil, v); ok && o.IsRay() {
		o.ListDocument = true
		out = append(out, o)
	}
	if items.IsNull() {
		return out, nil
	}
	if !items.IsList() {
		return nil, &ParseError{Line: items.Pos().Line, Msg: fmt.Sprintf("items is a %s: a document with items is a list, and kubectl refuses items that are not a list", items.Kind())}
	}
	listKind, listAPIVersion := v.Get("kind").Str(), v.Get("apiVersion").Str()
	for i, it := range items.items {
		switch {
		case it.IsNull():
			continue // an empty object without a name: nothing is stored
		case !it.IsMap():
			return nil, &ParseError{Line: it.Pos().Line, Msg: fmt.Sprintf("items[%d] is a %s, not an object", i, it.Kind())}
		case it.Get("items").IsList():
			return nil, &ParseError{Line: it.Pos().Line, Msg: fmt.Sprintf("items[%d] is itself a list: kubectl refuses lists inside lists", i)}
		}
		if it.Get("kind").Str() == "" && it.Get("apiVersion").Str() == "" {
			it = it.Clone()
			it.Put("kind", NewString(strings.TrimSuffix(listKind, "List")))
			it.Put("apiVersion", NewString(listAPIVersion))
		}
		if o, ok := objectOf(doc, Path{}.Key("items").Index(i), it); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

func objectOf(doc int, prefix Path, v *Value) (Object, bool) {
	kind, apiVersion := v.Get("kind").Str(), v.Get("apiVersion").Str()
	if kind == "" || apiVersion == "" {
		return Object{}, false
	}
	meta := v.Get("metadata")
	return Object{
		Document: doc, Prefix: prefix, APIVersion: apiVersion, Kind: kind,
		Name: meta.Get("name").Str(), Namespace: meta.Get("namespace").Str(),
		Value: v,
	}, true
}

// Resources returns every Kubernetes object of the file, list items
// included, in order.
func (f *File) Resources() []Object {
	var out []Object
	for _, d := range f.Docs {
		out = append(out, d.Objects...)
	}
	return out
}

// Objects returns the file's RayClusters, RayJobs and RayServices.
func (f *File) Objects() []Object {
	var out []Object
	for _, o := range f.Resources() {
		if o.IsRay() {
			out = append(out, o)
		}
	}
	return out
}

// IsRayKind reports whether apiVersion/kind name a KubeRay resource raygate
// checks. Case is ignored, so that a kind spelled differently is checked
// rather than skipped.
func IsRayKind(apiVersion, kind string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	if !strings.EqualFold(group, Group) {
		return false
	}
	return CanonicalKind(kind) != ""
}

// CanonicalKind returns RayCluster, RayJob, RayService or RayCronJob for a
// kind spelled in any case, "" for other kinds.
func CanonicalKind(kind string) string {
	for _, k := range []string{KindRayCluster, KindRayJob, KindRayService, KindRayCronJob} {
		if strings.EqualFold(kind, k) {
			return k
		}
	}
	return ""
}

// ObjectFromJSON reads one object as the API server sends it to admission
// webhooks: JSON, already decoded and re-encoded by the API server.
func ObjectFromJSON(raw []byte) (Object, error) {
	var x any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &x); err != nil {
		return Object{}, fmt.Errorf("cannot read the object: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	v, err := FromInterface(x)
	if err != nil {
		return Object{}, err
	}
	if !v.IsMap() {
		return Object{}, errors.New("the object is not a mapping")
	}
	o, ok := objectOf(0, nil, v)
	if !ok {
		return Object{}, errors.New("the object has no kind or apiVersion")
	}
	return o, nil
}
