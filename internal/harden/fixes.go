package harden

import (
	"fmt"
	"strings"

	"github.com/raygate/raygate/internal/manifest"
)

func path(s string) manifest.Path { return manifest.ParsePath(s) }

// loadBalancerFields are the Service fields that only make sense for a
// load balancer or node ports; the API server refuses some of them on a
// ClusterIP Service.
var loadBalancerFields = []string{"externalTrafficPolicy", "loadBalancerIP", "loadBalancerClass", "allocateLoadBalancerNodePorts", "healthCheckNodePort"}

// clusterSpec fixes how the head is exposed and turns token authentication
// on.
func (p *planner) clusterSpec(cs manifest.ClusterSpec) {
	hp := cs.Path.Key("headGroupSpec")
	head := p.get(hp)
	if typ := head.Get("serviceType").Str(); manifest.ExposedServiceType(typ) {
		p.set(hp.Key("serviceType"), manifest.NewString("ClusterIP"), typ+" -> ClusterIP")
	}
	sp := hp.Key("headService").Key("spec")
	if svc := p.get(sp); svc.IsMap() {
		if typ := svc.Get("type").Str(); manifest.ExposedServiceType(typ) {
			p.set(sp.Key("type"), manifest.NewString("ClusterIP"), typ+" -> ClusterIP")
			for _, k := range loadBalancerFields {
				p.remove(sp.Key(k), "removed (only for load balancers and node ports)")
			}
			for i, port := range p.get(sp.Key("ports")).Items() {
				if port.Get("nodePort") != nil {
					p.remove(sp.Key("ports").Index(i).Key("nodePort"), "removed")
				}
			}
		}
		for _, k := range []string{"externalIPs", "loadBalancerSourceRanges"} {
			if p.get(sp.Key(k)).Len() > 0 {
				p.remove(sp.Key(k), "removed: it publishes the head outside the cluster")
			}
		}
	}
	if head.Get("enableIngress").IsTrue() {
		p.set(hp.Key("enableIngress"), manifest.NewBool(false), "true -> false")
	}
	auth := p.get(cs.Path.Key("authOptions"))
	if auth.IsNull() || auth.IsMap() {
		if auth.Get("mode").Str() != manifest.AuthModeToken {
			p.set(cs.Path.Key("authOptions").Key("mode"), manifest.NewString(manifest.AuthModeToken), "token authentication on")
		}
	}
	if p.get(cs.Path.Key("rayVersion")).IsNull() {
		if v := manifest.RayVersionFromImage(head.Lookup("template.spec.containers[0].image").Str()); v != "" {
			p.set(cs.Path.Key("rayVersion"), manifest.NewString(v), fmt.Sprintf("set to %s, from the head image", v))
		}
	}
	if manifest.AutoscalingEnabled(p.get(cs.Path)) {
		if opts := p.get(cs.Path.Key("autoscalerOptions")); opts.IsNull() || opts.IsMap() {
			// The autoscaler container runs in the head pod: what the head's
			// pod spec allows it, it allows the autoscaler.
			head := p.get(hp.Key("template").Key("spec"))
			p.container(cs.Path.Key("autoscalerOptions"), manifest.RayUID, podProfile(head, rayPods(false)))
		}
	}
}

// pods says which of the template fixes apply to the pods of a template:
// the restricted profile applies to all, the Ray fixes to Ray's pods.
type pods struct {
	// noToken unmounts the service-account token (Ray pods that do not
	// need it: any Ray job could use it).
	noToken bool
	// uid is the non-root user written where runAsUser is 0.
	uid int64
	// defaultUID also sets runAsUser where nothing sets it, so that the
	// kubelet can verify runAsNonRoot for images whose USER is a name.
	defaultUID bool
	// rayTmp mounts a writable /tmp where the root filesystem is
	// read-only (Ray keeps its session directory there).
	rayTmp bool
	// nonRootInUserNamespace keeps the non-root fixes in a user namespace
	// (hostUsers: false), where Pod Security restricted allows root: the
	// KubeRay operator never needs root, and RG-operator-non-root says so.
	nonRootInUserNamespace bool
}

