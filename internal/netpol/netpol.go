// Package netpol evaluates Kubernetes NetworkPolicies (networking.k8s.io/v1)
// the way the API documents them: for a connection from one endpoint to a
// pod port it says whether the source's egress policies and the
// destination's ingress policies both allow it, and which policy did.
//
// Endpoints are pods (namespace, labels, IP, named ports) or addresses
// outside the cluster. A pod no policy selects for a direction is open in
// that direction; once one policy selects it, only what some selecting
// policy's rules allow gets through. Peers combine podSelector and
// namespaceSelector with AND inside one peer and OR across peers; ipBlock
// matches addresses in its CIDR and outside its exceptions; ports match by
// protocol (TCP when unset), number, name or endPort range.
package netpol

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Endpoint is one side of a connection: a pod (Namespace set) or an
// address outside the cluster (only IP set).
type Endpoint struct {
	// Name identifies the endpoint in reports.
	Name string
	// Namespace is the pod's namespace; "" for an address outside the
	// cluster.
	Namespace string
	// Labels are the pod's labels.
	Labels map[string]string
	// IP is the endpoint's address, matched by ipBlock peers. Optional for
	// pods.
	IP netip.Addr
	// Ports maps the pod's named container ports to their numbers and
	// protocols, for policies that name a port.
	Ports map[string]corev1.ContainerPort
}

// IsPod reports whether the endpoint is a pod.
func (e Endpoint) IsPod() bool { return e.Namespace != "" }

// Cluster is the state policies are evaluated against.
type Cluster struct {
	// Namespaces maps namespace names to their labels. A namespace missing
	// here has only the kubernetes.io/metadata.name label.
	Namespaces map[string]map[string]string
	// Policies are all NetworkPolicies, in any namespace.
	Policies []networkingv1.NetworkPolicy
}

// Verdict is the outcome for one connection.
type Verdict struct {
	// Allowed is true when both the source's egress and the destination's
	// ingress allow the connection.
	Allowed bool
	// Reason names the deciding policies or says that nothing selects the
	// endpoint.
	Reason string
}

// Connection evaluates a connection from src to port/proto of dst.
func (c *Cluster) Connection(src, dst Endpoint, port int32, proto corev1.Protocol) Verdict {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	eg, egWhy := true, "source is outside the cluster"
	if src.IsPod() {
		eg, egWhy = c.Egress(src, dst, port, proto)
	}
	in, inWhy := true, "destination is outside the cluster"
	if dst.IsPod() {
		in, inWhy = c.Ingress(dst, src, port, proto)
	}
	switch {
	case !eg:
		return Verdict{Allowed: false, Reason: "egress denied: " + egWhy}
	case !in:
		return Verdict{Allowed: false, Reason: "ingress denied: " + inWhy}
	}
	return Verdict{Allowed: true, Reason: fmt.Sprintf("egress %s; ingress %s", egWhy, inWhy)}
}

// Ingress reports whether the policies selecting dst let src connect to
// port/proto, and why.
func (c *Cluster) Ingress(dst, src Endpoint, port int32, proto corev1.Protocol) (bool, string) {
	return c.direction(networkingv1.PolicyTypeIngress, dst, src, dst, port, proto, func(p *networkingv1.NetworkPolicy) []rule {
		rs := make([]rule, len(p.Spec.Ingress))
		for i, r := range p.Spec.Ingress {
			rs[i] = rule{peers: r.From, ports: r.Ports}
		}
		return rs
	})
}

// Egress reports whether the policies selecting src let it connect to
// port/proto of dst, and why.
func (c *Cluster) Egress(src, dst Endpoint, port int32, proto corev1.Protocol) (bool, string) {
	return c.direction(networkingv1.PolicyTypeEgress, src, dst, dst, port, proto, func(p *networkingv1.NetworkPolicy) []rule {
		rs := make([]rule, len(p.Spec.Egress))
		for i, r := range p.Spec.Egress {
			rs[i] = rule{peers: r.To, ports: r.Ports}
		}
		return rs
	})
}

