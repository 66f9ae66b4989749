package lint

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
	"github.com/raygate/raygate/internal/tenant"
)

// Options configure the checks that depend on where objects go.
type Options struct {
	// Tenants, when set, turns on the tenant rules: each object is checked
	// against the tenant whose namespace it goes to (the tenant's allowed
	// service accounts, the protected Secrets).
	Tenants *tenant.File
	// Namespace is the namespace of objects that name none, as with
	// kubectl apply -n.
	Namespace string
	// RayOnly limits the checks to the Ray platform: RayClusters, RayJobs
	// and RayServices, routes to their heads, and the KubeRay operator's
	// install. Other workloads are not evaluated.
	RayOnly bool
}

// Input is one read file of a set checked together.
type Input struct {
	// Name is the file's name, as findings report it.
	Name string
	// File is the file as manifest.Read read it.
	File *manifest.File
}

// File checks every object in one file's bytes, read exactly as kubectl
// reads them. name is used as the findings' File. A file raygate cannot
// read, or refuses to read (duplicate keys, ambiguous YAML), returns a
// *manifest.ParseError and no findings.
func File(name string, data []byte) ([]Finding, error) {
	return FileWith(name, data, Options{})
}

// FileWith is File with options.
func FileWith(name string, data []byte, opts Options) ([]Finding, error) {
	f, err := manifest.Read(data)
	if err != nil {
		return nil, err
	}
	return Check(name, f, opts), nil
}

// Check checks the objects of one read file.
func Check(name string, f *manifest.File, opts Options) []Finding {
	return CheckSet([]Input{{Name: name, File: f}}, opts)
}

// CheckSet checks the objects of several files as one installation: each
// KubeRay object and workload on its own, each file's routes to Ray
// heads, and every KubeRay operator with the RBAC, Services, routes,
// ConfigMaps, Namespaces and Ray objects of all the files.
func CheckSet(in []Input, opts Options) []Finding {
	var out []Finding
	accounts := serviceAccounts(in, opts)
	for _, f := range in {
		tokens := tokenSecrets(f.File.Objects())
		for _, o := range f.File.Resources() {
			switch {
			case o.IsRay():
				c := &checker{file: f.Name, o: o, tokens: tokens, accounts: accounts}
				out = append(out, c.check(opts)...)
			case o.IsWorkload():
				if _, isOperator := manifest.FindOperator(o); opts.RayOnly && !isOperator {
					continue
				}
				out = append(out, checkWorkload(f.Name, o)...)
			}
		}
		out = append(out, exposures(f.Name, f.File)...)
		out = append(out, webhookReach(f.Name, f.File)...)
	}
	out = append(out, operators(in, opts)...)
	sortFindings(out)
	return out
}

// Object checks one KubeRay object or workload on its own.
func Object(file string, o manifest.Object, opts Options) []Finding {
	if o.IsWorkload() {
		return checkWorkload(file, o)
	}
	c := &checker{file: file, o: o}
	return c.check(opts)
}

// checkWorkload evaluates the pod template of a workload (a Pod, a
// Deployment, a CronJob, ...) with Pod Security Admission's checks, as
// the pods its controller creates are evaluated.
func checkWorkload(file string, o manifest.Object) []Finding {
	c := &checker{file: file, o: o}
	for _, t := range manifest.Templates(o) {
		var pt corev1.PodTemplateSpec
		if err := t.Value.DecodeInto(&pt); err != nil {
			field := t.Path
			if len(field) == 0 {
				field = path("spec")
			}
			c.add(RuleInvalidTemplate, field, fmt.Sprintf("%s template: %v", t.Pods(), err))
			continue
		}
		c.checkPSS(t, &pt)
	}
	return c.out
}

