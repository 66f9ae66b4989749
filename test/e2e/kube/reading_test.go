//go:build e2e

package kube

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
)

// adversarialDir holds the manifests an earlier lint passed while the API
// server stored something insecure.
var adversarialDir = filepath.Join("..", "..", "..", "internal", "lint", "testdata", "adversarial")

func adversarialFiles(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(adversarialDir, "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".golden") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no adversarial manifests")
	}
	return out
}

// store creates the KubeRay objects and pod-bearing workloads (but Pods,
// which Pod Security Admission refuses rather than stores) kubectl reads
// from data in namespace ns (with name suffix), and returns what the API
// server stored.
func store(t *testing.T, c client.Client, data []byte, ns, suffix string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	objs, err := kubectlObjects(data)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if !storable(o.GetAPIVersion(), o.GetKind()) {
			continue
		}
		o.SetNamespace(ns)
		o.SetName(o.GetName() + suffix)
		if err := c.Create(ctx(t), o); err != nil {
			return nil, fmt.Errorf("create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: o.GetName()}, got); err != nil {
			return nil, err
		}
		out = append(out, got)
	}
	return out, nil
}

// storable reports whether the reading tests store objects of a kind:
// KubeRay's, and workloads other than Pods.
func storable(apiVersion, kind string) bool {
	k := manifest.WorkloadKind(apiVersion, kind)
	return manifest.IsRayKind(apiVersion, kind) || (k != "" && k != manifest.KindPod)
}

// findingKeys lints an object and returns its findings as "rule field:
// message", the object's own name and namespace left out.
func findingKeys(o manifest.Object) []string {
	var out []string
	for _, f := range lint.Object("", o, lint.Options{}) {
		out = append(out, f.Key)
	}
	sort.Strings(out)
	return out
}

// renamed returns o with the namespace and name the test stored it
// under, so that rules that read names (a RayCluster named default) see
// what they see in the stored object.
func renamed(o manifest.Object, ns, name string) manifest.Object {
	o.Value = o.Value.Clone()
	if meta := o.Value.Get("metadata"); meta.IsMap() {
		meta.Put("name", manifest.NewString(name))
		meta.Put("namespace", manifest.NewString(ns))
	}
	o.Name, o.Namespace = name, ns
	return o
}

