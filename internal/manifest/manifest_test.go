package manifest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseDocuments(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		docs    int
		objects []string // kind/name@prefix
		err     string
	}{
		{name: "empty", in: "", docs: 0},
		{name: "one", in: "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a}\n", docs: 1, objects: []string{"RayCluster/a@"}},
		{name: "leading separator", in: "---\napiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j}\n", docs: 1, objects: []string{"RayJob/j@"}},
		{name: "three with other kinds", in: "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: ray.io/v1\nkind: RayService\nmetadata: {name: s}\n---\napiVersion: ray.io/v1alpha1\nkind: RayCluster\nmetadata: {name: old}\n", docs: 3,
			objects: []string{"RayService/s@", "RayCluster/old@"}},
		{name: "other group ignored", in: "apiVersion: example.com/v1\nkind: RayCluster\n", docs: 1},
		{name: "list", in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod}\n- {apiVersion: ray.io/v1, kind: RayJob, metadata: {name: b}}\n", docs: 1,
			objects: []string{"RayCluster/a@items[0]", "RayJob/b@items[2]"}},
		{name: "syntax error", in: "a: [\n", err: "line"},
		{name: "tab indentation", in: "a:\n\tb: 1\n", err: "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Parse([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != tt.docs {
				t.Fatalf("%d documents, want %d", len(docs), tt.docs)
			}
			var got []string
			for _, o := range Objects(docs) {
				got = append(got, o.Kind+"/"+o.Name+"@"+o.Prefix)
			}
			if strings.Join(got, ",") != strings.Join(tt.objects, ",") {
				t.Errorf("objects %v, want %v", got, tt.objects)
			}
		})
	}
}

func TestTemplatesAndPositions(t *testing.T) {
	in := `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  rayClusterSpec:
    headGroupSpec:
      template:
        spec:
          containers:
          - name: h
    workerGroupSpecs:
    - groupName: a
      template: {spec: {containers: [{name: w}]}}
    - groupName: b
      template: {spec: {containers: [{name: w}]}}
  submitterPodTemplate:
    spec: {containers: [{name: s}]}
`
	docs, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	o := Objects(docs)[0]
	var got []string
	for _, tm := range Templates(o) {
		got = append(got, tm.Describe()+"="+tm.Path)
	}
	want := "head=spec.rayClusterSpec.headGroupSpec.template,worker group a=spec.rayClusterSpec.workerGroupSpecs[0].template,worker group b=spec.rayClusterSpec.workerGroupSpecs[1].template,submitter=spec.submitterPodTemplate"
	if strings.Join(got, ",") != want {
		t.Errorf("templates %v", got)
	}
	for _, tc := range []struct {
		path string
		line int
	}{
		{"spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].name", 10},
		{"spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].securityContext.runAsNonRoot", 10},
		{"spec.rayClusterSpec.workerGroupSpecs[1].groupName", 14},
		{"spec.authOptions", 4},
	} {
		if line, _ := Position(o.Node, tc.path); line != tc.line {
			t.Errorf("%s at line %d, want %d", tc.path, line, tc.line)
		}
	}
}

