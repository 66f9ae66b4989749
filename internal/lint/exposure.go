package lint

import (
	"fmt"
	"strings"

	"github.com/raygate/raygate/internal/manifest"
)

// RuleHeadRoute is reported on Ingresses, Gateway API routes and Services
// written next to the Ray objects that publish a Ray head port.
const RuleHeadRoute = "RG-head-route"

// rayHeadPorts are the head ports whose publication the rule reports, by
// number and by the port names KubeRay's examples use.
var rayHeadPorts = map[string]string{
	"8265": "dashboard and Jobs API", "10001": "Ray Client", "6379": "GCS", "52365": "dashboard agent",
	"dashboard": "dashboard and Jobs API", "client": "Ray Client", "gcs-server": "GCS", "gcs": "GCS",
}

// exposures checks the non-Ray objects of a file for routes to Ray heads.
func exposures(file string, f *manifest.File) []Finding {
	var out []Finding
	for _, o := range f.Resources() {
		c := &checker{file: file, o: o}
		group, _, _ := strings.Cut(o.APIVersion, "/")
		switch {
		case o.Kind == "Ingress" && strings.HasPrefix(o.APIVersion, "networking.k8s.io/"):
			c.ingress()
		case group == "gateway.networking.k8s.io" && strings.HasSuffix(o.Kind, "Route"):
			c.route()
		case o.Kind == "Service" && o.APIVersion == "v1":
			c.service()
		}
		out = append(out, c.out...)
	}
	return out
}

func headBackend(name, port string) (string, bool) {
	if what, ok := rayHeadPorts[port]; ok {
		return what, true
	}
	if strings.HasSuffix(name, "-head-svc") {
		return "head Service", true
	}
	return "", false
}

func (c *checker) ingress() {
	visit := func(p manifest.Path, backend *manifest.Value) {
		svc := backend.Get("service")
		name := svc.Get("name").Str()
		port := svc.Get("port")
		num := port.Get("number").Scalar()
		if num == "" {
			num = port.Get("name").Str()
		}
		if what, ok := headBackend(name, num); ok {
			c.add(RuleHeadRoute, p.Key("service"), fmt.Sprintf("Ingress routes to Ray head %s (service %s, port %s): whoever reaches the ingress can run code on the cluster; publish the dashboard through raygate instead", what, name, num))
		}
	}
	if b := c.o.Value.Lookup("spec.defaultBackend"); b != nil {
		visit(path("spec.defaultBackend"), b)
	}
	for i, r := range c.o.Value.Lookup("spec.rules").Items() {
		for j, pth := range r.Lookup("http.paths").Items() {
			visit(path(fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j)), pth.Get("backend"))
		}
	}
}

func (c *checker) route() {
	for i, r := range c.o.Value.Lookup("spec.rules").Items() {
		for j, b := range r.Get("backendRefs").Items() {
			name, port := b.Get("name").Str(), b.Get("port").Scalar()
			if what, ok := headBackend(name, port); ok {
				c.add(RuleHeadRoute, path(fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)),
					fmt.Sprintf("%s routes to Ray head %s (service %s, port %s): whoever reaches the gateway can run code on the cluster; publish the dashboard through raygate instead", c.o.Kind, what, name, port))
			}
		}
	}
}

// selectsRayPods reports whether a Service selector selects pods by the
// labels KubeRay gives Ray pods: any ray.io/ label (ray.io/cluster,
// ray.io/node-type, ray.io/identifier, ray.io/group, ...) or KubeRay's
// app.kubernetes.io labels.
func selectsRayPods(sel *manifest.Value) bool {
	for _, k := range sel.Keys() {
		v := sel.Get(k).Str()
		if strings.HasPrefix(k, "ray.io/") ||
			(k == "app.kubernetes.io/created-by" && v == "kuberay-operator") ||
			(k == "app.kubernetes.io/name" && v == "kuberay") {
			return true
		}
	}
	return false
}

func (c *checker) service() {
	spec := c.o.Value.Get("spec")
	typ := spec.Get("type").Str()
	external := spec.Get("externalIPs").Len() > 0
	if !manifest.ExposedServiceType(typ) && !external {
		return
	}
	if !selectsRayPods(spec.Get("selector")) {
		return
	}
	how := "of type " + typ
	if !manifest.ExposedServiceType(typ) {
		how = "with externalIPs"
	}
	for i, p := range spec.Get("ports").Items() {
		num := p.Get("targetPort").Scalar()
		if num == "" {
			num = p.Get("port").Scalar()
		}
		if what, ok := rayHeadPorts[num]; ok {
			c.addSev(RuleHeadRoute, SeverityError, path(fmt.Sprintf("spec.ports[%d]", i)),
				fmt.Sprintf("Service %s publishes the %s (port %s) of Ray pods outside the cluster, where whoever reaches it can run code; use ClusterIP and reach it through raygate", how, what, num))
		}
	}
}
