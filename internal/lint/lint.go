package lint

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
)

// File checks every KubeRay object in one file's bytes. name is used as the
// findings' File. A file that is not valid YAML returns a
// *manifest.ParseError and no findings.
func File(name string, data []byte) ([]Finding, error) {
	docs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	return Documents(name, docs), nil
}

// Documents checks the KubeRay objects of already parsed documents.
func Documents(name string, docs []manifest.Document) []Finding {
	var out []Finding
	for _, o := range manifest.Objects(docs) {
		out = append(out, Object(name, o)...)
	}
	out = append(out, exposures(name, docs)...)
	out = append(out, webhookReach(name, docs)...)
	sortFindings(out)
	return out
}

// Object checks one KubeRay object.
func Object(file string, o manifest.Object) []Finding {
	c := &checker{file: file, o: o}
	specs := manifest.ClusterSpecs(o)
	templates := manifest.Templates(o)
	decoded := make([]*corev1.PodTemplateSpec, len(templates))
	for i, t := range templates {
		var pt corev1.PodTemplateSpec
		if err := manifest.DecodeInto(t.Node, &pt); err != nil {
			c.add(RuleInvalidTemplate, t.Path, fmt.Sprintf("%s pod template: %v", t.Describe(), err))
			continue
		}
		decoded[i] = &pt
		c.checkPSS(t, &pt)
		c.checkTemplate(t, &pt)
	}
	for ci, cs := range specs {
		var head *corev1.PodTemplateSpec
		for i, t := range templates {
			if t.Role == manifest.RoleHead && t.Cluster == ci {
				head = decoded[i]
			}
		}
		c.checkClusterSpec(cs, templates, decoded, ci, head)
	}
	if o.Kind == manifest.KindRayJob {
		c.checkSubmitter(specs)
	}
	if o.Kind == manifest.KindRayService {
		if t, _ := manifest.Lookup(o.Node, "spec.serveService.spec.type"); t != nil {
			if typ := manifest.Scalar(t); typ == "LoadBalancer" || typ == "NodePort" {
				c.add(RuleServeServiceExposed, "spec.serveService.spec.type",
					fmt.Sprintf("the serve Service is of type %s: Ray Serve (port 8000) answers unauthenticated requests from outside the cluster; use ClusterIP behind an authenticating gateway", typ))
			}
		}
	}
	return c.out
}

type checker struct {
	file string
	o    manifest.Object
	out  []Finding
}

// add records a finding at field (relative to the object) with the rule's
// severity.
func (c *checker) add(rule, field, msg string) {
	sev := severityOf(rule)
	if strings.HasPrefix(rule, RulePSSPrefix) {
		sev = SeverityError
	}
	c.addSev(rule, sev, field, msg)
}

// addSev records a finding with an explicit severity.
func (c *checker) addSev(rule string, sev Severity, field, msg string) {
	line, col := manifest.Position(c.o.Node, field)
	c.out = append(c.out, Finding{
		File: c.file, Document: c.o.Document, Kind: c.o.Kind, Name: c.o.Name,
		Rule: rule, Severity: sev, Field: c.o.Path(field), Message: msg,
		Line: line, Column: col,
	})
}

// checkPSS evaluates a pod template with Pod Security Admission's checks.
func (c *checker) checkPSS(t manifest.Template, pt *corev1.PodTemplateSpec) {
	meta, spec := pt.ObjectMeta.DeepCopy(), pt.Spec.DeepCopy()
	pss.AsPod(meta, spec)
	vs, err := pss.Evaluate(meta, spec)
	if err != nil {
		c.add(RulePSSPrefix+pssFallbackCheck, t.Path, fmt.Sprintf("cannot evaluate the %s pod template: %v", t.Describe(), err))
		return
	}
	for _, v := range vs {
		c.add(RulePSSPrefix+v.Check, manifest.JoinPath(t.Path, v.Field), fmt.Sprintf("%s pod: %s", t.Describe(), v.Message()))
	}
}

