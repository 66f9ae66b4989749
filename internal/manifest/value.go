package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	kjson "sigs.k8s.io/json"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of values: exactly the types of a JSON document as the API
// server decodes it (integers and other numbers apart, as apimachinery
// keeps them).
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindMap
	KindList
)

var kindNames = [...]string{"null", "boolean", "integer", "number", "string", "mapping", "list"}

// String names the kind for messages.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Pos is a position in a file: 1-based line and column; zero when the
// value was not read from a file (for example an object an admission
// review carries).
type Pos struct {
	Line, Column int
}

// Value is one node of a decoded object: what kubectl and the API server
// make of the manifest (YAML resolved as sigs.k8s.io/yaml resolves it,
// then read as JSON by apimachinery's unstructured decoder), with the
// position it came from. A nil *Value stands for an absent field; every
// accessor accepts it.
type Value struct {
	kind  Kind
	b     bool
	i     int64
	f     float64
	s     string
	keys  []string
	m     map[string]*Value
	items []*Value
	// num is the number as written, for JSON input written back.
	num string
	pos Pos
}

// NewNull returns a null value.
func NewNull() *Value { return &Value{kind: KindNull} }

// NewBool returns a boolean value.
func NewBool(b bool) *Value { return &Value{kind: KindBool, b: b} }

// NewInt returns an integer value.
func NewInt(i int64) *Value { return &Value{kind: KindInt, i: i} }

// NewString returns a string value.
func NewString(s string) *Value { return &Value{kind: KindString, s: s} }

// NewMap returns a mapping with the given keys and values in order:
// NewMap("name", NewString("a"), "emptyDir", NewMap()).
func NewMap(kv ...any) *Value {
	v := &Value{kind: KindMap, m: map[string]*Value{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Put(kv[i].(string), kv[i+1].(*Value))
	}
	return v
}

// NewList returns a list of the given items.
func NewList(items ...*Value) *Value { return &Value{kind: KindList, items: items} }

// FromInterface builds a Value from what encoding/json or apimachinery
// decode JSON into (map[string]any, []any, string, bool, nil, float64,
// int64, json.Number). Map keys are taken in sorted order.
func FromInterface(x any) (*Value, error) {
	switch t := x.(type) {
	case nil:
		return NewNull(), nil
	case bool:
		return NewBool(t), nil
	case string:
		return NewString(t), nil
	case int64:
		return NewInt(t), nil
	case int:
		return NewInt(int64(t)), nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, fmt.Errorf("manifest: %v is not a JSON number", t)
		}
		return &Value{kind: KindFloat, f: t}, nil
	case json.Number:
		return numberValue(string(t))
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		v := NewMap()
		for _, k := range keys {
			c, err := FromInterface(t[k])
			if err != nil {
				return nil, err
			}
			v.Put(k, c)
		}
		return v, nil
	case []any:
		v := NewList()
		for _, it := range t {
			c, err := FromInterface(it)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, c)
		}
		return v, nil
	}
	return nil, fmt.Errorf("manifest: unsupported value of type %T", x)
}

// numberValue reads a JSON number the way apimachinery does: an int64 if
// it is one, otherwise a float64.
func numberValue(lit string) (*Value, error) {
	if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return &Value{kind: KindInt, i: i, num: lit}, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %s is out of range", lit)
	}
	return &Value{kind: KindFloat, f: f, num: lit}, nil
}

// Kind returns the value's kind; KindNull for an absent value.
func (v *Value) Kind() Kind {
	if v == nil {
		return KindNull
	}
	return v.kind
}

// Pos returns where the value was written: for a mapping entry, its key;
// otherwise the value itself.
func (v *Value) Pos() Pos {
	if v == nil {
		return Pos{}
	}
	return v.pos
}

// IsNull reports whether the value is absent or null.
func (v *Value) IsNull() bool { return v == nil || v.kind == KindNull }

// IsMap reports whether the value is a mapping.
func (v *Value) IsMap() bool { return v != nil && v.kind == KindMap }

