package route

import (
	"slices"
	"sync/atomic"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

type fakeSource struct{ d atomic.Pointer[Discovered] }

func (f *fakeSource) Discovered() *Discovered { return f.d.Load() }

func discovered(keys ...string) *Discovered {
	d := &Discovered{Clusters: map[string]*Cluster{}}
	for _, k := range keys {
		d.Clusters[k] = &Cluster{Key: k, Source: SourceKubernetes}
	}
	return d
}

func TestMerged(t *testing.T) {
	staticBindings := authz.NewBindings([]config.Binding{{Role: "developer", Users: []string{"alice"}}})
	defaults := authz.NewBindings([]config.Binding{{Role: "admin", Groups: []string{"platform"}}})
	static := Static{"team-a/ray1": {Key: "team-a/ray1", Source: SourceStatic, Bindings: staticBindings}}
	src := &fakeSource{}
	src.d.Store(discovered("team-a/ray1", "team-b/ray1"))
	var reported [][]string
	m := NewMerged(static, defaults, src, func(c []string) { reported = append(reported, c) })

	if c := m.Lookup("team-a", "ray1"); c == nil || c.Source != SourceStatic || c.Bindings != staticBindings {
		t.Fatalf("a discovered cluster replaced the static one: %+v", c)
	}
	b := m.Lookup("team-b", "ray1")
	if b == nil || b.Bindings != defaults {
		t.Fatalf("discovered cluster = %+v, want the default bindings", b)
	}
	if b.Bindings.RoleOf(&identity.Identity{User: "x", Groups: []string{"platform"}}) != authz.RoleAdmin {
		t.Fatal("defaults not applied")
	}
	if src.d.Load().Clusters["team-b/ray1"].Bindings != nil {
		t.Fatal("merging wrote into the published set")
	}
	if !slices.Equal(m.Clashes(), []string{"team-a/ray1"}) || len(reported) != 1 {
		t.Fatalf("clashes %v, reported %v", m.Clashes(), reported)
	}
	if keys := keysOf(m.Clusters()); !slices.Equal(keys, []string{"team-a/ray1", "team-b/ray1"}) {
		t.Fatalf("Clusters = %v", keys)
	}

	// Same clash in the next set: not reported again. Deleted: gone.
	src.d.Store(discovered("team-a/ray1"))
	if m.Lookup("team-b", "ray1") != nil {
		t.Fatal("a deleted cluster is still served")
	}
	if len(reported) != 1 {
		t.Fatalf("an unchanged clash was reported again: %v", reported)
	}
	// The clash resolves: reported as an empty list.
	src.d.Store(discovered())
	m.Refresh()
	if len(reported) != 2 || len(reported[1]) != 0 {
		t.Fatalf("resolution not reported: %v", reported)
	}
}

func keysOf(cs []*Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}
