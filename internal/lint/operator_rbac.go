package lint

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/raygate/raygate/internal/manifest"
)

const rbacGroup = "rbac.authorization.k8s.io"

// grant is a Role or ClusterRole bound to the operator's service account
// by one binding, with every rule it grants.
type grant struct {
	binding placed
	// role is the Role or ClusterRole in the files; for one of
	// Kubernetes' built-in ClusterRoles, which are not, it is the
	// binding.
	role    placed
	builtin string
	rules   []grantRule
	// clusterWide is true for a ClusterRoleBinding; otherwise the rights
	// hold in the binding's namespace only.
	clusterWide bool
}

// grantRule is one policy rule a grant holds, with where findings about
// it go: the rule in its role, a ClusterRole aggregated into the bound
// one, or, for a built-in role, the binding's roleRef or the aggregation
// selector that selects it.
type grantRule struct {
	rule *manifest.Value
	at   placed
	path manifest.Path
	what string
}

// roleName names the granted role for messages.
func (g grant) roleName() string {
	if g.builtin != "" {
		return "the built-in ClusterRole " + g.builtin
	}
	return g.role.describe()
}

// bootstrapLabels are the labels of every built-in ClusterRole.
var bootstrapLabels = map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}

// builtinRole is one of Kubernetes' built-in ClusterRoles (they are never
// in a repository's files): its labels, which aggregation selectors
// select it by, and the part of its rules that matters here (Secrets
// read, exec, wildcards and escalation), as the API server of the
// version raygate is built for holds them (an end-to-end test compares
// them with a real one).
type builtinRole struct {
	labels map[string]string
	rules  string
}

func withBootstrap(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range bootstrapLabels {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

var builtinRoles = map[string]builtinRole{
	"cluster-admin": {bootstrapLabels, `[{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]`},
	// admin, edit and view are aggregated from the system:aggregate-to-*
	// roles; admin and edit hold system:aggregate-to-edit's rules.
	"admin":                     {bootstrapLabels, aggregateToEdit},
	"edit":                      {withBootstrap(map[string]string{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}), aggregateToEdit},
	"view":                      {withBootstrap(map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}), `[]`},
	"system:aggregate-to-admin": {withBootstrap(map[string]string{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}), `[]`},
	"system:aggregate-to-edit":  {withBootstrap(map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}), aggregateToEdit},
	"system:aggregate-to-view":  {withBootstrap(map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}), `[]`},
	"system:controller:generic-garbage-collector":           {bootstrapLabels, `[{apiGroups: ["*"], resources: ["*"], verbs: [delete, get, list, patch, update, watch]}]`},
	"system:controller:namespace-controller":                {bootstrapLabels, `[{apiGroups: ["*"], resources: ["*"], verbs: [delete, deletecollection, get, list, watch]}]`},
	"system:controller:resourcequota-controller":            {bootstrapLabels, `[{apiGroups: ["*"], resources: ["*"], verbs: [list, watch]}]`},
	"system:controller:storage-version-migrator-controller": {bootstrapLabels, `[{apiGroups: ["*"], resources: ["*"], verbs: [list, patch]}]`},
	"system:controller:clusterrole-aggregation-controller":  {bootstrapLabels, `[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, get, list, patch, update, watch]}]`},
	"system:kube-controller-manager":                        {bootstrapLabels, `[{apiGroups: [""], resources: [secrets], verbs: [get, create, delete, update]}, {apiGroups: ["*"], resources: ["*"], verbs: [list, watch]}, {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]`},
	"system:node":                                           {bootstrapLabels, `[{apiGroups: [""], resources: [configmaps, secrets], verbs: [get, list, watch]}, {apiGroups: [""], resources: [pods], verbs: [create, delete]}]`},
	"system:controller:cronjob-controller":                  {bootstrapLabels, `[{apiGroups: [batch], resources: [jobs], verbs: [create]}]`},
	"system:controller:daemon-set-controller":               {bootstrapLabels, `[{apiGroups: [""], resources: [pods], verbs: [create]}]`},
	"system:controller:deployment-controller":               {bootstrapLabels, `[{apiGroups: [apps], resources: [replicasets], verbs: [create]}]`},
	"system:controller:job-controller":                      {bootstrapLabels, `[{apiGroups: [""], resources: [pods], verbs: [create]}]`},
	"system:controller:persistent-volume-binder":            {bootstrapLabels, `[{apiGroups: [""], resources: [pods], verbs: [create]}]`},
	"system:controller:replicaset-controller":               {bootstrapLabels, `[{apiGroups: [""], resources: [pods], verbs: [create]}]`},
	"system:controller:replication-controller":              {bootstrapLabels, `[{apiGroups: [""], resources: [pods], verbs: [create]}]`},
	"system:controller:statefulset-controller":              {bootstrapLabels, `[{apiGroups: [""], resources: [pods], verbs: [create]}]`},
	"system:kubelet-api-admin":                              {bootstrapLabels, `[{apiGroups: [""], resources: [nodes/proxy, nodes/log, nodes/metrics, nodes/stats], verbs: ["*"]}]`},
}

