package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/raygate/raygate/internal/manifest"
)

const rbacGroup = "rbac.authorization.k8s.io"

// grant is a Role or ClusterRole bound to the operator's service account
// by one binding.
type grant struct {
	binding placed
	// role is the Role or ClusterRole in the files; for one of
	// Kubernetes' built-in ClusterRoles, which are not, it is the
	// binding, and rules are the built-in role's.
	role    placed
	builtin string
	rules   *manifest.Value
	// clusterWide is true for a ClusterRoleBinding; otherwise the rights
	// hold in the binding's namespace only.
	clusterWide bool
}

// describeRule names rule i of the granted role for messages.
func (g grant) describeRule(i int) string {
	if g.builtin != "" {
		return "the built-in ClusterRole " + g.builtin
	}
	return fmt.Sprintf("%s rules[%d]", g.role.describe(), i)
}

// roleName names the granted role for messages.
func (g grant) roleName() string {
	if g.builtin != "" {
		return "the built-in ClusterRole " + g.builtin
	}
	return g.role.describe()
}

// rulePath is where findings about rule i go: the rule, or the binding's
// roleRef for a built-in role.
func (g grant) rulePath(i int) manifest.Path {
	if g.builtin != "" {
		return path("roleRef.name")
	}
	return path("rules").Index(i)
}

// builtinRoles are the rules of Kubernetes' default user-facing
// ClusterRoles that matter here, for bindings to them (they are never in
// a repository's files): cluster-admin may do anything; admin and edit
// read and write Secrets and exec into pods; view reads neither.
var builtinRoles = map[string]string{
	"cluster-admin": `[{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]`,
	"admin":         `[{apiGroups: [""], resources: [secrets, pods, pods/exec, pods/attach], verbs: [create, delete, get, list, patch, update, watch]}]`,
	"edit":          `[{apiGroups: [""], resources: [secrets, pods, pods/exec, pods/attach], verbs: [create, delete, get, list, patch, update, watch]}]`,
}

// builtinRules reads the rules of a built-in ClusterRole.
func builtinRules(name string) *manifest.Value {
	y, ok := builtinRoles[name]
	if !ok {
		return nil
	}
	f, err := manifest.Read([]byte("rules: " + y + "\n"))
	if err != nil || len(f.Docs) == 0 {
		return nil
	}
	return f.Docs[0].Value.Get("rules")
}

// scope says where a grant's rights hold, for messages.
func (g grant) scope() string {
	if g.clusterWide {
		return "in every namespace"
	}
	if g.binding.ns == "" {
		return "in the binding's namespace"
	}
	return "in namespace " + g.binding.ns
}

// grants returns the roles of the files bound to the operator's service
// account: subjects naming it (ServiceAccount, its system:serviceaccount
// user name, or the system:serviceaccounts groups that include it).
func (x *install) grants(f foundOperator) []grant {
	var out []grant
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, b := range x.of(rbacGroup, kind) {
			if !x.bindsOperator(b, f) {
				continue
			}
			ref := b.o.Value.Get("roleRef")
			name, refKind := ref.Get("name").Str(), ref.Get("kind").Str()
			if refKind != "ClusterRole" && refKind != "Role" {
				continue
			}
			found := false
			for _, r := range x.of(rbacGroup, refKind) {
				if r.o.Name != name || (refKind == "Role" && !sameNamespace(r.ns, b.ns)) {
					continue
				}
				found = true
				out = append(out, grant{binding: b, role: r, rules: r.o.Value.Get("rules"), clusterWide: kind == "ClusterRoleBinding"})
			}
			if rules := builtinRules(name); !found && refKind == "ClusterRole" && rules != nil {
				out = append(out, grant{binding: b, role: b, builtin: name, rules: rules, clusterWide: kind == "ClusterRoleBinding"})
			}
		}
	}
	return out
}

func (x *install) bindsOperator(b placed, f foundOperator) bool {
	for _, s := range b.o.Value.Get("subjects").Items() {
		name := s.Get("name").Str()
		switch s.Get("kind").Str() {
		case "ServiceAccount":
			ns := s.Get("namespace").Str()
			if ns == "" && b.o.Kind == "RoleBinding" {
				ns = b.ns
			}
			if name == f.sa && sameNamespace(ns, f.ns) {
				return true
			}
		case "User":
			parts := strings.Split(name, ":")
			if len(parts) == 4 && parts[0] == "system" && parts[1] == "serviceaccount" && parts[3] == f.sa && sameNamespace(parts[2], f.ns) {
				return true
			}
		case "Group":
			if name == "system:serviceaccounts" || name == "system:authenticated" {
				return true
			}
			if ns, ok := strings.CutPrefix(name, "system:serviceaccounts:"); ok && sameNamespace(ns, f.ns) {
				return true
			}
		}
	}
	return false
}

