package discovery

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/raygate/raygate/internal/config"
)

const clusterUID = types.UID("11111111-1111-1111-1111-111111111111")

func rayCluster(ns, name string, edit ...func(u *unstructured.Unstructured)) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": string(clusterUID)},
		"spec":     map[string]any{"headGroupSpec": map[string]any{"rayStartParams": map[string]any{}}},
	}}
	for _, e := range edit {
		e(u)
	}
	return u
}

func clusterRef(name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "ray.io/v1", Kind: "RayCluster", Name: name, UID: uid, Controller: ptr.To(true)}
}

func headService(ns, cluster string, edit ...func(s *corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: cluster + "-head-svc", Namespace: ns, UID: "svc-uid",
			Labels:          map[string]string{LabelCluster: cluster, LabelNodeType: "head"},
			OwnerReferences: []metav1.OwnerReference{clusterRef(cluster, clusterUID)},
		},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.17",
			Selector: map[string]string{LabelCluster: cluster, LabelNodeType: "head", "ray.io/identifier": cluster + "-head"},
			Ports: []corev1.ServicePort{
				{Name: "client", Port: 10001}, {Name: DashboardPortName, Port: 8265}, {Name: "gcs-server", Port: 6379},
			},
		},
	}
	for _, e := range edit {
		e(s)
	}
	return s
}

func slice(ns, svc string, addr string, ready bool) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc + "-abcde", Namespace: ns, Labels: map[string]string{LabelServiceName: svc, LabelNodeType: "head"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc, UID: "svc-uid", Controller: ptr.To(true)}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(DashboardPortName), Port: ptr.To(int32(8265))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}},
	}
}

func tokenSecret(ns, cluster, token string, owned bool) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: ns, Labels: map[string]string{LabelCluster: cluster}},
		Data:       map[string][]byte{TokenKey: []byte(token)},
	}
	if owned {
		s.OwnerReferences = []metav1.OwnerReference{clusterRef(cluster, clusterUID)}
	}
	return s
}

