package lint

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

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

// exposures checks the non-Ray objects of the documents for routes to Ray
// heads.
func exposures(file string, docs []manifest.Document) []Finding {
	var out []Finding
	for _, o := range manifest.Resources(docs) {
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
	visit := func(path string, backend *yaml.Node) {
		svc := manifest.Get(backend, "service")
		name := manifest.Scalar(manifest.Get(svc, "name"))
		port := manifest.Get(svc, "port")
		p := manifest.Scalar(manifest.Get(port, "number"))
		if p == "" {
			p = manifest.Scalar(manifest.Get(port, "name"))
		}
		if what, ok := headBackend(name, p); ok {
			c.add(RuleHeadRoute, path+".service", fmt.Sprintf("Ingress routes to Ray head %s (service %s, port %s): whoever reaches the ingress can run code on the cluster; publish the dashboard through raygate instead", what, name, p))
		}
	}
	if b, _ := manifest.Lookup(c.o.Node, "spec.defaultBackend"); b != nil {
		visit("spec.defaultBackend", b)
	}
	rules, _ := manifest.Lookup(c.o.Node, "spec.rules")
	for i, r := range seqItems(rules) {
		paths, _ := manifest.Lookup(r, "http.paths")
		for j, pth := range seqItems(paths) {
			visit(fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j), manifest.Get(pth, "backend"))
		}
	}
}

func (c *checker) route() {
	rules, _ := manifest.Lookup(c.o.Node, "spec.rules")
	for i, r := range seqItems(rules) {
		for j, b := range seqItems(manifest.Get(r, "backendRefs")) {
			name, port := manifest.Scalar(manifest.Get(b, "name")), manifest.Scalar(manifest.Get(b, "port"))
			if what, ok := headBackend(name, port); ok {
				c.add(RuleHeadRoute, fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j),
					fmt.Sprintf("%s routes to Ray head %s (service %s, port %s): whoever reaches the gateway can run code on the cluster; publish the dashboard through raygate instead", c.o.Kind, what, name, port))
			}
		}
	}
}

func (c *checker) service() {
	spec := manifest.Get(c.o.Node, "spec")
	typ := manifest.Scalar(manifest.Get(spec, "type"))
	if typ != "LoadBalancer" && typ != "NodePort" {
		return
	}
	sel := manifest.Get(spec, "selector")
	if manifest.Get(sel, "ray.io/node-type") == nil && manifest.Get(sel, "ray.io/cluster") == nil {
		return
	}
	for i, p := range seqItems(manifest.Get(spec, "ports")) {
		num := manifest.Scalar(manifest.Get(p, "targetPort"))
		if num == "" {
			num = manifest.Scalar(manifest.Get(p, "port"))
		}
		if what, ok := rayHeadPorts[num]; ok {
			c.add(RuleHeadRoute, fmt.Sprintf("spec.ports[%d]", i),
				fmt.Sprintf("Service of type %s publishes Ray %s (port %s) of Ray pods outside the cluster; use ClusterIP and reach it through raygate", typ, what, num))
		}
	}
}

func seqItems(n *yaml.Node) []*yaml.Node {
	n = manifest.Resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		out[i] = manifest.Resolve(it)
	}
	return out
}
