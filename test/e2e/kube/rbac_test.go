//go:build e2e

package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raygate/raygate/internal/lint"
)

// restrictedOperator is a KubeRay operator Deployment lint finds nothing
// wrong with, watching team-a, running as service account
// ray-system/kuberay-operator.
const restrictedOperator = `apiVersion: apps/v1
kind: Deployment
metadata: {name: kuberay-operator, namespace: ray-system}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: kuberay-operator}}
  template:
    metadata: {labels: {app.kubernetes.io/name: kuberay-operator}}
    spec:
      serviceAccountName: kuberay-operator
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: kuberay-operator
        image: quay.io/kuberay/operator:v1.5.1
        args: [--watch-namespace=team-a]
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`

// may asks the API server whether user (in groups) may do verb on
// resource in namespace ns.
func may(t *testing.T, c client.Client, user string, groups []string, verb, resource, sub, ns string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Resource: resource, Subresource: sub},
	}}
	if err := c.Create(ctx(t), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// rbacSynced waits until the API server's authorizer sees the bindings
// created so far: it creates one more, which lets user get the
// ConfigMap named marker, and waits until a review allows that.
func rbacSynced(t *testing.T, c client.Client, user, marker string) {
	t.Helper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: marker},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{marker}, Verbs: []string{"get"}}}}
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: marker},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: marker},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}}}
	for _, o := range []client.Object{role, b} {
		if err := c.Create(ctx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "the authorizer sees the new bindings", func() bool {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "elsewhere", Verb: "get", Resource: "configmaps", Name: marker}}}
		return c.Create(ctx(t), sar) == nil && sar.Status.Allowed
	})
}

// readsSecrets asks the API server whether user (in groups) may read
// every Secret of namespace ns: list or get them, or create a pod, or a
// workload that makes pods, which can mount any of them.
func readsSecrets(t *testing.T, c client.Client, user string, groups []string, ns string) bool {
	t.Helper()
	if may(t, c, user, groups, "list", "secrets", "", ns) || may(t, c, user, groups, "get", "secrets", "", ns) {
		return true
	}
	for _, m := range lint.PodMakers {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: m.Group, Resource: m.Resource},
		}}
		if err := c.Create(ctx(t), sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed {
			return true
		}
	}
	return false
}

// lintRules lints files together and returns the rules of the error
// findings.
func lintRules(t *testing.T, files ...string) map[string]bool {
	t.Helper()
	var in []lint.Input
	for i, f := range files {
		in = append(in, lint.Input{Name: fmt.Sprintf("f%d.yaml", i), File: mustRead(t, []byte(f))})
	}
	out := map[string]bool{}
	for _, f := range lint.CheckSet(in, lint.Options{}) {
		if f.Severity == lint.SeverityError {
			out[f.Rule] = true
		}
	}
	return out
}

