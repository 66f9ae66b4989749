//go:build e2e

package kube

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/netpol"
	"github.com/raygate/raygate/test/e2e/harness"
)

const chartDir = "../../../deploy/helm/raygate"

func helmRun(t *testing.T, helm string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(helm, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestHelmChart: the chart lints clean; its default rendering issues the
// webhook certificate with cert-manager; rendered with a given CA, every
// object is accepted by the real API server (server-side apply) in a
// namespace enforcing Pod Security restricted, raygate's own pod is
// admitted there, its config is valid, and raygate lint and the
// NetworkPolicy (evaluated with internal/netpol) agree that the API
// server can reach the webhook port, and agree again when it cannot.
func TestHelmChart(t *testing.T) {
	c := apiServer(t)
	helm := harness.RequireEnv(t, "RAYGATE_HELM_BIN", "helm", "run scripts/build-helm.sh")
	bin := harness.RequireEnv(t, "RAYGATE_BIN", "raygate binary", "go build -o $RAYGATE_BIN ./cmd/raygate")

	if out := helmRun(t, helm, "lint", "--strict", chartDir); !strings.Contains(string(out), "0 chart(s) failed") {
		t.Fatalf("helm lint: %s", out)
	}
	def := string(helmRun(t, helm, "template", "rgh", chartDir, "-n", "rgh-system", "--kube-version", "1.37.2"))
	for _, want := range []string{"kind: Certificate", "kind: Issuer", "cert-manager.io/inject-ca-from: rgh-system/rgh-raygate-webhook", "kind: PodDisruptionBudget", "topologySpreadConstraints", "sleep: {seconds: 5}"} {
		if !strings.Contains(def, want) {
			t.Errorf("default rendering lacks %q", want)
		}
	}

	dir := t.TempDir()
	cs := newCerts(t, dir)
	rendered := helmRun(t, helm, "template", "rgh", chartDir, "-n", "rgh-system", "--kube-version", "1.37.2",
		"--set", "webhook.certManager.enabled=false", "--set", "webhook.tlsSecretName=rgh-webhook-tls",
		"--set", "webhook.caBundle="+base64.StdEncoding.EncodeToString([]byte(cs.caPEM)),
		"--set", "autoscaling.enabled=true", "--set", "config.discovery.kubernetes.namespaces={rgh-team-a,rgh-team-b}")
	file := filepath.Join(dir, "raygate-chart.yaml")
	if err := os.WriteFile(file, rendered, 0o600); err != nil {
		t.Fatal(err)
	}

	restrictedNamespace(t, c, "rgh-system", nil)
	for _, ns := range []string{"rgh-team-a", "rgh-team-b"} {
		restrictedNamespace(t, c, ns, nil)
	}
	objs := objectsFromYAML(t, rendered)
	var deploy, policy *unstructured.Unstructured
	for _, o := range objs {
		if err := c.Apply(ctx(t), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("helm-e2e"), client.ForceOwnership); err != nil {
			t.Fatalf("server-side apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		switch o.GetKind() {
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			// failurePolicy Fail with no raygate behind it: remove it
			// before another test creates Ray objects.
			o := o
			t.Cleanup(func() { _ = c.Delete(ctx(t), o) })
		case "Deployment":
			deploy = o
		case "NetworkPolicy":
			policy = o
		case "ConfigMap":
			checkChartConfig(t, o, cs)
		}
	}
	if deploy == nil || policy == nil {
		t.Fatal("the chart rendered no Deployment or NetworkPolicy")
	}
	for _, o := range objectsFromYAML(t, rendered) {
		if _, set, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); o.GetKind() == "Deployment" && set {
			t.Error("with autoscaling the Deployment sets replicas, which the HorizontalPodAutoscaler owns")
		}
	}
	spec := deploy.Object["spec"].(map[string]any)
	template, _ := json.Marshal(spec["template"])
	if err := dryRunCreate(t, c, podFromTemplate(t, template, "rgh-system", "rgh-probe")); err != nil {
		t.Fatalf("raygate's pod is not admitted under restricted: %v", err)
	}

	// raygate lint and the NetworkPolicy agree: reachable.
	if findings := lintFile(t, bin, file); len(findings) != 0 {
		t.Fatalf("raygate lint on the chart: %s", findings)
	}
	var np networkingv1.NetworkPolicy
	if err := c.Get(ctx(t), client.ObjectKey{Namespace: "rgh-system", Name: policy.GetName()}, &np); err != nil {
		t.Fatal(err)
	}
	var tmpl corev1.PodTemplateSpec
	_ = json.Unmarshal(template, &tmpl)
	pod := netpol.Endpoint{Name: "raygate", Namespace: "rgh-system", Labels: tmpl.Labels, Ports: map[string]corev1.ContainerPort{}}
	for _, p := range tmpl.Spec.Containers[0].Ports {
		pod.Ports[p.Name] = p
	}
	apiServer := netpol.Endpoint{Name: "the API server"}
	cl := &netpol.Cluster{Policies: []networkingv1.NetworkPolicy{np}}
	if v := cl.Connection(apiServer, pod, 9443, corev1.ProtocolTCP); !v.Allowed {
		t.Fatalf("the chart's NetworkPolicy keeps the API server from the webhook port: %s", v.Reason)
	}

	// ... and both say blocked once the webhook rule is gone.
	closed := np.DeepCopy()
	var rules []networkingv1.NetworkPolicyIngressRule
	for _, r := range closed.Spec.Ingress {
		if len(r.Ports) == 1 && r.Ports[0].Port != nil && r.Ports[0].Port.IntValue() == 9443 {
			continue
		}
		rules = append(rules, r)
	}
	closed.Spec.Ingress = rules
	if v := (&netpol.Cluster{Policies: []networkingv1.NetworkPolicy{*closed}}).Connection(apiServer, pod, 9443, corev1.ProtocolTCP); v.Allowed {
		t.Fatal("netpol still admits the API server without the webhook rule")
	}
	u, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(closed)
	closedYAML, _ := yaml.Marshal(u)
	edited := strings.Replace(string(rendered), policyDoc(t, rendered), "\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"+string(closedYAML), 1)
	closedFile := filepath.Join(dir, "closed.yaml")
	if err := os.WriteFile(closedFile, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if f := lintFile(t, bin, closedFile); !strings.Contains(f, lint.RuleWebhookUnreachable) {
		t.Fatalf("raygate lint does not report the closed webhook port: %s", f)
	}
}

// policyDoc returns the rendered NetworkPolicy document.
func policyDoc(t *testing.T, rendered []byte) string {
	t.Helper()
	for _, d := range strings.Split(string(rendered), "\n---") {
		if strings.Contains(d, "\nkind: NetworkPolicy\n") {
			return d
		}
	}
	t.Fatal("no NetworkPolicy document")
	return ""
}

// lintFile runs raygate lint --format json and returns the findings of
// rule RG-webhook-unreachable, "" when there are none.
func lintFile(t *testing.T, bin, file string) string {
	t.Helper()
	out, _ := exec.Command(bin, "lint", "--format", "json", file).Output()
	var fs []lint.Finding
	if err := json.Unmarshal(out, &fs); err != nil {
		t.Fatalf("raygate lint output %q: %v", out, err)
	}
	var hits []string
	for _, f := range fs {
		if f.Rule == lint.RuleWebhookUnreachable {
			hits = append(hits, f.Rule+": "+f.Message)
		}
	}
	return strings.Join(hits, "\n")
}

// checkChartConfig validates the chart's config file, with the mounted
// certificate paths pointed at test files.
func checkChartConfig(t *testing.T, cm *unstructured.Unstructured, cs certs) {
	t.Helper()
	data, _, _ := unstructured.NestedString(cm.Object, "data", "raygate.yaml")
	data = strings.ReplaceAll(data, "/etc/raygate/webhook-tls/tls.crt", cs.certFile)
	data = strings.ReplaceAll(data, "/etc/raygate/webhook-tls/tls.key", cs.keyFile)
	if _, err := config.Parse("raygate.yaml", []byte(data)); err != nil {
		t.Fatalf("the chart's config is invalid: %v\n%s", err, data)
	}
}
