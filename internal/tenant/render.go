package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Labels and names the rendered objects use.
const (
	// TenantLabel marks a tenant's namespace with the tenant's name.
	TenantLabel = "raygate.dev/tenant"
	// ManagedByLabel marks every rendered object.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// RayNodeTypeLabel is the label KubeRay puts on Ray pods: head or worker.
	RayNodeTypeLabel = "ray.io/node-type"
	// RayServiceAccount is the ServiceAccount for Ray pods, without a token.
	RayServiceAccount = "ray"
)

// Ray verbs on rayclusters, checked by raygate and by Ray's Kubernetes
// token authentication through SubjectAccessReview.
var rayVerbs = map[string][]string{
	"viewer":    {"ray:read"},
	"developer": {"ray:read", "ray:write"},
	"admin":     {"ray:read", "ray:write", "ray:admin"},
}

// Build returns every object of every tenant, in apply order: Namespace,
// NetworkPolicies (right after the namespace, so that no pod can start
// before its policies exist), ResourceQuota, LimitRange, ServiceAccount,
// Roles, RoleBindings.
func Build(f *File) []any {
	var out []any
	for _, t := range f.Tenants {
		out = append(out, BuildTenant(f, t)...)
	}
	return out
}

// BuildTenant returns the objects of one tenant.
func BuildTenant(f *File, t Tenant) []any {
	ns := t.Namespace
	out := []any{namespace(f, t)}
	for _, p := range policiesHook(NetworkPolicies(f, t)) {
		out = append(out, p)
	}
	out = append(out, quota(f, t), limitRange(t), &corev1.ServiceAccount{
		TypeMeta:                     typeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   meta(RayServiceAccount, ns, t.Name),
		AutomountServiceAccountToken: ptr(false),
	})
	for _, r := range Roles {
		out = append(out, role(t, r))
	}
	for _, r := range Roles {
		if b := roleBinding(t, r); b != nil {
			out = append(out, b)
		}
	}
	return out
}

// policiesHook lets tests tamper with the policies Build returns.
var policiesHook = func(p []*networkingv1.NetworkPolicy) []*networkingv1.NetworkPolicy { return p }

func ptr[T any](v T) *T { return &v }

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func meta(name, ns, tenant string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{ManagedByLabel: "raygate", TenantLabel: tenant}}
}

func namespace(f *File, t Tenant) *corev1.Namespace {
	m := meta(t.Namespace, "", t.Name)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		m.Labels["pod-security.kubernetes.io/"+mode] = "restricted"
		m.Labels["pod-security.kubernetes.io/"+mode+"-version"] = f.PodSecurityVersion
	}
	return &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: m}
}

// quota caps the namespace's resources. Load balancers and node ports
// are capped (at 0 unless the file says otherwise), so a quota is always
// rendered.
func quota(f *File, t Tenant) *corev1.ResourceQuota {
	hard := corev1.ResourceList{}
	add := func(name corev1.ResourceName, v string) {
		if v != "" {
			hard[name] = resource.MustParse(v)
		}
	}
	q := t.Quota
	add(corev1.ResourceRequestsCPU, q.CPU)
	add(corev1.ResourceLimitsCPU, q.CPU)
	add(corev1.ResourceRequestsMemory, q.Memory)
	add(corev1.ResourceLimitsMemory, q.Memory)
	for _, gpu := range f.GPUResources {
		add(corev1.ResourceName("requests."+gpu), q.GPU)
	}
	add(corev1.ResourcePods, q.Pods)
	add("count/rayclusters.ray.io", q.RayClusters)
	add(corev1.ResourceRequestsEphemeralStorage, q.EphemeralStorage)
	add(corev1.ResourceLimitsEphemeralStorage, q.EphemeralStorage)
	add(corev1.ResourcePersistentVolumeClaims, q.PersistentVolumeClaims)
	add(corev1.ResourceRequestsStorage, q.Storage)
	add(corev1.ResourceServicesLoadBalancers, q.LoadBalancers)
	add(corev1.ResourceServicesNodePorts, q.NodePorts)
	add("count/ingresses.networking.k8s.io", q.Ingresses)
	return &corev1.ResourceQuota{
		TypeMeta:   typeMeta("v1", "ResourceQuota"),
		ObjectMeta: meta("tenant-quota", t.Namespace, t.Name),
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
}

// limitRange gives containers that set none the default requests and
// limits, so that they fit the quota; ephemeral storage too when the
// quota caps it (pods without it would be refused).
func limitRange(t Tenant) *corev1.LimitRange {
	d := t.Defaults
	item := corev1.LimitRangeItem{
		Type: corev1.LimitTypeContainer,
		Default: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(d.CPU), corev1.ResourceMemory: resource.MustParse(d.Memory),
		},
		DefaultRequest: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(d.RequestCPU), corev1.ResourceMemory: resource.MustParse(d.RequestMemory),
		},
	}
	if t.Quota.EphemeralStorage != "" {
		item.Default[corev1.ResourceEphemeralStorage] = resource.MustParse(d.EphemeralStorage)
		item.DefaultRequest[corev1.ResourceEphemeralStorage] = resource.MustParse(d.RequestEphemeralStorage)
	}
	return &corev1.LimitRange{
		TypeMeta:   typeMeta("v1", "LimitRange"),
		ObjectMeta: meta("tenant-defaults", t.Namespace, t.Name),
		Spec:       corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{item}},
	}
}