// check applies every rule for KubeRay objects to c's object.
func (c *checker) check(opts Options) []Finding {
	o := c.o
	c.tenantOf(opts)
	specs := manifest.ClusterSpecs(o)
	templates := manifest.Templates(o)
	decoded := make([]*corev1.PodTemplateSpec, len(templates))
	for i, t := range templates {
		var pt corev1.PodTemplateSpec
		if err := t.Value.DecodeInto(&pt); err != nil {
			c.add(RuleInvalidTemplate, t.Path, fmt.Sprintf("%s template: %v", t.Pods(), err))
			continue
		}
		decoded[i] = &pt
		c.checkPSS(t, &pt)
		c.checkTemplate(t, &pt)
		c.checkReach(t, &pt)
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
	if manifest.JobSpecPath(o.Kind) != nil {
		c.checkSubmitter(specs)
	}
	if manifest.CanonicalKind(o.Kind) == manifest.KindRayService {
		c.checkServeService()
	}
	return c.out
}

type checker struct {
	file   string
	o      manifest.Object
	out    []Finding
	tokens map[string]tokenOwner
	// accounts are the ServiceAccounts of the files checked together, by
	// name, with their namespaces ("" when unknown).
	accounts map[string][]string
	// tenants and ten are the tenants file and the object's tenant (nil
	// when the tenant rules are off or the object has no tenant).
	tenants *tenant.File
	ten     *tenant.Tenant
}

// path builds a field path relative to the object.
func path(s string) manifest.Path { return manifest.ParsePath(s) }

// add records a finding at field (relative to the object) with the rule's
// severity.
func (c *checker) add(rule string, field manifest.Path, msg string) {
	sev := severityOf(rule)
	if strings.HasPrefix(rule, RulePSSPrefix) {
		sev = SeverityError
	}
	c.addSev(rule, sev, field, msg)
}

// addSev records a finding with an explicit severity.
func (c *checker) addSev(rule string, sev Severity, field manifest.Path, msg string) {
	pos := c.o.Position(field)
	c.out = append(c.out, Finding{
		File: c.file, Document: c.o.Document, Kind: c.o.Kind, Name: c.o.Name,
		Rule: rule, Severity: sev, Field: c.o.Field(field), Message: msg,
		Line: pos.Line, Column: pos.Column,
		Key: rule + " " + identity(c.o.Value, field) + " " + msg,
	})
}

// checkPSS evaluates a pod template with Pod Security Admission's checks.
func (c *checker) checkPSS(t manifest.Template, pt *corev1.PodTemplateSpec) {
	meta, spec := pt.ObjectMeta.DeepCopy(), pt.Spec.DeepCopy()
	pss.AsPod(meta, spec)
	vs, err := pss.Evaluate(meta, spec)
	if err != nil {
		c.add(RulePSSPrefix+pssFallbackCheck, t.Path, fmt.Sprintf("cannot evaluate the %s template: %v", t.Pods(), err))
		return
	}
	for _, v := range vs {
		c.add(RulePSSPrefix+v.Check, t.Path.Join(manifest.ParsePath(v.Field)), fmt.Sprintf("%s: %s", t.Pods(), v.Message()))
	}
}

// checkTemplate applies the Ray rules that look at one pod template.
func (c *checker) checkTemplate(t manifest.Template, pt *corev1.PodTemplateSpec) {
	spec := &pt.Spec
	sp := t.Path.Key("spec")
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		if !manifest.NeedsServiceAccountToken(c.o, t) {
			c.add(RuleSATokenAutomount, sp.Key("automountServiceAccountToken"),
				fmt.Sprintf("%s pod mounts a service-account token: any Ray job can call the Kubernetes API as the pod; set automountServiceAccountToken: false", t.Describe()))
		}
	}
	for _, h := range []struct {
		name string
		on   bool
	}{{"hostIPC", spec.HostIPC}, {"hostNetwork", spec.HostNetwork}, {"hostPID", spec.HostPID}} {
		if h.on {
			c.add(RuleHostNamespace, sp.Key(h.name), fmt.Sprintf("%s pod sets %s: true; %s", t.Describe(), h.name, hostNamespaceWhy(h.name)))
		}
	}
	lists := []struct {
		name string
		ctrs []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}}
	for _, l := range lists {
		for i, ctr := range l.ctrs {
			cp := sp.Key(l.name).Index(i)
			for j, port := range ctr.Ports {
				if port.HostPort != 0 {
					c.add(RuleHostPort, cp.Key("ports").Index(j).Key("hostPort"),
						fmt.Sprintf("container %q publishes port %d on the node as hostPort %d, outside NetworkPolicies; remove hostPort", ctr.Name, port.ContainerPort, port.HostPort))
				}
			}
			if reason := unpinned(ctr.Image); reason != "" {
				c.add(RuleImageUnpinned, cp.Key("image"), fmt.Sprintf("container %q image %q %s; pin a version tag or a digest", ctr.Name, ctr.Image, reason))
			}
			if l.name != "containers" {
				continue
			}
			if missing := missingLimits(ctr); missing != "" {
				c.add(RuleResourceLimits, cp.Key("resources").Key("limits"),
					fmt.Sprintf("container %q sets no %s limit: one workload can starve the node and other tenants", ctr.Name, missing))
			}
			if i == 0 && readOnlyRoot(ctr) && !writableTmp(ctr, spec) {
				c.add(RuleReadOnlyRootFSNoTmp, cp.Key("securityContext").Key("readOnlyRootFilesystem"),
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

// identity renders a field path for the webhook's ratchet with list items
// named instead of numbered where they have a name (containers, volumes,
// env entries by name; worker groups by groupName), so that an old finding
// excuses only the same field of the same container, wherever it moved.
// A name that a list holds more than once is counted (the second
// "ray-head" is [name="ray-head"#2]), so that a copy of an excused
// container is not excused with it.
func identity(root *manifest.Value, p manifest.Path) string {
	var b strings.Builder
	cur := root
	for _, s := range p {
		if !s.IsIndex() {
			b.WriteString("." + s.Key)
			cur = cur.Get(s.Key)
			continue
		}
		list := cur
		cur = cur.Index(s.Index)
		key := ""
		switch {
		case cur.Get("name").IsString():
			key = "name"
		case cur.Get("groupName").IsString():
			key = "groupName"
		default:
			fmt.Fprintf(&b, "[%d]", s.Index)
			continue
		}
		name := cur.Get(key).Str()
		fmt.Fprintf(&b, "[%s=%q", key, name)
		if n := occurrence(list, s.Index, key, name); n > 1 {
			fmt.Fprintf(&b, "#%d", n)
		}
		b.WriteString("]")
	}
	return b.String()
}

// occurrence counts the items of list up to index i whose key is name.
func occurrence(list *manifest.Value, i int, key, name string) int {
	n := 0
	for j := 0; j <= i; j++ {
		if it := list.Index(j); it.Get(key).IsString() && it.Get(key).Str() == name {
			n++
		}
	}
	return n
}
