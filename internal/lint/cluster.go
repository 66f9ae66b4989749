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
	hg := cs.Value.Get("headGroupSpec")
	hp := cs.Path.Key("headGroupSpec")
	if typ := hg.Get("serviceType").Str(); manifest.ExposedServiceType(typ) {
		c.add(RuleHeadServiceExposed, hp.Key("serviceType"),
			fmt.Sprintf("the head Service is of type %s: the dashboard and Jobs API (8265), Ray Client (10001) and GCS (6379) are reachable from outside the cluster; use ClusterIP and reach the dashboard through raygate", typ))
	}
	c.checkService(RuleHeadServiceExposed, "headService", "the head's ports", hp.Key("headService").Key("spec"), hg.Lookup("headService.spec"))
	if hg.Get("enableIngress").IsTrue() {
		c.add(RuleHeadIngress, hp.Key("enableIngress"),
			"enableIngress: true makes KubeRay create an Ingress to the dashboard and Jobs API, which run any command a request asks for; set it to false and publish the dashboard through raygate")
	}
	c.checkAuth(cs, templates, decoded, ci)
	c.checkClusterSecrets(cs)
	if manifest.AutoscalingEnabled(cs.Value) {
		c.checkAutoscaler(cs, head)
		c.checkAutoscalerAccount(cs)
		if img := cs.Value.Lookup("autoscalerOptions.image"); img.IsString() {
			if reason := unpinned(img.Str()); reason != "" {
				c.add(RuleImageUnpinned, cs.Path.Join(path("autoscalerOptions.image")), fmt.Sprintf("autoscaler image %q %s; pin a version tag or a digest", img.Str(), reason))
			}
		}
	}
}

// checkService reports the fields of a Service spec KubeRay copies into a
// Service that publish it outside the cluster: a LoadBalancer or NodePort
// type, externalIPs (kube-proxy forwards traffic to those addresses to the
// Service) and loadBalancerSourceRanges (an allow-list for a load
// balancer: it means one is wanted).
func (c *checker) checkService(rule, name, what string, p manifest.Path, spec *manifest.Value) {
	if typ := spec.Get("type").Str(); manifest.ExposedServiceType(typ) {
		c.add(rule, p.Key("type"), fmt.Sprintf("%s sets type %s: %s are reachable from outside the cluster; use ClusterIP", name, typ, what))
	}
	if ips := spec.Get("externalIPs"); ips.Len() > 0 {
		c.add(rule, p.Key("externalIPs"), fmt.Sprintf("%s sets externalIPs: traffic to those addresses reaches %s from outside the cluster; remove them", name, what))
	}
	if r := spec.Get("loadBalancerSourceRanges"); r.Len() > 0 {
		c.add(rule, p.Key("loadBalancerSourceRanges"), fmt.Sprintf("%s sets loadBalancerSourceRanges: %s are meant to be published through a load balancer; remove it and use ClusterIP", name, what))
	}
}

// checkServeService looks at a RayService's serve Service, and at the
// Gateway KubeRay (1.6.0 and later) creates for the incremental upgrade
// strategy, which routes to Ray Serve through the given Gateway class.
func (c *checker) checkServeService() {
	c.checkService(RuleServeServiceExposed, "the serve Service", "Ray Serve's unauthenticated endpoints (port 8000)",
		path("spec.serveService.spec"), c.o.Value.Lookup("spec.serveService.spec"))
	up := c.o.Value.Lookup("spec.upgradeStrategy")
	if up.Get("type").Str() == "NewClusterWithIncrementalUpgrade" {
		if gc := up.Lookup("clusterUpgradeOptions.gatewayClassName"); gc.Str() != "" {
			c.add(RuleServeServiceExposed, path("spec.upgradeStrategy.clusterUpgradeOptions.gatewayClassName"), fmt.Sprintf(
				"the incremental upgrade makes KubeRay create a Gateway of class %q with an HTTPRoute to Ray Serve's unauthenticated endpoints (port 8000): whoever reaches that Gateway reaches Serve; use a Gateway class that is internal to the cluster, behind authentication", gc.Str()))
		}
	}
}