// TestBuiltinClusterRolesAgreement binds the KubeRay operator's service
// account to every built-in ClusterRole of the real API server, one at a
// time, and compares what the server then lets it do with what lint
// reports for the same binding (lint knows these roles by name, since
// they are never in a repository's files): reading Secrets in every
// namespace (listing them, or creating pods or workloads that can mount
// them) exactly when lint reports RG-operator-rbac-secrets, and
// exec into pods (pods/exec, or the kubelet's API through nodes/proxy)
// only where lint reports RG-operator-rbac-exec.
// Aggregated roles (admin, edit, view) are filled in by the controller
// manager, which does not run here; lint holds them to the rules of the
// system:aggregate-to-* roles they collect.
func TestBuiltinClusterRolesAgreement(t *testing.T) {
	c := apiServer(t)
	var roles rbacv1.ClusterRoleList
	if err := c.List(ctx(t), &roles); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i, r := range roles.Items {
		if r.Labels["kubernetes.io/bootstrapping"] != "rbac-defaults" || r.AggregationRule != nil {
			continue
		}
		user := fmt.Sprintf("builtin-role-%d", i)
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: r.Name},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}}}
		if err := c.Create(ctx(t), b); err != nil {
			t.Fatal(err)
		}
		checked++
	}
	rbacSynced(t, c, "builtin-role-marker", "builtin-role-marker")
	for i, r := range roles.Items {
		if r.Labels["kubernetes.io/bootstrapping"] != "rbac-defaults" || r.AggregationRule != nil {
			continue
		}
		user := fmt.Sprintf("builtin-role-%d", i)
		binding := fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %q}\nsubjects:\n- {kind: ServiceAccount, name: kuberay-operator, namespace: ray-system}\n", r.Name)
		found := lintRules(t, restrictedOperator, binding)
		secrets := readsSecrets(t, c, user, nil, "elsewhere")
		if secrets != found[lint.RuleOperatorRBACSecrets] {
			t.Errorf("ClusterRole %s: the API server lets it read Secrets in every namespace: %v; lint reports %s: %v", r.Name, secrets, lint.RuleOperatorRBACSecrets, found[lint.RuleOperatorRBACSecrets])
		}
		if (may(t, c, user, nil, "create", "pods", "exec", "elsewhere") || may(t, c, user, nil, "get", "nodes", "proxy", "")) && !found[lint.RuleOperatorRBACExec] {
			t.Errorf("ClusterRole %s lets it exec into pods in every namespace; lint does not report %s", r.Name, lint.RuleOperatorRBACExec)
		}
	}
	if checked < 30 {
		t.Fatalf("only %d built-in ClusterRoles checked", checked)
	}
	t.Logf("%d built-in ClusterRoles: lint agrees with the API server on Secrets read and exec", checked)
}

// TestOperatorRBACEvasions applies the RBAC objects of the adversarial
// manifests named operator-rbac-* to the real API server and asks it what
// the operator's service account may then do: for each, the API server
// lets it read every Secret or exec into pods exactly as lint reports.
// (Aggregation, done by the controller manager, is not run here; the
// aggregated case is checked by lint's own tests.)
func TestOperatorRBACEvasions(t *testing.T) {
	c := apiServer(t)
	files, err := filepath.Glob(filepath.Join(adversarialDir, "operator-rbac-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no RBAC adversarial manifests: %v", err)
	}
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:ray-system", "system:authenticated"}
	for i, f := range files {
		name := filepath.Base(f)
		if strings.Contains(name, "aggregated") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			found := lintRules(t, string(data))
			// One service account per file: rename the subjects.
			sa := fmt.Sprintf("kuberay-operator-%d", i)
			for _, o := range objectsFromYAML(t, data) {
				if o.GroupVersionKind().Group != "rbac.authorization.k8s.io" {
					continue
				}
				o.SetName(o.GetName() + "-" + sa)
				if subs, ok := o.Object["subjects"].([]any); ok {
					for _, s := range subs {
						s.(map[string]any)["name"] = sa
					}
				}
				if ref, ok := o.Object["roleRef"].(map[string]any); ok && !strings.HasPrefix(ref["name"].(string), "system:") {
					ref["name"] = ref["name"].(string) + "-" + sa
				}
				if err := c.Create(ctx(t), o); err != nil {
					t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
				}
			}
			user := "system:serviceaccount:ray-system:" + sa
			rbacSynced(t, c, user, "marker-"+sa)
			secrets := readsSecrets(t, c, user, groups, "elsewhere")
			exec := may(t, c, user, groups, "create", "pods", "exec", "elsewhere") || may(t, c, user, groups, "get", "nodes", "proxy", "")
			if secrets != found[lint.RuleOperatorRBACSecrets] || exec != found[lint.RuleOperatorRBACExec] {
				t.Errorf("the API server lets the operator read every Secret: %v, exec: %v; lint reports secrets: %v, exec: %v",
					secrets, exec, found[lint.RuleOperatorRBACSecrets], found[lint.RuleOperatorRBACExec])
			}
			if !secrets && !exec && !found[lint.RuleOperatorRBACWildcard] {
				t.Errorf("the file grants nothing lint reports: not an evasion")
			}
		})
	}
}
