package netpoldiff

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/raygate/raygate/internal/netpol"
)

var (
	worlds = flag.Int("worlds", 400, "generated clusters to compare")
	seed   = flag.Uint64("seed", 1, "seed of the generator")
)

// TestAgreesWithCyclonus generates clusters (namespaces with labels, pods
// with labels, IPs and named ports, addresses outside the cluster, and
// NetworkPolicies using every part of the API) and requires raygate's
// evaluator and cyclonus' matcher to give the same ingress, egress and
// overall verdict for every connection between them, on every port and
// protocol tried.
func TestAgreesWithCyclonus(t *testing.T) {
	var total, allowed, disagreements int
	var denied [2]int // by ingress, by egress
	for i := 0; i < *worlds && disagreements < 3; i++ {
		r := rand.New(rand.NewPCG(*seed, uint64(i)))
		w := generate(r)
		n, a, d, diffs := compare(w)
		total += n
		allowed += a
		denied[0] += d[0]
		denied[1] += d[1]
		for _, d := range diffs {
			disagreements++
			t.Errorf("world %d (seed %d): %s\npolicies:\n%s", i, *seed, d, w.policiesYAML())
			if disagreements >= 3 {
				break
			}
		}
	}
	t.Logf("%d worlds, %d connections compared: %d allowed, %d denied by ingress, %d by egress", *worlds, total, allowed, denied[0], denied[1])
	// The corpus must exercise both outcomes in both directions, or
	// agreement proves little.
	if allowed < total/10 || allowed > total*9/10 || denied[0] < total/20 || denied[1] < total/20 {
		t.Fatalf("the generated corpus is lopsided")
	}
}

// world is one generated cluster.
type world struct {
	namespaces map[string]map[string]string // labels, without kubernetes.io/metadata.name
	pods       []netpol.Endpoint
	externals  []netpol.Endpoint
	policies   []networkingv1.NetworkPolicy // as a user writes them: policyTypes may be empty
}

var (
	nsNames     = []string{"a", "b", "c"}
	nsLabelVals = map[string][]string{"team": {"x", "y"}, "env": {"prod", "dev"}}
	podLabels   = map[string][]string{"app": {"web", "db", "api"}, "tier": {"front", "back"}}
	namedPorts  = []corev1.ContainerPort{
		{Name: "http", ContainerPort: 80},
		{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
		{Name: "redis", ContainerPort: 6379},
		{Name: "sctp", ContainerPort: 443, Protocol: corev1.ProtocolSCTP},
	}
	portNumbers = []int32{53, 80, 443, 6379, 8080, 9090, 1500}
	protocols   = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	cidrs       = []string{"10.0.0.0/16", "10.0.1.0/24", "0.0.0.0/0", "192.168.0.0/16", "10.0.1.0/30", "8.8.8.8/32"}
	excepts     = []string{"10.0.1.0/24", "10.0.1.0/31", "10.0.2.0/24", "192.168.3.0/24", "10.0.0.0/8", "10.0.1.2/32", "8.8.8.8/32"}
)

func generate(r *rand.Rand) *world {
	w := &world{namespaces: map[string]map[string]string{}}
	for i, ns := range nsNames {
		w.namespaces[ns] = randomLabels(r, nsLabelVals)
		for j := 0; j < 2+r.IntN(2); j++ {
			p := netpol.Endpoint{
				Name:      fmt.Sprintf("%s/pod%d", ns, j),
				Namespace: ns,
				Labels:    randomLabels(r, podLabels),
				IP:        netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j + 1)}),
				Ports:     map[string]corev1.ContainerPort{},
			}
			for _, cp := range namedPorts {
				if r.IntN(2) == 0 {
					p.Ports[cp.Name] = cp
				}
			}
			w.pods = append(w.pods, p)
		}
	}
	for _, ip := range []string{"10.0.1.200", "192.168.3.4", "8.8.8.8"} {
		w.externals = append(w.externals, netpol.Endpoint{Name: ip, IP: netip.MustParseAddr(ip)})
	}
	for i := 0; i < 1+r.IntN(4); i++ {
		w.policies = append(w.policies, randomPolicy(r, fmt.Sprintf("p%d", i)))
	}
	if usesNotIn(w.policies) {
		// cyclonus reads "key NotIn (v)" as false for an object without
		// the key; Kubernetes (labels.Requirement.Matches, and the labels
		// documentation: "all resources without a label with the
		// environment key") reads it as true, and so does raygate. Where a
		// policy uses NotIn, every object carries every key, so the two
		// readings cannot differ.
		for _, ns := range nsNames {
			fillLabels(r, w.namespaces[ns], nsLabelVals)
		}
		for _, p := range w.pods {
			fillLabels(r, p.Labels, podLabels)
		}
	}
	return w
}

func fillLabels(r *rand.Rand, l map[string]string, vocab map[string][]string) {
	for _, k := range sortedKeys(vocab) {
		if _, ok := l[k]; !ok {
			l[k] = vocab[k][r.IntN(len(vocab[k]))]
		}
	}
}

