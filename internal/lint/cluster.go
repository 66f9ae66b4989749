package lint

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
)

// checkClusterSpec applies the rules that look at a RayClusterSpec as a
// whole: how the head is exposed, authentication, the autoscaler.
func (c *checker) checkClusterSpec(cs manifest.ClusterSpec, templates []manifest.Template, decoded []*corev1.PodTemplateSpec, ci int, head *corev1.PodTemplateSpec) {
	p := func(rel string) string { return manifest.JoinPath(cs.Path, rel) }
	if typ := manifest.Scalar(manifest.Get(manifest.Get(cs.Node, "headGroupSpec"), "serviceType")); exposedType(typ) {
		c.add(RuleHeadServiceExposed, p("headGroupSpec.serviceType"),
			fmt.Sprintf("the head Service is of type %s: the dashboard and Jobs API (8265), Ray Client (10001) and GCS (6379) are reachable from outside the cluster; use ClusterIP and reach the dashboard through raygate", typ))
	}
	if t, _ := manifest.Lookup(cs.Node, "headGroupSpec.headService.spec.type"); exposedType(manifest.Scalar(t)) {
		c.add(RuleHeadServiceExposed, p("headGroupSpec.headService.spec.type"),
			fmt.Sprintf("headService sets type %s: the head's ports are reachable from outside the cluster; use ClusterIP", manifest.Scalar(t)))
	}
	if on, ok := manifest.Bool(manifest.Get(manifest.Get(cs.Node, "headGroupSpec"), "enableIngress")); ok && on {
		c.add(RuleHeadIngress, p("headGroupSpec.enableIngress"),
			"enableIngress: true makes KubeRay create an Ingress to the dashboard and Jobs API, which run any command a request asks for; set it to false and publish the dashboard through raygate")
	}
	c.checkAuth(cs, templates, decoded, ci)
	if manifest.AutoscalingEnabled(cs.Node) {
		c.checkAutoscaler(cs, head)
		if img, _ := manifest.Lookup(cs.Node, "autoscalerOptions.image"); img != nil {
			if reason := unpinned(manifest.Scalar(img)); reason != "" {
				c.add(RuleImageUnpinned, p("autoscalerOptions.image"), fmt.Sprintf("autoscaler image %q %s; pin a version tag or a digest", manifest.Scalar(img), reason))
			}
		}
	}
}

func exposedType(t string) bool { return t == "LoadBalancer" || t == "NodePort" }

// checkAuth requires Ray token authentication.
func (c *checker) checkAuth(cs manifest.ClusterSpec, templates []manifest.Template, decoded []*corev1.PodTemplateSpec, ci int) {
	p := func(rel string) string { return manifest.JoinPath(cs.Path, rel) }
	auth := manifest.Get(cs.Node, "authOptions")
	mode := manifest.Scalar(manifest.Get(auth, "mode"))
	if mode == manifest.AuthModeToken {
		rv := manifest.Scalar(manifest.Get(cs.Node, "rayVersion"))
		switch {
		case rv == "":
			c.add(RuleAuthRayVersion, p("rayVersion"),
				fmt.Sprintf("token authentication needs spec.rayVersion set to %s or newer; KubeRay refuses authOptions without it", manifest.MinTokenAuthRayVersion))
		case !manifest.VersionAtLeast(rv, manifest.MinTokenAuthRayVersion):
			c.add(RuleAuthRayVersion, p("rayVersion"),
				fmt.Sprintf("rayVersion %s is older than %s: Ray ignores token authentication and KubeRay refuses authOptions; use Ray %s or newer", rv, manifest.MinTokenAuthRayVersion, manifest.MinTokenAuthRayVersion))
		}
		return
	}
	if envTokenEverywhere(templates, decoded, ci) {
		return
	}
	field, msg := p("authOptions"), "Ray token authentication is off: any pod that reaches the head can submit jobs, which run arbitrary commands; set authOptions.mode: token"
	if mode != "" {
		field = p("authOptions.mode")
		msg = fmt.Sprintf("authOptions.mode is %q: Ray token authentication is off, so any pod that reaches the head can submit jobs; set it to token", mode)
	}
	c.add(RuleAuthDisabled, field, msg)
}

