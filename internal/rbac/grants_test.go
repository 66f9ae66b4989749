package rbac

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raygate/raygate/internal/authz"
)

func TestGrantsOf(t *testing.T) {
	rule := func(verbs []string, names ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{"ray.io"}, Resources: []string{"rayclusters"}, Verbs: verbs, ResourceNames: names}
	}
	user := func(n string) []rbacv1.Subject { return []rbacv1.Subject{{Kind: "User", Name: n}} }
	meta := func(ns, n string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: n} }
	objs := RBACObjects{
		ClusterRoles: []rbacv1.ClusterRole{
			{ObjectMeta: meta("", "raygate-viewer"), Rules: []rbacv1.PolicyRule{rule([]string{"ray:read"})}},
			{ObjectMeta: meta("", "raygate-developer"), Rules: []rbacv1.PolicyRule{rule([]string{"ray:read", "ray:write"})}},
			{ObjectMeta: meta("", "cluster-admin"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
			{ObjectMeta: meta("", "pods-reader"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}},
			{ObjectMeta: meta("", "ray-get"), Rules: []rbacv1.PolicyRule{rule([]string{"get", "list"})}},
		},
		Roles: []rbacv1.Role{
			{ObjectMeta: meta("team-a", "ray1-admin"), Rules: []rbacv1.PolicyRule{rule([]string{"ray:admin"}, "ray1")}},
			{ObjectMeta: meta("team-a", "ray2-admin"), Rules: []rbacv1.PolicyRule{rule([]string{"ray:admin"}, "ray2")}},
			{ObjectMeta: meta("team-b", "ray1-admin"), Rules: []rbacv1.PolicyRule{rule([]string{"ray:admin"})}},
		},
		RoleBindings: []rbacv1.RoleBinding{
			{ObjectMeta: meta("team-a", "devs"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "raygate-developer"}, Subjects: []rbacv1.Subject{{Kind: "Group", Name: "team-a"}}},
			{ObjectMeta: meta("team-a", "one-admin"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "ray1-admin"}, Subjects: user("root")},
			{ObjectMeta: meta("team-a", "other-cluster"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "ray2-admin"}, Subjects: user("x")},
			{ObjectMeta: meta("team-a", "pods"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "pods-reader"}, Subjects: user("y")},
			{ObjectMeta: meta("team-a", "plain-verbs"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "ray-get"}, Subjects: user("z")},
			{ObjectMeta: meta("team-a", "missing-role"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "nope"}, Subjects: user("w")},
			{ObjectMeta: meta("team-b", "elsewhere"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "ray1-admin"}, Subjects: user("v")},
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			{ObjectMeta: meta("", "viewers"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "raygate-viewer"}, Subjects: []rbacv1.Subject{{Kind: "Group", Name: "everyone"}}},
			{ObjectMeta: meta("", "admins"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}, Subjects: []rbacv1.Subject{{Kind: "Group", Name: "system:masters"}}},
		},
	}
	got := GrantsOf(objs, "team-a", "ray1")
	var summary []string
	for _, g := range got {
		summary = append(summary, g.Binding+" "+g.Role+" "+g.RaygateRole.String())
	}
	want := []string{
		"ClusterRoleBinding admins ClusterRole cluster-admin admin",
		"RoleBinding team-a/one-admin Role team-a/ray1-admin admin",
		"RoleBinding team-a/devs ClusterRole raygate-developer developer",
		"ClusterRoleBinding viewers ClusterRole raygate-viewer viewer",
	}
	if !reflect.DeepEqual(summary, want) {
		t.Fatalf("grants\n%v\nwant\n%v", summary, want)
	}
	if !reflect.DeepEqual(got[2].Verbs, []string{VerbWrite, VerbRead}) || got[2].Subjects[0].Name != "team-a" {
		t.Fatalf("developer grant %+v", got[2])
	}
	if !reflect.DeepEqual(Verbs(authz.RoleDeveloper), []string{VerbAdmin, VerbWrite}) || len(Verbs(authz.RoleViewer)) != 3 {
		t.Fatal("Verbs")
	}
}
