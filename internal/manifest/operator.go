package manifest

import (
	"path"
	"strings"
)

// KubeRay operator facts the operator rules rely on.
const (
	// OperatorImage is the repository of KubeRay's operator image, with
	// or without a registry (quay.io/kuberay/operator).
	OperatorImage = "kuberay/operator"
	// OperatorLabelValue is the value of the app.kubernetes.io/name label
	// (KubeRay's Helm chart) or app.kubernetes.io/component label (its
	// kustomize config) on the operator's pods.
	OperatorLabelValue = "kuberay-operator"
	// WatchNamespaceFlag is the operator's flag for the namespaces it
	// watches (comma-separated; all when unset or empty).
	WatchNamespaceFlag = "watch-namespace"
	// ConfigFlag is the operator's flag for a configuration file; when
	// it is set, the operator ignores its other flags.
	ConfigFlag = "config"
	// WatchNamespaceEnv is the environment variable operator installs
	// often set to the pod's namespace; KubeRay itself does not read it,
	// only --watch-namespace=$(WATCH_NAMESPACE) passes it on.
	WatchNamespaceEnv = "WATCH_NAMESPACE"
	// OwnNamespace stands for the operator's own namespace where a
	// manifest leaves it to the API server (fieldRef metadata.namespace
	// of an object that names no namespace).
	OwnNamespace = "(its own namespace)"
	// OperatorUID is the user of KubeRay's operator image (and of
	// distroless "nonroot" images): what harden writes where a
	// workload's runAsUser is 0.
	OperatorUID = 65532
)

// operatorBoolFlags are the operator's boolean flags, which take no
// separate value (Go's flag package): every other flag written without
// "=" takes the next argument as its value.
var operatorBoolFlags = map[string]bool{
	"enable-leader-election": true, "forced-cluster-upgrade": true, "enable-batch-scheduler": true,
	"use-kubernetes-proxy": true, "enable-metrics": true, "zap-devel": true, "h": true, "help": true,
}

// operatorOnlyFlags are flags only KubeRay's operator has, which identify
// it by its arguments when its image is mirrored under another name.
var operatorOnlyFlags = []string{"use-kubernetes-proxy", "enable-batch-scheduler", "batch-scheduler", "forced-cluster-upgrade", "reconcile-concurrency"}

// Operator is the KubeRay operator's pod template found in a workload.
type Operator struct {
	// Template is the operator's pod template.
	Template Template
	// Container is the index of the operator's container in
	// spec.containers of the template.
	Container int
	// Image is that container's image.
	Image string
	// Why says how the operator was recognised, for messages.
	Why string
	// Flags are the operator's command-line flags, by name (without
	// dashes), as Go's flag package reads them: the last of a repeated
	// flag wins, and parsing stops at the first argument that is not a
	// flag. Values have $(VAR) references to the container's
	// environment expanded as the kubelet expands them.
	Flags map[string]Flag
	// WatchEnv is the value of WATCH_NAMESPACE in the container's
	// environment ("" when unset; OwnNamespace for a fieldRef to
	// metadata.namespace) and whether it is set.
	WatchEnv    string
	WatchEnvSet bool
}

// Flag is one flag of the operator's command line.
type Flag struct {
	// Value is the flag's value ("true" for a boolean flag given alone).
	Value string
	// Field is the path of the argument that set it, relative to the
	// object.
	Field Path
}

// IsOperatorImage reports whether image is KubeRay's operator image
// (kuberay/operator, under any registry or mirror path, any tag), or a
// rebuild of it named for it (an image whose name, the last part of its
// path, holds both "kuberay" and "operator": kuberay-operator,
// odh-kuberay-operator-controller).
func IsOperatorImage(image string) bool {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	repo = strings.ToLower(repo)
	if repo == OperatorImage || strings.HasSuffix(repo, "/"+OperatorImage) {
		return true
	}
	name := repo[strings.LastIndex(repo, "/")+1:]
	return strings.Contains(name, "kuberay") && strings.Contains(name, "operator")
}