// builtinOrder lists the built-in ClusterRoles widest first
// (cluster-admin), then by name: where several are aggregated at once, the
// finding names the widest.
func builtinOrder() []string {
	names := make([]string, 0, len(builtinRoles))
	for name := range builtinRoles {
		if name != "cluster-admin" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return append([]string{"cluster-admin"}, names...)
}

// aggregateToEdit are the rules of system:aggregate-to-edit that matter
// here: Secrets read, pods and pod-making workloads created, exec and
// attach, impersonating and minting tokens for service accounts.
const aggregateToEdit = `[{apiGroups: [""], resources: [pods/attach, pods/exec, secrets], verbs: [get, list, watch]},
{apiGroups: [""], resources: [pods, pods/attach, pods/exec, replicationcontrollers, secrets], verbs: [create, delete, deletecollection, patch, update]},
{apiGroups: [apps], resources: [daemonsets, deployments, replicasets, statefulsets], verbs: [create, delete, deletecollection, patch, update]},
{apiGroups: [batch], resources: [cronjobs, jobs], verbs: [create, delete, deletecollection, patch, update]},
{apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]},
{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]`

// builtinRules reads the rules of a built-in ClusterRole.
func builtinRules(name string) *manifest.Value {
	b, ok := builtinRoles[name]
	if !ok {
		return nil
	}
	f, err := manifest.Read([]byte("rules: " + b.rules + "\n"))
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
				out = append(out, grant{binding: b, role: r, rules: x.roleRules(r, map[string]bool{}), clusterWide: kind == "ClusterRoleBinding"})
			}
			if rules := builtinRules(name); !found && refKind == "ClusterRole" && rules != nil {
				g := grant{binding: b, role: b, builtin: name, clusterWide: kind == "ClusterRoleBinding"}
				for _, r := range rules.Items() {
					g.rules = append(g.rules, grantRule{rule: r, at: b, path: path("roleRef.name"), what: "the built-in ClusterRole " + name})
				}
				out = append(out, g)
			}
		}
	}
	return out
}

// roleRules returns the rules of a Role or ClusterRole of the files: its
// own, and for a ClusterRole with an aggregationRule those of every
// ClusterRole its selectors select, as Kubernetes' aggregation
// controller collects them (transitively): the ClusterRoles of the files
// and the built-in ones, by their labels. A selector that selects every
// ClusterRole (an empty one, or one matching the labels all built-in
// roles carry) collects cluster-admin's.
func (x *install) roleRules(r placed, seen map[string]bool) []grantRule {
	seen[r.o.Name] = true
	var out []grantRule
	for i, rule := range r.o.Value.Get("rules").Items() {
		out = append(out, grantRule{rule: rule, at: r, path: path("rules").Index(i), what: fmt.Sprintf("%s rules[%d]", r.describe(), i)})
	}
	if r.o.Kind != "ClusterRole" {
		return out
	}
	for k, s := range r.o.Value.Lookup("aggregationRule.clusterRoleSelectors").Items() {
		sel, ok := selector(s)
		sp := path("aggregationRule.clusterRoleSelectors").Index(k)
		if !ok {
			// A selector the API server would refuse: assume the worst.
			sel = labels.Everything()
		}
		for _, other := range x.of(rbacGroup, "ClusterRole") {
			if seen[other.o.Name] || !sel.Matches(labels.Set(strMap(other.o.Value.Lookup("metadata.labels")))) {
				continue
			}
			for _, gr := range x.roleRules(other, seen) {
				gr.what += " (aggregated into " + r.describe() + ")"
				out = append(out, gr)
			}
		}
		for _, name := range builtinOrder() {
			if seen[name] || !sel.Matches(labels.Set(builtinRoles[name].labels)) {
				continue
			}
			seen[name] = true
			for _, rule := range builtinRules(name).Items() {
				out = append(out, grantRule{rule: rule, at: r, path: sp, what: fmt.Sprintf("the built-in ClusterRole %s (aggregated into %s by clusterRoleSelectors[%d])", name, r.describe(), k)})
			}
		}
	}
	return out
}

// selector reads an aggregation rule's label selector.
func selector(v *manifest.Value) (labels.Selector, bool) {
	var ls metav1.LabelSelector
	if err := v.DecodeInto(&ls); err != nil {
		return nil, false
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, false
	}
	return sel, true
}

