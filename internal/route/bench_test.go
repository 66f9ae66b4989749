package route

import (
	"fmt"
	"testing"
)

const benchPath = "/clusters/team-a/ray1/api/jobs/raysubmit_XtYr9m2Gb1nFvQeA/logs"

func staticOf(n int) Static {
	s := Static{}
	for i := 0; i < n; i++ {
		c := &Cluster{Namespace: fmt.Sprintf("team-%04d", i), Name: "ray1"}
		c.Key = c.Namespace + "/" + c.Name
		s[c.Key] = c
	}
	return s
}

// staticSource is a Source of one fixed discovered set.
type staticSource struct{ d *Discovered }

func (s staticSource) Discovered() *Discovered { return s.d }

func mergedOf(n int) *Merged {
	d := &Discovered{Clusters: map[string]*Cluster{}, Pending: map[string]string{}}
	for k, c := range staticOf(n) {
		d.Clusters[k] = c
	}
	return NewMerged(Static{}, nil, staticSource{d}, nil)
}

// TestHotPathAllocations: checking and splitting a request path and
// looking a cluster up, static or discovered, allocate nothing.
func TestHotPathAllocations(t *testing.T) {
	s, m := staticOf(1000), mergedOf(1000)
	if n := testing.AllocsPerRun(100, func() {
		if CheckPath(benchPath) != nil {
			t.Fatal("path refused")
		}
		tg, ok := Split(benchPath)
		if !ok || s.Lookup(tg.Namespace, "ray1") == nil && tg.Namespace != "team-a" {
			t.Fatal("split")
		}
		if s.Lookup("team-0999", "ray1") == nil || m.Lookup("team-0999", "ray1") == nil {
			t.Fatal("lookup")
		}
	}); n != 0 {
		t.Fatalf("the path check, split and lookups allocate %.1f times, want 0", n)
	}
}

func BenchmarkCheckPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if CheckPath(benchPath) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Split(benchPath); !ok {
			b.Fatal("no route")
		}
	}
}

// BenchmarkLookup finds the last of 1, 100 and 1000 clusters, static and
// discovered: the cost does not grow with their number.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		ns := fmt.Sprintf("team-%04d", n-1)
		for name, reg := range map[string]Registry{"static": staticOf(n), "discovered": mergedOf(n)} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if reg.Lookup(ns, "ray1") == nil {
						b.Fatal("not found")
					}
				}
			})
		}
	}
}
