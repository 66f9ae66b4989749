//go:build e2e

package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
)

// samplesDir holds KubeRay's sample manifests.
var samplesDir = filepath.Join("..", "..", "..", "internal", "lint", "testdata", "kuberay")

// placeholder matches the shell variables some samples leave for the
// reader to fill in ($KSA_NAME); the tests fill them with a valid name.
var placeholder = regexp.MustCompile(`\$\{?[A-Z_][A-Z0-9_]*\}?`)

// readSample reads a sample with its placeholders filled in.
func readSample(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return placeholder.ReplaceAll(data, []byte("placeholder"))
}

func samples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no KubeRay samples in %s", samplesDir)
	}
	return files
}

func mustRead(t *testing.T, data []byte) *manifest.File {
	t.Helper()
	f, err := manifest.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// templatePod is a Pod built from one pod template of a sample.
type templatePod struct {
	where    string // file, object and template path, for messages
	template manifest.Template
	json     []byte
	findings []lint.Finding // PSS findings of this template
	reasons  []string       // PSS reasons raygate's evaluator gives
	detail   string         // the library's aggregated detail, as the API server prints it
}

// templatePods lists the pod templates of a manifest (of its Ray objects
// and its workloads) with raygate's PSS findings for each.
func templatePods(t *testing.T, name string, data []byte) []templatePod {
	t.Helper()
	file, err := manifest.Read(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	all := lint.Check(name, file, lint.Options{})
	var out []templatePod
	for _, o := range file.Resources() {
		if !o.IsRay() && !o.IsWorkload() {
			continue // Pods, Deployments, ... (a sample's Redis) are compared too
		}
		for _, tm := range manifest.Templates(o) {
			j, err := tm.Value.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			tp := templatePod{where: fmt.Sprintf("%s %s/%s %s", name, o.Kind, o.Name, tm.Path), template: tm, json: j}
			prefix := o.Field(tm.Path) + "."
			if prefix == "." {
				prefix = "" // a Pod is its own template
			}
			for _, f := range all {
				if f.Document == o.Document && f.Kind == o.Kind && f.Name == o.Name && strings.HasPrefix(f.Rule, lint.RulePSSPrefix) && strings.HasPrefix(f.Field, prefix) {
					tp.findings = append(tp.findings, f)
				}
			}
			var pt corev1.PodTemplateSpec
			if err := tm.Value.DecodeInto(&pt); err == nil {
				pss.AsPod(&pt.ObjectMeta, &pt.Spec)
				if ok, agg, err := pss.Allowed(&pt.ObjectMeta, &pt.Spec); err == nil && !ok {
					_, tp.detail, _ = strings.Cut(agg, ": ")
				}
				vs, err := pss.Evaluate(&pt.ObjectMeta, &pt.Spec)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					tp.reasons = append(tp.reasons, v.Reason)
				}
			}
			out = append(out, tp)
		}
	}
	return out
}

// extraManifests returns the .yaml files of the folder named by
// RAYGATE_E2E_MANIFESTS, to run the agreement check on manifests of one's
// own ("" when unset).
func extraManifests(t *testing.T) []string {
	dir := os.Getenv("RAYGATE_E2E_MANIFESTS")
	if dir == "" {
		return nil
	}
	files, err := manifest.FindFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// hasInvalid reports whether raygate found the template unreadable.
func hasInvalid(all []lint.Finding, tp templatePod) bool {
	for _, f := range all {
		if f.Rule == lint.RuleInvalidTemplate && strings.HasSuffix(f.Field, tp.template.Path.String()) {
			return true
		}
	}
	return false
}

// TestPodSecurityAgreement builds a Pod from every pod template of every
// KubeRay sample and creates it (dry run) in a restricted namespace: the
// API server's Pod Security Admission must admit exactly the pods raygate
// lint finds no PSS violation in, and reject the others for the reasons
// raygate reports.
func TestPodSecurityAgreement(t *testing.T) {
	c := apiServer(t)
	ns := "pss-agreement"
	restrictedNamespace(t, c, ns, nil)
	checked, rejected, invalid := 0, 0, 0
	extra := map[string]bool{}
	for _, f := range extraManifests(t) {
		extra[f] = true
	}
	for _, f := range append(samples(t), extraManifests(t)...) {
		data := readSample(t, f)
		if _, err := manifest.Read(data); err != nil {
			t.Logf("%s: not YAML, skipped: %v", f, err)
			continue
		}
		hardened, _, err := harden.File(data)
		if err != nil {
			t.Fatal(err)
		}
		all := append(lint.Check(f, mustRead(t, data), lint.Options{}), lint.Check(f, mustRead(t, hardened), lint.Options{})...)
		var pods []templatePod
		pods = append(pods, templatePods(t, filepath.Base(f), data)...)
		pods = append(pods, templatePods(t, filepath.Base(f)+" (hardened)", hardened)...)
		for i, tp := range pods {
			pod := podFromTemplate(t, tp.json, ns, fmt.Sprintf("p%d", i))
			err := dryRunCreate(t, c, pod)
			apiAdmits := err == nil
			if err != nil && !isPodSecurityDenial(err) {
				if hasInvalid(all, tp) {
					invalid++
					continue // both refuse it: the template is not a valid pod
				}
				if extra[f] {
					// A pod that only makes sense with what KubeRay adds to it
					// (a volume, say) cannot be compared on its own.
					t.Logf("%s: not comparable, the API server refused the pod for another reason: %v", tp.where, err)
					continue
				}
				t.Errorf("%s: the API server refused the pod for another reason: %v", tp.where, err)
				continue
			}
			checked++
			if apiAdmits != (len(tp.findings) == 0) {
				t.Errorf("%s: API server admits=%v, raygate PSS findings=%d (%v)", tp.where, apiAdmits, len(tp.findings), err)
				continue
			}
			if !apiAdmits {
				rejected++
				for _, r := range tp.reasons {
					if !strings.Contains(err.Error(), r) {
						t.Errorf("%s: raygate reports %q, the API server says: %v", tp.where, r, err)
					}
				}
				if !strings.HasSuffix(err.Error(), ": "+tp.detail) {
					t.Errorf("%s: the API server's violations differ from raygate's:\n api: %v\n raygate: %s", tp.where, err, tp.detail)
				}
			}
		}
	}
	if checked == 0 || rejected == 0 {
		t.Fatalf("checked %d pods, %d rejected: the comparison proved nothing", checked, rejected)
	}
	t.Logf("%d pods: API server and raygate lint agree on all (%d rejected by Pod Security; %d more invalid for both)", checked, rejected, invalid)
}

// TestHardenedSamplesAdmitted hardens every KubeRay sample: every pod built
// from its templates is admitted in a restricted namespace, while the
// original ray-cluster.sample.yaml head pod is rejected, and the hardened
// RayCluster, RayJob and RayService objects themselves are accepted.
func TestHardenedSamplesAdmitted(t *testing.T) {
	c := apiServer(t)
	ns := "hardened"
	restrictedNamespace(t, c, ns, nil)

	orig, err := os.ReadFile(filepath.Join(samplesDir, "ray-cluster.sample.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range templatePods(t, "ray-cluster.sample.yaml", orig) {
		if tp.template.Role != manifest.RoleHead {
			continue
		}
		err := dryRunCreate(t, c, podFromTemplate(t, tp.json, ns, "original-head"))
		if !isPodSecurityDenial(err) {
			t.Fatalf("the original sample's head pod must be rejected by Pod Security Admission, got %v", err)
		}
	}

	pods, objects := 0, 0
	for i, f := range samples(t) {
		out, _, err := harden.File(readSample(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for j, tp := range templatePods(t, filepath.Base(f), out) {
			if err := dryRunCreate(t, c, podFromTemplate(t, tp.json, ns, fmt.Sprintf("h%d-%d", i, j))); err != nil {
				t.Errorf("%s (hardened): pod refused: %v", tp.where, err)
			}
			pods++
		}
		objNS := fmt.Sprintf("hardened-%d", i)
		restrictedNamespace(t, c, objNS, nil)
		for _, o := range objectsFromYAML(t, out) {
			if !manifest.IsRayKind(o.GetAPIVersion(), o.GetKind()) {
				continue
			}
			o.SetNamespace(objNS)
			if err := c.Create(ctx(t), o); err != nil {
				t.Errorf("%s (hardened): %s/%s refused: %v", filepath.Base(f), o.GetKind(), o.GetName(), err)
			}
			objects++
		}
	}
	if pods == 0 || objects == 0 {
		t.Fatal("nothing checked")
	}
	t.Logf("hardened KubeRay samples: %d pods admitted under restricted, %d Ray objects accepted", pods, objects)
}
