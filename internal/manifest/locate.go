package manifest

// Roles of a pod template in a KubeRay resource.
const (
	RoleHead      = "head"
	RoleWorker    = "worker"
	RoleSubmitter = "submitter"
)

// ClusterSpec is a RayClusterSpec inside an object: a RayCluster's spec, a
// RayJob's spec.rayClusterSpec, a RayService's spec.rayClusterConfig or a
// RayCronJob's spec.jobTemplate.rayClusterSpec.
type ClusterSpec struct {
	// Path is the spec's field path relative to the object.
	Path Path
	// Value is the spec.
	Value *Value
}

// Template is a pod template inside an object.
type Template struct {
	// Role is RoleHead, RoleWorker, RoleSubmitter, or RolePod for a
	// workload's template.
	Role string
	// Group is the worker group's groupName (workers only).
	Group string
	// Path is the template's field path relative to the object, e.g.
	// spec.workerGroupSpecs[1].template (empty for a Pod, its own
	// template).
	Path Path
	// Value is the template.
	Value *Value
	// Cluster is the index in ClusterSpecs of the cluster spec holding the
	// template; -1 for a RayJob's submitter and a workload's template.
	Cluster int
}

// Describe names the template for messages: "head", "worker group
// small-group", "submitter", "pod".
func (t Template) Describe() string {
	if t.Role == RoleWorker {
		if t.Group != "" {
			return "worker group " + t.Group
		}
		return "worker group"
	}
	return t.Role
}

// Pods names the pods the template makes, for messages: "head pod",
// "worker group small-group pod", "pod".
func (t Template) Pods() string {
	if t.Role == RolePod {
		return "pod"
	}
	return t.Describe() + " pod"
}

// kindLayout says where a kind keeps its RayClusterSpecs and other pod
// templates; supporting another pod-bearing kind is adding an entry.
type kindLayout struct {
	// clusterSpecs are the paths of the kind's RayClusterSpecs.
	clusterSpecs []Path
	// templates are the paths of pod templates outside cluster specs,
	// with their roles.
	templates []rolePath
}

type rolePath struct {
	role string
	path Path
}

var layouts = map[string]kindLayout{
	KindRayCluster: {clusterSpecs: []Path{ParsePath("spec")}},
	KindRayJob: {
		clusterSpecs: []Path{ParsePath("spec.rayClusterSpec")},
		templates:    []rolePath{{RoleSubmitter, ParsePath("spec.submitterPodTemplate")}},
	},
	KindRayService: {clusterSpecs: []Path{ParsePath("spec.rayClusterConfig")}},
	KindRayCronJob: {
		clusterSpecs: []Path{ParsePath("spec.jobTemplate.rayClusterSpec")},
		templates:    []rolePath{{RoleSubmitter, ParsePath("spec.jobTemplate.submitterPodTemplate")}},
	},
}

// JobSpecPath returns where a kind keeps its RayJobSpec: spec for a
// RayJob, spec.jobTemplate for a RayCronJob; nil for other kinds.
func JobSpecPath(kind string) Path {
	switch CanonicalKind(kind) {
	case KindRayJob:
		return ParsePath("spec")
	case KindRayCronJob:
		return ParsePath("spec.jobTemplate")
	}
	return nil
}

// ClusterSpecPath returns the field path of the RayClusterSpec of a kind
// (nil for other kinds).
func ClusterSpecPath(kind string) Path {
	if l, ok := layouts[CanonicalKind(kind)]; ok && len(l.clusterSpecs) > 0 {
		return l.clusterSpecs[0]
	}
	return nil
}

// ClusterSpecs returns the RayClusterSpecs of o (none for a RayJob that
// selects an existing cluster).
func ClusterSpecs(o Object) []ClusterSpec {
	if !o.IsRay() {
		return nil
	}
	var out []ClusterSpec
	for _, p := range layouts[CanonicalKind(o.Kind)].clusterSpecs {
		if v := o.Value.At(p); v.IsMap() {
			out = append(out, ClusterSpec{Path: p, Value: v})
		}
	}
	return out
}

// Templates returns every pod template of o: for each cluster spec the head
// then each worker group, then the kind's other templates (a RayJob's
// submitter pod template); for a workload, its pod template (a Pod is its
// own).
func Templates(o Object) []Template {
	if !o.IsRay() {
		return workloadTemplate(o)
	}
	var out []Template
	for ci, cs := range ClusterSpecs(o) {
		hp := Path{}.Key("headGroupSpec").Key("template")
		if t := cs.Value.At(hp); t.IsMap() {
			out = append(out, Template{Role: RoleHead, Path: cs.Path.Join(hp), Value: t, Cluster: ci})
		}
		for i, g := range cs.Value.Get("workerGroupSpecs").Items() {
			if t := g.Get("template"); t.IsMap() {
				out = append(out, Template{
					Role: RoleWorker, Group: g.Get("groupName").Str(),
					Path: cs.Path.Key("workerGroupSpecs").Index(i).Key("template"), Value: t, Cluster: ci,
				})
			}
		}
	}
	for _, rp := range layouts[CanonicalKind(o.Kind)].templates {
		if t := o.Value.At(rp.path); t.IsMap() {
			out = append(out, Template{Role: rp.role, Path: rp.path, Value: t, Cluster: -1})
		}
	}
	return out
}