// rule is an ingress or egress rule: the peers on the other side and the
// ports of the destination.
type rule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

// direction evaluates one direction: the policies of type typ that select
// self decide whether peer may be reached (ingress) or reach (egress), on
// port/proto of dst.
func (c *Cluster) direction(typ networkingv1.PolicyType, self, peer, dst Endpoint, port int32, proto corev1.Protocol, rules func(*networkingv1.NetworkPolicy) []rule) (bool, string) {
	dir := strings.ToLower(string(typ))
	selected := false
	for i := range c.Policies {
		p := &c.Policies[i]
		if !affects(p, typ) || !c.selects(p, self) {
			continue
		}
		selected = true
		for _, r := range rules(p) {
			if c.peersMatch(p.Namespace, r.peers, peer) && portsMatch(r.ports, dst, port, proto) {
				return true, "allowed by " + p.Namespace + "/" + p.Name
			}
		}
	}
	if !selected {
		return true, "no policy selects " + self.Name + " for " + dir
	}
	return false, "no " + dir + " rule of the policies selecting " + self.Name + " matches"
}

// affects reports whether p applies to direction t: as listed in
// policyTypes, or, when that is empty, Ingress always and Egress when the
// policy has egress rules.
func affects(p *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, pt := range p.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

// selects reports whether p's podSelector selects pod e of p's namespace.
func (c *Cluster) selects(p *networkingv1.NetworkPolicy, e Endpoint) bool {
	return e.IsPod() && e.Namespace == p.Namespace && matches(&p.Spec.PodSelector, e.Labels)
}

// peersMatch reports whether any peer matches e; no peers match everything.
func (c *Cluster) peersMatch(policyNS string, peers []networkingv1.NetworkPolicyPeer, e Endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if c.peerMatches(policyNS, peer, e) {
			return true
		}
	}
	return false
}

func (c *Cluster) peerMatches(policyNS string, peer networkingv1.NetworkPolicyPeer, e Endpoint) bool {
	if peer.IPBlock != nil {
		return ipBlockMatches(peer.IPBlock, e.IP)
	}
	if !e.IsPod() || (peer.PodSelector == nil && peer.NamespaceSelector == nil) {
		return false
	}
	if peer.NamespaceSelector != nil {
		if !matches(peer.NamespaceSelector, c.namespaceLabels(e.Namespace)) {
			return false
		}
	} else if e.Namespace != policyNS {
		return false
	}
	return peer.PodSelector == nil || matches(peer.PodSelector, e.Labels)
}

func (c *Cluster) namespaceLabels(ns string) map[string]string {
	out := map[string]string{}
	for k, v := range c.Namespaces[ns] {
		out[k] = v
	}
	out["kubernetes.io/metadata.name"] = ns
	return out
}

// matches evaluates a label selector; an invalid selector matches nothing,
// as the API server would have refused it.
func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(l))
}

func ipBlockMatches(b *networkingv1.IPBlock, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !cidr.Contains(ip) {
		return false
	}
	for _, ex := range b.Except {
		if e, err := netip.ParsePrefix(ex); err == nil && e.Contains(ip) {
			return false
		}
	}
	return true
}

// portsMatch reports whether port/proto of dst is listed; no ports match
// every port.
func portsMatch(ports []networkingv1.NetworkPolicyPort, dst Endpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			if cp, ok := dst.Ports[p.Port.StrVal]; ok && cp.ContainerPort == port && protocolOf(cp) == proto {
				return true
			}
			continue
		}
		lo := p.Port.IntVal
		hi := lo
		if p.EndPort != nil && *p.EndPort >= lo {
			hi = *p.EndPort
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

func protocolOf(cp corev1.ContainerPort) corev1.Protocol {
	if cp.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return cp.Protocol
}
