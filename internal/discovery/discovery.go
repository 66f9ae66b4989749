// Package discovery finds KubeRay RayClusters in Kubernetes and turns them
// into clusters raygate serves. Informers watch RayClusters
// (rayclusters.ray.io/v1), head Services (ray.io/node-type=head), their
// EndpointSlices (when configured) and the Secrets KubeRay labels
// ray.io/cluster, in the selected namespaces; on every change a pure
// Build turns what they hold into a new immutable set, published whole.
//
// The upstream of a cluster is always resolved by raygate from the head
// Service that KubeRay created for it and that the RayCluster controls
// (by UID); nothing a tenant writes in an annotation or spec field is read
// as an address.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/route"
)

// Discoverer watches the API server and publishes discovered sets. Start
// it once; Discovered is safe for concurrent use.
type Discoverer struct {
	cfg      config.KubernetesDiscovery
	core     kubernetes.Interface
	dyn      dynamic.Interface
	log      *slog.Logger
	onChange func(*route.Discovered)

	cur       atomic.Pointer[route.Discovered]
	published atomic.Bool
	kick      chan struct{}
	synced    []cache.InformerSynced

	rayClusters, services, slices, secrets []cache.Store
	namespaces                             cache.Store
	selector                               labels.Selector
}

var _ route.Source = (*Discoverer)(nil)

// New returns a discoverer for a validated config. onChange, if not nil,
// is called after every published set.
func New(cfg config.KubernetesDiscovery, core kubernetes.Interface, dyn dynamic.Interface, log *slog.Logger, onChange func(*route.Discovered)) (*Discoverer, error) {
	d := &Discoverer{cfg: cfg, core: core, dyn: dyn, log: log, onChange: onChange, kick: make(chan struct{}, 1)}
	d.cur.Store(&route.Discovered{Clusters: map[string]*route.Cluster{}, Pending: map[string]string{}})
	if cfg.NamespaceSelector != "" {
		sel, err := labels.Parse(cfg.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("discovery: namespaceSelector: %w", err)
		}
		d.selector = sel
	}
	return d, nil
}

// Discovered returns the latest published set.
func (d *Discoverer) Discovered() *route.Discovered { return d.cur.Load() }

// Start starts the informers; they and the builder stop when ctx ends.
func (d *Discoverer) Start(ctx context.Context) {
	namespaces := d.cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { d.changed() },
		UpdateFunc: func(any, any) { d.changed() },
		DeleteFunc: func(any) { d.changed() },
	}
	add := func(inf cache.SharedIndexInformer, transform cache.TransformFunc) cache.Store {
		_ = inf.SetTransform(transform)
		_, _ = inf.AddEventHandler(handler)
		d.synced = append(d.synced, inf.HasSynced)
		return inf.GetStore()
	}
	for _, ns := range namespaces {
		dynf := dynamicinformer.NewFilteredDynamicSharedInformerFactory(d.dyn, 0, ns, nil)
		d.rayClusters = append(d.rayClusters, add(dynf.ForResource(RayClusters).Informer(), pruneRayCluster))
		heads := informers.NewSharedInformerFactoryWithOptions(d.core, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelNodeType + "=" + headNode }))
		d.services = append(d.services, add(heads.Core().V1().Services().Informer(), dropManagedFields))
		if d.cfg.UpstreamFrom == config.UpstreamFromEndpointSlices {
			d.slices = append(d.slices, add(heads.Discovery().V1().EndpointSlices().Informer(), dropManagedFields))
		}
		secrets := informers.NewSharedInformerFactoryWithOptions(d.core, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelCluster }))
		d.secrets = append(d.secrets, add(secrets.Core().V1().Secrets().Informer(), pruneSecret))
		dynf.Start(ctx.Done())
		heads.Start(ctx.Done())
		secrets.Start(ctx.Done())
	}
	if d.selector != nil {
		nsf := informers.NewSharedInformerFactory(d.core, 0)
		d.namespaces = add(nsf.Core().V1().Namespaces().Informer(), dropManagedFields)
		nsf.Start(ctx.Done())
	}
	go d.run(ctx)
}

