package lint

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
)

// The KubeRay operator has the widest rights of a Ray platform: it
// creates and deletes pods, Services, RoleBindings and Jobs in every
// namespace it watches, and (from KubeRay 1.5.1) reads and creates the
// Secrets holding every cluster's Ray token. The RG-operator rules look
// at its install as a whole: its pod, the RBAC bound to its service
// account, the namespaces it watches, its version against the clusters
// it manages, and the Services and routes that reach its ports.

// Versions of KubeRay that added what the operator rules check.
const (
	// operatorTokenAuthVersion added spec.authOptions (mode: token).
	operatorTokenAuthVersion = "1.5.1"
	// operatorAuthExtrasVersion added authOptions.secretName and
	// authOptions.enableK8sTokenAuth.
	operatorAuthExtrasVersion = "1.6.0"
)

// placed is an object of the checked files with its file and effective
// namespace ("" when neither the object nor --namespace names one).
type placed struct {
	file string
	o    manifest.Object
	ns   string
}

func (p placed) checker() *checker { return &checker{file: p.file, o: p.o} }

// clusterScoped are the kinds the operator rules read that have no
// namespace.
var clusterScoped = map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "Namespace": true}

// describe names the object for messages: Kind namespace/name.
func (p placed) describe() string {
	if p.ns == "" || clusterScoped[p.o.Kind] {
		return p.o.Kind + " " + p.o.Name
	}
	return p.o.Kind + " " + p.ns + "/" + p.o.Name
}

// sameNamespace reports whether two effective namespaces may be the same
// (an unknown one may be any).
func sameNamespace(a, b string) bool { return a == "" || b == "" || a == b }

// install is everything the operator rules look at in a set of files.
type install struct {
	opts Options
	all  []placed
}

// foundOperator is one KubeRay operator of the files.
type foundOperator struct {
	placed
	op manifest.Operator
	// sa is the operator's service account.
	sa string
}

func newInstall(in []Input, opts Options) *install {
	x := &install{opts: opts}
	for _, f := range in {
		for _, o := range f.File.Resources() {
			ns := o.Namespace
			if ns == "" {
				ns = opts.Namespace
			}
			x.all = append(x.all, placed{file: f.Name, o: o, ns: ns})
		}
	}
	return x
}

// of returns the objects of a kind (case-sensitive, as the API server
// reads kinds) in an API group ("" for the core group).
func (x *install) of(group, kind string) []placed {
	var out []placed
	for _, p := range x.all {
		g, _, ok := strings.Cut(p.o.APIVersion, "/")
		if !ok {
			g = ""
		}
		if p.o.Kind == kind && g == group {
			out = append(out, p)
		}
	}
	return out
}

// operators applies the RG-operator rules to every KubeRay operator in
// the files.
func operators(in []Input, opts Options) []Finding {
	x := newInstall(in, opts)
	var out []Finding
	for _, p := range x.all {
		op, ok := manifest.FindOperator(p.o)
		if !ok {
			continue
		}
		spec := op.Template.Value.Get("spec")
		sa := spec.Get("serviceAccountName").Str()
		if sa == "" {
			sa = spec.Get("serviceAccount").Str()
		}
		if sa == "" {
			sa = "default"
		}
		f := foundOperator{placed: p, op: op, sa: sa}
		out = append(out, x.restricted(f)...)
		out = append(out, x.nonRoot(f)...)
		out = append(out, x.rbac(f)...)
		out = append(out, x.watch(f)...)
		out = append(out, x.version(f)...)
		out = append(out, x.exposed(f)...)
	}
	return out
}

// restricted reports an operator pod that fails Pod Security restricted,
// and a namespace in the files that runs the operator without enforcing
// restricted.
func (x *install) restricted(f foundOperator) []Finding {
	c := f.checker()
	var pt corev1.PodTemplateSpec
	if err := f.op.Template.Value.DecodeInto(&pt); err == nil {
		pss.AsPod(&pt.ObjectMeta, &pt.Spec)
		if vs, err := pss.Evaluate(&pt.ObjectMeta, &pt.Spec); err == nil && len(vs) > 0 {
			var checks []string
			for _, v := range vs {
				if !slices.Contains(checks, v.Check) {
					checks = append(checks, v.Check)
				}
			}
			c.add(RuleOperatorRestricted, f.op.Template.Path, fmt.Sprintf(
				"the KubeRay operator's pod (recognised by %s) fails Pod Security restricted (%s): the operator creates pods, Services and RoleBindings in every namespace it watches, so an escape from its container reaches every Ray cluster (and, from KubeRay 1.5.1, their Ray tokens); fix the PSS findings of this %s (raygate harden fixes most)",
				f.op.Why, strings.Join(checks, ", "), f.o.Kind))
		}
	}
	if f.ns == "" {
		return c.out
	}
	for _, n := range x.of("", "Namespace") {
		if n.o.Name != f.ns {
			continue
		}
		level := n.o.Value.Lookup("metadata.labels").Get("pod-security.kubernetes.io/enforce")
		if level.Str() == string(pss.Level) {
			continue
		}
		nc := n.checker()
		what := "no pod-security.kubernetes.io/enforce label"
		if level != nil {
			what = fmt.Sprintf("pod-security.kubernetes.io/enforce: %s", level.Scalar())
		}
		nc.addSev(RuleOperatorRestricted, SeverityWarning, path("metadata.labels"), fmt.Sprintf(
			"namespace %s runs the KubeRay operator but has %s: nothing stops a later change to the operator's pod from dropping restricted; label it pod-security.kubernetes.io/enforce: restricted",
			f.ns, what))
		c.out = append(c.out, nc.out...)
	}
	return c.out
}