func storedObject(t *testing.T, u *unstructured.Unstructured) manifest.Object {
	t.Helper()
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	o, err := manifest.ObjectFromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// compareSpecs checks that the stored spec and lint's spec agree on every
// field both have; fields only lint has must be ones the API server pruned
// (unknown to the schema), fields only the server has are its defaults.
func compareSpecs(t *testing.T, where string, lintSpec, stored *manifest.Value) (pruned []string) {
	t.Helper()
	var walk func(p manifest.Path, a, b *manifest.Value)
	walk = func(p manifest.Path, a, b *manifest.Value) {
		switch {
		case b == nil:
			pruned = append(pruned, p.String())
		case a.IsMap() && b.IsMap():
			for _, k := range a.Keys() {
				walk(p.Key(k), a.Get(k), b.Get(k))
			}
		case a.IsList() && b.IsList() && a.Len() == b.Len():
			for i := range a.Items() {
				walk(p.Index(i), a.Index(i), b.Index(i))
			}
		case !a.Equal(b):
			ab, _ := a.MarshalJSON()
			bb, _ := b.MarshalJSON()
			t.Errorf("%s: lint read %s as %s, the API server stored %s", where, p, ab, bb)
		}
	}
	walk(manifest.ParsePath("spec"), lintSpec, stored)
	return pruned
}

// TestAdversarialReading applies each adversarial manifest to the real API
// server as kubectl reads it (apimachinery's YAMLOrJSONDecoder and
// unstructured decoder), reads back what the server stored, and checks
// that it is what lint evaluated: the same fields with the same values,
// and the same findings when the stored object is linted. Where lint
// refuses the file, the test shows what the server would have stored.
func TestAdversarialReading(t *testing.T) {
	c := apiServer(t)
	ns := "adversarial"
	restrictedNamespace(t, c, ns, nil)
	compared, refused := 0, 0
	for i, f := range adversarialFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, lintErr := manifest.Read(data)
			suffix := fmt.Sprintf("-%d", i)
			if lintErr != nil {
				refused++
				stored, err := store(t, c, data, ns, suffix+"r")
				if err != nil {
					t.Logf("lint refuses (%v); kubectl's path fails too: %v", lintErr, err)
					return
				}
				for _, s := range stored {
					o := storedObject(t, s)
					var errs []string
					for _, f := range lint.Object("", o, lint.Options{}) {
						if f.Severity == lint.SeverityError {
							errs = append(errs, f.Rule+" at "+f.Field)
						}
					}
					t.Logf("lint refuses (%v); the API server stored %s %s with %d error findings: %v", lintErr, s.GetKind(), s.GetName(), len(errs), errs)
				}
				return
			}
			stored, err := store(t, c, data, ns, suffix)
			if err != nil {
				t.Fatalf("lint reads the file, the API server refuses it: %v", err)
			}
			var mine []manifest.Object
			for _, o := range file.Resources() {
				if !storable(o.APIVersion, o.Kind) {
					continue
				}
				if !o.ListDocument {
					mine = append(mine, o)
					continue
				}
				// kubectl applies a list's items; a client that stores the
				// document whole stores this.
				whole := &unstructured.Unstructured{}
				if err := json.Unmarshal(must(o.Value.MarshalJSON()), &whole.Object); err != nil {
					t.Fatal(err)
				}
				whole.SetNamespace(ns)
				whole.SetName(whole.GetName() + suffix + "w")
				if err := c.Create(ctx(t), whole); err != nil {
					t.Fatalf("the API server refuses the document as a whole: %v", err)
				}
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(whole.GroupVersionKind())
				if err := c.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: whole.GetName()}, got); err != nil {
					t.Fatal(err)
				}
				so := storedObject(t, got)
				compareSpecs(t, "the document as a whole", o.Value.Get("spec"), so.Value.Get("spec"))
				if a, b := findingKeys(o), findingKeys(so); strings.Join(a, "\n") != strings.Join(b, "\n") {
					t.Errorf("findings differ for the document stored whole:\n file:   %q\n stored: %q", a, b)
				}
				compared++
			}
			if len(mine) != len(stored) {
				t.Fatalf("lint evaluated %d objects, the API server stored %d", len(mine), len(stored))
			}
			for j, s := range stored {
				o := storedObject(t, s)
				pruned := compareSpecs(t, fmt.Sprintf("%s %s", s.GetKind(), s.GetName()), mine[j].Value.Get("spec"), o.Value.Get("spec"))
				if len(pruned) > 0 {
					t.Logf("fields the API server pruned: %v", pruned)
				}
				a, b := findingKeys(renamed(mine[j], s.GetNamespace(), s.GetName())), findingKeys(o)
				if strings.Join(a, "\n") != strings.Join(b, "\n") {
					t.Errorf("findings differ between the file and the stored object:\n file:   %q\n stored: %q", a, b)
				}
				compared++
			}
		})
	}
	t.Logf("%d objects stored as lint evaluated them; %d files refused by lint", compared, refused)
	if compared == 0 || refused == 0 {
		t.Error("nothing compared or nothing refused")
	}
}

