package pss

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"
)

// podFields maps a check to the pod-level field it reads.
var podFields = map[string]string{
	"runAsNonRoot":              "spec.securityContext.runAsNonRoot",
	"runAsUser":                 "spec.securityContext.runAsUser",
	"seLinuxOptions":            "spec.securityContext.seLinuxOptions",
	"seccompProfile_restricted": "spec.securityContext.seccompProfile",
	"seccompProfile_baseline":   "spec.securityContext.seccompProfile",
	"sysctls":                   "spec.securityContext.sysctls",
	"windowsHostProcess":        "spec.securityContext.windowsOptions.hostProcess",
	"appArmorProfile":           "spec.securityContext.appArmorProfile",
}

// containerFields maps a check to the container field it reads.
var containerFields = map[string]string{
	"allowPrivilegeEscalation":  "securityContext.allowPrivilegeEscalation",
	"capabilities_restricted":   "securityContext.capabilities",
	"capabilities_baseline":     "securityContext.capabilities",
	"privileged":                "securityContext.privileged",
	"procMount":                 "securityContext.procMount",
	"procMount_restricted":      "securityContext.procMount",
	"runAsNonRoot":              "securityContext.runAsNonRoot",
	"runAsUser":                 "securityContext.runAsUser",
	"seLinuxOptions":            "securityContext.seLinuxOptions",
	"seccompProfile_restricted": "securityContext.seccompProfile",
	"seccompProfile_baseline":   "securityContext.seccompProfile",
	"windowsHostProcess":        "securityContext.windowsOptions.hostProcess",
	"appArmorProfile":           "securityContext.appArmorProfile",
}

// attribute evaluates check c on parts of the pod to find the fields that
// make it fail.
func (e *evaluators) attribute(c checker, meta *metav1.ObjectMeta, spec *corev1.PodSpec) []Violation {
	podOnly := spec.DeepCopy()
	podOnly.Containers, podOnly.InitContainers, podOnly.EphemeralContainers = nil, nil, nil
	if r, failed := e.run(c, meta, podOnly); failed {
		// The pod-level fields fail on their own; a container is reported
		// as well when it adds to the failure (the check's detail then
		// names it), so that a container's own violation is never hidden
		// behind the pod's.
		return append(e.podLevel(c, meta, podOnly, r), e.containers(c, meta, spec, podOnly, r.ForbiddenDetail)...)
	}
	return e.containers(c, meta, spec, podOnly, "")
}

// containers evaluates check c on the pod-level fields with each container
// alone, and attributes the failures whose detail differs from podDetail
// (the pod-level failure's, "" when the pod-level fields pass).
func (e *evaluators) containers(c checker, meta *metav1.ObjectMeta, spec, podOnly *corev1.PodSpec, podDetail string) []Violation {
	var out []Violation
	try := func(list string, i int, set func(*corev1.PodSpec)) {
		s := podOnly.DeepCopy()
		set(s)
		r, failed := e.run(c, meta, s)
		if !failed || (podDetail != "" && r.ForbiddenDetail == podDetail) {
			return
		}
		base := fmt.Sprintf("spec.%s[%d]", list, i)
		var ctr *corev1.Container
		switch {
		case len(s.Containers) == 1:
			ctr = &s.Containers[0]
		case len(s.InitContainers) == 1:
			ctr = &s.InitContainers[0]
		default:
			ec := corev1.Container(s.EphemeralContainers[0].EphemeralContainerCommon)
			ctr = &ec
		}
		for _, f := range containerFieldsFor(c.id, ctr) {
			out = append(out, Violation{Check: c.id, Field: base + suffix(f), Reason: r.ForbiddenReason, Detail: r.ForbiddenDetail})
		}
	}
	for i := range spec.InitContainers {
		try("initContainers", i, func(s *corev1.PodSpec) { s.InitContainers = []corev1.Container{spec.InitContainers[i]} })
	}
	for i := range spec.Containers {
		try("containers", i, func(s *corev1.PodSpec) { s.Containers = []corev1.Container{spec.Containers[i]} })
	}
	for i := range spec.EphemeralContainers {
		try("ephemeralContainers", i, func(s *corev1.PodSpec) {
			s.EphemeralContainers = []corev1.EphemeralContainer{spec.EphemeralContainers[i]}
		})
	}
	return out
}

