package harden

import (
	"fmt"
	"strings"

	"github.com/raygate/raygate/internal/manifest"
)

// tmpVolume is the name of the emptyDir harden mounts at /tmp.
const tmpVolume = "ray-tmp"

// writableTmp gives the container at cp, when its root filesystem is
// read-only, a writable emptyDir at /tmp, where Ray keeps its session
// directory.
func (p *planner) writableTmp(sp, cp manifest.Path) {
	c := p.get(cp)
	if !c.Lookup("securityContext.readOnlyRootFilesystem").IsTrue() {
		return
	}
	mounts := c.Get("volumeMounts")
	if !mounts.IsNull() && !mounts.IsList() {
		return
	}
	for _, m := range mounts.Items() {
		mp := strings.TrimRight(m.Get("mountPath").Str(), "/")
		if mp == "/tmp" || mp == "/tmp/ray" {
			return // something is mounted there already; leave it as chosen
		}
	}
	name := p.tmpVolumeName(sp)
	if name == "" {
		return
	}
	mount := manifest.NewMap("name", manifest.NewString(name), "mountPath", manifest.NewString("/tmp"))
	if mounts.IsNull() {
		p.set(cp.Key("volumeMounts"), manifest.NewList(mount), fmt.Sprintf("emptyDir %s mounted at /tmp (the root filesystem is read-only)", name))
		return
	}
	p.set(cp.Key("volumeMounts").Index(mounts.Len()), mount, fmt.Sprintf("emptyDir %s mounted at /tmp (the root filesystem is read-only)", name))
}

// tmpVolumeName returns the emptyDir volume to mount at /tmp, adding it to
// the pod's volumes when needed; "" when volumes is not a list.
func (p *planner) tmpVolumeName(sp manifest.Path) string {
	vp := sp.Key("volumes")
	vols := p.get(vp)
	if !vols.IsNull() && !vols.IsList() {
		return ""
	}
	names := map[string]bool{}
	for _, v := range vols.Items() {
		n := v.Get("name").Str()
		names[n] = true
		if strings.HasPrefix(n, tmpVolume) && v.Get("emptyDir") != nil {
			return n
		}
	}
	name := tmpVolume
	for i := 2; names[name]; i++ {
		name = fmt.Sprintf("%s-%d", tmpVolume, i)
	}
	vol := manifest.NewMap("name", manifest.NewString(name), "emptyDir", manifest.NewMap())
	if vols.IsNull() {
		p.set(vp, manifest.NewList(vol), "emptyDir "+name+" added")
	} else {
		p.set(vp.Index(vols.Len()), vol, "emptyDir "+name+" added")
	}
	return name
}

// addSubmitter gives a K8sJobMode RayJob (or a RayCronJob's job
// template) without a submitterPodTemplate KubeRay's default submitter
// pod (same image as the head, same resources), which the template fixes
// then harden.
func (p *planner) addSubmitter() {
	if manifest.SubmissionMode(manifest.Object{Kind: p.obj.Kind, Value: p.v}) != manifest.SubmissionModeK8sJob {
		return
	}
	jp := manifest.JobSpecPath(p.obj.Kind)
	if !p.get(jp).IsMap() || !p.get(jp.Key("submitterPodTemplate")).IsNull() {
		return
	}
	image := p.get(jp.Join(path("rayClusterSpec.headGroupSpec.template.spec.containers[0].image"))).Str()
	if image == "" {
		return // an existing cluster is selected: its image is not known here
	}
	s := manifest.NewString
	m := manifest.NewMap
	resources := m(
		"limits", m("cpu", s("1"), "memory", s("1Gi")),
		"requests", m("cpu", s("500m"), "memory", s("200Mi")),
	)
	container := m("name", s(manifest.SubmitterContainerName), "image", s(image), "resources", resources)
	tmpl := m("spec", m("restartPolicy", s("Never"), "containers", manifest.NewList(container)))
	p.setComment(jp.Key("submitterPodTemplate"), tmpl, "KubeRay's default submitter pod added, to be hardened",
		"KubeRay's default submitter pod, made explicit so that it runs restricted.")
}