// profile is what the pod spec of a template lets restricted ask of it.
type profile struct {
	// linux is false for a Windows pod (spec.os.name: windows): Pod
	// Security skips its Linux-only checks, and the API server refuses
	// Linux-only fields (seccomp, capabilities, allowPrivilegeEscalation,
	// runAsUser, AppArmor, procMount) in such a pod, so harden writes
	// none of them.
	linux bool
	// nonRoot is false in a user namespace (hostUsers: false), where
	// restricted allows runAsUser 0 and runAsNonRoot false: such values
	// comply and are kept (except for the KubeRay operator).
	nonRoot bool
}

// podProfile reads the profile of a pod spec.
func podProfile(spec *manifest.Value, k pods) profile {
	return profile{
		linux:   spec.Lookup("os.name").Str() != "windows",
		nonRoot: !spec.Get("hostUsers").IsFalse() || k.nonRootInUserNamespace,
	}
}

// rayPods are the fixes for a Ray pod template; needsToken keeps its
// service-account token mounted.
func rayPods(needsToken bool) pods {
	return pods{noToken: !needsToken, uid: manifest.RayUID, defaultUID: true, rayTmp: true}
}

// workloadPods are the fixes for any other workload's pod template (the
// KubeRay operator's among them): the restricted profile only, with the
// uid of KubeRay's operator image and of distroless "nonroot" images
// where runAsUser is 0; its token, user and filesystem are the
// workload's own business.
var workloadPods = pods{uid: manifest.OperatorUID}

// operatorPods are the fixes for the KubeRay operator's pod template: a
// workload's, and non-root even in a user namespace.
var operatorPods = pods{uid: manifest.OperatorUID, nonRootInUserNamespace: true}

// template applies the restricted profile, and the Ray fixes for Ray's
// pods, to one pod template.
func (p *planner) template(t manifest.Template, k pods) {
	sp := t.Path.Key("spec")
	spec := p.get(sp)
	if !spec.IsMap() {
		return
	}
	if k.noToken && !spec.Get("automountServiceAccountToken").IsFalse() {
		p.set(sp.Key("automountServiceAccountToken"), manifest.NewBool(false), "false")
	}
	prof := podProfile(spec, k)
	scp := sp.Key("securityContext")
	if sc := p.get(scp); sc.IsNull() || sc.IsMap() {
		if prof.nonRoot {
			if !sc.Get("runAsNonRoot").IsTrue() {
				p.set(scp.Key("runAsNonRoot"), manifest.NewBool(true), "true")
			}
			uid := sc.Get("runAsUser")
			switch {
			case uid.IsZero():
				p.set(scp.Key("runAsUser"), manifest.NewInt(k.uid), fmt.Sprintf("%s -> %d", uid.Scalar(), k.uid))
			case k.defaultUID && prof.linux && uid.IsNull() && !anyContainerSetsUser(spec):
				p.set(scp.Key("runAsUser"), manifest.NewInt(k.uid), fmt.Sprintf("%d (the ray user of the Ray images; lets the kubelet verify runAsNonRoot)", k.uid))
			}
		}
		if prof.linux {
			p.seccomp(scp, true)
			p.appArmor(scp)
		} else if !allowedProfile(sc.Lookup("appArmorProfile.type")) && sc.Get("appArmorProfile") != nil {
			p.remove(scp.Key("appArmorProfile"), "removed (a Windows pod has no AppArmor)")
		}
	}
	p.appArmorAnnotations(t.Path.Key("metadata").Key("annotations"))
	for _, list := range containerLists {
		for i, c := range p.get(sp.Key(list)).Items() {
			if !c.IsMap() {
				continue
			}
			cp := sp.Key(list).Index(i)
			p.container(cp, k.uid, prof)
			if list == "containers" && k.rayTmp {
				p.writableTmp(sp, cp)
			}
		}
	}
}

// containerLists are the lists of containers of a pod spec, all of which
// Pod Security checks. Ephemeral containers cannot be part of a template
// the API server accepts, but lint reports them like the others, so they
// are hardened like the others.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

