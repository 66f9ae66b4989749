// Package harden applies to KubeRay manifests the fixes that are safe to
// make without knowing the workload: the restricted securityContext at pod
// and container level, Ray token authentication, a ClusterIP head Service
// without Ingress, no service-account token where nothing needs it, a
// hardened RayJob submitter, and a writable /tmp where the root filesystem
// is read-only. Everything else in the document stays as written: it works
// on yaml.Node trees, so comments and key order are kept, and hardening a
// hardened manifest changes nothing.
package harden

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/raygate/raygate/internal/manifest"
)

// Change is one fix applied to one object.
type Change struct {
	// Document is the 0-based document index in the file.
	Document int
	// Kind and Name identify the object.
	Kind, Name string
	// Field is the path of the changed field in the object.
	Field string
	// Description says what changed.
	Description string
}

// String renders the change as one line for --explain.
func (c Change) String() string {
	return fmt.Sprintf("document %d %s/%s %s: %s", c.Document, c.Kind, c.Name, c.Field, c.Description)
}

// File hardens every KubeRay object in data and returns the whole file
// re-encoded, other documents unchanged in content, with the list of
// changes. A file that is not valid YAML returns a *manifest.ParseError.
func File(data []byte) ([]byte, []Change, error) {
	docs, err := manifest.Parse(data)
	if err != nil {
		return nil, nil, err
	}
	changes := Documents(docs)
	if isJSON(data) && len(docs) == 1 && docs[0].Root() != nil {
		out, err := manifest.EncodeJSON(docs[0].Root())
		if err != nil {
			return nil, nil, err
		}
		return out, changes, nil
	}
	out, err := manifest.Encode(docs, manifest.DetectStyle(data))
	if err != nil {
		return nil, nil, err
	}
	return out, changes, nil
}

// isJSON reports whether a file is written as JSON (its first character is
// { or [), in which case harden answers in JSON too.
func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// Documents hardens the KubeRay objects of parsed documents in place.
func Documents(docs []manifest.Document) []Change {
	var all []Change
	for _, o := range manifest.Objects(docs) {
		all = append(all, Object(o)...)
	}
	return all
}

// Object hardens one KubeRay object in place and returns what changed.
func Object(o manifest.Object) []Change {
	e := &editor{obj: o}
	if o.Kind == manifest.KindRayJob {
		e.addSubmitter()
	}
	for _, cs := range manifest.ClusterSpecs(o) {
		e.clusterSpec(cs)
	}
	for _, t := range manifest.Templates(o) {
		e.template(t, manifest.NeedsServiceAccountToken(o, t))
	}
	return e.changes
}

// clusterSpec fixes how the head is exposed and turns token authentication
// on.
func (e *editor) clusterSpec(cs manifest.ClusterSpec) {
	p := func(rel string) string { return manifest.JoinPath(cs.Path, rel) }
	head := manifest.Get(cs.Node, "headGroupSpec")
	if typ := manifest.Scalar(manifest.Get(head, "serviceType")); typ == "LoadBalancer" || typ == "NodePort" {
		set(head, "serviceType", "ClusterIP", "!!str")
		e.note(p("headGroupSpec.serviceType"), fmt.Sprintf("%s -> ClusterIP", typ))
	}
	if svc, _ := manifest.Lookup(head, "headService.spec"); svc != nil && svc.Kind == yaml.MappingNode {
		if typ := manifest.Scalar(manifest.Get(svc, "type")); typ == "LoadBalancer" || typ == "NodePort" {
			set(svc, "type", "ClusterIP", "!!str")
			for _, k := range []string{"externalTrafficPolicy", "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass", "allocateLoadBalancerNodePorts", "healthCheckNodePort"} {
				remove(svc, k)
			}
			if ports := sequence(svc, "ports"); ports != nil {
				for _, pt := range ports.Content {
					remove(manifest.Resolve(pt), "nodePort")
				}
			}
			e.note(p("headGroupSpec.headService.spec.type"), fmt.Sprintf("%s -> ClusterIP", typ))
		}
	}
	if isTrue(manifest.Get(head, "enableIngress")) {
		set(head, "enableIngress", "false", "!!bool")
		e.note(p("headGroupSpec.enableIngress"), "true -> false")
	}
	if auth := e.mapping(cs.Node, "authOptions"); auth != nil {
		if set(auth, "mode", manifest.AuthModeToken, "!!str") {
			e.note(p("authOptions.mode"), "token authentication on")
		}
	}
	if manifest.Scalar(manifest.Get(cs.Node, "rayVersion")) == "" {
		if img, _ := manifest.Lookup(head, "template.spec.containers[0].image"); img != nil {
			if v := manifest.RayVersionFromImage(manifest.Scalar(img)); v != "" {
				set(cs.Node, "rayVersion", v, "!!str")
				e.note(p("rayVersion"), fmt.Sprintf("set to %s, from the head image", v))
			}
		}
	}
	if manifest.AutoscalingEnabled(cs.Node) {
		if opts := e.mapping(cs.Node, "autoscalerOptions"); opts != nil {
			e.container(opts, p("autoscalerOptions"))
		}
	}
}