// checkAuth requires Ray token authentication.
func (c *checker) checkAuth(cs manifest.ClusterSpec, templates []manifest.Template, decoded []*corev1.PodTemplateSpec, ci int) {
	auth := cs.Value.Get("authOptions")
	mode := auth.Get("mode")
	if mode.Str() == manifest.AuthModeToken {
		rv := cs.Value.Get("rayVersion").Str()
		switch {
		case rv == "":
			c.add(RuleAuthRayVersion, cs.Path.Key("rayVersion"),
				fmt.Sprintf("token authentication needs spec.rayVersion set to %s or newer; KubeRay refuses authOptions without it", manifest.MinTokenAuthRayVersion))
		case !manifest.VersionAtLeast(rv, manifest.MinTokenAuthRayVersion):
			c.add(RuleAuthRayVersion, cs.Path.Key("rayVersion"),
				fmt.Sprintf("rayVersion %s is older than %s: Ray ignores token authentication and KubeRay refuses authOptions; use Ray %s or newer", rv, manifest.MinTokenAuthRayVersion, manifest.MinTokenAuthRayVersion))
		}
		return
	}
	if envTokenEverywhere(templates, decoded, ci) {
		return
	}
	field, msg := cs.Path.Key("authOptions"), "Ray token authentication is off: any pod that reaches the head can submit jobs, which run arbitrary commands; set authOptions.mode: token"
	if mode != nil {
		field = field.Key("mode")
		msg = fmt.Sprintf("authOptions.mode is %q: Ray token authentication is off, so any pod that reaches the head can submit jobs; set it to token", mode.Scalar())
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
		// The last entry of a name is the one the container gets.
		ok := false
		for _, e := range pt.Spec.Containers[0].Env {
			if e.Name == manifest.AuthModeEnv {
				ok = e.Value == manifest.AuthModeToken && e.ValueFrom == nil
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
	field := cs.Path.Join(path("autoscalerOptions.securityContext"))
	var sc *corev1.SecurityContext
	if n := cs.Value.Lookup("autoscalerOptions.securityContext"); !n.IsNull() {
		sc = &corev1.SecurityContext{}
		if err := n.DecodeInto(sc); err != nil {
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

// checkSubmitter looks at the pods a RayJob's submission adds (a
// RayCronJob's RayJobs alike).
func (c *checker) checkSubmitter(specs []manifest.ClusterSpec) {
	jp := manifest.JobSpecPath(c.o.Kind)
	switch manifest.SubmissionMode(c.o) {
	case manifest.SubmissionModeK8sJob:
		if !c.o.Value.At(jp.Key("submitterPodTemplate")).IsNull() {
			return
		}
		if len(specs) == 0 || specs[0].Value.Lookup("headGroupSpec.template.spec.containers[0].image").Str() == "" {
			// Without rayClusterSpec KubeRay builds the submitter from the
			// selected cluster's head: still a pod without securityContext.
			// (Without a head image, harden cannot write the default
			// submitter either.)
			c.addSev(RuleSubmitterRestricted, SeverityWarning, jp.Key("submitterPodTemplate"),
				"no submitterPodTemplate: KubeRay's default submitter pod (built from the selected cluster's head image) has no securityContext and is rejected in a restricted namespace; add a submitterPodTemplate with a restricted securityContext")
			return
		}
		c.add(RuleSubmitterRestricted, jp.Key("submitterPodTemplate"),
			"no submitterPodTemplate: KubeRay's default submitter pod has no securityContext and is rejected in a restricted namespace; add one with a restricted securityContext (raygate harden adds KubeRay's default, hardened)")
	case manifest.SubmissionModeSidecar:
		c.add(RuleSidecarSubmitter, jp.Key("submissionMode"),
			"SidecarMode adds a submitter container without a securityContext to the head pod, which a restricted namespace rejects; use K8sJobMode with a hardened submitterPodTemplate, or HTTPMode")
	}
}
