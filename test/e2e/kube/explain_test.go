//go:build e2e

package kube

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/raygate/raygate/internal/access"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/test/e2e/harness"
)

// TestExplainAsksRBAC: in Kubernetes mode raygate who-can lists the
// RoleBinding that gives a team the chart's raygate-developer ClusterRole,
// and raygate explain reports the real API server's SubjectAccessReview
// verdicts, which decide the role.
func TestExplainAsksRBAC(t *testing.T) {
	c := apiServer(t)
	bin := harness.RequireEnv(t, "RAYGATE_BIN", "raygate binary", "go build -o $RAYGATE_BIN ./cmd/raygate")
	helm := harness.RequireEnv(t, "RAYGATE_HELM_BIN", "helm", "run scripts/build-helm.sh")

	// The chart's user roles, as an operator installs them.
	out, err := exec.Command(helm, "template", "rg", "../../../deploy/helm/raygate", "--namespace", "raygate-system", "--kube-version", "1.37.2").Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	applied := 0
	for _, o := range objectsFromBytes(out) {
		if o.GetKind() == "ClusterRole" && strings.HasPrefix(o.GetName(), "raygate-") {
			if err := c.Apply(ctx(t), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("raygate-e2e"), client.ForceOwnership); err != nil {
				t.Fatalf("apply %s: %v", o.GetName(), err)
			}
			applied++
		}
	}
	if applied != 3 {
		t.Fatalf("the chart rendered %d raygate-* ClusterRoles, want 3", applied)
	}
	ns := "rg-explain"
	if err := c.Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ray-devs", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "raygate-developer"},
		Subjects: []rbacv1.Subject{
			{Kind: "Group", Name: "ml-devs", APIGroup: "rbac.authorization.k8s.io"},
			{Kind: "User", Name: "ann@example.com", APIGroup: "rbac.authorization.k8s.io"},
		},
	}
	if err := c.Create(ctx(t), rb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx(t), rb) })

	// The operator reading RBAC: allowed to list it and to ask reviews.
	admin, err := env.AddUser(envtest.User{Name: "explain-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(`authentication:
  kubernetes: {audiences: [raygate]}
authorization:
  kubernetes: {}
clusters:
  - namespace: rg-explain
    name: ray1
    upstream: http://ray1-head-svc.rg-explain.svc:8265
    access:
      - {role: viewer, groups: [viewers]}
kubernetes: {kubeconfig: /etc/raygate/kubeconfig}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("raygate %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	var who access.WhoCanResult
	if err := json.Unmarshal([]byte(run("who-can", "--config", cfg, "--kubeconfig", kc, "--format", "json", "jobs.submit", ns+"/ray1")), &who); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range who.RBACGrants {
		if g.Binding == "RoleBinding rg-explain/ray-devs" {
			found = g.Role == "ClusterRole raygate-developer" && g.RaygateRole == "developer" && len(g.Subjects) == 2
		}
		if g.RaygateRole == "viewer" {
			t.Errorf("a viewer's grant is listed for jobs.submit: %+v", g)
		}
	}
	if who.RBAC != "asked" || !found {
		t.Fatalf("who-can: %+v", who)
	}
	if text := run("who-can", "--config", cfg, "--kubeconfig", kc, "cluster.read", ns+"/ray1"); !strings.Contains(text, "RoleBinding rg-explain/ray-devs") ||
		!strings.Contains(text, "Group ml-devs, User ann@example.com") {
		t.Fatalf("who-can text:\n%s", text)
	}

	explainAs := func(args ...string) explain.Explanation {
		t.Helper()
		var e explain.Explanation
		out := run(append([]string{"explain", "--config", cfg, "--kubeconfig", kc, "--format", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return e
	}
	e := explainAs("--user", "ann@example.com", "POST", "/clusters/"+ns+"/ray1/api/jobs/")
	if e.Outcome != "allow" || e.Role != "developer" || e.RoleSource != "rbac ray:write" || e.RBAC != "asked" || len(e.Reviews) != 2 ||
		e.Reviews[0].Verb != "ray:admin" || e.Reviews[0].Allowed || e.Reviews[1].Verb != "ray:write" || !e.Reviews[1].Allowed ||
		!strings.Contains(e.Reviews[1].Reason, "ray-devs") {
		t.Fatalf("ann explained as %+v", e)
	}
	t.Logf("explain, text:\n%s", run("explain", "--config", cfg, "--kubeconfig", kc, "--user", "ann@example.com", "POST", "/clusters/"+ns+"/ray1/api/jobs/"))
	t.Logf("who-can, text:\n%s", run("who-can", "--config", cfg, "--kubeconfig", kc, "jobs.submit", ns+"/ray1"))
	e = explainAs("--user", "bo@example.com", "--group", "ml-devs", "--group", "viewers", "DELETE", "/clusters/"+ns+"/ray1/api/jobs/raysubmit_1")
	if e.Role != "developer" || e.Condition == "" || e.Ownership == nil || e.Ownership.Other != "deny 403" {
		t.Fatalf("a group member explained as %+v", e)
	}
	e = explainAs("--user", "vi@example.com", "--group", "viewers", "POST", "/clusters/"+ns+"/ray1/api/jobs/")
	if e.Outcome != "deny" || e.Status != 403 || e.Role != "viewer" || e.RoleSource != "binding" || len(e.Reviews) != 2 || e.Reviews[1].Allowed {
		t.Fatalf("a viewer explained as %+v", e)
	}
	e = explainAs("--user", "nobody@example.com", "GET", "/clusters/"+ns+"/ray1/")
	if e.Outcome != "notfound" || len(e.Reviews) != 3 {
		t.Fatalf("nobody explained as %+v", e)
	}
}
