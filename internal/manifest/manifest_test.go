package manifest

import (
	"strings"
	"testing"
)

func mustRead(t *testing.T, in string) *File {
	t.Helper()
	f, err := Read([]byte(in))
	if err != nil {
		t.Fatalf("%v\n%s", err, in)
	}
	return f
}

func TestReadDocuments(t *testing.T) {
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
		{name: "kind in another case", in: "apiVersion: ray.io/v1\nkind: raycluster\nmetadata: {name: a}\n", docs: 1, objects: []string{"raycluster/a@"}},
		{name: "list", in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod}\n- {apiVersion: ray.io/v1, kind: RayJob, metadata: {name: b}}\n", docs: 1,
			objects: []string{"RayCluster/a@items[0]", "RayJob/b@items[2]"}},
		{name: "any kind with items is a list", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\nitems:\n- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: hidden}}\n", docs: 1,
			objects: []string{"RayCluster/hidden@items[0]"}},
		{name: "items inherit the list's kind", in: "apiVersion: ray.io/v1\nkind: RayClusterList\nitems:\n- metadata: {name: a}\n", docs: 1, objects: []string{"RayCluster/a@items[0]"}},
		{name: "a RayCluster with items is a list, and checked as itself", in: "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a}\nitems: []\n", docs: 1,
			objects: []string{"RayCluster/a@"}},
		{name: "null items", in: "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a}\nitems:\n", docs: 1, objects: []string{"RayCluster/a@"}},
		{name: "items not a list", in: "apiVersion: v1\nkind: List\nitems: {a: 1}\n", err: "line 3: items is a mapping"},
		{name: "list in a list", in: "apiVersion: v1\nkind: List\nitems:\n- kind: List\n  apiVersion: v1\n  items: []\n", err: "inside lists"},
		{name: "syntax error", in: "a: [\n", err: "line"},
		{name: "tab indentation", in: "a:\n\tb: 1\n", err: "line"},
		{name: "duplicate key", in: "kind: ConfigMap\napiVersion: v1\nkind: RayCluster\n", err: `line 3: duplicate key "kind" (also at line 1)`},
		{name: "duplicate through YAML 1.1", in: "a:\n  yes: 1\n  true: 2\n", err: `line 3: duplicate key "true" (also at line 2)`},
		{name: "keys that become one field", in: "a:\n  1: x\n  \"1\": y\n", err: "line 3: key \"1\" and the key at line 2"},
		{name: "duplicate in JSON", in: `{"kind": "ConfigMap", "kind": "RayCluster"}`, err: `duplicate key "kind"`},
		{name: "bad separator", in: "a: 1\n--- b: 2\n", err: "line 2: invalid document separator"},
		{name: "end marker", in: "a: 1\n...\nb: 2\n", err: "line 2: a YAML document continues after a document end marker"},
		{name: "unknown tag", in: "a: !secret x\n", err: "tag !secret is not supported"},
		{name: "non-specific tag is a string", in: "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: ! 12}\n", docs: 1, objects: []string{"RayCluster/12@"}},
		{name: "merge of a scalar", in: "a: &a 1\nb: {<<: *a}\n", err: "merge key"},
		{name: "self alias", in: "a: &a {b: *a}\n", err: "contains itself"},
		{name: "UTF-16", in: "\xff\xfea\x00", err: "UTF-16"},
		{name: "invalid UTF-8", in: "a: 1\nb: \xc3\x28\n", err: "line 2: the file is not valid UTF-8"},
		{name: "NaN", in: "a: .nan\n", err: "no JSON form"},
		{name: "JSON then YAML", in: "{\"a\": 1}\n---\nb: 2\n", err: "starts as JSON"},
		{name: "JSON stream", in: "{\"apiVersion\": \"ray.io/v1\", \"kind\": \"RayJob\", \"metadata\": {\"name\": \"j\"}}\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": []}\n", docs: 2, objects: []string{"RayJob/j@"}},
		{name: "flow YAML is not JSON", in: "{apiVersion: ray.io/v1, kind: RayJob, metadata: {name: j}}\n", docs: 1, objects: []string{"RayJob/j@"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Docs) != tt.docs {
				t.Fatalf("%d documents, want %d", len(f.Docs), tt.docs)
			}
			var got []string
			for _, o := range f.Objects() {
				got = append(got, o.Kind+"/"+o.Name+"@"+o.Prefix.String())
			}
			if strings.Join(got, ",") != strings.Join(tt.objects, ",") {
				t.Errorf("objects %v, want %v", got, tt.objects)
			}
		})
	}
}

// TestMergeOrder pins the order rules that decide what the API server
// stores: a merge after an explicit key overrides it.
func TestMergeOrder(t *testing.T) {
	f := mustRead(t, `x: &x {allowPrivilegeEscalation: true, capabilities: {add: [SYS_ADMIN]}}
after: {allowPrivilegeEscalation: false, <<: *x}
before: {<<: *x, allowPrivilegeEscalation: false}
quoted: {"<<": *x, allowPrivilegeEscalation: false}
list: {<<: [{a: 1}, {a: 2, b: 2}]}
`)
	v := f.Docs[0].Value
	if !v.Lookup("after.allowPrivilegeEscalation").IsTrue() || v.Lookup("after.capabilities.add[0]").Str() != "SYS_ADMIN" {
		t.Error("a merge after an explicit key must override it")
	}
	if !v.Lookup("before.allowPrivilegeEscalation").IsFalse() {
		t.Error("an explicit key after a merge must win")
	}
	if v.Lookup(`quoted["<<"].allowPrivilegeEscalation`) == nil || v.Lookup("quoted.capabilities") != nil {
		t.Error(`a quoted "<<" is a plain key`)
	}
	if a, _ := v.Lookup("list.a").Number(); a != 1 || v.Lookup("list.b") == nil {
		t.Error("in a list of merges the first wins")
	}
}

