package manifest

import (
	"strings"
	"testing"
)

// editAndCheck applies edits to the YAML source and to the decoded value,
// and checks that the written YAML reads as the edited value.
func editAndCheck(t *testing.T, in string, edits []Edit) string {
	t.Helper()
	f := mustRead(t, in)
	want := f.Docs[0].Value.Clone()
	if err := Apply(want, edits); err != nil {
		t.Fatal(err)
	}
	if err := NewEditor(f.Docs[0].Node).Apply(edits); err != nil {
		t.Fatal(err)
	}
	out, err := f.Encode(Style{CompactSequences: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Read(out)
	if err != nil {
		t.Fatalf("edited YAML does not read: %v\n%s", err, out)
	}
	if p, differ := g.Docs[0].Value.Diff(want); differ {
		t.Fatalf("edited YAML differs from the edited value at %s:\n%s", p, out)
	}
	return string(out)
}

func set(path string, v *Value) Edit { return Edit{Path: ParsePath(path), Value: v} }
func del(path string) Edit           { return Edit{Path: ParsePath(path), Delete: true} }

func TestEditorAliases(t *testing.T) {
	// The worker's template is the head's anchor: unmounting the worker's
	// token must leave the head's (the autoscaler needs it).
	out := editAndCheck(t, `head:
  template: &tmpl
    spec:
      containers: [{name: ray}]
worker:
  template: *tmpl
`, []Edit{set("worker.template.spec.automountServiceAccountToken", NewBool(false))})
	if strings.Count(out, "automountServiceAccountToken") != 1 {
		t.Errorf("the edit reached the anchor:\n%s", out)
	}
	// Editing the anchor's own place first: the alias keeps the old value.
	out = editAndCheck(t, `head:
  template: &tmpl
    spec: {containers: [{name: ray}]}
worker:
  template: *tmpl
`, []Edit{set("head.template.spec.automountServiceAccountToken", NewBool(false))})
	if strings.Count(out, "automountServiceAccountToken") != 1 {
		t.Errorf("the edit reached the alias:\n%s", out)
	}
	// A node about to be replaced holds an anchor used elsewhere.
	editAndCheck(t, "a: {drop: &d [NET_RAW]}\nb: {drop: *d}\n", []Edit{set("a.drop", NewList(NewString("ALL")))})
	// Anchor names defined twice.
	editAndCheck(t, "a: &x {k: 1}\nb: *x\nc: &x {k: 2}\nd: *x\n", []Edit{set("c.k", NewInt(3)), set("a.j", NewInt(1))})
	// An aliased list item.
	editAndCheck(t, "c: &c {name: a}\nlist: [*c, *c]\n", []Edit{set("list[1].securityContext", NewMap("privileged", NewBool(false)))})
}

func TestEditorMerges(t *testing.T) {
	base := "x: &x {allowPrivilegeEscalation: true, capabilities: {add: [SYS_ADMIN]}, fsGroup: 100}\n"
	// A value from a merge is overridden by an explicit key after it; the
	// anchor and the other mapping merging it are unchanged.
	out := editAndCheck(t, base+"sc: {<<: *x, runAsUser: 1000}\nother: {<<: *x}\n",
		[]Edit{set("sc.allowPrivilegeEscalation", NewBool(false))})
	if !strings.Contains(out, "allowPrivilegeEscalation: true") {
		t.Errorf("the anchor changed:\n%s", out)
	}
	// An explicit key before the merge lost to it: it is replaced by one
	// after the merge.
	out = editAndCheck(t, base+"sc: {allowPrivilegeEscalation: false, <<: *x}\n",
		[]Edit{set("sc.allowPrivilegeEscalation", NewBool(false))})
	if strings.Count(out, "allowPrivilegeEscalation") != 2 {
		t.Errorf("the losing key was not replaced:\n%s", out)
	}
	// Deeper edits through a merged value copy it into an explicit key.
	editAndCheck(t, base+"sc: {<<: *x}\n", []Edit{set("sc.capabilities.drop", NewList(NewString("ALL")))})
	// Removing a merged field flattens the mapping.
	out = editAndCheck(t, base+"sc: {<<: *x, runAsUser: 1000}\n", []Edit{del("sc.capabilities")})
	if !strings.Contains(out, "fsGroup: 100") {
		t.Errorf("flattening lost a field:\n%s", out)
	}
	// A list of merges, the first winning.
	editAndCheck(t, "a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc: {<<: [*a, *b]}\n", []Edit{set("c.k", NewInt(5)), del("c.j")})
	// A quoted "<<" is an ordinary key.
	editAndCheck(t, base+"sc: {\"<<\": *x}\n", []Edit{set("sc.privileged", NewBool(false))})
}

func TestEditorScalarsAndLists(t *testing.T) {
	// Strings YAML 1.1 reads as something else are quoted.
	out := editAndCheck(t, "a: 1\n", []Edit{set("on", NewString("yes")), set("b", NewString("0x10"))})
	if !strings.Contains(out, `"on": "yes"`) {
		t.Errorf("not quoted:\n%s", out)
	}
	// Comments on a replaced scalar stay.
	out = editAndCheck(t, "runAsUser: 0 # root\n", []Edit{set("runAsUser", NewInt(1000))})
	if !strings.Contains(out, "runAsUser: 1000 # root") {
		t.Errorf("comment lost:\n%s", out)
	}
	// Appending, replacing and removing items; a null becomes a mapping.
	editAndCheck(t, "l: [a, b]\nsc:\n", []Edit{
		set("l[2]", NewString("c")), set("l[0]", NewString("z")), del("l[1]"),
		set("sc.runAsNonRoot", NewBool(true)),
	})
}

func FuzzEditor(f *testing.F) {
	f.Add("x: &x {a: 1, b: {c: 2}}\ny: {<<: *x, a: 3}\nz: *x\n", "y.b.c", "z.a")
	f.Add("l: &l [1, 2]\nm: *l\n", "m[0]", "l[1]")
	f.Fuzz(func(t *testing.T, in, p1, p2 string) {
		file, err := Read([]byte(in))
		if err != nil || len(file.Docs) == 0 || file.Docs[0].Node == nil || !file.Docs[0].Value.IsMap() {
			return
		}
		edits := []Edit{set(p1, NewString("edited")), del(p2)}
		want := file.Docs[0].Value.Clone()
		if Apply(want, edits) != nil {
			return
		}
		if NewEditor(file.Docs[0].Node).Apply(edits) != nil {
			return
		}
		out, err := file.Encode(Style{})
		if err != nil {
			return
		}
		g, err := Read(out)
		if err != nil {
			t.Fatalf("edited YAML does not read: %v\n%s\n->\n%s", err, in, out)
		}
		if p, differ := g.Docs[0].Value.Diff(want); differ {
			t.Fatalf("edited YAML differs at %s:\n%s\n->\n%s", p, in, out)
		}
	})
}
