package route

import (
	"slices"
	"sync/atomic"

	"github.com/raygate/raygate/internal/authz"
)

// Discovered is one immutable set of clusters found at run time (KubeRay
// RayClusters). Its clusters carry no bindings: the registry gives them
// the configured defaults. Never modify a published set.
type Discovered struct {
	// Clusters are the clusters that can be served, by "namespace/name".
	Clusters map[string]*Cluster
	// Pending maps the clusters found but not served to why not (no head
	// Service yet, no Ray token Secret).
	Pending map[string]string
}

// Source publishes discovered sets. Discovered returns the latest one
// (never nil); it must be safe for concurrent use.
type Source interface {
	Discovered() *Discovered
}

// Merged is a Registry of static clusters and the clusters of a Source.
// Discovered clusters get the default bindings. A discovered cluster with
// the key of a static one clashes: it is refused and the static one
// served. The merged set is rebuilt, whole, the first time it is used
// after the Source publishes a new set.
type Merged struct {
	static   Static
	defaults *authz.Bindings
	src      Source
	onClash  func(clashes []string)
	cur      atomic.Pointer[mergedSet]
}

type mergedSet struct {
	from    *Discovered
	all     map[string]*Cluster
	list    []*Cluster
	clashes []string
}

var _ Registry = (*Merged)(nil)

// NewMerged merges static with src's clusters, which get defaults as
// bindings. onClash, if not nil, is called with the sorted clashing keys
// whenever a rebuilt set's clashes differ from the previous set's.
func NewMerged(static Static, defaults *authz.Bindings, src Source, onClash func(clashes []string)) *Merged {
	return &Merged{static: static, defaults: defaults, src: src, onClash: onClash}
}

func (m *Merged) set() *mergedSet {
	d := m.src.Discovered()
	cur := m.cur.Load()
	if cur != nil && cur.from == d {
		return cur
	}
	next := merge(m.static, m.defaults, d)
	if m.cur.CompareAndSwap(cur, next) && m.onClash != nil {
		var prev []string
		if cur != nil {
			prev = cur.clashes
		} else if len(next.clashes) == 0 {
			return next
		}
		if !slices.Equal(prev, next.clashes) {
			m.onClash(next.clashes)
		}
	}
	return next
}

func merge(static Static, defaults *authz.Bindings, d *Discovered) *mergedSet {
	s := &mergedSet{from: d, all: make(map[string]*Cluster, len(static)+len(d.Clusters))}
	for k, c := range static {
		s.all[k] = c
	}
	for k, c := range d.Clusters {
		if _, taken := static[k]; taken {
			s.clashes = append(s.clashes, k)
			continue
		}
		dc := *c
		dc.Bindings = defaults
		s.all[k] = &dc
	}
	slices.Sort(s.clashes)
	s.list = make([]*Cluster, 0, len(s.all))
	for _, c := range s.all {
		s.list = append(s.list, c)
	}
	slices.SortFunc(s.list, func(a, b *Cluster) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return s
}

// Refresh rebuilds the merged set now if the Source has published a new
// one, so clashes are reported without waiting for a request.
func (m *Merged) Refresh() { m.set() }

// Lookup implements Registry.
func (m *Merged) Lookup(namespace, name string) *Cluster {
	return m.set().all[namespace+"/"+name]
}

// Clusters implements Registry, sorted by key. The slice is shared: do not
// modify it.
func (m *Merged) Clusters() []*Cluster { return m.set().list }

// Clashes returns the sorted keys of discovered clusters refused because a
// static cluster has the same key.
func (m *Merged) Clashes() []string { return m.set().clashes }

// Pending returns the discovered clusters not served, with why.
func (m *Merged) Pending() map[string]string { return m.set().from.Pending }