// OperatorVersion returns the KubeRay version an operator image's tag
// names ("1.5.1" for quay.io/kuberay/operator:v1.5.1, "1.5.1" for
// v1.5.1-rc.0), or "" when the tag is no version (latest, nightly, a
// digest alone).
func OperatorVersion(image string) string {
	tag, _ := ImageTag(image)
	v, _, _ := strings.Cut(strings.TrimPrefix(tag, "v"), "-")
	if parseVersion(v) == nil {
		return ""
	}
	return v
}

// FindOperator reports whether the workload o runs KubeRay's operator,
// recognised by its image, by the labels KubeRay's Helm chart and
// kustomize config give its pods, or by flags only the operator has.
func FindOperator(o Object) (Operator, bool) {
	if !o.IsWorkload() {
		return Operator{}, false
	}
	ts := Templates(o)
	if len(ts) == 0 {
		return Operator{}, false
	}
	t := ts[0]
	ctrs := t.Value.Lookup("spec.containers").Items()
	pick, why := -1, ""
	for i, c := range ctrs {
		if IsOperatorImage(c.Get("image").Str()) {
			pick, why = i, "image "+c.Get("image").Str()
			break
		}
	}
	if pick < 0 {
		for i := range ctrs {
			flags := parseFlags(o, t, i)
			for _, f := range operatorOnlyFlags {
				if _, ok := flags[f]; ok {
					pick, why = i, "flag --"+f
					break
				}
			}
			if fg, ok := flags["feature-gates"]; ok && pick < 0 && rayFeatureGate(fg.Value) {
				pick, why = i, "flag --feature-gates="+fg.Value
			}
			if pick >= 0 {
				break
			}
		}
	}
	if pick < 0 {
		for _, labels := range []*Value{o.Value.Lookup("metadata.labels"), t.Value.Lookup("metadata.labels")} {
			for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/component"} {
				if labels.Get(k).Str() == OperatorLabelValue && why == "" {
					why = "label " + k + ": " + OperatorLabelValue
				}
			}
		}
		// KubeRay's Helm chart and kustomize config name the container
		// kuberay-operator, whatever the chart's name overrides say.
		for _, c := range ctrs {
			if c.Get("name").Str() == OperatorLabelValue && why == "" {
				why = "container name " + OperatorLabelValue
			}
		}
		if why == "" || len(ctrs) == 0 {
			return Operator{}, false
		}
		pick = 0
		for i, c := range ctrs {
			if c.Get("name").Str() == OperatorLabelValue {
				pick = i
			}
		}
	}
	op := Operator{Template: t, Container: pick, Image: ctrs[pick].Get("image").Str(), Why: why, Flags: parseFlags(o, t, pick)}
	op.WatchEnv, op.WatchEnvSet = envValue(o, ctrs[pick], WatchNamespaceEnv)
	return op, true
}

// rayFeatureGate reports whether a --feature-gates value names one of
// KubeRay's gates (they all start with Ray).
func rayFeatureGate(v string) bool {
	for _, kv := range strings.Split(v, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "Ray") {
			return true
		}
	}
	return false
}

// ContainerPath returns the path of the operator's container, relative
// to the object.
func (op Operator) ContainerPath() Path {
	return op.Template.Path.Key("spec").Key("containers").Index(op.Container)
}

// WatchNamespaces returns the namespaces the operator watches according
// to its command line: nil for every namespace, and whether the command
// line decides it (false when --config names a file, whose watchNamespace
// then decides).
func (op Operator) WatchNamespaces() ([]string, bool) {
	if _, ok := op.Flags[ConfigFlag]; ok {
		return nil, false
	}
	f, ok := op.Flags[WatchNamespaceFlag]
	if !ok {
		return nil, true
	}
	return SplitNamespaces(f.Value), true
}