func TestPositions(t *testing.T) {
	in := `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  rayClusterSpec:
    headGroupSpec:
      template: &t
        spec:
          containers:
          - name: h
    workerGroupSpecs:
    - groupName: a
      template: *t
    - groupName: b
      template: {spec: {containers: [{name: w}]}}
  submitterPodTemplate:
    spec: {containers: [{name: s}]}
`
	f := mustRead(t, in)
	o := f.Objects()[0]
	var got []string
	for _, tm := range Templates(o) {
		got = append(got, tm.Describe()+"="+tm.Path.String())
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
		{"spec.rayClusterSpec.workerGroupSpecs[0].template", 13},
		{"spec.authOptions", 4},
	} {
		if pos := o.Position(ParsePath(tc.path)); pos.Line != tc.line {
			t.Errorf("%s at line %d, want %d", tc.path, pos.Line, tc.line)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, s := range []string{"spec.containers[0].securityContext", `metadata.annotations["a.b/c"]`, "a[1][2].b", ""} {
		if got := ParsePath(s).String(); got != s {
			t.Errorf("%q round-trips as %q", s, got)
		}
	}
	p := ParsePath("a.b")
	q := p.Key("c")
	if p.String() != "a.b" || q.String() != "a.b.c" || !q.HasPrefix(p) || p.HasPrefix(q) {
		t.Error("Key must not change its receiver")
	}
}

func TestEncodeKeepsStyleAndComments(t *testing.T) {
	for in, want := range map[string]string{
		"# head\na:\n- x # one\n- y\n---\nb: 1\n": "",
		"a:\n  - x\n  - y\n":                      "",
		"a: 1\n---\n":                             "a: 1\n",
		"---\n---\na: 1\n":                        "---\na: 1\n",
		"a: 1\n---\n# only a comment\n":           "",
		"{\"b\": 1, \"a\": [1.50, {}]}":           "{\n  \"b\": 1,\n  \"a\": [\n    1.50,\n    {}\n  ]\n}\n",
	} {
		f := mustRead(t, in)
		out, err := f.Encode(DetectStyle([]byte(in)))
		if err != nil {
			t.Fatal(err)
		}
		if want == "" {
			want = in
		}
		if string(out) != want {
			t.Errorf("%q encoded as %q, want %q", in, out, want)
		}
	}
}

// TestEncodeKeepsMeaning: what Encode writes reads as what was read, for
// the spellings yaml.v3 alone would write back as something else.
func TestEncodeKeepsMeaning(t *testing.T) {
	for _, tc := range []struct{ in, out, json string }{
		// Empty values in flow collections and with anchors stay null.
		{"{a: }\n", "{a: null}\n", `{"a":null}`},
		{"a: {b: , c: 1}\n", "a: {b: null, c: 1}\n", `{"a":{"b":null,"c":1}}`},
		{"a: [b: ]\n", "a: [{b: null}]\n", `{"a":[{"b":null}]}`},
		{"a: [&x , *x]\n", "a: [&x null, *x]\n", `{"a":[null,null]}`},
		{"a: &x\nb: *x\n", "a: &x\nb: *x\n", `{"a":null,"b":null}`},
		{"? a\n", "a:\n", `{"a":null}`},
		// The non-specific tag makes a string of what it tags.
		{"a: ! 12\n", "a: \"12\"\n", `{"a":"12"}`},
		{"a: ! yes\nb: ! ~\n", "a: \"yes\"\nb: \"~\"\n", `{"a":"yes","b":"~"}`},
		{"a: !\n", "a: \"\"\n", `{"a":""}`},
		{"m: {name: ! 12, l: [! 1, ! ]}\n", "m: {name: \"12\", l: [\"1\", \"\"]}\n", `{"m":{"l":["1",""],"name":"12"}}`},
		{"a: &x ! 7\nb: *x\n", "a: &x \"7\"\nb: *x\n", `{"a":"7","b":"7"}`},
		{"! yes: 1\n", "\"yes\": 1\n", `{"yes":1}`},
		{"a: ! |\n  x\n", "a: |\n  x\n", `{"a":"x\n"}`},
		// "! <<" is still a merge key to kubectl.
		{"a: &a {k: 1}\nb: {! <<: *a}\n", "a: &a {k: 1}\nb: {<<: *a}\n", `{"a":{"k":1},"b":{"k":1}}`},
	} {
		f := mustRead(t, tc.in)
		if j, _ := f.Docs[0].Value.MarshalJSON(); string(j) != tc.json {
			t.Errorf("%q read as %s, want %s", tc.in, j, tc.json)
		}
		out, err := f.Encode(DetectStyle([]byte(tc.in)))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.out {
			t.Errorf("%q encoded as %q, want %q", tc.in, out, tc.out)
		}
		checkRoundTrip(t, []byte(tc.in))
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

func TestDecodeErrorsWithoutGoTypes(t *testing.T) {
	f := mustRead(t, "spec:\n  containers:\n  - name: a\n    image: {x: 1}\n")
	var out struct {
		Spec struct {
			Containers []struct {
				Image string `json:"image"`
			} `json:"containers"`
		} `json:"spec"`
	}
	err := f.Docs[0].Value.DecodeInto(&out)
	if err == nil || err.Error() != "spec.containers.image: expected a string, got a mapping" {
		t.Errorf("error %v", err)
	}
}