func anyContainerSetsUser(spec *manifest.Value) bool {
	for _, list := range containerLists {
		for _, c := range spec.Get(list).Items() {
			if !c.Lookup("securityContext.runAsUser").IsNull() {
				return true
			}
		}
	}
	return false
}

// container applies the restricted container securityContext to the
// container at cp (or to autoscalerOptions, which has the same
// securityContext field), as far as the pod's profile asks for it; uid
// replaces a runAsUser of 0.
func (p *planner) container(cp manifest.Path, uid int64, prof profile) {
	scp := cp.Key("securityContext")
	sc := p.get(scp)
	if !sc.IsNull() && !sc.IsMap() {
		return
	}
	if prof.nonRoot {
		if v := sc.Get("runAsNonRoot"); !v.IsNull() && !v.IsTrue() {
			p.set(scp.Key("runAsNonRoot"), manifest.NewBool(true), v.Scalar()+" -> true")
		}
		if v := sc.Get("runAsUser"); v.IsZero() && prof.linux {
			p.set(scp.Key("runAsUser"), manifest.NewInt(uid), fmt.Sprintf("%s -> %d", v.Scalar(), uid))
		}
	}
	if !prof.linux {
		p.windowsContainer(scp)
		return
	}
	if !sc.Get("allowPrivilegeEscalation").IsFalse() {
		p.set(scp.Key("allowPrivilegeEscalation"), manifest.NewBool(false), "false")
	}
	if v := sc.Get("privileged"); !v.IsNull() && !v.IsFalse() {
		p.set(scp.Key("privileged"), manifest.NewBool(false), v.Scalar()+" -> false")
	}
	// Restricted requires Default from policy v1.35 on, in a user
	// namespace (hostUsers: false) too; only baseline allows Unmasked
	// there.
	if pm := sc.Get("procMount"); !pm.IsNull() && pm.Str() != "Default" {
		p.set(scp.Key("procMount"), manifest.NewString("Default"), pm.Scalar()+" -> Default")
	}
	p.seccomp(scp, false)
	p.appArmor(scp)
	p.capabilities(scp.Key("capabilities"))
}

// windowsContainer removes from a Windows pod's container the Linux-only
// settings restricted rejects (privileged, a procMount other than
// Default, an AppArmor profile other than RuntimeDefault or Localhost):
// the API server refuses them in a Windows pod whatever their value, so
// removing them is the one fix.
func (p *planner) windowsContainer(scp manifest.Path) {
	sc := p.get(scp)
	if v := sc.Get("privileged"); !v.IsNull() && !v.IsFalse() {
		p.remove(scp.Key("privileged"), "removed (Linux only; a Windows pod cannot be privileged)")
	}
	if pm := sc.Get("procMount"); !pm.IsNull() && pm.Str() != "Default" {
		p.remove(scp.Key("procMount"), "removed (Linux only)")
	}
	if sc.Get("appArmorProfile") != nil && !allowedProfile(sc.Lookup("appArmorProfile.type")) {
		p.remove(scp.Key("appArmorProfile"), "removed (a Windows pod has no AppArmor)")
	}
}

// allowedProfile reports whether a seccomp or AppArmor profile type is
// one restricted allows, spelled exactly so.
func allowedProfile(typ *manifest.Value) bool {
	return typ.Str() == "RuntimeDefault" || typ.Str() == "Localhost"
}

// seccomp sets seccompProfile.type RuntimeDefault where it is missing (pod
// level only) or set to something restricted does not allow.
func (p *planner) seccomp(scp manifest.Path, podLevel bool) {
	pp := scp.Key("seccompProfile")
	prof := p.get(pp)
	typ := prof.Get("type")
	if typ.Str() == "RuntimeDefault" || typ.Str() == "Localhost" {
		return
	}
	if prof.IsNull() && !podLevel {
		return // inherits the pod's profile
	}
	if !prof.IsNull() && !prof.IsMap() {
		return
	}
	p.remove(pp.Key("localhostProfile"), "removed")
	if typ == nil {
		p.set(pp.Key("type"), manifest.NewString("RuntimeDefault"), "RuntimeDefault")
	} else {
		p.set(pp.Key("type"), manifest.NewString("RuntimeDefault"), typ.Scalar()+" -> RuntimeDefault")
	}
}

