package tenant

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/raygate/raygate/internal/netpol"
)

// RayPorts are the Ray ports Verify probes on heads and workers: GCS,
// dashboard and Jobs API, Ray Client, Serve, dashboard agent, metrics.
var RayPorts = []int32{6379, 8265, 10001, 8000, 52365, 8080}

// Probe is one source endpoint Verify connects from.
type Probe struct {
	// Endpoint is the modelled pod.
	netpol.Endpoint
	// Role says what the pod stands for: "raygate", "kuberay",
	// "raygate-namespace-other", "outsider", or "tenant".
	Role string
	// Tenant is the tenant whose namespace holds the pod ("" otherwise).
	Tenant string
}

// Cell is the verdict for one source, destination and port.
type Cell struct {
	From, To string
	Port     int32
	netpol.Verdict
}

// Report is Verify's result.
type Report struct {
	// Sources and Targets name the matrix's rows and column groups.
	Sources, Targets []string
	// Cells holds every evaluated connection.
	Cells []Cell
	// Violations lists each isolation property that does not hold; empty
	// when tenants are isolated.
	Violations []string
}

// Verify evaluates the rendered NetworkPolicies of every tenant on modelled
// pods (each tenant's Ray head and worker and another pod; raygate and
// another pod in raygate's namespace; the KubeRay operator; a pod in an
// unrelated namespace) and checks that: no tenant's pod reaches another
// tenant's Ray ports; from outside a tenant's namespace, only raygate
// reaches the heads, only on its ports (and the KubeRay operator on its
// own); workers are reachable only from their namespace; Ray pods reach
// each other within their namespace; every tenant pod can resolve DNS.
func Verify(f *File) Report {
	c := &netpol.Cluster{Namespaces: map[string]map[string]string{}}
	for _, o := range Build(f) {
		switch x := o.(type) {
		case *networkingv1.NetworkPolicy:
			c.Policies = append(c.Policies, *x)
		case *corev1.Namespace:
			c.Namespaces[x.Name] = x.Labels
		}
	}
	ip := ipAllocator()
	var probes []Probe
	var targets []Probe
	for _, t := range f.Tenants {
		head := Probe{Endpoint: netpol.Endpoint{Name: t.Name + "/ray-head", Namespace: t.Namespace, IP: ip(),
			Labels: map[string]string{RayNodeTypeLabel: "head", "ray.io/cluster": "ray"}}, Role: "tenant", Tenant: t.Name}
		worker := Probe{Endpoint: netpol.Endpoint{Name: t.Name + "/ray-worker", Namespace: t.Namespace, IP: ip(),
			Labels: map[string]string{RayNodeTypeLabel: "worker", "ray.io/cluster": "ray"}}, Role: "tenant", Tenant: t.Name}
		other := Probe{Endpoint: netpol.Endpoint{Name: t.Name + "/other-pod", Namespace: t.Namespace, IP: ip(),
			Labels: map[string]string{"app": "notebook"}}, Role: "tenant", Tenant: t.Name}
		probes = append(probes, head, worker, other)
		targets = append(targets, head, worker)
	}
	probes = append(probes,
		Probe{Endpoint: netpol.Endpoint{Name: "raygate", Namespace: f.Raygate.Namespace, IP: ip(), Labels: f.Raygate.PodLabels}, Role: "raygate"},
		Probe{Endpoint: netpol.Endpoint{Name: f.Raygate.Namespace + "/other-pod", Namespace: f.Raygate.Namespace, IP: ip(), Labels: map[string]string{"app": "other"}}, Role: "raygate-namespace-other"},
	)
	if f.KubeRay != nil {
		probes = append(probes, Probe{Endpoint: netpol.Endpoint{Name: "kuberay-operator", Namespace: f.KubeRay.Namespace, IP: ip(), Labels: f.KubeRay.PodLabels}, Role: "kuberay"})
	}
	probes = append(probes, Probe{Endpoint: netpol.Endpoint{Name: "outsider", Namespace: outsiderNamespace(f), IP: ip(), Labels: map[string]string{"app": "any"}}, Role: "outsider"})

	r := Report{}
	for _, p := range probes {
		r.Sources = append(r.Sources, p.Name)
	}
	for _, t := range targets {
		r.Targets = append(r.Targets, t.Name)
	}
	for _, dst := range targets {
		isHead := dst.Labels[RayNodeTypeLabel] == "head"
		for _, src := range probes {
			if src.Name == dst.Name {
				continue
			}
			for _, port := range RayPorts {
				v := c.Connection(src.Endpoint, dst.Endpoint, port, corev1.ProtocolTCP)
				r.Cells = append(r.Cells, Cell{From: src.Name, To: dst.Name, Port: port, Verdict: v})
				want, why := expected(f, src, dst, isHead, port)
				if v.Allowed != want {
					verb := "can"
					if !v.Allowed {
						verb = "cannot"
					}
					r.Violations = append(r.Violations, fmt.Sprintf("%s %s reach %s:%d, but %s (%s)", src.Name, verb, dst.Name, port, why, v.Reason))
				}
			}
		}
	}
	dns := netpol.Endpoint{Name: "dns", Namespace: f.DNS.Namespace, Labels: f.DNS.PodLabels, IP: ip()}
	for _, src := range probes {
		if src.Role != "tenant" {
			continue
		}
		if v := c.Connection(src.Endpoint, dns, 53, corev1.ProtocolUDP); !v.Allowed {
			r.Violations = append(r.Violations, fmt.Sprintf("%s cannot resolve DNS (%s)", src.Name, v.Reason))
		}
	}
	return r
}