// IsList reports whether the value is a list.
func (v *Value) IsList() bool { return v != nil && v.kind == KindList }

// Get returns the value under key in a mapping (nil when absent or when v
// is not a mapping).
func (v *Value) Get(key string) *Value {
	if v == nil || v.kind != KindMap {
		return nil
	}
	return v.m[key]
}

// At follows a path from v (nil when any step is missing).
func (v *Value) At(p Path) *Value {
	cur := v
	for _, s := range p {
		if s.IsIndex() {
			cur = cur.Index(s.Index)
		} else {
			cur = cur.Get(s.Key)
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

// Lookup is At with a path written as ParsePath reads it.
func (v *Value) Lookup(path string) *Value { return v.At(ParsePath(path)) }

// Index returns item i of a list (nil when out of range or not a list).
func (v *Value) Index(i int) *Value {
	if v == nil || v.kind != KindList || i < 0 || i >= len(v.items) {
		return nil
	}
	return v.items[i]
}

// Len returns the number of entries of a mapping or items of a list.
func (v *Value) Len() int {
	switch {
	case v == nil:
		return 0
	case v.kind == KindMap:
		return len(v.keys)
	case v.kind == KindList:
		return len(v.items)
	}
	return 0
}

// Keys returns a mapping's keys, in the order they were first written.
func (v *Value) Keys() []string {
	if v == nil || v.kind != KindMap {
		return nil
	}
	return append([]string(nil), v.keys...)
}

// Items returns a list's items.
func (v *Value) Items() []*Value {
	if v == nil || v.kind != KindList {
		return nil
	}
	return append([]*Value(nil), v.items...)
}

// Str returns the string a value holds, or "" for anything else.
func (v *Value) Str() string {
	if v == nil || v.kind != KindString {
		return ""
	}
	return v.s
}

// IsString reports whether the value is a string.
func (v *Value) IsString() bool { return v != nil && v.kind == KindString }

// Bool returns the boolean a value holds and whether it holds one.
func (v *Value) Bool() (value, ok bool) {
	if v == nil || v.kind != KindBool {
		return false, false
	}
	return v.b, true
}

// IsTrue reports whether the value is the boolean true.
func (v *Value) IsTrue() bool { b, ok := v.Bool(); return ok && b }

// IsFalse reports whether the value is the boolean false.
func (v *Value) IsFalse() bool { b, ok := v.Bool(); return ok && !b }

// IsZero reports whether the value is the number 0, however it was
// written (0, 00, 0x0, 0o0, +0, 0.0, -0 ...).
func (v *Value) IsZero() bool { n, ok := v.Number(); return ok && n == 0 }

// Number returns the numeric value of an integer or other number.
func (v *Value) Number() (float64, bool) {
	switch v.Kind() {
	case KindInt:
		return float64(v.i), true
	case KindFloat:
		return v.f, true
	}
	return 0, false
}

// Scalar renders a string, number, boolean or null as text (strings
// unquoted), for messages; "" for mappings and lists.
func (v *Value) Scalar() string {
	switch v.Kind() {
	case KindString:
		return v.s
	case KindBool:
		return strconv.FormatBool(v.b)
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case KindNull:
		if v != nil {
			return "null"
		}
	}
	return ""
}

// Interface returns the value as apimachinery's unstructured objects hold
// it: map[string]any, []any, string, bool, int64, float64 or nil.
func (v *Value) Interface() any {
	switch v.Kind() {
	case KindBool:
		return v.b
	case KindInt:
		return v.i
	case KindFloat:
		return v.f
	case KindString:
		return v.s
	case KindMap:
		m := make(map[string]any, len(v.keys))
		for _, k := range v.keys {
			m[k] = v.m[k].Interface()
		}
		return m
	case KindList:
		l := make([]any, len(v.items))
		for i, it := range v.items {
			l[i] = it.Interface()
		}
		return l
	}
	return nil
}

// MarshalJSON writes the value as JSON, mapping keys sorted.
func (v *Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.Interface()) }

// DecodeInto decodes the value into out with the API server's rules:
// case-sensitive field names, integers kept as integers, type mismatches
// reported (without Go type names).
func (v *Value) DecodeInto(out any) error {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(b, out); err != nil {
		return fmt.Errorf("%s", cleanJSONError(err.Error()))
	}
	return nil
}

// Equal reports whether v and w hold the same data (positions and the
// order of mapping keys aside). Absent and null are different.
func (v *Value) Equal(w *Value) bool {
	if v == nil || w == nil {
		return v == w
	}
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindBool:
		return v.b == w.b
	case KindInt:
		return v.i == w.i
	case KindFloat:
		return v.f == w.f || math.Float64bits(v.f) == math.Float64bits(w.f)
	case KindString:
		return v.s == w.s
	case KindMap:
		if len(v.keys) != len(w.keys) {
			return false
		}
		for k, x := range v.m {
			if !x.Equal(w.m[k]) {
				return false
			}
		}
		return true
	case KindList:
		if len(v.items) != len(w.items) {
			return false
		}
		for i := range v.items {
			if !v.items[i].Equal(w.items[i]) {
				return false
			}
		}
	}
	return true
}

// Diff returns the first path under which v and w differ, and whether
// they do.
func (v *Value) Diff(w *Value) (Path, bool) {
	return diff(nil, v, w)
}

func diff(p Path, v, w *Value) (Path, bool) {
	if v.Kind() != w.Kind() || (v == nil) != (w == nil) {
		return p, true
	}
	switch v.Kind() {
	case KindMap:
		for _, k := range v.keys {
			if q, ok := diff(p.Key(k), v.m[k], w.m[k]); ok {
				return q, true
			}
		}
		for _, k := range w.keys {
			if _, ok := v.m[k]; !ok {
				return p.Key(k), true
			}
		}
		return nil, false
	case KindList:
		for i := 0; i < max(len(v.items), len(w.items)); i++ {
			if q, ok := diff(p.Index(i), v.Index(i), w.Index(i)); ok {
				return q, true
			}
		}
		return nil, false
	}
	if !v.Equal(w) {
		return p, true
	}
	return nil, false
}

// Clone returns a deep copy of v, positions included.
func (v *Value) Clone() *Value {
	if v == nil {
		return nil
	}
	c := *v
	if v.kind == KindMap {
		c.keys = append([]string(nil), v.keys...)
		c.m = make(map[string]*Value, len(v.m))
		for k, x := range v.m {
			c.m[k] = x.Clone()
		}
	}
	if v.kind == KindList {
		c.items = make([]*Value, len(v.items))
		for i, it := range v.items {
			c.items[i] = it.Clone()
		}
	}
	return &c
}

// Put sets key in a mapping to x, keeping the key's place when it exists
// and adding it at the end otherwise. It does nothing when v is not a
// mapping.
func (v *Value) Put(key string, x *Value) {
	if v == nil || v.kind != KindMap {
		return
	}
	if _, ok := v.m[key]; !ok {
		v.keys = append(v.keys, key)
	}
	v.m[key] = x
}

// Remove deletes key from a mapping and reports whether it was there.
func (v *Value) Remove(key string) bool {
	if v == nil || v.kind != KindMap {
		return false
	}
	if _, ok := v.m[key]; !ok {
		return false
	}
	delete(v.m, key)
	for i, k := range v.keys {
		if k == key {
			v.keys = append(v.keys[:i:i], v.keys[i+1:]...)
			break
		}
	}
	return true
}

// Append adds an item to a list.
func (v *Value) Append(x *Value) {
	if v != nil && v.kind == KindList {
		v.items = append(v.items, x)
	}
}

// ExposedServiceType reports whether a Service type publishes ports
// outside the cluster: LoadBalancer or NodePort, spelled in any case, so
// that a misspelt type is not taken for safe.
func ExposedServiceType(t string) bool {
	return strings.EqualFold(t, "LoadBalancer") || strings.EqualFold(t, "NodePort")
}
