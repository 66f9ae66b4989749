package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/route"
)

// Inputs are the objects one discovered set is built from, as the
// informers hold them.
type Inputs struct {
	// RayClusters are the RayCluster objects.
	RayClusters []*unstructured.Unstructured
	// Services are the head Services (labelled ray.io/node-type=head).
	Services []*corev1.Service
	// EndpointSlices are the head Services' slices; read only when
	// UpstreamFrom is endpointSlices.
	EndpointSlices []*discoveryv1.EndpointSlice
	// Secrets are the Secrets labelled ray.io/cluster.
	Secrets []*corev1.Secret
	// UpstreamFrom is config.UpstreamFromService or
	// config.UpstreamFromEndpointSlices.
	UpstreamFrom string
	// InScope reports whether a namespace is selected; nil selects all.
	InScope func(namespace string) bool
}

// Build turns the objects into a discovered set: every RayCluster in
// scope whose head Service (and, in token mode, token Secret) raygate can
// resolve is a cluster; the others are pending, with why. It is a pure
// function of its inputs.
func Build(in Inputs) *route.Discovered {
	ix := index(in)
	out := &route.Discovered{Clusters: map[string]*route.Cluster{}, Pending: map[string]string{}}
	for _, u := range in.RayClusters {
		ns, name := u.GetNamespace(), u.GetName()
		if in.InScope != nil && !in.InScope(ns) {
			continue
		}
		key := ns + "/" + name
		c, why := ix.resolve(u)
		if c == nil {
			out.Pending[key] = why
			continue
		}
		out.Clusters[key] = c
	}
	return out
}

type indexes struct {
	upstreamFrom string
	services     map[string][]*corev1.Service // by namespace/cluster label
	slices       map[string][]*discoveryv1.EndpointSlice
	secrets      map[string]*corev1.Secret // by namespace/name
}

func index(in Inputs) *indexes {
	ix := &indexes{upstreamFrom: in.UpstreamFrom, services: map[string][]*corev1.Service{},
		slices: map[string][]*discoveryv1.EndpointSlice{}, secrets: map[string]*corev1.Secret{}}
	for _, s := range in.Services {
		k := s.Namespace + "/" + s.Labels[LabelCluster]
		ix.services[k] = append(ix.services[k], s)
	}
	for _, s := range in.EndpointSlices {
		k := s.Namespace + "/" + s.Labels[LabelServiceName]
		ix.slices[k] = append(ix.slices[k], s)
	}
	for _, s := range in.Secrets {
		ix.secrets[s.Namespace+"/"+s.Name] = s
	}
	return ix
}

func (ix *indexes) resolve(u *unstructured.Unstructured) (*route.Cluster, string) {
	var rc rayv1.RayCluster
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &rc); err != nil {
		return nil, fmt.Sprintf("cannot read the RayCluster: %v", err)
	}
	var overlay specOverlay
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &overlay); err != nil {
		return nil, fmt.Sprintf("cannot read spec.authOptions: %v", err)
	}
	if rc.DeletionTimestamp != nil {
		return nil, "being deleted"
	}
	if len(validation.IsDNS1123Label(rc.Name)) > 0 {
		return nil, "the name is not a DNS label, which /clusters/{namespace}/{name}/ needs"
	}
	svc, why := ix.headService(&rc)
	if svc == nil {
		return nil, why
	}
	up, why := ix.upstream(svc)
	if up == nil {
		return nil, why
	}
	c := &route.Cluster{
		Namespace: rc.Namespace, Name: rc.Name, Key: rc.Namespace + "/" + rc.Name,
		Upstream: up, Source: route.SourceKubernetes, Owner: owner(&rc.ObjectMeta),
	}
	if auth := overlay.Spec.AuthOptions; auth != nil && auth.Mode == AuthModeToken {
		if auth.EnableK8sTokenAuth != nil && *auth.EnableK8sTokenAuth {
			c.RayChecksKubernetesTokens = true
		} else {
			tok, why := ix.token(&rc, auth)
			if tok == "" {
				return nil, why
			}
			c.Token = tok
		}
	}
	return c, ""
}

// owner names the RayJob or RayService that controls the cluster.
func owner(m *metav1.ObjectMeta) string {
	ref := metav1.GetControllerOfNoCopy(m)
	if ref == nil || !strings.HasPrefix(ref.APIVersion, rayv1.GroupVersion.Group+"/") {
		return ""
	}
	return ref.Kind + "/" + ref.Name
}

// controlledBy reports whether m's controller is the object kind/name/uid.
func controlledBy(m *metav1.ObjectMeta, apiVersion, kind, name string, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(m)
	return ref != nil && ref.APIVersion == apiVersion && ref.Kind == kind && ref.Name == name && ref.UID == uid
}

