package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// The differential tests compare raygate's reading of generated YAML with
// kubectl's: the documents apimachinery's YAMLOrJSONDecoder (which converts
// YAML with sigs.k8s.io/yaml) yields, and the objects
// UnstructuredJSONScheme decodes from them, field for field.

// kubectlReading returns each non-empty document and its objects as
// kubectl decodes them.
func kubectlReading(t testing.TB, data []byte) (docs []*Value, objects [][]*Value, err error) {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var ext runtime.RawExtension
		if err := dec.Decode(&ext); errors.Is(err, io.EOF) {
			return docs, objects, nil
		} else if err != nil {
			return nil, nil, err
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var x any
		if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &x); err != nil {
			return nil, nil, err
		}
		v, err := FromInterface(x)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, v)
		// nil when kubectl cannot decode the document (and applies
		// nothing of it); raygate may still check what it holds.
		var objs []*Value
		if obj, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil); err == nil {
			objs = []*Value{}
			if l, ok := obj.(*unstructured.UnstructuredList); ok {
				for _, it := range l.Items {
					iv, _ := FromInterface(it.Object)
					objs = append(objs, iv)
				}
			} else if u, ok := obj.(*unstructured.Unstructured); ok {
				uv, _ := FromInterface(u.Object)
				objs = append(objs, uv)
			}
		}
		objects = append(objects, objs)
	}
}

// compareWithKubectl checks raygate's reading (duplicates kept last, as
// kubectl keeps them) against kubectl's, field for field.
// With strict, a refusal other than those raygate makes on purpose fails
// the test.
func compareWithKubectl(t testing.TB, data []byte, strict bool) (compared bool) {
	t.Helper()
	ours, ourErr := read(data, true)
	theirs, objs, theirErr := kubectlReading(t, data)
	if theirErr != nil {
		return false // kubectl refuses it: nothing is stored
	}
	if ourErr != nil {
		var pe *ParseError
		if !strict || errors.As(ourErr, &pe) && acceptedRefusal(pe.Msg) {
			return false
		}
		t.Fatalf("raygate refuses what kubectl reads: %v\n%s", ourErr, data)
	}
	var docs []*Document
	for _, d := range ours.Docs {
		if d.Value != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) != len(theirs) {
		t.Fatalf("raygate reads %d documents, kubectl %d:\n%s", len(docs), len(theirs), data)
	}
	for i, d := range docs {
		if p, differ := d.Value.Diff(theirs[i]); differ {
			a, _ := d.Value.MarshalJSON()
			b, _ := theirs[i].MarshalJSON()
			t.Fatalf("document %d differs at %s:\n raygate %s\n kubectl %s\n%s", i, p, a, b, data)
		}
		if objs[i] == nil {
			continue
		}
		var mine, kube []*Value
		for _, o := range d.Objects {
			if storable(o.Value) && !o.ListDocument {
				mine = append(mine, o.Value)
			}
		}
		for _, o := range objs[i] {
			if storable(o) {
				kube = append(kube, o)
			}
		}
		if len(mine) != len(kube) {
			t.Fatalf("document %d: raygate finds %d objects, kubectl %d:\n%s", i, len(mine), len(kube), data)
		}
		for j := range mine {
			if p, differ := mine[j].Diff(kube[j]); differ {
				t.Fatalf("document %d object %d differs at %s:\n%s", i, j, p, data)
			}
		}
	}
	// Verification against kubectl's decoder agrees.
	if err := verify(data, ours); err != nil {
		t.Fatalf("verify refuses a reading that equals kubectl's: %v\n%s", err, data)
	}
	return true
}

// storable reports whether the API server could store the object: it has
// kind, apiVersion and a name, and is not a list.
func storable(o *Value) bool {
	meta := o.Get("metadata")
	return o.Get("kind").Str() != "" && o.Get("apiVersion").Str() != "" && !o.Get("items").IsList() &&
		(meta.Get("name").Str() != "" || meta.Get("generateName").Str() != "")
}