// envTokenEverywhere reports whether the Ray container of every head and
// worker template of cluster spec ci sets RAY_AUTH_MODE=token (token
// authentication configured by hand, as before authOptions existed).
func envTokenEverywhere(templates []manifest.Template, decoded []*corev1.PodTemplateSpec, ci int) bool {
	seen := false
	for i, t := range templates {
		if t.Cluster != ci {
			continue
		}
		pt := decoded[i]
		if pt == nil || len(pt.Spec.Containers) == 0 {
			return false
		}
		ok := false
		for _, e := range pt.Spec.Containers[0].Env {
			if e.Name == manifest.AuthModeEnv && e.Value == manifest.AuthModeToken {
				ok = true
			}
		}
		if !ok {
			return false
		}
		seen = true
	}
	return seen
}

// checkAutoscaler evaluates the autoscaler container KubeRay adds to the
// head pod, with the securityContext autoscalerOptions gives it.
func (c *checker) checkAutoscaler(cs manifest.ClusterSpec, head *corev1.PodTemplateSpec) {
	field := manifest.JoinPath(cs.Path, "autoscalerOptions.securityContext")
	var sc *corev1.SecurityContext
	if n, _ := manifest.Lookup(cs.Node, "autoscalerOptions.securityContext"); n != nil && !manifest.IsNull(n) {
		sc = &corev1.SecurityContext{}
		if err := manifest.DecodeInto(n, sc); err != nil {
			c.add(RuleInvalidTemplate, field, fmt.Sprintf("autoscalerOptions.securityContext: %v", err))
			return
		}
	}
	pod := &corev1.PodTemplateSpec{}
	if head != nil {
		pod = head.DeepCopy()
	}
	pod.Spec.InitContainers, pod.Spec.EphemeralContainers = nil, nil
	pod.Spec.Containers = []corev1.Container{{Name: manifest.AutoscalerContainerName, SecurityContext: sc}}
	vs, err := pss.Evaluate(&pod.ObjectMeta, &pod.Spec)
	if err != nil || len(vs) == 0 {
		return
	}
	var reasons []string
	for _, v := range vs {
		if strings.Contains(v.Field, "containers[") {
			reasons = append(reasons, v.Reason)
		}
	}
	if len(reasons) == 0 {
		return // pod-level problems are reported on the head template
	}
	c.add(RuleAutoscalerRestricted, field,
		fmt.Sprintf("the autoscaler container KubeRay adds to the head pod would fail restricted (%s); set autoscalerOptions.securityContext to the restricted container securityContext", strings.Join(reasons, ", ")))
}

// checkSubmitter looks at the pods a RayJob's submission adds.
func (c *checker) checkSubmitter(specs []manifest.ClusterSpec) {
	mode := manifest.SubmissionMode(c.o)
	switch mode {
	case manifest.SubmissionModeK8sJob:
		if t, _ := manifest.Lookup(c.o.Node, "spec.submitterPodTemplate"); t != nil && !manifest.IsNull(t) {
			return
		}
		if len(specs) == 0 {
			// Without rayClusterSpec KubeRay builds the submitter from the
			// selected cluster's head: still a pod without securityContext.
			c.addSev(RuleSubmitterRestricted, SeverityWarning, "spec.submitterPodTemplate",
				"no submitterPodTemplate: KubeRay's default submitter pod (built from the selected cluster's head image) has no securityContext and is rejected in a restricted namespace; add a submitterPodTemplate with a restricted securityContext")
			return
		}
		c.add(RuleSubmitterRestricted, "spec.submitterPodTemplate",
			"no submitterPodTemplate: KubeRay's default submitter pod has no securityContext and is rejected in a restricted namespace; add one with a restricted securityContext (raygate harden adds KubeRay's default, hardened)")
	case manifest.SubmissionModeSidecar:
		c.add(RuleSidecarSubmitter, "spec.submissionMode",
			"SidecarMode adds a submitter container without a securityContext to the head pod, which a restricted namespace rejects; use K8sJobMode with a hardened submitterPodTemplate, or HTTPMode")
	}
}
