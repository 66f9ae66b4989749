package lint

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/manifest"
)

// A developer who may create RayClusters in a namespace may run any code
// in their pods (a job's entrypoint is a shell command), so whatever a pod
// template can reach, a developer can: the service account it runs as, and
// every Secret it mounts or reads. These rules report that reach.

// tenantOf finds the object's tenant when the tenant rules are on.
func (c *checker) tenantOf(opts Options) {
	if opts.Tenants == nil {
		return
	}
	c.tenants = opts.Tenants
	ns := c.o.Namespace
	if ns == "" {
		ns = opts.Namespace
	}
	if ns == "" {
		c.add(RuleTenantNamespace, path("metadata.namespace"),
			"the object names no namespace, so its tenant is not known and the tenant rules (service accounts, protected Secrets) were not applied; set metadata.namespace or pass --namespace")
		return
	}
	t, ok := opts.Tenants.TenantFor(ns)
	if !ok {
		why := "not a tenant's namespace in the tenants file"
		if sys := opts.Tenants.SystemNamespace(ns); sys != "" {
			why = sys + ", where Ray clusters do not belong"
		}
		c.add(RuleTenantNamespace, path("metadata.namespace"),
			fmt.Sprintf("namespace %q is %s; the tenant rules were not applied", ns, why))
		return
	}
	c.ten = t
}

// checkReach applies the rules about what a pod template reaches beyond
// its pod.
func (c *checker) checkReach(t manifest.Template, pt *corev1.PodTemplateSpec) {
	spec := &pt.Spec
	sp := t.Path.Key("spec")
	if c.ten != nil {
		for _, sa := range []struct{ field, name string }{
			{"serviceAccountName", spec.ServiceAccountName}, {"serviceAccount", spec.DeprecatedServiceAccount},
		} {
			if !c.ten.ServiceAccountAllowed(sa.name) {
				c.add(RuleServiceAccount, sp.Key(sa.field), fmt.Sprintf(
					"%s pod runs as service account %q, which tenant %s may not use (allowed: %v): any Ray job gets that account's Kubernetes permissions (another cluster's autoscaler account can delete pods and change RayClusters)",
					t.Describe(), sa.name, c.ten.Name, c.ten.ServiceAccounts))
			}
		}
	}
	for i, v := range spec.Volumes {
		vp := sp.Key("volumes").Index(i)
		if v.Secret != nil {
			c.secretRef(t.Describe()+" pod", v.Secret.SecretName, vp.Key("secret").Key("secretName"), fmt.Sprintf("volume %q mounts", v.Name))
		}
		if v.CSI != nil && v.CSI.NodePublishSecretRef != nil {
			c.secretRef(t.Describe()+" pod", v.CSI.NodePublishSecretRef.Name, vp.Key("csi").Key("nodePublishSecretRef").Key("name"), fmt.Sprintf("CSI volume %q hands its driver", v.Name))
		}
		if v.Projected == nil {
			continue
		}
		for j, src := range v.Projected.Sources {
			sp := vp.Key("projected").Key("sources").Index(j)
			if src.Secret != nil {
				c.secretRef(t.Describe()+" pod", src.Secret.Name, sp.Key("secret").Key("name"), fmt.Sprintf("projected volume %q holds", v.Name))
			}
			if tok := src.ServiceAccountToken; tok != nil {
				aud := tok.Audience
				if aud == "" {
					aud = "the Kubernetes API"
				}
				c.add(RuleSATokenProjected, sp.Key("serviceAccountToken"), fmt.Sprintf(
					"%s pod's projected volume %q holds a service-account token for %s: code in the pod (any Ray job) can act as the pod's service account", t.Describe(), v.Name, aud))
			}
		}
	}
	for _, l := range []struct {
		name string
		ctrs []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i, ctr := range l.ctrs {
			cp := sp.Key(l.name).Index(i)
			for k, ef := range ctr.EnvFrom {
				if ef.SecretRef != nil {
					c.secretRef(t.Describe()+" pod", ef.SecretRef.Name, cp.Key("envFrom").Index(k).Key("secretRef").Key("name"), fmt.Sprintf("container %q reads every key of", ctr.Name))
				}
			}
			for k, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					c.secretRef(t.Describe()+" pod", e.ValueFrom.SecretKeyRef.Name, cp.Key("env").Index(k).Key("valueFrom").Key("secretKeyRef").Key("name"),
						fmt.Sprintf("container %q reads %s from", ctr.Name, e.Name))
				}
			}
		}
	}
}

// checkAutoscalerAccount reports a RayCluster whose head, with in-tree
// autoscaling and no serviceAccountName, runs as an account that is not
// KubeRay's to make: KubeRay names the head's account after the
// RayCluster, uses an account of that name that already exists as it
// finds it, and binds the autoscaler's Role (delete pods, change
// RayClusters) to it. A RayCluster named default gives the head (and
// every job) the namespace's default account, and gives every pod running
// as default the autoscaler's rights; one named like a ServiceAccount in
// the files takes over that account.
func (c *checker) checkAutoscalerAccount(cs manifest.ClusterSpec) {
	if manifest.CanonicalKind(c.o.Kind) != manifest.KindRayCluster || c.o.Name == "" {
		return
	}
	if cs.Value.Lookup("headGroupSpec.template.spec.serviceAccountName").Str() != "" {
		return
	}
	name := c.o.Name
	why := ""
	if name == "default" {
		why = "the namespace's default account, which every pod that names none runs as"
	} else {
		for _, ns := range c.accounts[name] {
			if sameNamespace(ns, c.namespace()) {
				why = fmt.Sprintf("ServiceAccount %s in the same files, another workload's", name)
				break
			}
		}
	}
	if why == "" {
		return
	}
	c.add(RuleServiceAccount, cs.Path.Join(path("headGroupSpec.template.spec.serviceAccountName")), fmt.Sprintf(
		"with in-tree autoscaling and no serviceAccountName, KubeRay runs the head as the account named after the RayCluster, %q: that is %s; KubeRay uses an existing account as it finds it and binds the autoscaler's Role (delete pods, change RayClusters) to it, so every Ray job gets its rights and its pods get the autoscaler's; rename the RayCluster or set serviceAccountName to an account made for it",
		name, why))
}