func tokenMode(extra map[string]any) func(u *unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		a := map[string]any{"mode": "token"}
		for k, v := range extra {
			a[k] = v
		}
		_ = unstructured.SetNestedField(u.Object, a, "spec", "authOptions")
	}
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in           Inputs
		wantUpstream string
		wantToken    string
		wantOwner    string
		wantPending  string
	}{
		{name: "cluster IP", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")}, Services: []*corev1.Service{headService("team-a", "ray1")}},
			wantUpstream: "http://10.96.0.17:8265"},
		{name: "no head Service", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")}},
			wantPending: "no head Service yet"},
		{name: "Service of a former cluster of that name", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1", func(s *corev1.Service) { s.OwnerReferences = []metav1.OwnerReference{clusterRef("ray1", "other-uid")} })}},
			wantPending: "no head Service yet"},
		{name: "Service without owner", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1", func(s *corev1.Service) { s.OwnerReferences = nil })}},
			wantPending: "no head Service yet"},
		{name: "selector-less Service", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1", func(s *corev1.Service) { s.Spec.Selector = nil })}},
			wantPending: "no head Service yet"},
		{name: "ExternalName Service", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1", func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ClusterIP, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "", "ray.team-b.svc.cluster.local"
			})}},
			wantPending: "no head Service yet"},
		{name: "Service in another namespace", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-b", "ray1")}},
			wantPending: "no head Service yet"},
		{name: "two head Services", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1"), headService("team-a", "ray1", func(s *corev1.Service) { s.Name = "copy" })}},
			wantPending: "2 Services claim to be the head Service"},
		{name: "headless Service", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1", func(s *corev1.Service) { s.Spec.ClusterIP = "None" })}},
			wantPending: "the head Service has no cluster IP"},
		{name: "no dashboard port", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1", func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:1] })}},
			wantPending: "the head Service has no port named dashboard"},
		{name: "annotations and status never steer", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{"raygate.dev/upstream": "http://10.0.0.1:8265"})
			_ = unstructured.SetNestedField(u.Object, map[string]any{"head": map[string]any{"serviceIP": "10.0.0.1", "podIP": "10.0.0.2"}}, "status")
			_ = unstructured.SetNestedField(u.Object, map[string]any{"metadata": map[string]any{"name": "evil"}, "spec": map[string]any{"clusterIP": "10.0.0.1"}}, "spec", "headGroupSpec", "headService")
		})}, Services: []*corev1.Service{headService("team-a", "ray1")}},
			wantUpstream: "http://10.96.0.17:8265"},
		{name: "endpoint slices", in: Inputs{UpstreamFrom: config.UpstreamFromEndpointSlices, RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services:       []*corev1.Service{headService("team-a", "ray1")},
			EndpointSlices: []*discoveryv1.EndpointSlice{slice("team-a", "ray1-head-svc", "10.250.80.2", true), slice("team-a", "ray1-head-svc", "10.250.80.1", false)}},
			wantUpstream: "http://10.250.80.2:8265"},
		{name: "no ready endpoint", in: Inputs{UpstreamFrom: config.UpstreamFromEndpointSlices, RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1")}, EndpointSlices: []*discoveryv1.EndpointSlice{slice("team-a", "ray1-head-svc", "10.250.80.2", false)}},
			wantPending: "the head Service has no ready endpoint"},
		{name: "slice not owned by the Service", in: Inputs{UpstreamFrom: config.UpstreamFromEndpointSlices, RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1")}, EndpointSlices: []*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
				s := slice("team-a", "ray1-head-svc", "10.250.80.2", true)
				s.OwnerReferences = nil
				return s
			}()}},
			wantPending: "the head Service has no ready endpoint"},
		{name: "link-local endpoint", in: Inputs{UpstreamFrom: config.UpstreamFromEndpointSlices, RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1")}, EndpointSlices: []*discoveryv1.EndpointSlice{slice("team-a", "ray1-head-svc", "169.254.169.254", true)}},
			wantPending: "the head Service has no ready endpoint"},
		{name: "FQDN slice", in: Inputs{UpstreamFrom: config.UpstreamFromEndpointSlices, RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1")},
			Services: []*corev1.Service{headService("team-a", "ray1")}, EndpointSlices: []*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
				s := slice("team-a", "ray1-head-svc", "evil.example.com", true)
				s.AddressType = discoveryv1.AddressTypeFQDN
				return s
			}()}},
			wantPending: "the head Service has no ready endpoint"},
		{name: "token from KubeRay's Secret", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(nil))},
			Services: []*corev1.Service{headService("team-a", "ray1")}, Secrets: []*corev1.Secret{tokenSecret("team-a", "ray1", "s3cr3t\n", true)}},
			wantUpstream: "http://10.96.0.17:8265", wantToken: "s3cr3t"},
		{name: "token Secret missing", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(nil))},
			Services: []*corev1.Service{headService("team-a", "ray1")}},
			wantPending: `no Ray token Secret "ray1" labelled ray.io/cluster=ray1 yet`},
		{name: "token Secret not controlled by the cluster", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(nil))},
			Services: []*corev1.Service{headService("team-a", "ray1")}, Secrets: []*corev1.Secret{tokenSecret("team-a", "ray1", "s3cr3t", false)}},
			wantPending: `the Ray token Secret "ray1" is not controlled by this RayCluster`},
		{name: "user's own Secret", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(map[string]any{"secretName": "mine"}))},
			Services: []*corev1.Service{headService("team-a", "ray1")}, Secrets: []*corev1.Secret{func() *corev1.Secret {
				s := tokenSecret("team-a", "ray1", "own-token", false)
				s.Name = "mine"
				return s
			}()}},
			wantUpstream: "http://10.96.0.17:8265", wantToken: "own-token"},
		{name: "user's Secret without the label", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(map[string]any{"secretName": "mine"}))},
			Services: []*corev1.Service{headService("team-a", "ray1")}, Secrets: []*corev1.Secret{func() *corev1.Secret {
				s := tokenSecret("team-a", "other", "own-token", false)
				s.Name = "mine"
				return s
			}()}},
			wantPending: `no Ray token Secret "mine" labelled ray.io/cluster=ray1 yet`},
		{name: "empty token", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(nil))},
			Services: []*corev1.Service{headService("team-a", "ray1")}, Secrets: []*corev1.Secret{tokenSecret("team-a", "ray1", " ", true)}},
			wantPending: `the Ray token Secret "ray1": key auth_token is missing or empty`},
		{name: "auth disabled", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "disabled", "spec", "authOptions", "mode")
		})}, Services: []*corev1.Service{headService("team-a", "ray1")}},
			wantUpstream: "http://10.96.0.17:8265"},
		{name: "owned by a RayJob", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", func(u *unstructured.Unstructured) {
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "ray.io/v1", Kind: "RayJob", Name: "train", UID: "j", Controller: ptr.To(true)}})
		})}, Services: []*corev1.Service{headService("team-a", "ray1")}},
			wantUpstream: "http://10.96.0.17:8265", wantOwner: "RayJob/train"},
		{name: "being deleted", in: Inputs{RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", func(u *unstructured.Unstructured) {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
		})}, Services: []*corev1.Service{headService("team-a", "ray1")}},
			wantPending: "being deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Build(tc.in)
			c := d.Clusters["team-a/ray1"]
			if tc.wantPending != "" {
				if c != nil || d.Pending["team-a/ray1"] != tc.wantPending {
					t.Fatalf("cluster %+v, pending %q; want pending %q", c, d.Pending["team-a/ray1"], tc.wantPending)
				}
				return
			}
			if c == nil {
				t.Fatalf("not served: %q", d.Pending["team-a/ray1"])
			}
			if c.Upstream.String() != tc.wantUpstream || c.Token != tc.wantToken || c.Owner != tc.wantOwner || c.Key != "team-a/ray1" {
				t.Fatalf("cluster = upstream %s token %q owner %q key %q", c.Upstream, c.Token, c.Owner, c.Key)
			}
		})
	}
}