// role grants a role's rights in the tenant's namespace: reading Ray
// objects and their pods for everyone, running jobs and clusters from
// developer up, everything about Ray objects for admin.
func role(t Tenant, r string) *rbacv1.Role {
	read := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete"}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"ray.io"}, Resources: []string{"rayclusters", "rayjobs", "rayservices"}, Verbs: read},
		{APIGroups: []string{"ray.io"}, Resources: []string{"rayclusters"}, Verbs: rayVerbs[r]},
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "services", "events"}, Verbs: read},
	}
	switch r {
	case "developer":
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"ray.io"}, Resources: []string{"rayclusters", "rayjobs"}, Verbs: write})
	case "admin":
		rules = append(rules,
			rbacv1.PolicyRule{APIGroups: []string{"ray.io"}, Resources: []string{"rayclusters", "rayjobs", "rayservices"}, Verbs: append(append([]string{}, write...), "deletecollection")},
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete"}},
		)
	}
	return &rbacv1.Role{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "Role"),
		ObjectMeta: meta("ray-"+r, t.Namespace, t.Name),
		Rules:      rules,
	}
}

func roleBinding(t Tenant, r string) *rbacv1.RoleBinding {
	groups := t.Groups[r]
	if len(groups) == 0 {
		return nil
	}
	b := &rbacv1.RoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: meta("ray-"+r, t.Namespace, t.Name),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ray-" + r},
	}
	for _, g := range groups {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: g})
	}
	return b
}

// NetworkPolicies returns a tenant's policies: deny everything in and out,
// then allow traffic within the namespace, raygate (and the KubeRay
// operator, when configured) to the heads' ports, DNS, and the API server
// for heads where the autoscaler runs.
func NetworkPolicies(f *File, t Tenant) []*networkingv1.NetworkPolicy {
	ns := t.Namespace
	np := func(name string, sel metav1.LabelSelector, types []networkingv1.PolicyType) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
			ObjectMeta: meta(name, ns, t.Name),
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: sel, PolicyTypes: types},
		}
	}
	in := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	out := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	heads := metav1.LabelSelector{MatchLabels: map[string]string{RayNodeTypeLabel: "head"}}

	deny := np("default-deny", metav1.LabelSelector{}, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress})

	same := np("allow-same-namespace", metav1.LabelSelector{}, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress})
	local := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	same.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: local}}
	same.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: local}}

	gw := np("allow-raygate-to-ray-heads", heads, in)
	gw.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer(f.Raygate)}, Ports: tcpPorts(f.Raygate.Ports)}}

	dns := np("allow-dns", metav1.LabelSelector{}, out)
	dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{peer(f.DNS)},
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr(corev1.ProtocolUDP), Port: ptr(intstr.FromInt32(53))},
			{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(53))},
		},
	}}

	pols := []*networkingv1.NetworkPolicy{deny, same, gw}
	if f.KubeRay != nil {
		op := np("allow-kuberay-to-ray-heads", heads, in)
		op.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer(*f.KubeRay)}, Ports: tcpPorts(f.KubeRay.Ports)}}
		pols = append(pols, op)
	}
	pols = append(pols, dns)
	if t.Autoscaling {
		api := np("allow-autoscaler-to-apiserver", heads, out)
		rule := networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(f.APIServer.Ports)}
		for _, c := range f.APIServer.CIDRs {
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: asCIDR(c)}})
		}
		api.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{rule}
		pols = append(pols, api)
	}
	return pols
}

func asCIDR(c string) string {
	if a, err := netip.ParseAddr(c); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return c
}

func peer(w Workload) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": w.Namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: w.PodLabels},
	}
}

func tcpPorts(ports []int32) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(p))})
	}
	return out
}

// Render returns the objects as multi-document YAML, ready for kubectl
// apply.
func Render(f *File) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Rendered by raygate tenant render: one isolated namespace per tenant.\n")
	for i, o := range Build(f) {
		if i > 0 {
			buf.WriteString("---\n")
		}
		b, err := toYAML(o)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// toYAML marshals a typed object without the empty fields Go's zero values
// would add (creationTimestamp: null, status: {}).
func toYAML(o any) ([]byte, error) {
	j, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("tenant: marshal: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, fmt.Errorf("tenant: marshal: %w", err)
	}
	prune(m)
	return yaml.Marshal(m)
}

func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(x)
			if len(x) == 0 && (k == "status" || k == "metadata" || k == "spec") {
				delete(m, k)
			}
		case []any:
			for _, it := range x {
				if mm, ok := it.(map[string]any); ok {
					prune(mm)
				}
			}
		}
	}
}