// namespace is the object's effective namespace: its own, or the tenant
// rules' (--namespace); "" when unknown.
func (c *checker) namespace() string {
	if c.o.Namespace != "" {
		return c.o.Namespace
	}
	if c.ten != nil {
		return c.ten.Namespace
	}
	return ""
}

// serviceAccounts lists the ServiceAccounts of the files by name, with
// their effective namespaces.
func serviceAccounts(in []Input, opts Options) map[string][]string {
	out := map[string][]string{}
	for _, f := range in {
		for _, o := range f.File.Resources() {
			if o.Kind != "ServiceAccount" || o.APIVersion != "v1" {
				continue
			}
			ns := o.Namespace
			if ns == "" {
				ns = opts.Namespace
			}
			out[o.Name] = append(out[o.Name], ns)
		}
	}
	return out
}

// checkClusterSecrets reports the Secrets a RayClusterSpec makes KubeRay
// put into the cluster's pods: the token Secret authOptions.secretName
// names (its token lands in every Ray container's environment), the GCS
// fault tolerance's Redis credentials (the head's environment), and the
// autoscaler container's env and envFrom.
func (c *checker) checkClusterSecrets(cs manifest.ClusterSpec) {
	if n := cs.Value.Lookup("authOptions.secretName"); n.IsString() && n.Str() != "" {
		c.secretRef("the cluster", n.Str(), cs.Path.Join(path("authOptions.secretName")), "authOptions.secretName puts into every Ray pod the token of")
	}
	for _, cred := range []string{"redisPassword", "redisUsername"} {
		p := path("gcsFaultToleranceOptions." + cred + ".valueFrom.secretKeyRef.name")
		if n := cs.Value.At(p); n.IsString() {
			c.secretRef("head pod", n.Str(), cs.Path.Join(p), "gcsFaultToleranceOptions."+cred+" puts into the head's environment")
		}
	}
	if !manifest.AutoscalingEnabled(cs.Value) {
		return
	}
	opts := cs.Value.Get("autoscalerOptions")
	for k, ef := range opts.Get("envFrom").Items() {
		if n := ef.Lookup("secretRef.name"); n.IsString() {
			c.secretRef("head pod", n.Str(), cs.Path.Join(path(fmt.Sprintf("autoscalerOptions.envFrom[%d].secretRef.name", k))), "the autoscaler container reads every key of")
		}
	}
	for k, e := range opts.Get("env").Items() {
		if n := e.Lookup("valueFrom.secretKeyRef.name"); n.IsString() {
			c.secretRef("head pod", n.Str(), cs.Path.Join(path(fmt.Sprintf("autoscalerOptions.env[%d].valueFrom.secretKeyRef.name", k))), "the autoscaler container reads "+e.Get("name").Str()+" from")
		}
	}
}

// secretRef reports a reference to a Secret: a warning, or an error when
// the Secret is protected (by the tenants file, or as another Ray
// cluster's token Secret in the same files).
func (c *checker) secretRef(who, name string, field manifest.Path, what string) {
	msg := fmt.Sprintf("%s: %s Secret %q: code in the pod (any Ray job) can read it", who, what, name)
	sev := SeverityWarning
	if owner, ok := c.tokens[name]; ok && owner != (tokenOwner{manifest.CanonicalKind(c.o.Kind), c.o.Name}) {
		sev = SeverityError
		msg += fmt.Sprintf(", and it is the Ray token of %s %s, which gives full access to that cluster past raygate", owner.kind, owner.name)
	}
	if c.ten != nil {
		if pat, ok := c.tenants.SecretProtected(c.ten, name); ok {
			sev = SeverityError
			msg += fmt.Sprintf(", and the tenants file protects it (%q)", pat)
		}
	}
	if sev == SeverityWarning {
		msg += "; mount only the Secrets the workload needs"
	}
	c.addSev(RuleSecretReference, sev, field, msg)
}

// tokenOwner is the object a Ray token Secret belongs to.
type tokenOwner struct{ kind, name string }

// tokenSecrets maps the names of the Ray token Secrets KubeRay creates for
// the clusters in a file (named after the RayCluster, or
// authOptions.secretName) to their cluster.
func tokenSecrets(objs []manifest.Object) map[string]tokenOwner {
	out := map[string]tokenOwner{}
	for _, o := range objs {
		for _, cs := range manifest.ClusterSpecs(o) {
			auth := cs.Value.Get("authOptions")
			if auth.Get("mode").Str() != manifest.AuthModeToken {
				continue
			}
			owner := tokenOwner{manifest.CanonicalKind(o.Kind), o.Name}
			if n := auth.Get("secretName").Str(); n != "" {
				out[n] = owner
			} else if manifest.CanonicalKind(o.Kind) == manifest.KindRayCluster && o.Name != "" {
				out[o.Name] = owner
			}
		}
	}
	return out
}