func usesNotIn(ps []networkingv1.NetworkPolicy) bool {
	var sels []*metav1.LabelSelector
	peers := func(ps []networkingv1.NetworkPolicyPeer) {
		for _, p := range ps {
			sels = append(sels, p.PodSelector, p.NamespaceSelector)
		}
	}
	for i := range ps {
		sels = append(sels, &ps[i].Spec.PodSelector)
		for _, r := range ps[i].Spec.Ingress {
			peers(r.From)
		}
		for _, r := range ps[i].Spec.Egress {
			peers(r.To)
		}
	}
	for _, s := range sels {
		if s == nil {
			continue
		}
		for _, e := range s.MatchExpressions {
			if e.Operator == metav1.LabelSelectorOpNotIn {
				return true
			}
		}
	}
	return false
}

func randomLabels(r *rand.Rand, vocab map[string][]string) map[string]string {
	out := map[string]string{}
	for _, k := range sortedKeys(vocab) {
		if r.IntN(3) != 0 {
			vs := vocab[k]
			out[k] = vs[r.IntN(len(vs))]
		}
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// randomSelector returns an empty selector, matchLabels, matchExpressions
// (In, NotIn, Exists, DoesNotExist) or both, over vocab.
func randomSelector(r *rand.Rand, vocab map[string][]string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	keys := sortedKeys(vocab)
	switch r.IntN(4) {
	case 0:
		return s
	case 1, 3:
		s.MatchLabels = map[string]string{}
		for n := 1 + r.IntN(2); n > 0; n-- {
			k := keys[r.IntN(len(keys))]
			s.MatchLabels[k] = vocab[k][r.IntN(len(vocab[k]))]
		}
	}
	if len(s.MatchLabels) == 0 || r.IntN(2) == 0 {
		for n := 1 + r.IntN(2); n > 0; n-- {
			k := keys[r.IntN(len(keys))]
			e := metav1.LabelSelectorRequirement{Key: k}
			switch r.IntN(4) {
			case 0:
				e.Operator = metav1.LabelSelectorOpIn
			case 1:
				e.Operator = metav1.LabelSelectorOpNotIn
			case 2:
				e.Operator = metav1.LabelSelectorOpExists
			default:
				e.Operator = metav1.LabelSelectorOpDoesNotExist
			}
			if e.Operator == metav1.LabelSelectorOpIn || e.Operator == metav1.LabelSelectorOpNotIn {
				vs := vocab[k]
				e.Values = []string{vs[r.IntN(len(vs))]}
				if r.IntN(2) == 0 {
					e.Values = append(e.Values, vs[r.IntN(len(vs))])
				}
			}
			s.MatchExpressions = append(s.MatchExpressions, e)
		}
	}
	return s
}

// nsSelectorVocab adds the label every namespace carries.
var nsSelectorVocab = map[string][]string{"team": {"x", "y"}, "env": {"prod", "dev"}, "kubernetes.io/metadata.name": nsNames}

func randomPeer(r *rand.Rand) networkingv1.NetworkPolicyPeer {
	if r.IntN(4) == 0 {
		b := &networkingv1.IPBlock{CIDR: cidrs[r.IntN(len(cidrs))]}
		outer := netip.MustParsePrefix(b.CIDR)
		for _, e := range excepts {
			p := netip.MustParsePrefix(e)
			// The API server requires each except to be a strict subset.
			if p.Bits() > outer.Bits() && outer.Contains(p.Addr()) && r.IntN(2) == 0 {
				b.Except = append(b.Except, e)
			}
		}
		return networkingv1.NetworkPolicyPeer{IPBlock: b}
	}
	var p networkingv1.NetworkPolicyPeer
	if r.IntN(3) != 0 {
		p.PodSelector = randomSelector(r, podLabels)
	}
	if r.IntN(2) == 0 {
		p.NamespaceSelector = randomSelector(r, nsSelectorVocab)
	}
	if p.PodSelector == nil && p.NamespaceSelector == nil {
		p.PodSelector = &metav1.LabelSelector{}
	}
	return p
}

func randomPort(r *rand.Rand) networkingv1.NetworkPolicyPort {
	var p networkingv1.NetworkPolicyPort
	if n := r.IntN(4); n > 0 {
		proto := protocols[n-1]
		p.Protocol = &proto
	}
	switch r.IntN(5) {
	case 0: // every port of the protocol
	case 1, 2:
		names := []string{"http", "dns", "metrics", "redis", "sctp", "nope"}
		v := intstr.FromString(names[r.IntN(len(names))])
		p.Port = &v
	default:
		v := intstr.FromInt32(portNumbers[r.IntN(len(portNumbers))])
		p.Port = &v
		if r.IntN(3) == 0 {
			end := v.IntVal + int32(r.IntN(2000))
			p.EndPort = &end
		}
	}
	return p
}

func randomPolicy(r *rand.Rand, name string) networkingv1.NetworkPolicy {
	p := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nsNames[r.IntN(len(nsNames))]}}
	p.Spec.PodSelector = *randomSelector(r, podLabels)
	switch r.IntN(4) {
	case 1:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case 2:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	case 3:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	}
	peers := func() []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for n := r.IntN(3); n > 0; n-- {
			out = append(out, randomPeer(r))
		}
		return out
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for n := r.IntN(3); n > 0; n-- {
			out = append(out, randomPort(r))
		}
		return out
	}
	for n := r.IntN(3); n > 0; n-- {
		p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers(), Ports: ports()})
	}
	for n := r.IntN(3); n > 0; n-- {
		p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers(), Ports: ports()})
	}
	return p
}

