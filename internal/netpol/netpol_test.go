package netpol

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// policies parses NetworkPolicies written as in the Kubernetes
// documentation.
func policies(t *testing.T, docs ...string) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	for _, d := range docs {
		var p networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(d), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func pod(ns string, ip string, kv ...string) Endpoint {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	e := Endpoint{Name: ns + "/" + ip, Namespace: ns, Labels: l}
	if ip != "" {
		e.IP = netip.MustParseAddr(ip)
	}
	return e
}

func external(ip string) Endpoint { return Endpoint{Name: ip, IP: netip.MustParseAddr(ip)} }

// testNetworkPolicy is the documentation's "test-network-policy" example.
const testNetworkPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
`

func TestDocumentationExample(t *testing.T) {
	c := &Cluster{
		Namespaces: map[string]map[string]string{"myproject": {"project": "myproject"}, "other": {}},
		Policies:   policies(t, testNetworkPolicy),
	}
	db := pod("default", "10.1.0.5", "role", "db")
	const (
		dbIn  = "ingress denied: no ingress rule of the policies selecting default/10.1.0.5 matches"
		dbOut = "egress denied: no egress rule of the policies selecting default/10.1.0.5 matches"
	)
	tests := []struct {
		name   string
		src    Endpoint
		dst    Endpoint
		port   int32
		proto  corev1.Protocol
		want   bool
		reason string
	}{
		{"frontend in the same namespace", pod("default", "10.1.0.6", "role", "frontend"), db, 6379, "", true, "egress no policy selects default/10.1.0.6 for egress; ingress allowed by default/test-network-policy"},
		{"frontend on another port", pod("default", "10.1.0.6", "role", "frontend"), db, 6380, "", false, dbIn},
		{"frontend over UDP", pod("default", "10.1.0.6", "role", "frontend"), db, 6379, corev1.ProtocolUDP, false, dbIn},
		{"frontend label in another namespace", pod("other", "10.1.0.7", "role", "frontend"), db, 6379, "", false, dbIn},
		{"any pod of myproject", pod("myproject", "10.1.0.8"), db, 6379, "", true, "egress no policy selects myproject/10.1.0.8 for egress; ingress allowed by default/test-network-policy"},
		{"address in the ipBlock", external("172.17.2.3"), db, 6379, "", true, "egress source is outside the cluster; ingress allowed by default/test-network-policy"},
		{"address in the exception", external("172.17.1.3"), db, 6379, "", false, dbIn},
		{"address outside the ipBlock", external("192.168.0.1"), db, 6379, "", false, dbIn},
		{"db egress to 10.0.0.0/24:5978", db, external("10.0.0.9"), 5978, "", true, "egress allowed by default/test-network-policy; ingress destination is outside the cluster"},
		{"db egress elsewhere", db, external("10.0.1.9"), 5978, "", false, dbOut},
		{"db egress to a frontend pod", db, pod("default", "10.1.0.6", "role", "frontend"), 80, "", false, dbOut},
		{"unselected pods stay open", pod("other", "10.1.0.7"), pod("default", "10.1.0.9", "role", "web"), 80, "", true, "egress no policy selects other/10.1.0.7 for egress; ingress no policy selects default/10.1.0.9 for ingress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := c.Connection(tt.src, tt.dst, tt.port, tt.proto)
			if v.Allowed != tt.want || v.Reason != tt.reason {
				t.Errorf("allowed=%v (%s), want %v (%s)", v.Allowed, v.Reason, tt.want, tt.reason)
			}
		})
	}
}

// The documentation's default policies.
const (
	defaultDenyIngress = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: default-deny-ingress, namespace: ns}, spec: {podSelector: {}, policyTypes: [Ingress]}}`
	allowAllIngress    = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: allow-all-ingress, namespace: ns}, spec: {podSelector: {}, ingress: [{}], policyTypes: [Ingress]}}`
	defaultDenyEgress  = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: default-deny-egress, namespace: ns}, spec: {podSelector: {}, policyTypes: [Egress]}}`
	allowAllEgress     = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: allow-all-egress, namespace: ns}, spec: {podSelector: {}, egress: [{}], policyTypes: [Egress]}}`
	defaultDenyAll     = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: default-deny-all, namespace: ns}, spec: {podSelector: {}, policyTypes: [Ingress, Egress]}}`
	// andPeer is the documentation's single peer with both selectors
	// (AND); orPeers its two-peer variant (OR).
	andPeer = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: and, namespace: ns}, spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {user: alice}}, podSelector: {matchLabels: {role: client}}}]}]}}`
	orPeers = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: or, namespace: ns}, spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {user: alice}}}, {podSelector: {matchLabels: {role: client}}}]}]}}`
	// endPort is the documentation's port range example.
	endPort = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: multi-port-egress, namespace: ns}, spec: {podSelector: {matchLabels: {role: db}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/24}}], ports: [{protocol: TCP, port: 32000, endPort: 32768}]}]}}`
	// namedPort allows ingress to a port by name.
	namedPort = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: named, namespace: ns}, spec: {podSelector: {}, ingress: [{ports: [{port: dashboard}]}]}}`
	// egressOnlyRules has no policyTypes but egress rules: it affects both
	// directions.
	egressOnlyRules = `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: implicit, namespace: ns}, spec: {podSelector: {}, egress: [{ports: [{port: 53, protocol: UDP}]}]}}`
)

