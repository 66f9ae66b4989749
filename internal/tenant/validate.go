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
// API server's endpoints, not a network. WidestAPIServerPrefix is the
// widest accepted at all.
const (
	MaxAPIServerPrefix4    = 24
	MaxAPIServerPrefix6    = 120
	WidestAPIServerPrefix4 = 16
	WidestAPIServerPrefix6 = 64
)

// specialRanges are address ranges an API server endpoint is never in,
// and that autoscaling heads must not reach: the cloud metadata service
// (link-local 169.254.169.254, which hands out the node's credentials),
// loopback, multicast, "this network", reserved and broadcast addresses,
// and IPv4 written as IPv6 (mapped or NAT64), which the API server
// refuses in a NetworkPolicy or which reaches IPv4 addresses past the
// checks here.
var specialRanges = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (0.0.0.0/8)`},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (the cloud metadata service, 169.254.169.254, hands out the node's credentials there)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped IPv6, which the API server refuses in a NetworkPolicy"},
	{netip.MustParsePrefix("64:ff9b::/96"), "IPv4 through NAT64"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

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
	case ns == "openshift" || strings.HasPrefix(ns, "openshift-"):
		return "an OpenShift system namespace"
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
	// The policies let every pod of raygate's and the operator's
	// namespace with their labels reach the Ray heads: anyone who may
	// create pods in default could pose as either.
	trusted := func(field, ns string) {
		checkNS(field, ns)
		if ns == "default" {
			p.add(field, "%q: the tenants' Ray heads trust every pod of this namespace with the configured labels, and many users may create pods in default; run it in a namespace of its own", ns)
		}
	}
	trusted("raygate.namespace", f.Raygate.Namespace)
	checkWorkload(&p, "raygate", f.Raygate)
	if f.KubeRay != nil {
		trusted("kuberay.namespace", f.KubeRay.Namespace)
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
		v4 := pfx.Addr().Is4()
		widest, warn := WidestAPIServerPrefix6, MaxAPIServerPrefix6
		if v4 {
			widest, warn = WidestAPIServerPrefix4, MaxAPIServerPrefix4
		}
		special := ""
		for _, r := range specialRanges {
			if r.prefix.Overlaps(pfx) {
				special = r.what
				break
			}
		}
		switch {
		case pfx.Bits() == 0:
			p.add(field, "%q is every address: list the API server's endpoints (kubectl get endpoints kubernetes)", c)
		case pfx.Addr().Is4In6() && pfx.Bits() >= 96:
			p.add(field, "%q is IPv4 written as IPv6 (IPv4-mapped), which the API server refuses in a NetworkPolicy: write it as %s", c, netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96))
		case pfx.Masked() != pfx:
			p.add(field, "%q has host bits set: write %s for the address or %s for the network", c, netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()), pfx.Masked())
		case pfx.Bits() < widest:
			p.add(field, "%s is wider than /%d: autoscaling heads could reach every address in it on %v; list the API server's endpoints (kubectl get endpoints kubernetes)", c, widest, f.APIServer.Ports)
		case special != "":
			p.add(field, "%q is or holds %s addresses, never the API server's: list the API server's endpoints (kubectl get endpoints kubernetes)", c, special)
		case pfx.Bits() < warn:
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s: %s is wider than /%d: autoscaling heads may reach every address in it on %v; list the API server's endpoints", field, c, warn, f.APIServer.Ports))
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
	for _, x := range []struct{ name, v string }{{"ingresses", q.Ingresses}} {
		checkQuantity(p, tp+".quota."+x.name, x.v)
	}
	// Counts must be whole numbers: the API server refuses the whole
	// ResourceQuota otherwise, and the namespace would have none.
	for _, x := range []struct{ name, v string }{
		{"pods", q.Pods}, {"rayClusters", q.RayClusters}, {"persistentVolumeClaims", q.PersistentVolumeClaims},
		{"loadBalancers", q.LoadBalancers}, {"nodePorts", q.NodePorts}, {"ingresses", q.Ingresses},
	} {
		if qq, err := resource.ParseQuantity(x.v); err == nil && qq.MilliValue()%1000 != 0 {
			p.add(tp+".quota."+x.name, "%q must be a whole number (it counts objects)", x.v)
		}
	}
	for _, x := range []struct{ name, v, what string }{
		{"loadBalancers", q.LoadBalancers, "Services, a Ray head's included,"},
		{"nodePorts", q.NodePorts, "Services, a Ray head's included,"},
		{"ingresses", q.Ingresses, "Ingresses to Services, a Ray head's included,"},
	} {
		if qq, err := resource.ParseQuantity(x.v); err == nil && qq.Sign() > 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s.quota.%s: %s lets the tenant publish %s outside the cluster", tp, x.name, x.v, x.what))
		}
	}
	d := t.Defaults
	for _, x := range []struct{ name, v string }{
		{"cpu", d.CPU}, {"memory", d.Memory}, {"requestCPU", d.RequestCPU}, {"requestMemory", d.RequestMemory},
		{"ephemeralStorage", d.EphemeralStorage}, {"requestEphemeralStorage", d.RequestEphemeralStorage},
	} {
		checkQuantity(p, tp+".defaults."+x.name, x.v)
	}
	// A default request above the default limit: the API server refuses
	// the LimitRange, and containers would get no defaults.
	for _, x := range []struct{ req, reqV, lim, limV string }{
		{"requestCPU", d.RequestCPU, "cpu", d.CPU},
		{"requestMemory", d.RequestMemory, "memory", d.Memory},
		{"requestEphemeralStorage", d.RequestEphemeralStorage, "ephemeralStorage", d.EphemeralStorage},
	} {
		rq, err1 := resource.ParseQuantity(x.reqV)
		lq, err2 := resource.ParseQuantity(x.limV)
		if err1 == nil && err2 == nil && rq.Cmp(lq) > 0 {
			p.add(tp+".defaults."+x.req, "%s is more than the default limit %s %s: the API server would refuse the LimitRange", x.reqV, x.lim, x.limV)
		}
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
