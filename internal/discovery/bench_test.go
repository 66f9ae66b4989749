package discovery

import (
	"fmt"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/route"
)

// inputsOf is n RayClusters, each with its head Service, in namespaces
// team-0000 to team-<n-1>.
func inputsOf(n int) Inputs {
	var in Inputs
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("team-%04d", i)
		in.RayClusters = append(in.RayClusters, rayCluster(ns, "ray1"))
		in.Services = append(in.Services, headService(ns, "ray1"))
	}
	return in
}

// source publishes one discovered set.
type source struct{ d *route.Discovered }

func (s source) Discovered() *route.Discovered { return s.d }

// BenchmarkBuild builds the discovered set of 1000 RayClusters (what a
// change seen by the informers costs).
func BenchmarkBuild(b *testing.B) {
	in := inputsOf(1000)
	b.ReportAllocs()
	for b.Loop() {
		if d := Build(in); len(d.Clusters) != 1000 {
			b.Fatalf("%d clusters built, want 1000", len(d.Clusters))
		}
	}
}

// BenchmarkDiscoveredLookup routes and authorizes a request to the last
// of 1, 100 and 1000 discovered RayClusters through the merged registry
// and the default bindings: the cost does not grow with their number.
func BenchmarkDiscoveredLookup(b *testing.B) {
	defaults := authz.NewBindings(nil)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			reg := route.NewMerged(route.Static{}, defaults, source{Build(inputsOf(n))}, nil)
			ns := fmt.Sprintf("team-%04d", n-1)
			p, _ := authz.NewPolicy(nil)
			b.ReportAllocs()
			for b.Loop() {
				c := reg.Lookup(ns, "ray1")
				if c == nil {
					b.Fatal("not found")
				}
				_ = p.Decide(c.Bindings.RoleOf(nil), authz.ActionClusterRead)
			}
		})
	}
}