func TestToJSON(t *testing.T) {
	in := `a: yes
b: "yes"
c: 010
d: 1.5
e: null
f: &x {k: v}
g: *x
h:
  <<: *x
  own: 1
i: 0x1F
j: 1_000
`
	docs, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ToJSON(docs[0].Root())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["a"] != true || got["b"] != "yes" || got["d"] != 1.5 || got["e"] != nil {
		t.Errorf("scalars: %s", b)
	}
	if h, _ := got["h"].(map[string]any); h["k"] != "v" || h["own"] != float64(1) {
		t.Errorf("merge key: %s", b)
	}
	if g, _ := got["g"].(map[string]any); g["k"] != "v" {
		t.Errorf("alias: %s", b)
	}
	if got["i"] != float64(31) || got["j"] != float64(1000) {
		t.Errorf("ints: %s", b)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		prev := "*a" + string(rune('0'+i-1))
		if i >= 10 {
			prev = "*a" + string(rune('a'+i-10))
		}
		name := "a" + string(rune('0'+i))
		if i >= 10 {
			name = "a" + string(rune('a'+i-10))
		}
		b.WriteString(name + ": &" + name + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	docs, err := Parse([]byte(b.String()))
	if err != nil {
		return // refused by the parser: fine
	}
	if _, err := ToJSON(docs[0].Root()); err == nil {
		t.Fatal("an alias bomb expanded without limit")
	}
}

func TestEncodeKeepsStyleAndComments(t *testing.T) {
	compact := "# head\na:\n- x # one\n- y\n---\nb: 1\n"
	docs, err := Parse([]byte(compact))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(docs, DetectStyle([]byte(compact)))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != compact {
		t.Errorf("compact lists not kept:\n%s", out)
	}
	indented := "a:\n  - x\n  - y\n"
	docs, _ = Parse([]byte(indented))
	out, _ = Encode(docs, DetectStyle([]byte(indented)))
	if string(out) != indented {
		t.Errorf("indented lists not kept:\n%s", out)
	}
}

func TestImageAndVersions(t *testing.T) {
	for _, tc := range []struct{ image, tag, digest, ray string }{
		{"rayproject/ray:2.52.0", "2.52.0", "", "2.52.0"},
		{"rayproject/ray:2.52.0-py311-gpu", "2.52.0-py311-gpu", "", "2.52.0"},
		{"registry:5000/ray", "", "", ""},
		{"ray@sha256:abc", "", "sha256:abc", ""},
		{"rayproject/ray:nightly", "nightly", "", ""},
	} {
		tag, digest := ImageTag(tc.image)
		if tag != tc.tag || digest != tc.digest || RayVersionFromImage(tc.image) != tc.ray {
			t.Errorf("%s: tag %q digest %q ray %q", tc.image, tag, digest, RayVersionFromImage(tc.image))
		}
	}
	if !VersionAtLeast("2.52.0", "2.52.0") || !VersionAtLeast("v2.60", "2.52.0") || VersionAtLeast("2.46.0", "2.52.0") || VersionAtLeast("x", "2.52.0") {
		t.Error("VersionAtLeast")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a}\nspec: {headGroupSpec: {template: {spec: {containers: [{name: h}]}}}}\n"))
	f.Add([]byte("a: &a {b: *a}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: ray.io/v1, kind: RayJob}]\n---\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse(data)
		if err != nil {
			return
		}
		for _, d := range docs {
			_, _ = ToJSON(d.Root())
		}
		for _, o := range Objects(docs) {
			for _, tm := range Templates(o) {
				_, _ = Position(o.Node, tm.Path+".spec.containers[0].securityContext")
			}
		}
		out, err := Encode(docs, DetectStyle(data))
		if err != nil {
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("encoded output does not parse: %v\n%s", err, out)
		}
		if a, b := len(Resources(docs)), len(Resources(again)); a != b {
			t.Fatalf("%d objects became %d:\n%s", a, b, out)
		}
	})
}

func TestEncodeEmptyDocuments(t *testing.T) {
	for in, want := range map[string]string{
		"a: 1\n---\n":      "a: 1\n---\n",
		"---\n---\na: 1\n": "---\na: 1\n",
		// yaml.v3 attaches the comment to the first document; it stays.
		"a: 1\n---\n# only a comment\n": "a: 1\n\n# only a comment\n---\n",
	} {
		docs, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := Encode(docs, Style{})
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != want {
			t.Errorf("%q encoded as %q, want %q", in, out, want)
		}
	}
}

func TestDecodeErrorsWithoutGoTypes(t *testing.T) {
	docs, err := Parse([]byte("spec:\n  containers:\n  - name: a\n    image: {x: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Spec struct {
			Containers []struct {
				Image string `json:"image"`
			} `json:"containers"`
		} `json:"spec"`
	}
	err = DecodeInto(docs[0].Root(), &out)
	if err == nil || err.Error() != "spec.containers.image: expected a string, got a mapping" {
		t.Errorf("error %v", err)
	}
}
