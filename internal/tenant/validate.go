package tenant

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/pod-security-admission/api"

	"github.com/raygate/raygate/internal/pss"
)

// MaxAPIServerPrefix is the widest apiServer.cidrs range accepted without a
// warning (per address family): the autoscaler's egress should reach the
// API server's endpoints, not a network.
const (
	MaxAPIServerPrefix4 = 24
	MaxAPIServerPrefix6 = 120
)

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// SystemNamespace reports why a namespace cannot be a tenant's ("" when
// it can): Kubernetes' own (kube-*, default), and raygate's, KubeRay's and
// cluster DNS's. A tenant namespace gets restricted labels, a default-deny
// policy and role bindings for the tenant's groups; on a system namespace
// that breaks the system and hands the tenant its objects.
func (f *File) SystemNamespace(ns string) string {
	switch {
	case strings.HasPrefix(ns, "kube-") || ns == "default":
		return "a Kubernetes system namespace"
	case ns == f.Raygate.Namespace:
		return "raygate's namespace"
	case f.KubeRay != nil && ns == f.KubeRay.Namespace:
		return "the KubeRay operator's namespace"
	case ns == f.DNS.Namespace:
		return "cluster DNS's namespace"
	}
	return ""
}

func (f *File) validate() error {
	var p problems
	checkNS := func(field, ns string) {
		if !dnsLabel.MatchString(ns) || len(ns) > 63 {
			p.add(field, "%q is not a valid namespace name", ns)
		}
	}
	checkNS("raygate.namespace", f.Raygate.Namespace)
	checkWorkload(&p, "raygate", f.Raygate)
	if f.KubeRay != nil {
		checkNS("kuberay.namespace", f.KubeRay.Namespace)
		checkWorkload(&p, "kuberay", *f.KubeRay)
	}
	checkNS("dns.namespace", f.DNS.Namespace)
	checkWorkload(&p, "dns", f.DNS)
	f.checkPodSecurityVersion(&p)
	f.checkAPIServer(&p)
	for i, r := range f.GPUResources {
		if errs := validation.IsQualifiedName(r); len(errs) > 0 || !strings.Contains(r, "/") || strings.Contains(r, "kubernetes.io/") {
			p.add(fmt.Sprintf("gpuResources[%d]", i), "%q is not an extended resource name (like nvidia.com/gpu)", r)
		}
	}
	checkGlobs(&p, "protectedSecrets", f.ProtectedSecrets)
	if len(f.Tenants) == 0 {
		p.add("tenants", "no tenants")
	}
	names, namespaces := map[string]int{}, map[string]int{}
	for i, t := range f.Tenants {
		tp := fmt.Sprintf("tenants[%d]", i)
		if !dnsLabel.MatchString(t.Name) || len(t.Name) > 63 {
			p.add(tp+".name", "%q is not a DNS label (lowercase letters, digits and '-', at most 63)", t.Name)
		}
		if j, dup := names[t.Name]; dup {
			p.add(tp+".name", "%q is also tenants[%d]", t.Name, j)
		}
		names[t.Name] = i
		checkNS(tp+".namespace", t.Namespace)
		if j, dup := namespaces[t.Namespace]; dup {
			p.add(tp+".namespace", "namespace %q is also used by tenants[%d]", t.Namespace, j)
		}
		namespaces[t.Namespace] = i
		if why := f.SystemNamespace(t.Namespace); why != "" {
			p.add(tp+".namespace", "%q is %s, not a tenant's: render would label it restricted, deny its traffic and bind the tenant's groups there", t.Namespace, why)
		}
		checkGroups(&p, tp, t)
		for j, sa := range t.ServiceAccounts {
			if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
				p.add(fmt.Sprintf("%s.serviceAccounts[%d]", tp, j), "%q is not a service account name", sa)
			}
		}
		checkGlobs(&p, tp+".protectedSecrets", t.ProtectedSecrets)
		f.checkQuota(&p, tp, t)
		if t.Autoscaling && len(f.APIServer.CIDRs) == 0 {
			p.add(tp+".autoscaling", "needs apiServer.cidrs: the autoscaler's egress to the API server is allowed only to listed addresses")
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func (f *File) checkPodSecurityVersion(p *problems) {
	v, err := api.ParseVersion(f.PodSecurityVersion)
	if err != nil || v.Latest() {
		p.add("podSecurityVersion", "%q must be a pinned version like %s", f.PodSecurityVersion, pss.Version)
		return
	}
	if min, _ := api.ParseVersion(pss.Version); v.Older(min) {
		p.add("podSecurityVersion", "%s is older than %s: the restricted profile of older versions admits pods raygate lint rejects", f.PodSecurityVersion, pss.Version)
	}
}

// checkAPIServer accepts host routes and narrow ranges: the heads of
// autoscaling tenants may reach these addresses on the API server's
// ports, so a wide range opens those ports on whatever else is in it.
func (f *File) checkAPIServer(p *problems) {
	for i, c := range f.APIServer.CIDRs {
		field := fmt.Sprintf("apiServer.cidrs[%d]", i)
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				p.add(field, "%q is not a CIDR or an address", c)
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		switch {
		case pfx.Bits() == 0:
			p.add(field, "%q is every address: list the API server's endpoints (kubectl get endpoints kubernetes)", c)
		case pfx.Masked() != pfx:
			p.add(field, "%q has host bits set: write %s for the address or %s for the network", c, netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()), pfx.Masked())
		case pfx.Addr().Is4() && pfx.Bits() < MaxAPIServerPrefix4, !pfx.Addr().Is4() && pfx.Bits() < MaxAPIServerPrefix6:
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s: %s is wider than /%d: autoscaling heads may reach every address in it on %v; list the API server's endpoints", field, c, map[bool]int{true: MaxAPIServerPrefix4, false: MaxAPIServerPrefix6}[pfx.Addr().Is4()], f.APIServer.Ports))
		}
	}
	checkPorts(p, "apiServer.ports", f.APIServer.Ports)
}

// checkGroups refuses unknown roles and groups that are not a team's:
// Kubernetes' system groups (system:authenticated, system:serviceaccounts,
// ...) hold every user or every workload.
func checkGroups(p *problems, tp string, t Tenant) {
	roles := make([]string, 0, len(t.Groups))
	for r := range t.Groups {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		if !validRole(r) {
			p.add(tp+".groups."+r, "unknown role (one of %s)", strings.Join(Roles, ", "))
		}
		for j, g := range t.Groups[r] {
			field := fmt.Sprintf("%s.groups.%s[%d]", tp, r, j)
			switch {
			case strings.TrimSpace(g) == "" || g != strings.TrimSpace(g):
				p.add(field, "%q is not a group name", g)
			case strings.HasPrefix(g, "system:"):
				p.add(field, "%q is a Kubernetes system group: binding it gives the role to every user or workload in it", g)
			}
		}
	}
}

func (f *File) checkQuota(p *problems, tp string, t Tenant) {
	q := t.Quota
	for _, x := range []struct{ name, v string }{
		{"cpu", q.CPU}, {"memory", q.Memory}, {"gpu", q.GPU}, {"pods", q.Pods}, {"rayClusters", q.RayClusters},
		{"ephemeralStorage", q.EphemeralStorage}, {"persistentVolumeClaims", q.PersistentVolumeClaims}, {"storage", q.Storage},
		{"loadBalancers", q.LoadBalancers}, {"nodePorts", q.NodePorts},
	} {
		checkQuantity(p, tp+".quota."+x.name, x.v)
	}
	for _, x := range []struct{ name, v string }{{"loadBalancers", q.LoadBalancers}, {"nodePorts", q.NodePorts}} {
		if qq, err := resource.ParseQuantity(x.v); err == nil && qq.Sign() > 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s.quota.%s: %s lets the tenant publish Services, a Ray head's included, outside the cluster", tp, x.name, x.v))
		}
	}
	d := t.Defaults
	for _, x := range []struct{ name, v string }{
		{"cpu", d.CPU}, {"memory", d.Memory}, {"requestCPU", d.RequestCPU}, {"requestMemory", d.RequestMemory},
		{"ephemeralStorage", d.EphemeralStorage}, {"requestEphemeralStorage", d.RequestEphemeralStorage},
	} {
		checkQuantity(p, tp+".defaults."+x.name, x.v)
	}
}

