//go:build e2e

package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
	"github.com/raygate/raygate/test/e2e/harness"
)

// warnings collects the warnings the API server sends.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

// HandleWarningHeaderWithContext records one warning.
func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

// take returns the warnings received since the last call.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// warningClient returns a client whose warnings are collected.
func warningClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	apiServer(t)
	w := &warnings{}
	cfg := rest.CopyConfig(restCfg)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: kc.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// pssWarning returns the Pod Security warning among msgs ("" if none).
func pssWarning(msgs []string) string {
	for _, m := range msgs {
		if strings.Contains(m, "would violate PodSecurity") {
			return m
		}
	}
	return ""
}

// workloadCheck is one pod-bearing object compared with the API server.
type workloadCheck struct {
	where string
	o     manifest.Object
	// findings are lint's PSS findings for the object.
	findings []lint.Finding
}

// workloadChecks lints a file and returns its pod-bearing objects, each
// with lint's PSS findings.
func workloadChecks(t *testing.T, name string, data []byte) []workloadCheck {
	t.Helper()
	f, err := manifest.Read(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	all := lint.Check(name, f, lint.Options{})
	var out []workloadCheck
	for _, o := range f.Resources() {
		if !o.IsWorkload() {
			continue
		}
		wc := workloadCheck{where: fmt.Sprintf("%s %s %s/%s", name, o.APIVersion, o.Kind, o.Name), o: o}
		for _, x := range all {
			if x.Document == o.Document && x.Kind == o.Kind && x.Name == o.Name && strings.HasPrefix(x.Rule, lint.RulePSSPrefix) {
				wc.findings = append(wc.findings, x)
			}
		}
		out = append(out, wc)
	}
	return out
}

// ensureServiceAccount creates the service account a pod template names,
// so that the ServiceAccount admission plugin does not refuse its pod.
func ensureServiceAccount(t *testing.T, c client.Client, ns string, tmpl *manifest.Value) {
	t.Helper()
	name := tmpl.Lookup("spec.serviceAccountName").Str()
	if name == "" {
		return
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := c.Create(ctx(t), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// compareWorkload creates (dry run) the Pod the object's controller would
// create from its template, in the restricted namespace ns, and the
// object itself: the Pod is admitted exactly when lint finds no PSS
// violation, rejected for exactly lint's violations (the aggregated
// detail, word for word, and each finding's reason); the object itself
// draws Pod Security's warning exactly for its template as written.
// served reports whether the API server serves the object's version.
func compareWorkload(t *testing.T, c, wc client.Client, w *warnings, ns, podName string, chk workloadCheck, served bool) (admitted bool) {
	t.Helper()
	ts := manifest.Templates(chk.o)
	if len(ts) != 1 {
		t.Fatalf("%s: %d pod templates", chk.where, len(ts))
	}
	tmpl := ts[0]
	ensureServiceAccount(t, c, ns, tmpl.Value)
	tj, err := tmpl.Value.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var pt corev1.PodTemplateSpec
	if err := json.Unmarshal(tj, &pt); err != nil {
		t.Fatal(err)
	}
	asPod := pt.DeepCopy()
	pss.AsPod(&asPod.ObjectMeta, &asPod.Spec)
	podAllowed, podAgg, err := pss.Allowed(&asPod.ObjectMeta, &asPod.Spec)
	if err != nil {
		t.Fatal(err)
	}
	apiErr := dryRunCreate(t, c, podFromTemplate(t, tj, ns, podName))
	if apiErr != nil && !isPodSecurityDenial(apiErr) {
		t.Errorf("%s: the API server refused the pod for another reason: %v", chk.where, apiErr)
		return false
	}
	if (apiErr == nil) != (len(chk.findings) == 0) || (apiErr == nil) != podAllowed {
		t.Errorf("%s: API server admits the pod=%v (%v); raygate PSS findings: %d", chk.where, apiErr == nil, apiErr, len(chk.findings))
		return false
	}
	if apiErr != nil {
		if !strings.HasSuffix(apiErr.Error(), ": "+after(podAgg, ": ")) {
			t.Errorf("%s: the pod's violations differ:\n api: %v\n raygate: %s", chk.where, apiErr, podAgg)
		}
		for _, f := range chk.findings {
			reason := strings.TrimPrefix(f.Message, "pod: ")
			if i := strings.Index(reason, " ("); i >= 0 {
				reason = reason[:i]
			}
			if !strings.Contains(apiErr.Error(), reason) {
				t.Errorf("%s: raygate %s at %s says %q; the API server: %v", chk.where, f.Rule, f.Field, reason, apiErr)
			}
		}
	}
	if chk.o.Kind == manifest.KindPod || !served {
		return apiErr == nil
	}
	// The object itself: Pod Security evaluates its template as written
	// (the API server changes a Pod, not a template, before evaluating)
	// and answers with a warning.
	objAllowed, objAgg, err := pss.Allowed(&pt.ObjectMeta, &pt.Spec)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal(mustJSON(t, chk.o.Value), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	obj.SetName(podName)
	w.take()
	if err := wc.Create(ctx(t), obj, client.DryRunAll); err != nil {
		t.Errorf("%s: the API server refused the %s: %v", chk.where, chk.o.Kind, err)
		return apiErr == nil
	}
	warning := pssWarning(w.take())
	switch {
	case objAllowed && warning != "":
		t.Errorf("%s: the API server warns %q; raygate's evaluation of the template as written admits it", chk.where, warning)
	case !objAllowed && !strings.HasSuffix(warning, ": "+after(objAgg, ": ")):
		t.Errorf("%s: the %s's Pod Security warning differs:\n api: %q\n raygate: %s", chk.where, chk.o.Kind, warning, objAgg)
	case !objAllowed && len(chk.findings) == 0:
		t.Errorf("%s: the API server warns %q but lint found nothing", chk.where, warning)
	}
	return apiErr == nil
}

func mustJSON(t *testing.T, v *manifest.Value) []byte {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// servedVersions are the API versions of pod-bearing kinds the API
// server under test serves.
var servedVersions = map[string]bool{"v1": true, "apps/v1": true, "batch/v1": true}

// kuberayConfig returns the folder of KubeRay's rendered kustomize config
// (scripts/render-kuberay.sh).
func kuberayConfig(t *testing.T) string {
	t.Helper()
	return harness.RequireEnv(t, "RAYGATE_KUBERAY_CONFIG", "KubeRay's rendered kustomize config", "run scripts/render-kuberay.sh")
}

// TestKubeRayInstallAgreement renders KubeRay's own install (config/
// default, manager, rbac, default-with-webhooks of the ray-operator
// module) and compares, for every pod-bearing object in it and in its
// hardened version, lint's verdict and violations with the API server's
// Pod Security Admission: the operator's pod created in a restricted
// namespace, and the Deployment itself. KubeRay's operator Deployment
// does not drop ALL capabilities, so the API server rejects its pod, and
// lint reports exactly that; after harden it is admitted.
func TestKubeRayInstallAgreement(t *testing.T) {
	dir := kuberayConfig(t)
	c := apiServer(t)
	wc, w := warningClient(t)
	ns := "kuberay-install"
	restrictedNamespace(t, c, ns, nil)
	objects, rejected, operators := 0, 0, 0
	for _, name := range []string{"default", "manager", "rbac", "default-with-webhooks"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		hardened, _, err := harden.File(data)
		if err != nil {
			t.Fatalf("%s: harden: %v", name, err)
		}
		for vi, v := range []struct {
			name string
			data []byte
		}{{name, data}, {name + " (hardened)", hardened}} {
			for i, chk := range workloadChecks(t, v.name, v.data) {
				if _, ok := manifest.FindOperator(chk.o); ok {
					operators++
				}
				admitted := compareWorkload(t, c, wc, w, ns, fmt.Sprintf("%s-%d-%d", name, vi, i), chk, servedVersions[chk.o.APIVersion])
				objects++
				if !admitted {
					rejected++
					if strings.HasSuffix(v.name, "(hardened)") {
						t.Errorf("%s: the hardened operator's pod is still rejected", chk.where)
					}
				}
			}
		}
		if name == "rbac" {
			continue
		}
		// The rendered install itself is not clean: the operator's pod
		// fails restricted.
		f, _ := manifest.Read(data)
		if fs := lint.Check(name, f, lint.Options{}); !lint.HasErrors(fs) {
			t.Errorf("config/%s lints clean, but its operator's pod fails restricted", name)
		}
	}
	if objects == 0 || rejected == 0 || operators == 0 {
		t.Fatalf("compared %d objects (%d operators), %d rejected: the comparison proved nothing", objects, operators, rejected)
	}
	t.Logf("KubeRay's install: %d pod-bearing objects (%d operator Deployments) agree with the API server (%d rejected)", objects, operators, rejected)
}

// workloadKinds wraps a pod template in each pod-bearing kind, with what
// the API server requires of each.
var workloadKinds = []struct {
	apiVersion, kind string
	wrap             func(tmpl map[string]any) map[string]any
}{
	{"v1", "Pod", func(t map[string]any) map[string]any { return t }},
	{"v1", "PodTemplate", func(t map[string]any) map[string]any { return map[string]any{"template": t} }},
	{"v1", "ReplicationController", func(t map[string]any) map[string]any {
		return map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "v"}, "template": t}}
	}},
	{"apps/v1", "Deployment", selectorSpec},
	{"apps/v1", "StatefulSet", selectorSpec},
	{"apps/v1", "DaemonSet", selectorSpec},
	{"apps/v1", "ReplicaSet", selectorSpec},
	{"batch/v1", "Job", func(t map[string]any) map[string]any {
		podSpec(t)["restartPolicy"] = "Never"
		return map[string]any{"spec": map[string]any{"template": t}}
	}},
	{"batch/v1", "CronJob", func(t map[string]any) map[string]any {
		podSpec(t)["restartPolicy"] = "Never"
		return map[string]any{"spec": map[string]any{"schedule": "@daily", "jobTemplate": map[string]any{"spec": map[string]any{"template": t}}}}
	}},
	// Versions the API server no longer serves are evaluated by resource
	// like the current ones: only their pod can be compared.
	{"apps/v1beta2", "Deployment", selectorSpec},
	{"batch/v1beta1", "CronJob", func(t map[string]any) map[string]any {
		podSpec(t)["restartPolicy"] = "Never"
		return map[string]any{"spec": map[string]any{"schedule": "@daily", "jobTemplate": map[string]any{"spec": map[string]any{"template": t}}}}
	}},
	{"extensions/v1beta1", "DaemonSet", selectorSpec},
}

func selectorSpec(t map[string]any) map[string]any {
	return map[string]any{"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "v"}}, "template": t}}
}

// workloadVariants change one thing each in a restricted pod template.
var workloadVariants = []struct {
	name string
	edit func(obj)
}{
	{"restricted", func(obj) {}},
	{"privileged", func(t obj) { ctrSC(t)["privileged"] = true; ctrSC(t)["allowPrivilegeEscalation"] = true }},
	{"root", func(t obj) { podSC(t)["runAsUser"] = 0 }},
	{"runAsNonRoot false", func(t obj) { ctrSC(t)["runAsNonRoot"] = false }},
	{"hostPath volume", func(t obj) { addVolume(t, obj{"name": "h", "hostPath": obj{"path": "/var/log"}}) }},
	{"capability added", func(t obj) { sub(ctrSC(t), "capabilities")["add"] = []any{"SYS_ADMIN", "NET_RAW"} }},
	{"hostNetwork with a container port", func(t obj) {
		podSpec(t)["hostNetwork"] = true
		ctr(t)["ports"] = []any{obj{"containerPort": 8080}}
	}},
	{"hostPID", func(t obj) { podSpec(t)["hostPID"] = true }},
	{"seccomp unconfined", func(t obj) { podSC(t)["seccompProfile"] = obj{"type": "Unconfined"} }},
	{"AppArmor annotation unconfined", func(t obj) {
		sub(sub(t, "metadata"), "annotations")["container.apparmor.security.beta.kubernetes.io/c"] = "unconfined"
	}},
	{"procMount Unmasked in a user namespace", func(t obj) { ctrSC(t)["procMount"] = "Unmasked"; podSpec(t)["hostUsers"] = false }},
}

// restrictedTemplate returns a pod template that meets restricted.
func restrictedTemplate() obj {
	return obj{
		"metadata": obj{"labels": obj{"app": "v"}},
		"spec": obj{
			"securityContext": obj{"runAsNonRoot": true, "seccompProfile": obj{"type": "RuntimeDefault"}},
			"containers": []any{obj{"name": "c", "image": "busybox:1.36", "securityContext": obj{
				"allowPrivilegeEscalation": false, "capabilities": obj{"drop": []any{"ALL"}}}}},
		},
	}
}

// TestWorkloadVariantsAgreement builds every pod-bearing kind around a
// restricted template changed one field at a time (privileged, root,
// hostPath, added capabilities, host namespaces, ...): for each, lint's
// verdict and violations equal the API server's Pod Security Admission
// for the Pod the controller would create, and the object itself draws
// the Pod Security warning for its template. Hardening each variant makes
// its pod admitted, unless it needs a change harden leaves to the user.
func TestWorkloadVariantsAgreement(t *testing.T) {
	c := apiServer(t)
	wc, w := warningClient(t)
	ns := "workload-variants"
	restrictedNamespace(t, c, ns, nil)
	admitted, rejected, hardenedAdmitted := 0, 0, 0
	for ki, k := range workloadKinds {
		for vi, v := range workloadVariants {
			t.Run(k.apiVersion+" "+k.kind+" "+v.name, func(t *testing.T) {
				tmpl := restrictedTemplate()
				v.edit(tmpl)
				o := k.wrap(tmpl)
				if k.kind == "Pod" {
					o = obj{"metadata": tmpl["metadata"], "spec": tmpl["spec"]}
				}
				o["apiVersion"], o["kind"] = k.apiVersion, k.kind
				meta := sub(o, "metadata")
				meta["name"] = "v"
				data, err := json.Marshal(o)
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("w%d-%d", ki, vi)
				checks := workloadChecks(t, "variant.json", data)
				if len(checks) != 1 {
					t.Fatalf("%d workloads read", len(checks))
				}
				if compareWorkload(t, c, wc, w, ns, name, checks[0], servedVersions[k.apiVersion]) {
					admitted++
				} else {
					rejected++
				}
				out, _, err := harden.File(data)
				if err != nil {
					t.Fatal(err)
				}
				hc := workloadChecks(t, "variant.json (hardened)", out)[0]
				ok := compareWorkload(t, c, wc, w, ns, name+"-h", hc, servedVersions[k.apiVersion])
				if ok {
					hardenedAdmitted++
				}
				for _, f := range hc.findings {
					if r, known := lint.RuleByID(f.Rule); known && r.Hardened {
						t.Errorf("hardened %s still fails %s at %s", k.kind, f.Rule, f.Field)
					}
				}
			})
		}
	}
	if admitted == 0 || rejected == 0 {
		t.Fatalf("%d admitted, %d rejected: the comparison proved nothing", admitted, rejected)
	}
	t.Logf("%d workloads (%d kinds and versions, %d variants): %d admitted, %d rejected, in agreement with the API server; %d admitted after harden",
		admitted+rejected, len(workloadKinds), len(workloadVariants), admitted, rejected, hardenedAdmitted)
}