// checkTemplate applies the Ray rules that look at one pod template.
func (c *checker) checkTemplate(t manifest.Template, pt *corev1.PodTemplateSpec) {
	spec := &pt.Spec
	p := func(rel string) string { return manifest.JoinPath(t.Path, "spec", rel) }
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		if !manifest.NeedsServiceAccountToken(c.o, t) {
			c.add(RuleSATokenAutomount, p("automountServiceAccountToken"),
				fmt.Sprintf("%s pod mounts a service-account token: any Ray job can call the Kubernetes API as the pod; set automountServiceAccountToken: false", t.Describe()))
		}
	}
	for _, h := range []struct {
		name string
		on   bool
	}{{"hostIPC", spec.HostIPC}, {"hostNetwork", spec.HostNetwork}, {"hostPID", spec.HostPID}} {
		if h.on {
			c.add(RuleHostNamespace, p(h.name), fmt.Sprintf("%s pod sets %s: true; %s", t.Describe(), h.name, hostNamespaceWhy(h.name)))
		}
	}
	lists := []struct {
		name string
		ctrs []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}}
	for _, l := range lists {
		for i, ctr := range l.ctrs {
			cp := p(manifest.Index(l.name, i))
			for j, port := range ctr.Ports {
				if port.HostPort != 0 {
					c.add(RuleHostPort, manifest.JoinPath(cp, manifest.Index("ports", j), "hostPort"),
						fmt.Sprintf("container %q publishes port %d on the node as hostPort %d, outside NetworkPolicies; remove hostPort", ctr.Name, port.ContainerPort, port.HostPort))
				}
			}
			if reason := unpinned(ctr.Image); reason != "" {
				c.add(RuleImageUnpinned, manifest.JoinPath(cp, "image"), fmt.Sprintf("container %q image %q %s; pin a version tag or a digest", ctr.Name, ctr.Image, reason))
			}
			if l.name != "containers" {
				continue
			}
			if missing := missingLimits(ctr); missing != "" {
				c.add(RuleResourceLimits, manifest.JoinPath(cp, "resources.limits"),
					fmt.Sprintf("container %q sets no %s limit: one workload can starve the node and other tenants", ctr.Name, missing))
			}
			if i == 0 && readOnlyRoot(ctr) && !writableTmp(ctr, spec) {
				c.add(RuleReadOnlyRootFSNoTmp, manifest.JoinPath(cp, "securityContext.readOnlyRootFilesystem"),
					fmt.Sprintf("container %q has a read-only root filesystem but no writable volume at /tmp, where Ray keeps its session directory; mount an emptyDir at /tmp", ctr.Name))
			}
		}
	}
}

func hostNamespaceWhy(name string) string {
	switch name {
	case "hostNetwork":
		return "Ray's ports (6379 GCS, 8265 dashboard and Jobs API, 10001 Ray Client, 8000 Serve) listen on the node's address, where NetworkPolicies do not apply"
	case "hostPID":
		return "Ray processes see and can signal every process on the node"
	default:
		return "Ray's shared-memory object store shares the node's IPC namespace"
	}
}

func unpinned(image string) string {
	if image == "" {
		return ""
	}
	tag, digest := manifest.ImageTag(image)
	switch {
	case digest != "":
		return ""
	case tag == "":
		return "has no tag (it means latest)"
	case tag == "latest" || tag == "nightly" || strings.HasPrefix(tag, "nightly-"):
		return "uses the moving tag " + tag
	}
	return ""
}

func missingLimits(ctr corev1.Container) string {
	var missing []string
	if _, ok := ctr.Resources.Limits[corev1.ResourceCPU]; !ok {
		missing = append(missing, "cpu")
	}
	if _, ok := ctr.Resources.Limits[corev1.ResourceMemory]; !ok {
		missing = append(missing, "memory")
	}
	return strings.Join(missing, " or ")
}

func readOnlyRoot(ctr corev1.Container) bool {
	return ctr.SecurityContext != nil && ctr.SecurityContext.ReadOnlyRootFilesystem != nil && *ctr.SecurityContext.ReadOnlyRootFilesystem
}

// writableTmp reports whether ctr mounts a writable volume at /tmp or
// /tmp/ray.
func writableTmp(ctr corev1.Container, spec *corev1.PodSpec) bool {
	for _, m := range ctr.VolumeMounts {
		mp := strings.TrimRight(m.MountPath, "/")
		if (mp == "/tmp" || mp == "/tmp/ray") && !m.ReadOnly {
			for _, v := range spec.Volumes {
				if v.Name == m.Name && (v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil) {
					return true
				}
			}
		}
	}
	return false
}