// template applies the restricted profile and the Ray fixes to one pod
// template; needsToken keeps its service-account token mounted.
func (e *editor) template(t manifest.Template, needsToken bool) {
	spec := e.mapping(t.Node, "spec")
	if spec == nil {
		return
	}
	sp := func(rel string) string { return manifest.JoinPath(t.Path, "spec", rel) }

	if !needsToken && !isFalse(manifest.Get(spec, "automountServiceAccountToken")) {
		v, tag := boolNode(false)
		set(spec, "automountServiceAccountToken", v, tag)
		e.note(sp("automountServiceAccountToken"), "false")
	}

	psc := e.mapping(spec, "securityContext")
	if psc != nil {
		if !isTrue(manifest.Get(psc, "runAsNonRoot")) {
			set(psc, "runAsNonRoot", "true", "!!bool")
			e.note(sp("securityContext.runAsNonRoot"), "true")
		}
		uid := manifest.Get(psc, "runAsUser")
		switch {
		case uid != nil && manifest.Scalar(uid) == "0":
			set(psc, "runAsUser", strconv.Itoa(manifest.RayUID), "!!int")
			e.note(sp("securityContext.runAsUser"), fmt.Sprintf("0 -> %d", manifest.RayUID))
		case manifest.IsNull(uid) && !anyContainerSetsUser(spec):
			set(psc, "runAsUser", strconv.Itoa(manifest.RayUID), "!!int")
			e.note(sp("securityContext.runAsUser"), fmt.Sprintf("%d (the ray user of the Ray images; lets the kubelet verify runAsNonRoot)", manifest.RayUID))
		}
		e.seccomp(psc, sp("securityContext"), true)
		e.appArmor(psc, sp("securityContext"))
	}
	e.appArmorAnnotations(t)

	for _, list := range []string{"initContainers", "containers"} {
		seq := sequence(spec, list)
		if seq == nil {
			continue
		}
		for i, c := range seq.Content {
			c = manifest.Resolve(c)
			if c.Kind != yaml.MappingNode {
				continue
			}
			cp := sp(manifest.Index(list, i))
			e.container(c, cp)
			if list == "containers" {
				e.writableTmp(spec, c, cp, sp("volumes"))
			}
		}
	}
}

func anyContainerSetsUser(spec *yaml.Node) bool {
	for _, list := range []string{"initContainers", "containers"} {
		seq := sequence(spec, list)
		if seq == nil {
			continue
		}
		for _, c := range seq.Content {
			if u, _ := manifest.Lookup(c, "securityContext.runAsUser"); !manifest.IsNull(u) {
				return true
			}
		}
	}
	return false
}

// container applies the restricted container securityContext to c (a
// container, or autoscalerOptions, which has the same securityContext
// field).
func (e *editor) container(c *yaml.Node, cp string) {
	sc := e.mapping(c, "securityContext")
	if sc == nil {
		return
	}
	scp := manifest.JoinPath(cp, "securityContext")
	if !isFalse(manifest.Get(sc, "allowPrivilegeEscalation")) {
		set(sc, "allowPrivilegeEscalation", "false", "!!bool")
		e.note(scp+".allowPrivilegeEscalation", "false")
	}
	if isTrue(manifest.Get(sc, "privileged")) {
		set(sc, "privileged", "false", "!!bool")
		e.note(scp+".privileged", "true -> false")
	}
	if isFalse(manifest.Get(sc, "runAsNonRoot")) {
		set(sc, "runAsNonRoot", "true", "!!bool")
		e.note(scp+".runAsNonRoot", "false -> true")
	}
	if manifest.Scalar(manifest.Get(sc, "runAsUser")) == "0" {
		set(sc, "runAsUser", strconv.Itoa(manifest.RayUID), "!!int")
		e.note(scp+".runAsUser", fmt.Sprintf("0 -> %d", manifest.RayUID))
	}
	if pm := manifest.Scalar(manifest.Get(sc, "procMount")); pm != "" && pm != "Default" {
		set(sc, "procMount", "Default", "!!str")
		e.note(scp+".procMount", pm+" -> Default")
	}
	e.seccomp(sc, scp, false)
	e.appArmor(sc, scp)
	e.capabilities(sc, scp)
}

