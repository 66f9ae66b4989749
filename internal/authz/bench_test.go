package authz

import (
	"testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// TestHotPathAllocations: classifying a read, resolving a role from
// bindings and deciding allocate nothing.
func TestHotPathAllocations(t *testing.T) {
	b := NewBindings([]config.Binding{{Role: "developer", Groups: []string{"team-a"}}, {Role: "viewer", Users: []string{"carol"}}})
	id := &identity.Identity{User: "alice", Groups: []string{"team-a", "ml"}}
	p, err := NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		req := Classify("GET", "/api/jobs/raysubmit_XtYr9m2Gb1nFvQeA/logs", false)
		if d := p.Decide(b.RoleOf(id), req.Action); !d.Allow {
			t.Fatalf("refused: %s", d.Reason)
		}
	}); n != 0 {
		t.Fatalf("classify, role and decision allocate %.1f times, want 0", n)
	}
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Classify("GET", "/api/jobs/raysubmit_XtYr9m2Gb1nFvQeA/logs", false)
	}
}

func BenchmarkRoleAndDecide(b *testing.B) {
	bs := NewBindings([]config.Binding{{Role: "developer", Groups: []string{"team-a"}}})
	id := &identity.Identity{User: "alice", Groups: []string{"team-a"}}
	p, _ := NewPolicy(nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Decide(bs.RoleOf(id), ActionClusterRead)
	}
}
