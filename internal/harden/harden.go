// Package harden applies to KubeRay manifests the fixes that are safe to
// make without knowing the workload: the restricted securityContext at pod
// and container level, Ray token authentication, a ClusterIP head Service
// without Ingress or external addresses, no service-account token where
// nothing needs it, a hardened RayJob submitter, and a writable /tmp where
// the root filesystem is read-only. The pod templates of every other
// workload (Pods, Deployments, CronJobs, ..., the KubeRay operator's
// Deployment among them) get the same restricted securityContext fixes.
//
// Harden reads a file exactly as kubectl does (package manifest), decides
// every change on that reading (a value that already complies, however it
// is written, is never touched), then writes the changes into the YAML
// where kubectl reads each value from: over an explicit key, after the
// merge key that provides it, into a copy of an aliased node so that no
// other place that shares the anchor changes. The result is read again and
// must be exactly the planned object, or harden refuses the file. Comments
// and key order are kept, and hardening a hardened manifest changes
// nothing.
package harden

import (
	"fmt"

	"github.com/raygate/raygate/internal/manifest"
)

// Change is one fix applied to one object.
type Change struct {
	// Document is the 0-based document index in the file.
	Document int
	// Kind and Name identify the object.
	Kind, Name string
	// Field is the path of the changed field in the object.
	Field string
	// Description says what changed.
	Description string
}

// String renders the change as one line for --explain.
func (c Change) String() string {
	return fmt.Sprintf("document %d %s/%s %s: %s", c.Document, c.Kind, c.Name, c.Field, c.Description)
}

// Options select what harden fixes.
type Options struct {
	// RayOnly limits the fixes to RayClusters, RayJobs, RayServices and
	// the KubeRay operator's workload; other workloads are kept as they
	// are.
	RayOnly bool
}

// File hardens every KubeRay object and workload in data and returns the
// whole file, other documents unchanged in content, with the list of
// changes. A file without anything to change comes back byte for byte. A
// file raygate cannot read (or refuses to read, see manifest.Read)
// returns a *manifest.ParseError.
func File(data []byte) ([]byte, []Change, error) {
	return FileWith(data, Options{})
}

// FileWith is File with options.
func FileWith(data []byte, opts Options) ([]byte, []Change, error) {
	f, err := manifest.Read(data)
	if err != nil {
		return nil, nil, err
	}
	edits := map[int][]manifest.Edit{}
	var changes []Change
	for _, o := range f.Resources() {
		if !o.IsRay() && !o.IsWorkload() {
			continue
		}
		if _, isOperator := manifest.FindOperator(o); opts.RayOnly && o.IsWorkload() && !isOperator {
			continue
		}
		e, ch := Object(o)
		edits[o.Document] = append(edits[o.Document], e...)
		changes = append(changes, ch...)
	}
	if len(changes) == 0 {
		return data, nil, nil
	}
	want := make([]*manifest.Value, len(f.Docs))
	for i, d := range f.Docs {
		want[i] = d.Value.Clone()
		if err := manifest.Apply(want[i], edits[i]); err != nil {
			return nil, nil, fmt.Errorf("harden: document %d: %w", i, err)
		}
		if len(edits[i]) == 0 {
			continue
		}
		if d.Node != nil {
			err = manifest.NewEditor(d.Node).Apply(edits[i])
		} else {
			err = manifest.Apply(d.Value, edits[i])
		}
		if err != nil {
			return nil, nil, fmt.Errorf("harden: document %d: %w", i, err)
		}
	}
	out, err := f.Encode(manifest.DetectStyle(data))
	if err != nil {
		return nil, nil, err
	}
	if err := check(out, want); err != nil {
		return nil, nil, err
	}
	return out, changes, nil
}

// check reads the hardened file again and requires it to be exactly the
// planned documents: nothing changed but what harden decided.
func check(out []byte, want []*manifest.Value) error {
	g, err := manifest.Read(out)
	if err != nil {
		return fmt.Errorf("harden: the hardened file does not read back (%v); the input needs fixing by hand", err)
	}
	var got []*manifest.Value
	for _, d := range g.Docs {
		got = append(got, d.Value)
	}
	var nonEmpty []*manifest.Value
	for _, w := range want {
		if w != nil {
			nonEmpty = append(nonEmpty, w)
		}
	}
	var gotNonEmpty []*manifest.Value
	for _, v := range got {
		if v != nil {
			gotNonEmpty = append(gotNonEmpty, v)
		}
	}
	if len(gotNonEmpty) != len(nonEmpty) {
		return fmt.Errorf("harden: the hardened file has %d documents instead of %d; the input needs fixing by hand", len(gotNonEmpty), len(nonEmpty))
	}
	for i := range nonEmpty {
		if p, differ := gotNonEmpty[i].Diff(nonEmpty[i]); differ {
			return fmt.Errorf("harden: writing the fixes would also change %s of document %d; the input needs fixing by hand", p, i)
		}
	}
	return nil
}

// Object plans the fixes for one KubeRay object or workload: the edits
// (paths from the object's document root) and what each changes.
func Object(o manifest.Object) ([]manifest.Edit, []Change) {
	p := &planner{obj: o, v: o.Value.Clone()}
	if o.IsWorkload() {
		k := workloadPods
		if _, isOperator := manifest.FindOperator(o); isOperator {
			k = operatorPods
		}
		for _, t := range manifest.Templates(o) {
			p.template(t, k)
		}
		return p.edits, p.changes
	}
	view := func() manifest.Object {
		v := o
		v.Value = p.v
		return v
	}
	if manifest.JobSpecPath(o.Kind) != nil {
		p.addSubmitter()
	}
	for _, cs := range manifest.ClusterSpecs(view()) {
		p.clusterSpec(cs)
	}
	cur := view()
	for _, t := range manifest.Templates(cur) {
		p.template(t, rayPods(manifest.NeedsServiceAccountToken(cur, t)))
	}
	return p.edits, p.changes
}

// planner decides the fixes on a copy of the object, so that each fix
// sees the ones before it.
type planner struct {
	obj     manifest.Object
	v       *manifest.Value
	edits   []manifest.Edit
	changes []Change
}

func (p *planner) note(field manifest.Path, what string) {
	p.changes = append(p.changes, Change{
		Document: p.obj.Document, Kind: p.obj.Kind, Name: p.obj.Name,
		Field: p.obj.Field(field), Description: what,
	})
}

// set makes the value at rel (relative to the object) v.
func (p *planner) set(rel manifest.Path, v *manifest.Value, what string) {
	p.setComment(rel, v, what, "")
}

// setComment is set with a comment above a key it adds.
func (p *planner) setComment(rel manifest.Path, v *manifest.Value, what, comment string) {
	e := manifest.Edit{Path: rel, Value: v, Comment: comment}
	if err := manifest.Apply(p.v, []manifest.Edit{e}); err != nil {
		return // not a place a value can go (the API server refuses the object anyway)
	}
	e.Path = p.obj.Path(rel)
	p.edits = append(p.edits, e)
	p.note(rel, what)
}

// remove deletes the field at rel.
func (p *planner) remove(rel manifest.Path, what string) {
	if p.v.At(rel) == nil {
		return
	}
	e := manifest.Edit{Path: rel, Delete: true}
	if err := manifest.Apply(p.v, []manifest.Edit{e}); err != nil {
		return
	}
	e.Path = p.obj.Path(rel)
	p.edits = append(p.edits, e)
	p.note(rel, what)
}

// get reads the planned object.
func (p *planner) get(rel manifest.Path) *manifest.Value { return p.v.At(rel) }