// appArmor replaces an AppArmor profile restricted does not allow (such
// as Unconfined) with RuntimeDefault.
func (p *planner) appArmor(scp manifest.Path) {
	pp := scp.Key("appArmorProfile")
	prof := p.get(pp)
	if !prof.IsMap() {
		return
	}
	if typ := prof.Get("type"); typ != nil && typ.Str() != "RuntimeDefault" && typ.Str() != "Localhost" {
		p.remove(pp.Key("localhostProfile"), "removed")
		p.set(pp.Key("type"), manifest.NewString("RuntimeDefault"), typ.Scalar()+" -> RuntimeDefault")
	}
}

const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// appArmorAnnotations replaces the legacy AppArmor annotations restricted
// does not allow (unconfined) with runtime/default.
func (p *planner) appArmorAnnotations(ap manifest.Path) {
	ann := p.get(ap)
	for _, k := range ann.Keys() {
		v := ann.Get(k)
		if !strings.HasPrefix(k, appArmorAnnotationPrefix) || !v.IsString() {
			continue
		}
		// "" is allowed (it means the runtime's default).
		if s := v.Str(); s != "" && s != "runtime/default" && !strings.HasPrefix(s, "localhost/") {
			p.set(ap.Key(k), manifest.NewString("runtime/default"), s+" -> runtime/default")
		}
	}
}

// capabilities makes drop contain ALL, spelled as restricted requires, and
// add hold at most NET_BIND_SERVICE (CAP_ prefixes and case variants of it
// are rewritten, everything else removed).
func (p *planner) capabilities(cp manifest.Path) {
	caps := p.get(cp)
	if !caps.IsNull() && !caps.IsMap() {
		return
	}
	drop := caps.Get("drop")
	switch {
	case drop.IsNull():
		p.set(cp.Key("drop"), manifest.NewList(manifest.NewString("ALL")), "[ALL]")
	case drop.IsList() && !hasString(drop, "ALL"):
		var items []*manifest.Value
		fixed := false
		for _, d := range drop.Items() {
			if isCap(d.Str(), "ALL") {
				if !fixed {
					items = append(items, manifest.NewString("ALL"))
				}
				fixed = true
				continue
			}
			items = append(items, d)
		}
		if !fixed {
			items = append(items, manifest.NewString("ALL"))
		}
		p.set(cp.Key("drop"), manifest.NewList(items...), "ALL")
	}
	add := caps.Get("add")
	if !add.IsList() {
		return
	}
	var keep []*manifest.Value
	var dropped []string
	exact, converted := hasString(add, "NET_BIND_SERVICE"), false
	for _, a := range add.Items() {
		switch {
		case a.Str() == "NET_BIND_SERVICE":
			keep = append(keep, a)
		case isCap(a.Str(), "NET_BIND_SERVICE") && !exact && !converted:
			keep = append(keep, manifest.NewString("NET_BIND_SERVICE"))
			converted = true
			dropped = append(dropped, a.Str()+" (written NET_BIND_SERVICE)")
		default:
			dropped = append(dropped, a.Scalar())
		}
	}
	if len(dropped) == 0 {
		return
	}
	if len(keep) == 0 {
		p.remove(cp.Key("add"), "removed "+strings.Join(dropped, ", "))
		return
	}
	p.set(cp.Key("add"), manifest.NewList(keep...), "removed "+strings.Join(dropped, ", "))
}

// isCap reports whether s names capability name, in any case, with or
// without the CAP_ prefix.
func isCap(s, name string) bool {
	s = strings.ToUpper(s)
	return s == name || s == "CAP_"+name
}

func hasString(l *manifest.Value, s string) bool {
	for _, it := range l.Items() {
		if it.Str() == s {
			return true
		}
	}
	return false
}
