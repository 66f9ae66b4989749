package harden

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/raygate/raygate/internal/manifest"
)

// tmpVolume is the name of the emptyDir harden mounts at /tmp.
const tmpVolume = "ray-tmp"

// writableTmp gives a container with a read-only root filesystem a
// writable emptyDir at /tmp, where Ray keeps its session directory.
func (e *editor) writableTmp(spec, c *yaml.Node, cp, volumesPath string) {
	if !isTrue(manifest.Get(manifest.Get(c, "securityContext"), "readOnlyRootFilesystem")) {
		return
	}
	mounts := sequence(c, "volumeMounts")
	if mounts != nil {
		for _, m := range mounts.Content {
			mp := strings.TrimRight(manifest.Scalar(manifest.Get(m, "mountPath")), "/")
			if mp == "/tmp" || mp == "/tmp/ray" {
				return // something is mounted there already; leave it as chosen
			}
		}
	}
	name := e.tmpVolumeName(spec)
	if name == "" {
		return
	}
	if mounts == nil {
		if manifest.Get(c, "volumeMounts") != nil && !manifest.IsNull(manifest.Get(c, "volumeMounts")) {
			return
		}
		mounts = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if i := valueIndex(c, "volumeMounts"); i >= 0 {
			c.Content[i] = mounts
		} else {
			c.Content = append(c.Content, keyNode("volumeMounts"), mounts)
		}
	}
	mounts.Content = append(mounts.Content, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		keyNode("name"), scalarNode(name, "!!str"),
		keyNode("mountPath"), scalarNode("/tmp", "!!str"),
	}})
	e.note(manifest.JoinPath(cp, "volumeMounts"), fmt.Sprintf("emptyDir %s mounted at /tmp (the root filesystem is read-only)", name))
	_ = volumesPath
}

// tmpVolumeName returns the emptyDir volume to mount at /tmp, adding it to
// the pod's volumes when needed; "" when volumes is not a list.
func (e *editor) tmpVolumeName(spec *yaml.Node) string {
	vols := sequence(spec, "volumes")
	if vols == nil {
		if v := manifest.Get(spec, "volumes"); v != nil && !manifest.IsNull(v) {
			return ""
		}
		vols = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if i := valueIndex(spec, "volumes"); i >= 0 {
			spec.Content[i] = vols
		} else {
			spec.Content = append(spec.Content, keyNode("volumes"), vols)
		}
	}
	names := map[string]bool{}
	for _, v := range vols.Content {
		n := manifest.Scalar(manifest.Get(v, "name"))
		names[n] = true
		if strings.HasPrefix(n, tmpVolume) && manifest.Get(v, "emptyDir") != nil {
			return n
		}
	}
	name := tmpVolume
	for i := 2; names[name]; i++ {
		name = fmt.Sprintf("%s-%d", tmpVolume, i)
	}
	vols.Content = append(vols.Content, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		keyNode("name"), scalarNode(name, "!!str"),
		keyNode("emptyDir"), {Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle},
	}})
	return name
}

// addSubmitter gives a K8sJobMode RayJob without a submitterPodTemplate
// KubeRay's default submitter pod (same image as the head, same
// resources), which the template fixes then harden.
func (e *editor) addSubmitter() {
	o := e.obj
	if manifest.SubmissionMode(o) != manifest.SubmissionModeK8sJob {
		return
	}
	spec := manifest.Get(o.Node, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return
	}
	if t := manifest.Get(spec, "submitterPodTemplate"); !manifest.IsNull(t) {
		return
	}
	img, _ := manifest.Lookup(spec, "rayClusterSpec.headGroupSpec.template.spec.containers[0].image")
	image := manifest.Scalar(img)
	if image == "" {
		return // an existing cluster is selected: its image is not known here
	}
	m := func(kv ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: kv}
	}
	s := func(v string) *yaml.Node { return scalarNode(v, "!!str") }
	k := keyNode
	resources := m(
		k("limits"), m(k("cpu"), s("1"), k("memory"), s("1Gi")),
		k("requests"), m(k("cpu"), s("500m"), k("memory"), s("200Mi")),
	)
	container := m(k("name"), s(manifest.SubmitterContainerName), k("image"), s(image), k("resources"), resources)
	tmpl := m(k("spec"), m(
		k("restartPolicy"), s("Never"),
		k("containers"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{container}},
	))
	key := k("submitterPodTemplate")
	key.HeadComment = "KubeRay's default submitter pod, made explicit so that it runs restricted."
	if i := valueIndex(spec, "submitterPodTemplate"); i >= 0 {
		spec.Content[i] = tmpl
	} else {
		spec.Content = append(spec.Content, key, tmpl)
	}
	e.note("spec.submitterPodTemplate", "KubeRay's default submitter pod added, to be hardened")
}