func checkGlobs(p *problems, field string, globs []string) {
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			p.add(fmt.Sprintf("%s[%d]", field, i), "%q is not a name or glob", g)
		}
	}
}

func checkWorkload(p *problems, field string, w Workload) {
	for k, v := range w.PodLabels {
		if k == "" || strings.ContainsAny(k, " \t") || strings.ContainsAny(v, " \t") {
			p.add(field+".podLabels", "%q: %q is not a label", k, v)
		}
	}
	checkPorts(p, field+".ports", w.Ports)
}

func checkPorts(p *problems, field string, ports []int32) {
	for i, port := range ports {
		if port < 1 || port > 65535 {
			p.add(fmt.Sprintf("%s[%d]", field, i), "%d is not a port", port)
		}
	}
}

func checkQuantity(p *problems, field, v string) {
	if v == "" {
		return
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		p.add(field, "%q is not a quantity (e.g. 8, 500m, 16Gi)", v)
		return
	}
	if q.Sign() < 0 {
		p.add(field, "%q must not be negative", v)
	}
}

// TenantFor returns the tenant whose namespace is ns.
func (f *File) TenantFor(ns string) (*Tenant, bool) {
	for i := range f.Tenants {
		if f.Tenants[i].Namespace == ns {
			return &f.Tenants[i], true
		}
	}
	return nil, false
}

// SecretProtected reports whether a pod template of tenant t may not
// reference the Secret name, and the pattern that protects it.
func (f *File) SecretProtected(t *Tenant, name string) (string, bool) {
	globs := append(append([]string(nil), f.ProtectedSecrets...), t.ProtectedSecrets...)
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return g, true
		}
	}
	return "", false
}

// ServiceAccountAllowed reports whether tenant t's pod templates may run
// as service account sa ("" is always allowed).
func (t *Tenant) ServiceAccountAllowed(sa string) bool {
	if sa == "" {
		return true
	}
	for _, a := range t.ServiceAccounts {
		if a == sa {
			return true
		}
	}
	return false
}