func TestDefaultPolicies(t *testing.T) {
	nsPod := pod("ns", "10.0.0.1", "role", "db")
	outside := pod("other", "10.0.0.2")
	ns := map[string]map[string]string{"alice": {"user": "alice"}}
	alicePod := pod("alice", "10.0.0.3")
	aliceClient := pod("alice", "10.0.0.4", "role", "client")
	localClient := pod("ns", "10.0.0.5", "role", "client")
	tests := []struct {
		name     string
		policies []string
		src, dst Endpoint
		port     int32
		proto    corev1.Protocol
		want     bool
	}{
		{"no policies: open", nil, outside, nsPod, 80, "", true},
		{"default deny ingress", []string{defaultDenyIngress}, outside, nsPod, 80, "", false},
		{"default deny ingress leaves egress open", []string{defaultDenyIngress}, nsPod, outside, 80, "", true},
		{"allow all ingress", []string{defaultDenyIngress, allowAllIngress}, outside, nsPod, 80, "", true},
		{"default deny egress", []string{defaultDenyEgress}, nsPod, outside, 80, "", false},
		{"allow all egress", []string{defaultDenyEgress, allowAllEgress}, nsPod, outside, 80, "", true},
		{"default deny all: in", []string{defaultDenyAll}, outside, nsPod, 80, "", false},
		{"default deny all: out", []string{defaultDenyAll}, nsPod, outside, 80, "", false},
		{"AND peer: client in alice", []string{andPeer}, aliceClient, nsPod, 80, "", true},
		{"AND peer: other pod in alice", []string{andPeer}, alicePod, nsPod, 80, "", false},
		{"AND peer: client in the policy's namespace", []string{andPeer}, localClient, nsPod, 80, "", false},
		{"OR peers: any pod in alice", []string{orPeers}, alicePod, nsPod, 80, "", true},
		{"OR peers: client in the policy's namespace", []string{orPeers}, localClient, nsPod, 80, "", true},
		{"OR peers: client elsewhere", []string{orPeers}, pod("other", "10.0.0.6", "role", "client"), nsPod, 80, "", false},
		{"endPort: inside the range", []string{endPort}, nsPod, external("10.0.0.9"), 32100, "", true},
		{"endPort: the end is included", []string{endPort}, nsPod, external("10.0.0.9"), 32768, "", true},
		{"endPort: past the range", []string{endPort}, nsPod, external("10.0.0.9"), 32769, "", false},
		{"named port matches by name", []string{namedPort}, outside, withPort(nsPod, "dashboard", 8265), 8265, "", true},
		{"named port: other port", []string{namedPort}, outside, withPort(nsPod, "dashboard", 8265), 8266, "", false},
		{"implicit Egress type from rules", []string{egressOnlyRules}, nsPod, outside, 53, corev1.ProtocolUDP, true},
		{"implicit Egress type denies the rest", []string{egressOnlyRules}, nsPod, outside, 80, "", false},
		{"implicit Ingress type", []string{egressOnlyRules}, outside, nsPod, 80, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Namespaces: ns, Policies: policies(t, tt.policies...)}
			if v := c.Connection(tt.src, tt.dst, tt.port, tt.proto); v.Allowed != tt.want {
				t.Errorf("allowed=%v (%s), want %v", v.Allowed, v.Reason, tt.want)
			}
		})
	}
}

func withPort(e Endpoint, name string, port int32) Endpoint {
	e.Ports = map[string]corev1.ContainerPort{name: {Name: name, ContainerPort: port}}
	return e
}