// strMap returns the string entries of a mapping.
func strMap(v *manifest.Value) map[string]string {
	out := map[string]string{}
	for _, k := range v.Keys() {
		out[k] = v.Get(k).Str()
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

// policyRule is a rule's lists, read once.
type policyRule struct {
	groups, resources, verbs []string
	// named is true when resourceNames limits the rule to named objects:
	// it lists names, none of them empty. An empty name matches requests
	// without a name (list, watch, deletecollection), as the API server's
	// RBAC authorizer compares names.
	named bool
}

func readRule(v *manifest.Value) policyRule {
	r := policyRule{groups: strList(v.Get("apiGroups")), resources: strList(v.Get("resources")), verbs: strList(v.Get("verbs"))}
	names := strList(v.Get("resourceNames"))
	r.named = len(names) > 0 && !slices.Contains(names, "")
	return r
}

// allows reports the verbs of want the rule grants on resource (with its
// subresource, "pods/exec") of the core group or group, as the API
// server's RBAC authorizer matches them: exact strings (case matters),
// "*" for every group, resource or verb, and "*/sub" for a subresource of
// every resource.
func (r policyRule) allows(group, resource string, want ...string) []string {
	if !slices.Contains(r.groups, group) && !slices.Contains(r.groups, "*") {
		return nil
	}
	_, sub, hasSub := strings.Cut(resource, "/")
	ok := false
	for _, res := range r.resources {
		if res == "*" || res == resource || (hasSub && res == "*/"+sub) {
			ok = true
		}
	}
	if !ok {
		return nil
	}
	var out []string
	for _, w := range want {
		if slices.Contains(r.verbs, w) || slices.Contains(r.verbs, "*") {
			out = append(out, w)
		}
	}
	if slices.Contains(r.verbs, "*") && len(out) == len(want) {
		return []string{"*"}
	}
	return out
}

// rbacFinding is one RBAC finding before the widest grant is chosen.
type rbacFinding struct {
	rule string
	sev  Severity
	at   placed
	path manifest.Path
	msg  string
}

// PodMakers are the resources whose creation makes pods from a spec the
// creator writes: creating one in a namespace lets the creator mount any
// Secret of that namespace into a pod, and read it.
var PodMakers = []struct{ Group, Resource string }{
	{"", "pods"}, {"", "replicationcontrollers"},
	{"apps", "deployments"}, {"apps", "statefulsets"}, {"apps", "daemonsets"}, {"apps", "replicasets"},
	{"batch", "jobs"}, {"batch", "cronjobs"},
}

// execResources are the subresources that run commands in pods, with the
// verbs that do: exec and attach with create (the API server asks for
// create also for the WebSocket upgrade a GET makes), and the kubelet's
// API through the node proxy (which execs in any pod of the node) with
// get or create, as the kubelet maps its HTTP methods.
var execResources = []struct {
	resource string
	verbs    []string
}{
	{"pods/exec", []string{"create"}},
	{"pods/attach", []string{"create"}},
	{"nodes/proxy", []string{"get", "create"}},
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
		sev := SeverityWarning
		if g.clusterWide {
			sev = SeverityError
		}
		for _, gr := range g.rules {
			rule := readRule(gr.rule)
			if verbs := rule.allows("", "secrets", "get", "list", "watch"); len(verbs) > 0 && !rule.named && g.clusterWide {
				add(rbacFinding{RuleOperatorRBACSecrets, SeverityError, gr.at, gr.path, fmt.Sprintf(
					"%s lets %s %s Secrets in every namespace: every tenant's Ray token Secret and every other Secret of the cluster; where teams share a cluster, install the operator for their namespaces (--watch-namespace, with a Role and RoleBinding per watched namespace; Helm: singleNamespaceInstall: true)",
					gr.what, through, verbText(verbs))})
			}
			var makers []string
			for _, m := range PodMakers {
				if len(rule.allows(m.Group, m.Resource, "create")) > 0 {
					makers = append(makers, strings.TrimPrefix(m.Group+"/"+m.Resource, "/"))
				}
			}
			if len(makers) > 0 && !rule.named && g.clusterWide {
				add(rbacFinding{RuleOperatorRBACSecrets, SeverityError, gr.at, gr.path, fmt.Sprintf(
					"%s lets %s create %s in every namespace: a pod it makes can mount any Secret of its namespace, so it can read every tenant's Ray token Secret and every other Secret of the cluster; where teams share a cluster, install the operator for their namespaces (--watch-namespace, with a Role and RoleBinding per watched namespace; Helm: singleNamespaceInstall: true)",
					gr.what, through, strings.Join(makers, ", "))})
			}
			var execs []string
			for _, x := range execResources {
				if len(rule.allows("", x.resource, x.verbs...)) > 0 {
					execs = append(execs, x.resource)
				}
			}
			if len(execs) > 0 {
				add(rbacFinding{RuleOperatorRBACExec, sev, gr.at, gr.path, fmt.Sprintf(
					"%s lets %s run commands in pods %s (%s): every Ray pod and the Secrets and tokens it holds; KubeRay never execs into pods, remove it",
					gr.what, through, g.scope(), strings.Join(execs, ", "))})
			}
			wild := matching(rule.verbs, "*", "escalate", "bind", "impersonate")
			if slices.Contains(rule.resources, "*") {
				wild = append(wild, "resources *")
			}
			if len(wild) == 0 && len(rule.allows("", "serviceaccounts/token", "create")) > 0 && !rule.named {
				wild = append(wild, "create serviceaccounts/token")
			}
			if len(wild) > 0 {
				add(rbacFinding{RuleOperatorRBACWildcard, sev, gr.at, gr.path, fmt.Sprintf(
					"%s gives %s unbounded rights %s (%s): more than KubeRay's own ClusterRole ever asks for, and whoever takes over the operator gets them; list the resources and verbs KubeRay needs",
					gr.what, through, g.scope(), strings.Join(wild, ", "))})
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