// TestAdversarialHardened hardens each adversarial manifest lint accepts,
// applies the result through the real API server and checks the stored
// objects: no error of a rule harden fixes, and every pod template whose
// only errors harden fixes is admitted by Pod Security restricted.
func TestAdversarialHardened(t *testing.T) {
	c := apiServer(t)
	ns := "adversarial-hardened"
	restrictedNamespace(t, c, ns, nil)
	for i, f := range adversarialFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := harden.File(data)
			if err != nil {
				if _, rerr := manifest.Read(data); rerr == nil {
					t.Fatalf("harden: %v", err)
				}
				return // refused like lint refuses it
			}
			stored, err := store(t, c, out, ns, fmt.Sprintf("-%d", i))
			if err != nil {
				t.Fatalf("the API server refuses the hardened manifest: %v", err)
			}
			for _, s := range stored {
				o := storedObject(t, s)
				fixable := true
				for _, f := range lint.Object("", o, lint.Options{}) {
					if r, ok := lint.RuleByID(f.Rule); ok && f.Severity == lint.SeverityError {
						if r.Hardened {
							t.Errorf("stored hardened %s %s has %s at %s", s.GetKind(), s.GetName(), f.Rule, f.Field)
						} else {
							fixable = false
						}
					}
				}
				if !fixable {
					continue
				}
				for k, tm := range manifest.Templates(o) {
					tj, _ := tm.Value.MarshalJSON()
					pod := podFromTemplate(t, tj, ns, fmt.Sprintf("h%d-%d", i, k))
					if _, ok, _ := unstructured.NestedSlice(pod.Object, "spec", "ephemeralContainers"); ok {
						// The API server refuses ephemeral containers in a
						// pod it creates; the rest of the pod must pass.
						err := dryRunCreate(t, c, pod.DeepCopy())
						if err == nil || !strings.Contains(err.Error(), "ephemeralContainers") {
							t.Errorf("%s pod with ephemeral containers: %v", tm.Describe(), err)
						}
						unstructured.RemoveNestedField(pod.Object, "spec", "ephemeralContainers")
					}
					if err := dryRunCreate(t, c, pod); err != nil {
						t.Errorf("%s pod of the stored hardened %s is refused: %v", tm.Describe(), s.GetName(), err)
					}
				}
			}
		})
	}
}

// TestQuotaForbidsExposure: a tenant's quota forbids LoadBalancer and
// NodePort Services and Ingresses, so a tenant cannot publish a Ray head
// past the policies.
func TestQuotaForbidsExposure(t *testing.T) {
	c := apiServer(t)
	out, stderr, code := raygate(t, "tenant", "render", "--file", tenantsFile)
	if code != 0 {
		t.Fatalf("tenant render exited %d: %s", code, stderr)
	}
	var quota *unstructured.Unstructured
	for _, o := range objectsFromYAML(t, []byte(out)) {
		if o.GetKind() == "ResourceQuota" && o.GetNamespace() == "team-b" {
			quota = o
		}
	}
	if quota == nil {
		t.Fatal("no quota rendered for team-b, which sets none")
	}
	ns := "quota-exposure"
	restrictedNamespace(t, c, ns, nil)
	quota.SetNamespace(ns)
	if err := c.Create(ctx(t), quota); err != nil {
		t.Fatal(err)
	}
	// No controller manager runs here: record the usage the quota
	// controller would.
	var q corev1.ResourceQuota
	if err := c.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: quota.GetName()}, &q); err != nil {
		t.Fatal(err)
	}
	q.Status.Hard = q.Spec.Hard
	q.Status.Used = corev1.ResourceList{}
	for r := range q.Spec.Hard {
		q.Status.Used[r] = *resourceZero()
	}
	if err := c.Status().Update(ctx(t), &q); err != nil {
		t.Fatal(err)
	}
	svc := func(typ corev1.ServiceType) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: strings.ToLower(string(typ)), Namespace: ns},
			Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"ray.io/node-type": "head"},
				Ports: []corev1.ServicePort{{Name: "dashboard", Port: 8265}}},
		}
	}
	for _, typ := range []corev1.ServiceType{corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort} {
		err := c.Create(ctx(t), svc(typ))
		if err == nil || !strings.Contains(err.Error(), "exceeded quota") {
			t.Errorf("a %s Service in a tenant namespace: %v", typ, err)
		}
	}
	if err := c.Create(ctx(t), svc(corev1.ServiceTypeClusterIP)); err != nil {
		t.Errorf("a ClusterIP Service is refused: %v", err)
	}
	// Nor an Ingress (KubeRay creates one for enableIngress: true).
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "dashboard", Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "clusterip", Port: networkingv1.ServiceBackendPort{Number: 8265}}}}},
		}}}}},
	}
	if err := c.Create(ctx(t), ing); err == nil || !strings.Contains(err.Error(), "exceeded quota") {
		t.Errorf("an Ingress in a tenant namespace: %v", err)
	}
}

func resourceZero() *resource.Quantity {
	q := resource.MustParse("0")
	return &q
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