// nonRoot reports every container of the operator's pod that may run as
// root: runAsNonRoot not true where it takes effect, or runAsUser 0. Pod
// Security restricted lets a pod with hostUsers: false run as root; the
// operator never needs to.
func (x *install) nonRoot(f foundOperator) []Finding {
	c := f.checker()
	spec := f.op.Template.Value.Get("spec")
	sp := f.op.Template.Path.Key("spec")
	podSC := spec.Get("securityContext")
	for _, list := range []string{"initContainers", "containers"} {
		for i, ctr := range spec.Get(list).Items() {
			sc := ctr.Get("securityContext")
			cp := sp.Key(list).Index(i).Key("securityContext")
			name := ctr.Get("name").Str()
			nonRoot, nrField := sc.Get("runAsNonRoot"), cp.Key("runAsNonRoot")
			if nonRoot == nil {
				nonRoot, nrField = podSC.Get("runAsNonRoot"), sp.Key("securityContext").Key("runAsNonRoot")
			}
			uid, uidField := sc.Get("runAsUser"), cp.Key("runAsUser")
			if uid == nil {
				uid, uidField = podSC.Get("runAsUser"), sp.Key("securityContext").Key("runAsUser")
			}
			switch {
			case uid.IsZero():
				c.add(RuleOperatorNonRoot, uidField, fmt.Sprintf(
					"container %q of the KubeRay operator runs as root (runAsUser: %s): the operator needs no root; KubeRay's image runs as %d", name, uid.Scalar(), manifest.OperatorUID))
			case !nonRoot.IsTrue():
				c.add(RuleOperatorNonRoot, nrField, fmt.Sprintf(
					"container %q of the KubeRay operator may run as root: runAsNonRoot is not true for it, so nothing stops an image running as uid 0; set securityContext.runAsNonRoot: true", name))
			}
		}
	}
	return c.out
}

// managed reports whether the operator reconciles objects of namespace
// ns: it watches every namespace, or ns (or either is unknown).
func managed(watch []string, ns string) bool {
	if watch == nil || ns == "" {
		return true
	}
	for _, w := range watch {
		if w == ns || w == manifest.OwnNamespace {
			return true
		}
	}
	return false
}

// authUse is the newest KubeRay feature of spec.authOptions a Ray object
// uses.
type authUse struct {
	p     placed
	field manifest.Path
	needs string
	what  string
}

// authUses lists the Ray objects of the files that set authOptions.
func (x *install) authUses(watch []string) []authUse {
	var out []authUse
	for _, p := range x.all {
		if !p.o.IsRay() || !managed(watch, p.ns) {
			continue
		}
		for _, cs := range manifest.ClusterSpecs(p.o) {
			auth := cs.Value.Get("authOptions")
			if auth == nil {
				continue
			}
			u := authUse{p: p, field: cs.Path.Key("authOptions"), needs: operatorTokenAuthVersion, what: "spec.authOptions"}
			for _, k := range []string{"secretName", "enableK8sTokenAuth"} {
				if auth.Get(k) != nil {
					u.field, u.needs, u.what = u.field.Key(k), operatorAuthExtrasVersion, "authOptions."+k
				}
			}
			out = append(out, u)
		}
	}
	return out
}

// version compares the operator's version (its image tag) with what the
// clusters it manages ask for.
func (x *install) version(f foundOperator) []Finding {
	c := f.checker()
	field := f.op.ContainerPath().Key("image")
	v := manifest.OperatorVersion(f.op.Image)
	watch, _, _ := x.watchNamespaces(f)
	uses := x.authUses(watch)
	if v == "" {
		c.addSev(RuleOperatorVersion, SeverityInfo, field, fmt.Sprintf(
			"the operator image %q names no KubeRay version: raygate cannot tell whether it supports Ray token authentication (spec.authOptions, KubeRay %s); pin a version tag", f.op.Image, operatorTokenAuthVersion))
		return c.out
	}
	for _, u := range uses {
		if manifest.VersionAtLeast(v, u.needs) {
			continue
		}
		pos := u.p.o.Position(u.field)
		c.add(RuleOperatorVersion, field, fmt.Sprintf(
			"KubeRay %s is older than %s, which added %s: %s (%s:%d) sets it, and this operator (with its CRDs) drops it, so that cluster runs without the token authentication it asks for; upgrade the operator and its CRDs to %s or newer",
			v, u.needs, u.what, u.p.describe(), u.p.file, pos.Line, u.needs))
		return c.out
	}
	if !manifest.VersionAtLeast(v, operatorTokenAuthVersion) {
		c.addSev(RuleOperatorVersion, SeverityWarning, field, fmt.Sprintf(
			"KubeRay %s cannot turn on Ray token authentication for the clusters it manages (spec.authOptions needs KubeRay %s or newer): any pod that reaches a head can submit jobs; upgrade the operator and its CRDs", v, operatorTokenAuthVersion))
	}
	return c.out
}