func suffix(f string) string {
	if f == "" {
		return ""
	}
	return "." + f
}

// podLevel attributes a check that fails on the pod-level fields alone.
func (e *evaluators) podLevel(c checker, meta *metav1.ObjectMeta, podOnly *corev1.PodSpec, r policy.CheckResult) []Violation {
	v := func(field string, r policy.CheckResult) Violation {
		return Violation{Check: c.id, Field: field, Reason: r.ForbiddenReason, Detail: r.ForbiddenDetail}
	}
	switch c.id {
	case "hostPathVolumes", "restrictedVolumes":
		var out []Violation
		for i := range podOnly.Volumes {
			s := podOnly.DeepCopy()
			s.Volumes = []corev1.Volume{podOnly.Volumes[i]}
			if ri, failed := e.run(c, meta, s); failed {
				out = append(out, v(fmt.Sprintf("spec.volumes[%d]", i), ri))
			}
		}
		if len(out) > 0 {
			return out
		}
		return []Violation{v("spec.volumes", r)}
	case "hostNamespaces":
		var out []Violation
		for name, on := range map[string]bool{"hostNetwork": podOnly.HostNetwork, "hostPID": podOnly.HostPID, "hostIPC": podOnly.HostIPC} {
			if on {
				out = append(out, v("spec."+name, r))
			}
		}
		sortViolations(out)
		if len(out) > 0 {
			return out
		}
		return []Violation{v("spec", r)}
	case "appArmorProfile":
		noAnn := meta.DeepCopy()
		noAnn.Annotations = nil
		if _, failed := e.run(c, noAnn, podOnly); failed {
			return []Violation{v("spec.securityContext.appArmorProfile", r)}
		}
		return []Violation{v("metadata.annotations", r)}
	}
	if f, ok := podFields[c.id]; ok {
		return []Violation{v(f, r)}
	}
	return []Violation{v("spec", r)}
}

func sortViolations(vs []Violation) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].Field < vs[j-1].Field; j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

// containerFieldsFor returns the container fields (relative to the
// container) responsible for check id failing on ctr.
func containerFieldsFor(id string, ctr *corev1.Container) []string {
	switch id {
	case "hostPorts":
		var out []string
		for j, p := range ctr.Ports {
			if p.HostPort != 0 {
				out = append(out, fmt.Sprintf("ports[%d].hostPort", j))
			}
		}
		if len(out) > 0 {
			return out
		}
		return []string{"ports"}
	case "hostProbesAndHostLifecycle":
		out := hostFields(ctr)
		if len(out) > 0 {
			return out
		}
		return []string{""}
	}
	if f, ok := containerFields[id]; ok {
		return []string{f}
	}
	return []string{""}
}

// hostFields lists the probe and lifecycle handlers of ctr that set host.
func hostFields(ctr *corev1.Container) []string {
	var out []string
	probe := func(name string, p *corev1.Probe) {
		if p == nil {
			return
		}
		if p.HTTPGet != nil && p.HTTPGet.Host != "" {
			out = append(out, name+".httpGet.host")
		}
		if p.TCPSocket != nil && p.TCPSocket.Host != "" {
			out = append(out, name+".tcpSocket.host")
		}
	}
	probe("livenessProbe", ctr.LivenessProbe)
	probe("readinessProbe", ctr.ReadinessProbe)
	probe("startupProbe", ctr.StartupProbe)
	handler := func(name string, h *corev1.LifecycleHandler) {
		if h == nil {
			return
		}
		if h.HTTPGet != nil && h.HTTPGet.Host != "" {
			out = append(out, name+".httpGet.host")
		}
		if h.TCPSocket != nil && h.TCPSocket.Host != "" {
			out = append(out, name+".tcpSocket.host")
		}
	}
	if ctr.Lifecycle != nil {
		handler("lifecycle.postStart", ctr.Lifecycle.PostStart)
		handler("lifecycle.preStop", ctr.Lifecycle.PreStop)
	}
	return out
}