// defaulted is p as the API server stores it. The NetworkPolicySpec
// documentation: "If this field is not specified, it will default based on
// the existence of ingress or egress rules; policies that contain an egress
// section are assumed to affect egress, and all policies (whether or not
// they contain an ingress section) are assumed to affect ingress."
func defaulted(p networkingv1.NetworkPolicy) *networkingv1.NetworkPolicy {
	out := p.DeepCopy()
	if len(out.Spec.PolicyTypes) == 0 {
		out.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(out.Spec.Egress) > 0 {
			out.Spec.PolicyTypes = append(out.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	return out
}

// compare evaluates every connection of w with both evaluators. It
// returns the number of connections, how many raygate allowed, how many it
// denied by ingress and by egress, and a description of each disagreement.
func compare(w *world) (n, allowed int, denied [2]int, diffs []string) {
	rg := &netpol.Cluster{Namespaces: w.namespaces, Policies: w.policies}
	var stored []*networkingv1.NetworkPolicy
	for _, p := range w.policies {
		stored = append(stored, defaulted(p))
	}
	cy := matcher.BuildNetworkPolicies(false, stored)

	endpoints := append(append([]netpol.Endpoint{}, w.pods...), w.externals...)
	for _, src := range endpoints {
		for _, dst := range endpoints {
			if !src.IsPod() && !dst.IsPod() {
				continue
			}
			for _, port := range portNumbers {
				for _, proto := range protocols {
					n++
					v := rg.Connection(src, dst, port, proto)
					if v.Allowed {
						allowed++
					}
					res := cy.IsTrafficAllowed(&matcher.Traffic{
						Source: w.peer(src), Destination: w.peer(dst),
						ResolvedPort: int(port), ResolvedPortName: portName(dst, port, proto), Protocol: proto,
					})
					in, eg := true, true
					if dst.IsPod() {
						in, _ = rg.Ingress(dst, src, port, proto)
					}
					if src.IsPod() {
						eg, _ = rg.Egress(src, dst, port, proto)
					}
					if !in {
						denied[0]++
					}
					if !eg {
						denied[1]++
					}
					if v.Allowed != res.IsAllowed() || in != res.Ingress.IsAllowed() || eg != res.Egress.IsAllowed() {
						diffs = append(diffs, fmt.Sprintf("%s -> %s %d/%s: raygate allowed=%v (ingress %v, egress %v: %s), cyclonus allowed=%v (ingress %v, egress %v)\n%s -> %s",
							src.Name, dst.Name, port, proto, v.Allowed, in, eg, v.Reason,
							res.IsAllowed(), res.Ingress.IsAllowed(), res.Egress.IsAllowed(), describe(w, src), describe(w, dst)))
					}
				}
			}
		}
	}
	return n, allowed, denied, diffs
}

// peer is e as cyclonus sees traffic: namespace labels include the
// kubernetes.io/metadata.name label the API server sets.
func (w *world) peer(e netpol.Endpoint) *matcher.TrafficPeer {
	tp := &matcher.TrafficPeer{IP: e.IP.String()}
	if e.IsPod() {
		ns := map[string]string{"kubernetes.io/metadata.name": e.Namespace}
		for k, v := range w.namespaces[e.Namespace] {
			ns[k] = v
		}
		tp.Internal = &matcher.InternalPeer{PodLabels: e.Labels, NamespaceLabels: ns, Namespace: e.Namespace}
	}
	return tp
}

// portName is the name dst gives port/proto, "" if none.
func portName(dst netpol.Endpoint, port int32, proto corev1.Protocol) string {
	for name, cp := range dst.Ports {
		p := cp.Protocol
		if p == "" {
			p = corev1.ProtocolTCP
		}
		if cp.ContainerPort == port && p == proto {
			return name
		}
	}
	return ""
}

func describe(w *world, e netpol.Endpoint) string {
	if !e.IsPod() {
		return e.IP.String()
	}
	var ports []string
	for name, cp := range e.Ports {
		ports = append(ports, fmt.Sprintf("%s=%d/%s", name, cp.ContainerPort, cp.Protocol))
	}
	return fmt.Sprintf("{ns %s %v, labels %v, ip %s, ports %s}", e.Namespace, w.namespaces[e.Namespace], e.Labels, e.IP, strings.Join(ports, ","))
}

func (w *world) policiesYAML() string {
	var b strings.Builder
	for _, p := range w.policies {
		y, _ := yaml.Marshal(p)
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String()
}