// headService finds the Service KubeRay created for rc's head: in rc's
// namespace, labelled for rc's head, selecting only rc's head pods,
// controlled by rc (by UID), and not of type ExternalName.
func (ix *indexes) headService(rc *rayv1.RayCluster) (*corev1.Service, string) {
	var found []*corev1.Service
	for _, s := range ix.services[rc.Namespace+"/"+rc.Name] {
		if s.Namespace != rc.Namespace || s.Labels[LabelNodeType] != headNode {
			continue
		}
		if !controlledBy(&s.ObjectMeta, rayClusterKind.GroupVersion().String(), rayClusterKind.Kind, rc.Name, rc.UID) {
			continue
		}
		if s.Spec.Selector[LabelCluster] != rc.Name || s.Spec.Selector[LabelNodeType] != headNode {
			continue
		}
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		found = append(found, s)
	}
	switch len(found) {
	case 0:
		return nil, "no head Service yet"
	case 1:
		return found[0], ""
	}
	return nil, fmt.Sprintf("%d Services claim to be the head Service", len(found))
}

// upstream resolves the head Service to the dashboard's URL.
func (ix *indexes) upstream(svc *corev1.Service) (*url.URL, string) {
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; p.Name == DashboardPortName && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			port = p
		}
	}
	if port == nil {
		return nil, "the head Service has no port named " + DashboardPortName
	}
	if ix.upstreamFrom == config.UpstreamFromEndpointSlices {
		return ix.endpoint(svc)
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !usable(ip) {
		return nil, "the head Service has no cluster IP"
	}
	return httpURL(ip, port.Port), ""
}

// endpoint picks the lowest ready address of the Service's EndpointSlices
// (those it owns) on the dashboard port.
func (ix *indexes) endpoint(svc *corev1.Service) (*url.URL, string) {
	var cands []netip.AddrPort
	for _, sl := range ix.slices[svc.Namespace+"/"+svc.Name] {
		if sl.Namespace != svc.Namespace || (sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6) {
			continue
		}
		if !ownedBy(&sl.ObjectMeta, svc.UID) {
			continue
		}
		var port int32
		for _, p := range sl.Ports {
			if p.Name != nil && *p.Name == DashboardPortName && p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
				port = *p.Port
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil && usable(ip) {
					cands = append(cands, netip.AddrPortFrom(ip, uint16(port)))
				}
			}
		}
	}
	if len(cands) == 0 {
		return nil, "the head Service has no ready endpoint"
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Compare(cands[j]) < 0 })
	return httpURL(cands[0].Addr(), int32(cands[0].Port())), ""
}

func ownedBy(m *metav1.ObjectMeta, uid types.UID) bool {
	for _, r := range m.OwnerReferences {
		if r.UID == uid && r.Kind == "Service" && r.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// usable refuses addresses no Ray head has: unspecified, loopback,
// link-local (cloud metadata services) and multicast.
func usable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsMulticast() && !ip.IsInterfaceLocalMulticast()
}

func httpURL(ip netip.Addr, port int32) *url.URL {
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(int(port)))}
}

// token reads the cluster's Ray token: from KubeRay's generated Secret
// (named after the cluster, controlled by it) or from the Secret
// spec.authOptions.secretName names; either must be labelled
// ray.io/cluster with the cluster's name.
func (ix *indexes) token(rc *rayv1.RayCluster, auth *AuthOptions) (string, string) {
	name, own := tokenSecretName(rc.Name), true
	if auth.SecretName != nil && *auth.SecretName != "" {
		name, own = *auth.SecretName, false
	}
	s := ix.secrets[rc.Namespace+"/"+name]
	if s == nil || s.Labels[LabelCluster] != rc.Name {
		return "", fmt.Sprintf("no Ray token Secret %q labelled %s=%s yet", name, LabelCluster, rc.Name)
	}
	if own && !controlledBy(&s.ObjectMeta, rayClusterKind.GroupVersion().String(), rayClusterKind.Kind, rc.Name, rc.UID) {
		return "", fmt.Sprintf("the Ray token Secret %q is not controlled by this RayCluster", name)
	}
	tok, err := ParseToken(s.Data[TokenKey])
	if err != nil {
		return "", fmt.Sprintf("the Ray token Secret %q: %v", name, err)
	}
	return tok, ""
}

// MaxTokenLength bounds a Ray token read from a Secret.
const MaxTokenLength = 4096

// ParseToken reads a Ray token from a Secret value: surrounding
// whitespace is ignored; what remains must be one non-empty token of
// visible ASCII characters, short enough for a header.
func ParseToken(b []byte) (string, error) {
	t := strings.TrimSpace(string(b))
	switch {
	case t == "":
		return "", fmt.Errorf("key %s is missing or empty", TokenKey)
	case len(t) > MaxTokenLength:
		return "", fmt.Errorf("key %s is longer than %d bytes", TokenKey, MaxTokenLength)
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return "", fmt.Errorf("key %s must hold one token of visible ASCII characters", TokenKey)
		}
	}
	return t, nil
}
