package lint

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/raygate/raygate/internal/manifest"
)

// The operator's ports: controller-runtime's defaults as KubeRay sets
// them (--metrics-addr, --health-probe-bind-address) and its webhook
// server's.
const (
	operatorMetricsPort = "8080"
	operatorProbePort   = "8082"
	operatorWebhookPort = "9443"
)

// exposed reports Services that publish the operator's ports outside the
// cluster (LoadBalancer, NodePort, externalIPs) and Ingresses and Gateway
// API routes to any Service of the operator's pods: its metrics, health
// and webhook endpoints answer without authentication.
func (x *install) exposed(f foundOperator) []Finding {
	podLabels := f.op.Template.Value.Lookup("metadata.labels")
	var out []Finding
	services := map[string]placed{}
	for _, s := range x.of("", "Service") {
		spec := s.o.Value.Get("spec")
		sel := spec.Get("selector")
		if !sameNamespace(s.ns, f.ns) || sel.Len() == 0 || !selects(sel, podLabels) {
			continue
		}
		services[s.o.Name] = s
		ports := x.operatorPorts(f, spec)
		c := s.checker()
		if typ := spec.Get("type").Str(); manifest.ExposedServiceType(typ) {
			c.add(RuleOperatorExposed, path("spec.type"), fmt.Sprintf(
				"%s is of type %s and selects the KubeRay operator's pods: it publishes their %s outside the cluster, where they answer without authentication; use ClusterIP", s.describe(), typ, ports))
		}
		if spec.Get("externalIPs").Len() > 0 {
			c.add(RuleOperatorExposed, path("spec.externalIPs"), fmt.Sprintf(
				"%s sets externalIPs and selects the KubeRay operator's pods: it publishes their %s outside the cluster, where they answer without authentication; remove externalIPs", s.describe(), ports))
		}
		out = append(out, c.out...)
	}
	if len(services) == 0 {
		return out
	}
	for _, p := range x.all {
		group, _, _ := strings.Cut(p.o.APIVersion, "/")
		c := p.checker()
		switch {
		case p.o.Kind == "Ingress" && (group == "networking.k8s.io" || group == "extensions"):
			for _, b := range ingressBackends(p.o.Value) {
				if s, ok := services[b.service]; ok && sameNamespace(p.ns, s.ns) {
					c.add(RuleOperatorExposed, b.path, fmt.Sprintf(
						"%s routes to %s, which reaches the KubeRay operator's %s: whoever reaches the ingress reaches them, and they answer without authentication; remove the route", p.describe(), s.describe(), x.operatorPorts(f, s.o.Value.Get("spec"))))
				}
			}
		case group == "gateway.networking.k8s.io" && strings.HasSuffix(p.o.Kind, "Route"):
			for i, r := range p.o.Value.Lookup("spec.rules").Items() {
				for j, b := range r.Get("backendRefs").Items() {
					ns := b.Get("namespace").Str()
					if ns == "" {
						ns = p.ns
					}
					kind := b.Get("kind").Str()
					s, ok := services[b.Get("name").Str()]
					if !ok || (kind != "" && kind != "Service") || !sameNamespace(ns, s.ns) {
						continue
					}
					c.add(RuleOperatorExposed, path(fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)), fmt.Sprintf(
						"%s routes to %s, which reaches the KubeRay operator's %s: whoever reaches the gateway reaches them, and they answer without authentication; remove the route", p.describe(), s.describe(), x.operatorPorts(f, s.o.Value.Get("spec"))))
				}
			}
		}
		out = append(out, c.out...)
	}
	return out
}

// selects reports whether a Service selector matches the pod labels.
func selects(sel, labels *manifest.Value) bool {
	for _, k := range sel.Keys() {
		if !sel.Get(k).IsString() || !labels.Get(k).IsString() || sel.Get(k).Str() != labels.Get(k).Str() {
			return false
		}
	}
	return true
}

type backend struct {
	service string
	path    manifest.Path
}

// ingressBackends lists an Ingress's backends: networking.k8s.io/v1's
// service.name and the older serviceName.
func ingressBackends(v *manifest.Value) []backend {
	var out []backend
	visit := func(p manifest.Path, b *manifest.Value) {
		name := b.Lookup("service.name").Str()
		if name == "" {
			name = b.Get("serviceName").Str()
		}
		if name != "" {
			out = append(out, backend{service: name, path: p})
		}
	}
	for _, d := range []string{"spec.defaultBackend", "spec.backend"} {
		if b := v.Lookup(d); b.IsMap() {
			visit(path(d), b)
		}
	}
	for i, r := range v.Lookup("spec.rules").Items() {
		for j, hp := range r.Lookup("http.paths").Items() {
			visit(path(fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j)), hp.Get("backend"))
		}
	}
	return out
}

// operatorPorts names the operator ports a Service spec reaches:
// "metrics port 8080, webhook port 9443".
func (x *install) operatorPorts(f foundOperator, spec *manifest.Value) string {
	ctr := f.op.Template.Value.Lookup("spec.containers").Index(f.op.Container)
	byName := map[string]string{}
	named := map[string]string{}
	for _, p := range ctr.Get("ports").Items() {
		n := p.Get("containerPort").Scalar()
		byName[p.Get("name").Str()] = n
		named[n] = p.Get("name").Str()
	}
	flagPort := func(flag, def string) string {
		if fl, ok := f.op.Flags[flag]; ok {
			if i := strings.LastIndex(fl.Value, ":"); i >= 0 {
				return fl.Value[i+1:]
			}
		}
		return def
	}
	metrics, probes := flagPort("metrics-addr", operatorMetricsPort), flagPort("health-probe-bind-address", operatorProbePort)
	var out []string
	for _, p := range spec.Get("ports").Items() {
		target := p.Get("targetPort")
		if target == nil {
			target = p.Get("port")
		}
		num := target.Scalar()
		if n, ok := byName[num]; ok && target.IsString() {
			num = n
		}
		if _, err := strconv.Atoi(num); err != nil {
			out = append(out, "port "+num)
			continue
		}
		switch {
		case num == metrics:
			out = append(out, "metrics port "+num)
		case num == probes:
			out = append(out, "health probe port "+num)
		case num == operatorWebhookPort || named[num] == "webhook-server":
			out = append(out, "webhook port "+num)
		default:
			out = append(out, "port "+num)
		}
	}
	if len(out) == 0 {
		return "ports"
	}
	return strings.Join(out, ", ")
}