// rbacFinding is one RBAC finding before the widest grant is chosen.
type rbacFinding struct {
	rule string
	sev  Severity
	at   placed
	path manifest.Path
	msg  string
}

// rbac reports what the roles bound to the operator's service account
// let it do beyond what KubeRay needs: read every Secret of the cluster,
// exec into pods, and unbounded (*) or escalating rights.
func (x *install) rbac(f foundOperator) []Finding {
	who := fmt.Sprintf("the KubeRay operator's service account %s", f.sa)
	if f.ns != "" {
		who = fmt.Sprintf("the KubeRay operator's service account %s/%s", f.ns, f.sa)
	}
	found := map[string]rbacFinding{}
	var order []string
	add := func(r rbacFinding) {
		key := fmt.Sprintf("%s %s %d %s %s", r.rule, r.at.file, r.at.o.Document, r.at.o.Field(r.path), r.at.o.Name)
		if old, ok := found[key]; ok && severityRank(old.sev) >= severityRank(r.sev) {
			return
		}
		if _, ok := found[key]; !ok {
			order = append(order, key)
		}
		found[key] = r
	}
	for _, g := range x.grants(f) {
		through := fmt.Sprintf("%s (through %s)", who, g.binding.describe())
		for i, rule := range g.rules.Items() {
			rp := g.rulePath(i)
			groups, resources, verbs := strList(rule.Get("apiGroups")), strList(rule.Get("resources")), strList(rule.Get("verbs"))
			named := rule.Get("resourceNames").Len() > 0
			core := slices.Contains(groups, "") || slices.Contains(groups, "*")
			if core && !named && anyOf(resources, "secrets", "*") && anyOf(verbs, "get", "list", "watch", "*") && g.clusterWide {
				add(rbacFinding{RuleOperatorRBACSecrets, SeverityError, g.role, rp, fmt.Sprintf(
					"%s lets %s %s Secrets in every namespace: every tenant's Ray token Secret and every other Secret of the cluster; where teams share a cluster, install the operator for their namespaces (--watch-namespace, with a Role and RoleBinding per watched namespace; Helm: singleNamespaceInstall: true)",
					g.describeRule(i), through, verbText(matching(verbs, "get", "list", "watch", "*")))})
			}
			if core && anyOf(resources, "pods/exec", "pods/attach", "pods/*", "*") && anyOf(verbs, "create", "get", "*") {
				sev := SeverityWarning
				if g.clusterWide {
					sev = SeverityError
				}
				add(rbacFinding{RuleOperatorRBACExec, sev, g.role, rp, fmt.Sprintf(
					"%s lets %s run commands in pods %s (%s): every Ray pod and the Secrets and tokens it holds; KubeRay never execs into pods, remove it",
					g.describeRule(i), through, g.scope(), strings.Join(matching(resources, "pods/exec", "pods/attach", "pods/*", "*"), ", "))})
			}
			wild := matching(verbs, "*", "escalate", "bind", "impersonate")
			if slices.Contains(resources, "*") {
				wild = append(wild, "resources *")
			}
			if len(wild) > 0 {
				sev := SeverityWarning
				if g.clusterWide {
					sev = SeverityError
				}
				add(rbacFinding{RuleOperatorRBACWildcard, sev, g.role, rp, fmt.Sprintf(
					"%s gives %s unbounded rights %s (%s): more than KubeRay's own ClusterRole ever asks for, and whoever takes over the operator gets them; list the resources and verbs KubeRay needs",
					g.describeRule(i), through, g.scope(), strings.Join(wild, ", "))})
			}
		}
	}
	var out []Finding
	for _, k := range order {
		r := found[k]
		c := r.at.checker()
		c.addSev(r.rule, r.sev, r.path, r.msg)
		out = append(out, c.out...)
	}
	return out
}

// verbText writes verbs for a message: "get, list", or "use every verb
// (*) on".
func verbText(verbs []string) string {
	if slices.Contains(verbs, "*") {
		return "use every verb (*) on"
	}
	return strings.Join(verbs, ", ")
}

func severityRank(s Severity) int {
	switch s {
	case SeverityError:
		return 2
	case SeverityWarning:
		return 1
	}
	return 0
}

// strList returns the strings of a list value.
func strList(v *manifest.Value) []string {
	var out []string
	for _, it := range v.Items() {
		out = append(out, it.Str())
	}
	return out
}

func anyOf(have []string, want ...string) bool { return len(matching(have, want...)) > 0 }

// matching returns the entries of have that are among want, in order.
func matching(have []string, want ...string) []string {
	var out []string
	for _, h := range have {
		if slices.Contains(want, h) {
			out = append(out, h)
		}
	}
	return out
}