// acceptedRefusal lists what raygate refuses on purpose although kubectl
// reads it: keys kubectl turns into one field in an undefined order, tags
// outside the core schema, lists nested in lists, and alias expansions
// larger than raygate's bound.
func acceptedRefusal(msg string) bool {
	for _, s := range []string{"which one kubectl keeps is not defined", "is not supported", "inside lists", "expand too far", "has no JSON form", "null item"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// gen writes random YAML with what makes readings differ: duplicate keys,
// anchors and aliases, merge keys before and after explicit keys, lists of
// merges, nested merges, quoted "<<", YAML 1.1 scalars, lists of objects.
type gen struct {
	r       *rand.Rand
	b       strings.Builder
	maps    []string // anchors of mappings, usable in merges
	any     []string // every anchor
	next    int
	dup     bool
	useDups bool
}

var scalarPool = []string{
	"yes", "no", "on", "off", "y", "n", "Y", "true", "False", "TRUE", "~", "null", "Null", "",
	"0", "00", "0x0", "0o0", "+0", "-0", "0.0", "-0.0", "0e0", "08", "010", "0b101", "-0b1", "1_000", ".5", "1e3",
	"+12", "0x1F", "9223372036854775807", "9223372036854775808", "18446744073709551616", "-9223372036854775809",
	"2001-12-14", "2001-12-14t21:59:43.10-05:00", `"quoted"`, `'single'`, `"0"`, `'yes'`, `"on"`,
	"NET_BIND_SERVICE", "CAP_SYS_ADMIN", "ALL", "all", "<<", `"<<"`, "a b", "-", "x:y", `"\u00e9"`,
	"!!str 1", `!!int "7"`, "!!float 3", "!!bool yes", "!!null ~", "!!str yes",
}

var keyPool = []string{"a", "b", "c", "name", "image", "runAsUser", "privileged", "kind", `"quoted"`, `'s'`, `"<<"`, "yes", "1", "0x1", "true", "3.5", "~x"}

func (g *gen) pick(list []string) string { return list[g.r.Intn(len(list))] }

// keyID is the typed key go-yaml v2 makes of a key as written, which is
// what makes two keys duplicates.
func keyID(k string) string {
	if id, ok := keyIDs.Load(k); ok {
		return id.(string)
	}
	id := typedKey(k)
	keyIDs.Store(k, id)
	return id
}

var keyIDs sync.Map

func typedKey(k string) string {
	f, err := read([]byte(k+": 0\n"), false)
	if err != nil || f.Docs[0].Node == nil {
		return k
	}
	g, err := newDecoder().key(f.Docs[0].Node.Content[0].Content[0], 0)
	if err != nil {
		return k
	}
	return fmt.Sprintf("%T:%v", g, g)
}

func (g *gen) anchor() string {
	g.next++
	return fmt.Sprintf("a%d", g.next)
}

// scalar writes a scalar, an alias or a block scalar.
func (g *gen) scalar() string {
	switch g.r.Intn(12) {
	case 0:
		if len(g.any) > 0 {
			return "*" + g.pick(g.any)
		}
	case 1:
		a := g.anchor()
		g.any = append(g.any, a)
		return "&" + a + " " + g.pick(scalarPool)
	}
	return g.pick(scalarPool)
}

// flowMap writes a one-line mapping, possibly with merges.
func (g *gen) flowMap(depth int) string {
	var parts []string
	used := map[string]bool{}
	for i := g.r.Intn(4); i >= 0; i-- {
		switch {
		case g.r.Intn(4) == 0 && len(g.maps) > 0:
			if g.r.Intn(2) == 0 {
				parts = append(parts, "<<: *"+g.pick(g.maps))
			} else {
				parts = append(parts, fmt.Sprintf("<<: [*%s, *%s]", g.pick(g.maps), g.pick(g.maps)))
			}
		default:
			k := g.pick(keyPool)
			id := keyID(k)
			if used[id] && !g.useDups {
				continue
			}
			if used[id] {
				g.dup = true
			}
			used[id] = true
			v := g.scalar()
			if depth < 2 && g.r.Intn(4) == 0 {
				v = g.flowMap(depth + 1)
			}
			parts = append(parts, k+": "+v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// mapping writes a block mapping at indent.
func (g *gen) mapping(indent string, depth int, written ...string) {
	used := map[string]bool{}
	for _, k := range written {
		used[keyID(k)] = true
	}
	for i := g.r.Intn(5); i >= 0; i-- {
		switch r := g.r.Intn(10); {
		case r == 0 && len(g.maps) > 0:
			fmt.Fprintf(&g.b, "%s<<: *%s\n", indent, g.pick(g.maps))
		case r == 1 && len(g.maps) > 1:
			fmt.Fprintf(&g.b, "%s<<: [*%s, *%s]\n", indent, g.pick(g.maps), g.pick(g.maps))
		case r == 2:
			fmt.Fprintf(&g.b, "%s<<: %s\n", indent, g.flowMap(depth+1))
		default:
			k := g.pick(keyPool)
			id := keyID(k)
			if used[id] && !g.useDups {
				continue
			}
			if used[id] {
				g.dup = true
			}
			used[id] = true
			g.value(indent, k, depth)
		}
	}
}

func (g *gen) value(indent, key string, depth int) {
	switch r := g.r.Intn(8); {
	case r < 3 || depth > 3:
		fmt.Fprintf(&g.b, "%s%s: %s\n", indent, key, g.scalar())
	case r == 3:
		a := g.anchor()
		fmt.Fprintf(&g.b, "%s%s: &%s\n", indent, key, a)
		g.mapping(indent+"  ", depth+1)
		g.maps = append(g.maps, a)
		g.any = append(g.any, a)
	case r == 4:
		fmt.Fprintf(&g.b, "%s%s:\n", indent, key)
		g.mapping(indent+"  ", depth+1)
	case r == 5:
		fmt.Fprintf(&g.b, "%s%s: %s\n", indent, key, g.flowMap(depth+1))
	case r == 6:
		fmt.Fprintf(&g.b, "%s%s:\n", indent, key)
		for i := g.r.Intn(3); i >= 0; i-- {
			if g.r.Intn(2) == 0 {
				fmt.Fprintf(&g.b, "%s- %s\n", indent, g.scalar())
			} else {
				fmt.Fprintf(&g.b, "%s- %s\n", indent, g.flowMap(depth+1))
			}
		}
	default:
		fmt.Fprintf(&g.b, "%s%s: |\n%s  text %s\n", indent, key, indent, g.pick(scalarPool))
	}
}

// document writes one document: an object, sometimes a list of them.
func (g *gen) document() {
	g.maps, g.any = nil, nil
	switch g.r.Intn(5) {
	case 0:
		fmt.Fprintf(&g.b, "apiVersion: %s\nkind: %s\nitems:\n", g.pick([]string{"v1", "ray.io/v1"}), g.pick([]string{"List", "RayClusterList", "ConfigMap", "RayCluster"}))
		for i := g.r.Intn(3); i >= 0; i-- {
			if g.r.Intn(2) == 0 {
				g.b.WriteString("- apiVersion: ray.io/v1\n  kind: RayCluster\n")
				g.mapping("  ", 1, "apiVersion", "kind")
			} else {
				g.b.WriteString("- metadata: {name: x}\n")
				g.mapping("  ", 1, "metadata")
			}
		}
	default:
		g.b.WriteString("apiVersion: ray.io/v1\nkind: RayCluster\n")
		g.mapping("", 0, "apiVersion", "kind")
	}
}

func generate(seed int64, dups bool) ([]byte, bool) {
	g := &gen{r: rand.New(rand.NewSource(seed)), useDups: dups}
	for i := g.r.Intn(3); i >= 0; i-- {
		g.document()
		if i > 0 {
			g.b.WriteString(g.pick([]string{"---\n", "--- # next\n", "---\n\n---\n"}))
		}
	}
	return []byte(g.b.String()), g.dup
}

// TestDifferentialCorpus generates YAML documents and checks that the
// objects raygate reads are those kubectl reads, field for field, and that
// Read refuses exactly the documents with duplicate keys.
func TestDifferentialCorpus(t *testing.T) {
	compared, refusedDups := 0, 0
	for seed := int64(0); seed < 2000; seed++ {
		data, dup := generate(seed, seed%3 == 0)
		if compareWithKubectl(t, data, true) {
			compared++
		}
		_, err := Read(data)
		if dup {
			if err == nil {
				t.Fatalf("seed %d: duplicate keys were not refused:\n%s", seed, data)
			}
			if strings.Contains(err.Error(), "duplicate key") {
				refusedDups++
			}
		} else if err != nil && !acceptedRefusal(err.Error()) {
			if _, _, kerr := kubectlReading(t, data); kerr == nil {
				t.Fatalf("seed %d: Read refuses what kubectl reads: %v\n%s", seed, err, data)
			}
		}
	}
	if compared < 1500 || refusedDups < 300 {
		t.Fatalf("the corpus exercised too little: %d documents compared, %d refused for duplicates", compared, refusedDups)
	}
	t.Logf("%d generated files read exactly as kubectl reads them; %d refused for duplicate keys", compared, refusedDups)
}

// TestDifferentialCases are hand-written cases of the same comparison.
func TestDifferentialCases(t *testing.T) {
	for _, in := range []string{
		// Merge keys are applied in order: after an explicit key, a merge
		// overrides it; before it, the explicit key wins.
		"x: &x {allowPrivilegeEscalation: true, capabilities: {add: [SYS_ADMIN]}}\ny: {allowPrivilegeEscalation: false, <<: *x}\nz: {<<: *x, allowPrivilegeEscalation: false}\n",
		// A list of merges: the first mapping wins.
		"a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc: {<<: [*a, *b]}\nd: {<<: [*b, *a]}\n",
		// Nested merges, and a merge of a mapping that has merges itself.
		"a: &a {k: 1, l: 1}\nb: &b {<<: *a, k: 2}\nc: {<<: *b, l: 3}\nd: {l: 4, <<: *b}\n",
		// A quoted "<<" is a plain key.
		"a: &a {k: 1}\nb: {\"<<\": *a}\nc: {'<<': *a}\n",
		// Aliases of scalars, lists and mappings.
		"a: &s 0\nb: *s\nc: &l [1, 2]\nd: *l\n",
		// YAML 1.1 scalars.
		"runAsUser: [00, 0x0, 0o0, +0, -0, 0.0, -0.0, 0e0, 08, 1_0, 0b1, -0b1, .5, 1e3, 2001-01-01, 18446744073709551615, 18446744073709551616]\nb: [yes, no, on, off, y, n, Yes, NO, ~, null, '']\n",
		// Keys of other types become JSON field names.
		"1: a\ntrue: b\n1.5: c\n1e3: d\n0x10: e\nyes: f\n",
		// Lists: any document with items, of any kind.
		"apiVersion: v1\nkind: ConfigMap\nitems:\n- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: a}}\n- {metadata: {name: b}}\n",
		"apiVersion: ray.io/v1\nkind: RayClusterList\nitems:\n- metadata: {name: inherits}\n  spec: {x: 1}\n",
		"apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a}\nitems: ~\n",
		// Documents, separators, empty documents.
		"---\na: 1\n--- # c\n\n---\nb: 2\n",
		// JSON streams.
		"{\"apiVersion\": \"ray.io/v1\", \"kind\": \"RayCluster\", \"spec\": {\"a\": 1.0, \"b\": 1e2}}\n{\"c\": [true, null]}\n",
		"{a: 1, b: [x, y]}\n",
		// Tags of the core schema.
		"a: !!str 1\nb: !!int \"7\"\nc: !!float 3\nd: !!bool yes\ne: !!binary aGVsbG8=\nf: !!timestamp 2001-01-01\n",
		// Block scalars.
		"a: |\n  line\n  yes\nb: >\n  folded\n  text\n",
		// CRLF line ends.
		"a: 1\r\nb: \"x\r\n  y\"\r\n---\r\nc: 2\r\n",
	} {
		if !compareWithKubectl(t, []byte(in), true) {
			t.Errorf("not compared (one side refused):\n%s", in)
		}
	}
}

// TestSigsYAMLScalars checks single scalars against sigs.k8s.io/yaml
// directly.
func TestSigsYAMLScalars(t *testing.T) {
	for _, s := range scalarPool {
		in := "v: " + s + "\n"
		want, err := sigsyaml.YAMLToJSON([]byte(in))
		f, ourErr := read([]byte(in), false)
		if err != nil || ourErr != nil {
			if (err == nil) != (ourErr == nil) {
				t.Errorf("%q: sigs.k8s.io/yaml error %v, raygate error %v", s, err, ourErr)
			}
			continue
		}
		var x any
		if err := kjson.UnmarshalCaseSensitivePreserveInts(want, &x); err != nil {
			t.Fatal(err)
		}
		wv, _ := FromInterface(x)
		if !f.Docs[0].Value.Equal(wv) {
			got, _ := f.Docs[0].Value.MarshalJSON()
			t.Errorf("%q: raygate %s, sigs.k8s.io/yaml %s", s, got, want)
		}
	}
}

// FuzzRead checks that raygate's reading of any input equals kubectl's
// whenever both accept it, and that Read never panics.
func FuzzRead(f *testing.F) {
	for seed := int64(0); seed < 20; seed++ {
		data, _ := generate(seed, true)
		f.Add(data)
	}
	f.Add([]byte("a: &a {b: *a}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: ray.io/v1, kind: RayJob}]\n---\n"))
	f.Add([]byte("{\"a\": [1, {\"b\": null}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		_, _ = Read(data)
		compareWithKubectl(t, data, false)
	})
}