// expected says whether src should reach port of dst, and why.
func expected(f *File, src Probe, dst Probe, isHead bool, port int32) (bool, string) {
	switch {
	case src.Role == "tenant" && src.Tenant == dst.Tenant:
		return true, "Ray pods of one namespace must reach each other"
	case src.Role == "tenant":
		return false, "tenants must not reach each other's Ray ports"
	case !isHead:
		return false, "workers must be reachable only from their namespace"
	case src.Role == "raygate":
		if slices.Contains(f.Raygate.Ports, port) {
			return true, "raygate must reach the heads' ports it serves"
		}
		return false, "raygate must reach only the ports it serves"
	case src.Role == "kuberay":
		if slices.Contains(f.KubeRay.Ports, port) {
			return true, "the KubeRay operator must reach the heads' dashboard"
		}
		return false, "the KubeRay operator must reach only its ports"
	}
	return false, "only raygate may reach the heads from outside their namespace"
}

func outsiderNamespace(f *File) string {
	used := map[string]bool{f.Raygate.Namespace: true, f.DNS.Namespace: true}
	if f.KubeRay != nil {
		used[f.KubeRay.Namespace] = true
	}
	for _, t := range f.Tenants {
		used[t.Namespace] = true
	}
	name := "default"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("unrelated-%d", i)
	}
	return name
}

func ipAllocator() func() netip.Addr {
	next := netip.MustParseAddr("10.244.0.1")
	return func() netip.Addr {
		a := next
		next = next.Next()
		return a
	}
}

// WriteText prints the reachability matrix, one table per target pod, and
// the verdict.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	allowed := map[string]bool{}
	for _, c := range r.Cells {
		allowed[fmt.Sprintf("%s|%s|%d", c.From, c.To, c.Port)] = c.Allowed
	}
	width := 10
	for _, s := range r.Sources {
		width = max(width, len(s))
	}
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "to %s\n", t)
		fmt.Fprintf(&b, "  %-*s", width, "from")
		for _, p := range RayPorts {
			fmt.Fprintf(&b, " %6d", p)
		}
		b.WriteString("\n")
		for _, s := range r.Sources {
			if s == t {
				continue
			}
			fmt.Fprintf(&b, "  %-*s", width, s)
			for _, p := range RayPorts {
				mark := "-"
				if allowed[fmt.Sprintf("%s|%s|%d", s, t, p)] {
					mark = "allow"
				}
				fmt.Fprintf(&b, " %6s", mark)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(r.Violations) == 0 {
		fmt.Fprintf(&b, "isolated: no tenant reaches another tenant's Ray ports; from outside a tenant's namespace only raygate reaches its Ray heads (%d connections evaluated)\n", len(r.Cells))
	} else {
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "VIOLATION: %s\n", v)
		}
		fmt.Fprintf(&b, "not isolated: %d violations\n", len(r.Violations))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