// WaitForSync waits until every informer has listed its objects once and
// the first set is published, or ctx ends.
func (d *Discoverer) WaitForSync(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), d.synced...) {
		return errors.New("discovery: the first list of RayClusters, Services and Secrets did not complete (is KubeRay's RayCluster CRD installed, and may raygate list and watch them? see docs/kubernetes.md#permissions)")
	}
	d.changed()
	for {
		if d.synced == nil || d.published.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("discovery: first set not built")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *Discoverer) changed() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// debounce coalesces bursts of events into one rebuild.
const debounce = 50 * time.Millisecond

func (d *Discoverer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		}
		if !allSynced(d.synced) {
			continue // the sync itself kicks again
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(debounce):
		}
		d.publish(d.build())
	}
}

func allSynced(fs []cache.InformerSynced) bool {
	for _, f := range fs {
		if !f() {
			return false
		}
	}
	return true
}

func (d *Discoverer) build() *route.Discovered {
	in := Inputs{UpstreamFrom: d.cfg.UpstreamFrom}
	for _, s := range d.rayClusters {
		in.RayClusters = appendAll[*unstructured.Unstructured](in.RayClusters, s)
	}
	for _, s := range d.services {
		in.Services = appendAll[*corev1.Service](in.Services, s)
	}
	for _, s := range d.slices {
		in.EndpointSlices = appendAll[*discoveryv1.EndpointSlice](in.EndpointSlices, s)
	}
	for _, s := range d.secrets {
		in.Secrets = appendAll[*corev1.Secret](in.Secrets, s)
	}
	if d.selector != nil {
		selected := map[string]bool{}
		for _, ns := range appendAll[*corev1.Namespace](nil, d.namespaces) {
			selected[ns.Name] = d.selector.Matches(labels.Set(ns.Labels))
		}
		in.InScope = func(ns string) bool { return selected[ns] }
	}
	return Build(in)
}

func appendAll[T any](out []T, s cache.Store) []T {
	for _, o := range s.List() {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func (d *Discoverer) publish(next *route.Discovered) {
	prev := d.cur.Swap(next)
	d.published.Store(true)
	for k, c := range next.Clusters {
		if old := prev.Clusters[k]; old == nil {
			d.log.Info("discovered cluster served", "cluster", k, "upstream", c.Upstream.String(), "owner", c.Owner)
		} else if old.Upstream.String() != c.Upstream.String() {
			d.log.Info("discovered cluster moved", "cluster", k, "upstream", c.Upstream.String())
		} else if old.Token != c.Token {
			d.log.Info("discovered cluster's Ray token changed", "cluster", k)
		}
	}
	for k := range prev.Clusters {
		if next.Clusters[k] == nil {
			d.log.Info("discovered cluster no longer served", "cluster", k, "reason", reasonGone(next, k))
		}
	}
	for k, why := range next.Pending {
		if prev.Pending[k] != why {
			d.log.Info("discovered cluster not served yet", "cluster", k, "reason", why)
		}
	}
	if d.onChange != nil {
		d.onChange(next)
	}
}

func reasonGone(next *route.Discovered, key string) string {
	if why, ok := next.Pending[key]; ok {
		return why
	}
	return "deleted or out of scope"
}

// pruneRayCluster keeps only what Build reads of a RayCluster: its
// metadata (without managed fields and annotations) and spec.authOptions.
// Pod templates, which can be large, are dropped.
func pruneRayCluster(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	meta, _ := u.Object["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "ownerReferences", "deletionTimestamp", "labels", "generation"} {
		if v, ok := meta[k]; ok {
			keep[k] = v
		}
	}
	spec := map[string]any{}
	if s, ok := u.Object["spec"].(map[string]any); ok {
		if a, ok := s["authOptions"]; ok {
			spec["authOptions"] = a
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "metadata": keep, "spec": spec,
	}}, nil
}

// pruneSecret keeps only the token key of a Secret.
func pruneSecret(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	out := &corev1.Secret{ObjectMeta: s.ObjectMeta, Type: s.Type}
	out.ManagedFields = nil
	out.Annotations = nil // kubectl's last-applied copy holds the data
	if v, ok := s.Data[TokenKey]; ok {
		out.Data = map[string][]byte{TokenKey: v}
	}
	return out, nil
}

func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