// SplitNamespaces splits a comma-separated list of namespaces as the
// operator does; an empty list means every namespace (nil), and so does a
// list with an empty entry ("team-a," or ",team-a"): the operator then
// gives its cache the empty namespace, which is every namespace.
func SplitNamespaces(v string) []string {
	out := strings.Split(v, ",")
	for _, ns := range out {
		if ns == "" {
			return nil
		}
	}
	return out
}

// argv returns the operator container's command line after the program
// name, with the path of each argument: the command's arguments and then
// args when a command is set, args alone (after the image's entrypoint)
// otherwise.
func argv(t Template, ctr int) ([]string, []Path) {
	cp := t.Path.Key("spec").Key("containers").Index(ctr)
	c := t.Value.Lookup("spec.containers").Index(ctr)
	var out []string
	var paths []Path
	for i, a := range c.Get("command").Items() {
		if i > 0 {
			out, paths = append(out, a.Scalar()), append(paths, cp.Key("command").Index(i))
		}
	}
	for i, a := range c.Get("args").Items() {
		out, paths = append(out, a.Scalar()), append(paths, cp.Key("args").Index(i))
	}
	return out, paths
}

// parseFlags reads a container's flags as Go's flag package does.
func parseFlags(o Object, t Template, ctr int) map[string]Flag {
	args, paths := argv(t, ctr)
	c := t.Value.Lookup("spec.containers").Index(ctr)
	out := map[string]Flag{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			break
		}
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		field := paths[i]
		switch {
		case hasValue:
		case operatorBoolFlags[name]:
			value = "true"
		case i+1 < len(args):
			i++
			value, field = args[i], paths[i]
		}
		out[name] = Flag{Value: expandEnv(o, c, value), Field: field}
	}
	return out
}

// expandEnv expands $(NAME) references to the container's environment as
// the kubelet does: $$ is a literal $, an undefined name is kept as
// written.
func expandEnv(o Object, c *Value, s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i:], ')'); end > 0 {
				name := s[i+2 : i+end]
				if v, ok := envValue(o, c, name); ok {
					b.WriteString(v)
					i += end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// envValue returns the value of an environment variable of a container
// (the last entry of a name wins): a literal value, or for a fieldRef to
// metadata.namespace the object's namespace (OwnNamespace when it names
// none).
func envValue(o Object, c *Value, name string) (string, bool) {
	val, set := "", false
	for _, e := range c.Get("env").Items() {
		if e.Get("name").Str() != name {
			continue
		}
		set = true
		val = e.Get("value").Str()
		if e.Lookup("valueFrom.fieldRef.fieldPath").Str() == "metadata.namespace" {
			val = o.Namespace
			if val == "" {
				val = OwnNamespace
			}
		}
	}
	return val, set
}

// ConfigMapFile finds the ConfigMap key a file path in the operator's
// container comes from: the configMap volume mounted at the file's folder
// (or at the file itself with subPath), and the key (items map keys to
// paths; without items the file name is the key).
func (op Operator) ConfigMapFile(file string) (configMap, key string, ok bool) {
	spec := op.Template.Value.Get("spec")
	c := spec.Get("containers").Index(op.Container)
	for _, m := range c.Get("volumeMounts").Items() {
		mp := path.Clean(m.Get("mountPath").Str())
		rel := ""
		switch {
		case m.Get("subPath").Str() != "" && mp == path.Clean(file):
			rel = m.Get("subPath").Str()
		case strings.HasPrefix(path.Clean(file), mp+"/"):
			rel = strings.TrimPrefix(path.Clean(file), mp+"/")
		default:
			continue
		}
		for _, v := range spec.Get("volumes").Items() {
			cm := v.Get("configMap")
			if v.Get("name").Str() != m.Get("name").Str() || !cm.IsMap() {
				continue
			}
			if items := cm.Get("items"); items.Len() > 0 {
				for _, it := range items.Items() {
					if path.Clean(it.Get("path").Str()) == rel {
						return cm.Get("name").Str(), it.Get("key").Str(), true
					}
				}
				return "", "", false
			}
			return cm.Get("name").Str(), rel, true
		}
	}
	return "", "", false
}
