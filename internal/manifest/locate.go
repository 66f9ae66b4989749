package manifest

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Roles of a pod template in a KubeRay resource.
const (
	RoleHead      = "head"
	RoleWorker    = "worker"
	RoleSubmitter = "submitter"
)

// ClusterSpec is a RayClusterSpec inside an object: a RayCluster's spec, a
// RayJob's spec.rayClusterSpec or a RayService's spec.rayClusterConfig.
type ClusterSpec struct {
	// Path is the spec's field path relative to the object.
	Path string
	// Node is the spec's mapping node.
	Node *yaml.Node
}

// Template is a pod template inside an object.
type Template struct {
	// Role is RoleHead, RoleWorker or RoleSubmitter.
	Role string
	// Group is the worker group's groupName (workers only).
	Group string
	// Path is the template's field path relative to the object, e.g.
	// spec.workerGroupSpecs[1].template.
	Path string
	// Node is the template's mapping node.
	Node *yaml.Node
	// Cluster is the index in ClusterSpecs of the cluster spec holding the
	// template; -1 for a RayJob's submitter.
	Cluster int
}

// Describe names the template for messages: "head", "worker group
// small-group", "submitter".
func (t Template) Describe() string {
	if t.Role == RoleWorker {
		if t.Group != "" {
			return "worker group " + t.Group
		}
		return "worker group"
	}
	return t.Role
}

// ClusterSpecPath returns the field path of the object's RayClusterSpec for
// its kind ("" for unknown kinds).
func ClusterSpecPath(kind string) string {
	switch kind {
	case KindRayCluster:
		return "spec"
	case KindRayJob:
		return "spec.rayClusterSpec"
	case KindRayService:
		return "spec.rayClusterConfig"
	}
	return ""
}

// ClusterSpecs returns the RayClusterSpecs of o (none for a RayJob that
// selects an existing cluster).
func ClusterSpecs(o Object) []ClusterSpec {
	p := ClusterSpecPath(o.Kind)
	if p == "" {
		return nil
	}
	n, _ := Lookup(o.Node, p)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	return []ClusterSpec{{Path: p, Node: n}}
}

// Templates returns every pod template of o: for each cluster spec the head
// then each worker group, then a RayJob's submitter pod template.
func Templates(o Object) []Template {
	var out []Template
	for ci, cs := range ClusterSpecs(o) {
		if t, _ := Lookup(cs.Node, "headGroupSpec.template"); isMapping(t) {
			out = append(out, Template{Role: RoleHead, Path: JoinPath(cs.Path, "headGroupSpec.template"), Node: t, Cluster: ci})
		}
		if wg := Get(cs.Node, "workerGroupSpecs"); wg != nil && wg.Kind == yaml.SequenceNode {
			for i, g := range wg.Content {
				g = resolve(g)
				if t := Get(g, "template"); isMapping(t) {
					out = append(out, Template{
						Role: RoleWorker, Group: scalar(Get(g, "groupName")),
						Path: JoinPath(cs.Path, fmt.Sprintf("workerGroupSpecs[%d].template", i)), Node: t, Cluster: ci,
					})
				}
			}
		}
	}
	if o.Kind == KindRayJob {
		if t, _ := Lookup(o.Node, "spec.submitterPodTemplate"); isMapping(t) {
			out = append(out, Template{Role: RoleSubmitter, Path: "spec.submitterPodTemplate", Node: t, Cluster: -1})
		}
	}
	return out
}

func isMapping(n *yaml.Node) bool { return n != nil && n.Kind == yaml.MappingNode }
