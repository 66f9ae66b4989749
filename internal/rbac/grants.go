package rbac

import (
	"context"
	"fmt"
	"slices"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/raygate/raygate/internal/authz"
)

// Grant is an RBAC binding that lets its subjects use ray verbs on one
// RayCluster: a RoleBinding in its namespace, or a ClusterRoleBinding.
type Grant struct {
	// Binding is "RoleBinding namespace/name" or "ClusterRoleBinding name".
	Binding string `json:"binding"`
	// Role is "Role namespace/name" or "ClusterRole name".
	Role string `json:"role"`
	// Verbs are the ray verbs the role grants on the cluster, highest
	// first.
	Verbs []string `json:"verbs"`
	// RaygateRole is the role the highest verb gives.
	RaygateRole authz.Role `json:"-"`
	// Subjects are the binding's subjects.
	Subjects []rbacv1.Subject `json:"subjects"`
}

// RBACObjects are the RBAC objects grants are read from.
type RBACObjects struct {
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
}

// GrantsOf returns the bindings among objs that grant a ray verb on the
// RayCluster namespace/name: RoleBindings in namespace (to a Role there
// or a ClusterRole) and ClusterRoleBindings, whose role has a rule for
// the verb (or "*") on rayclusters (or "*") in ray.io (or "*"), for every
// name or this one. It is what SubjectAccessReview would find for these
// objects, read the other way round; roles aggregated by the controller
// manager count with the rules they hold.
func GrantsOf(objs RBACObjects, namespace, name string) []Grant {
	roles := map[string][]rbacv1.PolicyRule{}
	for _, r := range objs.Roles {
		if r.Namespace == namespace {
			roles["Role/"+r.Name] = r.Rules
		}
	}
	for _, r := range objs.ClusterRoles {
		roles["ClusterRole/"+r.Name] = r.Rules
	}
	var out []Grant
	add := func(binding string, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
		rules, ok := roles[ref.Kind+"/"+ref.Name]
		if !ok || len(subjects) == 0 {
			return
		}
		g := Grant{Binding: binding, Role: ref.Kind + " " + ref.Name, Subjects: subjects}
		if ref.Kind == "Role" {
			g.Role = "Role " + namespace + "/" + ref.Name
		}
		for _, v := range verbs {
			if slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool { return ruleAllows(r, v.verb, name) }) {
				g.Verbs = append(g.Verbs, v.verb)
				if v.role > g.RaygateRole {
					g.RaygateRole = v.role
				}
			}
		}
		if len(g.Verbs) > 0 {
			out = append(out, g)
		}
	}
	for _, rb := range objs.RoleBindings {
		if rb.Namespace == namespace {
			add("RoleBinding "+rb.Namespace+"/"+rb.Name, rb.RoleRef, rb.Subjects)
		}
	}
	for _, crb := range objs.ClusterRoleBindings {
		if crb.RoleRef.Kind == "ClusterRole" {
			add("ClusterRoleBinding "+crb.Name, crb.RoleRef, crb.Subjects)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RaygateRole != out[j].RaygateRole {
			return out[i].RaygateRole > out[j].RaygateRole
		}
		return out[i].Binding < out[j].Binding
	})
	return out
}

// ruleAllows reports whether rule grants verb on the RayCluster name.
func ruleAllows(rule rbacv1.PolicyRule, verb, name string) bool {
	return matches(rule.APIGroups, Group) && matches(rule.Resources, Resource) && matches(rule.Verbs, verb) &&
		(len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name))
}

func matches(list []string, want string) bool {
	return slices.Contains(list, want) || slices.Contains(list, rbacv1.ResourceAll)
}

// Grants reads the RBAC objects that can grant ray verbs on the RayCluster
// namespace/name from the API server and returns GrantsOf them. It needs
// list on roles and rolebindings in namespace and on clusterroles and
// clusterrolebindings.
func Grants(ctx context.Context, c kubernetes.Interface, namespace, name string) ([]Grant, error) {
	api := c.RbacV1()
	var objs RBACObjects
	rbs, err := api.RoleBindings(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("rbac: list rolebindings in %s: %w", namespace, err)
	}
	objs.RoleBindings = rbs.Items
	rs, err := api.Roles(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("rbac: list roles in %s: %w", namespace, err)
	}
	objs.Roles = rs.Items
	crbs, err := api.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("rbac: list clusterrolebindings: %w", err)
	}
	objs.ClusterRoleBindings = crbs.Items
	crs, err := api.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("rbac: list clusterroles: %w", err)
	}
	objs.ClusterRoles = crs.Items
	return GrantsOf(objs, namespace, name), nil
}

// Verbs returns the ray verbs that give at least role, highest first.
func Verbs(role authz.Role) []string {
	var out []string
	for _, v := range verbs {
		if v.role >= role {
			out = append(out, v.verb)
		}
	}
	return out
}
