package lint

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/netpol"
)

// RuleWebhookUnreachable is reported on an admission webhook registration
// whose backing pods, written in the same files, are selected by
// NetworkPolicies that admit nothing from outside the cluster on the
// webhook's port: the API server, which calls webhooks from its own
// address, cannot reach it.
const RuleWebhookUnreachable = "RG-webhook-unreachable"

// apiServer is the caller of every webhook: an address outside the pod
// network, unknown to the manifests.
var apiServer = netpol.Endpoint{Name: "the Kubernetes API server"}

// webhookReach checks every webhook registration of the documents against
// the NetworkPolicies, Services and workloads of the same documents.
// Registrations whose Service or pods are not in the documents are not
// judged.
func webhookReach(file string, f *manifest.File) []Finding {
	res := f.Resources()
	var policies []networkingv1.NetworkPolicy
	namespaces := map[string]map[string]string{}
	for _, o := range res {
		switch {
		case o.Kind == "NetworkPolicy" && o.APIVersion == "networking.k8s.io/v1":
			var p networkingv1.NetworkPolicy
			if o.Value.DecodeInto(&p) == nil {
				if p.Namespace == "" {
					p.Namespace = "default"
				}
				policies = append(policies, p)
			}
		case o.Kind == "Namespace" && o.APIVersion == "v1":
			var ns corev1.Namespace
			if o.Value.DecodeInto(&ns) == nil {
				l := map[string]string{"kubernetes.io/metadata.name": ns.Name}
				for k, v := range ns.Labels {
					l[k] = v
				}
				namespaces[ns.Name] = l
			}
		}
	}
	cl := &netpol.Cluster{Namespaces: namespaces, Policies: policies}
	var out []Finding
	for _, o := range res {
		if (o.Kind != "ValidatingWebhookConfiguration" && o.Kind != "MutatingWebhookConfiguration") || o.APIVersion != "admissionregistration.k8s.io/v1" {
			continue
		}
		c := &checker{file: file, o: o}
		for i, wh := range o.Value.Get("webhooks").Items() {
			svc := wh.Get("clientConfig").Get("service")
			if svc.IsNull() {
				continue
			}
			ns, name := svc.Get("namespace").Scalar(), svc.Get("name").Scalar()
			port := int32(443)
			if p := svc.Get("port").Scalar(); p != "" {
				n, err := strconv.Atoi(p)
				if err != nil {
					continue
				}
				port = int32(n)
			}
			fail := wh.Get("failurePolicy").Scalar() != "Ignore"
			if msg := blockedWebhook(cl, res, ns, name, port); msg != "" {
				sev, effect := SeverityWarning, "with failurePolicy Ignore the objects it should check are admitted unchecked"
				if fail {
					sev, effect = SeverityError, "with failurePolicy Fail every object it matches is refused"
				}
				c.addSev(RuleWebhookUnreachable, sev, path(fmt.Sprintf("webhooks[%d].clientConfig.service", i)),
					fmt.Sprintf("webhook %s: %s; %s", wh.Get("name").Scalar(), msg, effect))
			}
		}
		out = append(out, c.out...)
	}
	return out
}

// blockedWebhook says why the API server cannot reach Service ns/name on
// port, "" when it can or when the documents do not say.
func blockedWebhook(cl *netpol.Cluster, res []manifest.Object, ns, name string, port int32) string {
	var svc *corev1.Service
	for _, o := range res {
		if o.Kind == "Service" && o.APIVersion == "v1" && o.Name == name {
			var s corev1.Service
			if o.Value.DecodeInto(&s) == nil && s.Namespace == ns {
				svc = &s
			}
		}
	}
	if svc == nil || len(svc.Spec.Selector) == 0 {
		return ""
	}
	var target *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			target = &svc.Spec.Ports[i]
		}
	}
	if target == nil {
		return fmt.Sprintf("Service %s/%s has no port %d", ns, name, port)
	}
	var blocked []string
	for _, pod := range podsOf(res, ns, svc.Spec.Selector) {
		p := target.TargetPort.IntVal
		if target.TargetPort.StrVal != "" {
			cp, ok := pod.Ports[target.TargetPort.StrVal]
			if !ok {
				continue
			}
			p = cp.ContainerPort
		} else if p == 0 {
			p = target.Port
		}
		if ok, why := cl.Ingress(pod, apiServer, p, corev1.ProtocolTCP); !ok && !ipBlockOnPort(cl, pod, p) {
			blocked = append(blocked, fmt.Sprintf("NetworkPolicies keep %s from %s's port %d (%s)", apiServer.Name, pod.Name, p, why))
		}
	}
	return strings.Join(blocked, "; ")
}

// ipBlockOnPort reports whether an ipBlock admits some address to pod's
// port: the API server's address may be in it, which the manifests cannot
// tell. Each ipBlock is probed with the first address of its CIDR.
func ipBlockOnPort(cl *netpol.Cluster, pod netpol.Endpoint, port int32) bool {
	for _, p := range cl.Policies {
		for _, r := range p.Spec.Ingress {
			for _, peer := range r.From {
				if peer.IPBlock == nil {
					continue
				}
				pfx, err := netip.ParsePrefix(peer.IPBlock.CIDR)
				if err != nil {
					continue
				}
				src := netpol.Endpoint{Name: "an address in " + peer.IPBlock.CIDR, IP: pfx.Masked().Addr()}
				if ok, _ := cl.Ingress(pod, src, port, corev1.ProtocolTCP); ok {
					return true
				}
			}
		}
	}
	return false
}

// podsOf returns the pods of the documents' workloads (Deployments,
// StatefulSets, DaemonSets, ReplicaSets, Jobs, Pods) in namespace ns that
// selector matches.
func podsOf(res []manifest.Object, ns string, selector map[string]string) []netpol.Endpoint {
	sel := labels.SelectorFromSet(selector)
	var out []netpol.Endpoint
	for _, o := range res {
		var meta struct {
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		}
		var spec corev1.PodSpec
		switch o.Kind {
		case "Pod":
			var pod corev1.Pod
			if o.Value.DecodeInto(&pod) != nil {
				continue
			}
			meta.Namespace, meta.Labels, spec = pod.Namespace, pod.Labels, pod.Spec
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			var w struct {
				Metadata struct {
					Namespace string `json:"namespace"`
				} `json:"metadata"`
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if o.Value.DecodeInto(&w) != nil {
				continue
			}
			meta.Namespace, meta.Labels, spec = w.Metadata.Namespace, w.Spec.Template.Labels, w.Spec.Template.Spec
		default:
			continue
		}
		if meta.Namespace == "" {
			meta.Namespace = "default"
		}
		if meta.Namespace != ns || !sel.Matches(labels.Set(meta.Labels)) {
			continue
		}
		ports := map[string]corev1.ContainerPort{}
		for _, c := range spec.Containers {
			for _, p := range c.Ports {
				if p.Name != "" {
					ports[p.Name] = p
				}
			}
		}
		out = append(out, netpol.Endpoint{Name: o.Kind + " " + ns + "/" + o.Name, Namespace: ns, Labels: meta.Labels, Ports: ports})
	}
	return out
}