func TestBuildScope(t *testing.T) {
	d := Build(Inputs{
		RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1"), rayCluster("other", "ray1")},
		Services:    []*corev1.Service{headService("team-a", "ray1"), headService("other", "ray1")},
		InScope:     func(ns string) bool { return ns == "team-a" },
	})
	if d.Clusters["other/ray1"] != nil || d.Pending["other/ray1"] != "" || d.Clusters["team-a/ray1"] == nil {
		t.Fatalf("scope not applied: %v %v", d.Clusters, d.Pending)
	}
}

func TestBuildK8sTokenAuth(t *testing.T) {
	d := Build(Inputs{
		RayClusters: []*unstructured.Unstructured{rayCluster("team-a", "ray1", tokenMode(map[string]any{"enableK8sTokenAuth": true}))},
		Services:    []*corev1.Service{headService("team-a", "ray1")},
	})
	c := d.Clusters["team-a/ray1"]
	if c == nil || c.Token != "" || !c.RayChecksKubernetesTokens {
		t.Fatalf("cluster = %+v", c)
	}
}

func TestTokenSecretName(t *testing.T) {
	for in, want := range map[string]string{
		"ray1":                                 "ray1",
		"1ray":                                 "rray",
		strings.Repeat("a", 60):                strings.Repeat("a", 50),
		"aa1" + strings.Repeat("b", 47) + "-c": "r" + strings.Repeat("b", 47) + "-c",
	} {
		if got := tokenSecretName(in); got != want {
			t.Errorf("tokenSecretName(%q) = %q, want %q", in, got, want)
		}
	}
}

var tokenCases = []struct {
	in   string
	want string
	ok   bool
}{
	{"abc", "abc", true},
	{"  abc\n", "abc", true},
	{"a+b/c=", "a+b/c=", true},
	{"", "", false},
	{"a b", "", false},
	{"a\nb", "", false},
	{"caf\xc3\xa9", "", false},
	{strings.Repeat("a", MaxTokenLength+1), "", false},
}

func TestParseToken(t *testing.T) {
	for _, tc := range tokenCases {
		got, err := ParseToken([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseToken(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// FuzzParseToken checks that an accepted token is safe in a header value:
// visible ASCII only, bounded.
func FuzzParseToken(f *testing.F) {
	for _, tc := range tokenCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseToken(b)
		if err != nil {
			return
		}
		if tok == "" || len(tok) > MaxTokenLength {
			t.Fatalf("accepted %q", tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] >= 0x7f {
				t.Fatalf("accepted %q with byte %#x", tok, tok[i])
			}
		}
	})
}

// FuzzBuildRayCluster feeds arbitrary RayCluster JSON (what a tenant
// controls) next to a fixed head Service: whatever the object says, the
// cluster is served at the Service's address or not at all, and a token is
// only ever the Secret's.
func FuzzBuildRayCluster(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"ray1","namespace":"team-a","uid":"11111111-1111-1111-1111-111111111111"},"spec":{}}`))
	f.Add([]byte(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"ray1","namespace":"team-a","uid":"11111111-1111-1111-1111-111111111111","annotations":{"upstream":"http://10.0.0.1"}},"spec":{"authOptions":{"mode":"token","secretName":"ray1"}},"status":{"head":{"serviceIP":"10.0.0.1"}}}`))
	f.Add([]byte(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"ray1","namespace":"team-a","uid":"11111111-1111-1111-1111-111111111111"},"spec":{"authOptions":{"mode":"token","enableK8sTokenAuth":true},"headGroupSpec":{"headService":{"spec":{"clusterIP":"10.0.0.1","type":"ExternalName"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return
		}
		d := Build(Inputs{
			RayClusters: []*unstructured.Unstructured{u},
			Services:    []*corev1.Service{headService("team-a", "ray1")},
			Secrets:     []*corev1.Secret{tokenSecret("team-a", "ray1", "the-token", true)},
		})
		for k, c := range d.Clusters {
			if k != "team-a/ray1" || c.Upstream.String() != "http://10.96.0.17:8265" {
				t.Fatalf("%s served at %s", k, c.Upstream)
			}
			if c.Token != "" && c.Token != "the-token" {
				t.Fatalf("token %q", c.Token)
			}
		}
	})
}