// appArmor replaces an Unconfined AppArmor profile with RuntimeDefault.
func (e *editor) appArmor(sc *yaml.Node, scp string) {
	prof := manifest.Get(sc, "appArmorProfile")
	if typ := manifest.Scalar(manifest.Get(prof, "type")); typ == "Unconfined" {
		set(prof, "type", "RuntimeDefault", "!!str")
		e.note(scp+".appArmorProfile.type", "Unconfined -> RuntimeDefault")
	}
}

// appArmorAnnotations replaces the legacy unconfined AppArmor annotations
// of a pod template with runtime/default.
func (e *editor) appArmorAnnotations(t manifest.Template) {
	ann, _ := manifest.Lookup(t.Node, "metadata.annotations")
	if ann == nil || ann.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(ann.Content); i += 2 {
		k, v := ann.Content[i].Value, manifest.Resolve(ann.Content[i+1])
		if strings.HasPrefix(k, "container.apparmor.security.beta.kubernetes.io/") && v.Kind == yaml.ScalarNode && v.Value == "unconfined" {
			ann.Content[i+1] = scalarNode("runtime/default", "!!str")
			e.note(manifest.JoinPath(t.Path, "metadata.annotations", k), "unconfined -> runtime/default")
		}
	}
}

// seccomp sets seccompProfile.type RuntimeDefault where it is missing (pod
// level only) or set to something restricted does not allow.
func (e *editor) seccomp(sc *yaml.Node, scp string, podLevel bool) {
	cur := manifest.Get(sc, "seccompProfile")
	typ := manifest.Scalar(manifest.Get(cur, "type"))
	if typ == "RuntimeDefault" || typ == "Localhost" {
		return
	}
	if manifest.IsNull(cur) && !podLevel {
		return // inherits the pod's profile
	}
	prof := e.mapping(sc, "seccompProfile")
	if prof == nil {
		return
	}
	remove(prof, "localhostProfile")
	set(prof, "type", "RuntimeDefault", "!!str")
	if typ == "" {
		e.note(scp+".seccompProfile.type", "RuntimeDefault")
	} else {
		e.note(scp+".seccompProfile.type", typ+" -> RuntimeDefault")
	}
}

// capabilities drops ALL and keeps at most NET_BIND_SERVICE added.
func (e *editor) capabilities(sc *yaml.Node, scp string) {
	caps := e.mapping(sc, "capabilities")
	if caps == nil {
		return
	}
	drop := manifest.Get(caps, "drop")
	switch {
	case manifest.IsNull(drop):
		i := valueIndex(caps, "drop")
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{scalarNode("ALL", "!!str")}}
		if i >= 0 {
			caps.Content[i] = seq
		} else {
			caps.Content = append(caps.Content, keyNode("drop"), seq)
		}
		e.note(scp+".capabilities.drop", "[ALL]")
	case drop.Kind == yaml.SequenceNode:
		has := false
		for _, d := range drop.Content {
			if strings.EqualFold(manifest.Scalar(d), "ALL") {
				has = true
			}
		}
		if !has {
			drop.Content = append(drop.Content, scalarNode("ALL", "!!str"))
			e.note(scp+".capabilities.drop", "ALL added")
		}
	}
	if add := sequence(caps, "add"); add != nil {
		var keep []*yaml.Node
		var dropped []string
		for _, a := range add.Content {
			if v := manifest.Scalar(a); v == "NET_BIND_SERVICE" || v == "CAP_NET_BIND_SERVICE" {
				keep = append(keep, a)
			} else {
				dropped = append(dropped, v)
			}
		}
		if len(dropped) > 0 {
			if len(keep) == 0 {
				remove(caps, "add")
			} else {
				add.Content = keep
			}
			e.note(scp+".capabilities.add", "removed "+strings.Join(dropped, ", "))
		}
	}
}
