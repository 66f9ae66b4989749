package lint

import (
	"fmt"
	"strings"

	"github.com/raygate/raygate/internal/manifest"
)

// watchNamespaces returns the namespaces the operator watches (nil for
// every namespace), whether the files tell, and where it is set, for
// messages: from --watch-namespace, or from the watchNamespace of the
// --config file when the ConfigMap it is mounted from is in the files.
func (x *install) watchNamespaces(f foundOperator) ([]string, bool, string) {
	if ns, decided := f.op.WatchNamespaces(); decided {
		if fl, ok := f.op.Flags[manifest.WatchNamespaceFlag]; ok {
			if fl.Value == "" {
				return nil, true, "--watch-namespace is empty"
			}
			if ns == nil {
				return nil, true, fmt.Sprintf("--watch-namespace=%s has an empty entry, which the operator's cache takes for every namespace", fl.Value)
			}
			return ns, true, "--watch-namespace"
		}
		return nil, true, "no --watch-namespace"
	}
	file := f.op.Flags[manifest.ConfigFlag].Value
	cmName, key, ok := f.op.ConfigMapFile(file)
	if !ok {
		return nil, false, ""
	}
	for _, cm := range x.of("", "ConfigMap") {
		if cm.o.Name != cmName || !sameNamespace(cm.ns, f.ns) {
			continue
		}
		data := cm.o.Value.Lookup("data").Get(key)
		if !data.IsString() {
			continue
		}
		cfg, err := manifest.Read([]byte(data.Str()))
		if err != nil || len(cfg.Docs) == 0 {
			return nil, false, ""
		}
		v := cfg.Docs[0].Value.Get("watchNamespace").Str()
		if v == "" {
			return nil, true, fmt.Sprintf("the config file %s (ConfigMap %s) sets no watchNamespace", file, cmName)
		}
		return manifest.SplitNamespaces(v), true, fmt.Sprintf("watchNamespace of the config file %s (ConfigMap %s)", file, cmName)
	}
	return nil, false, ""
}

// shared reports whether teams share the cluster, as far as the files
// tell: a tenants file with more than one tenant, or Ray objects in more
// than one namespace.
func (x *install) shared() (bool, string) {
	if t := x.opts.Tenants; t != nil && len(t.Tenants) > 1 {
		return true, fmt.Sprintf("the tenants file has %d tenants", len(t.Tenants))
	}
	seen := map[string]bool{}
	var names []string
	for _, p := range x.all {
		if p.o.IsRay() && p.ns != "" && !seen[p.ns] {
			seen[p.ns] = true
			names = append(names, p.ns)
		}
	}
	if len(names) > 1 {
		return true, "the files have Ray objects in namespaces " + strings.Join(names, ", ")
	}
	return false, ""
}

// watch reports an operator that watches every namespace (a warning
// where teams share the cluster, information otherwise), and one that
// watches chosen namespaces but holds cluster-wide rights.
func (x *install) watch(f foundOperator) []Finding {
	c := f.checker()
	cp := f.op.ContainerPath()
	ns, known, how := x.watchNamespaces(f)
	if !known {
		fl := f.op.Flags[manifest.ConfigFlag]
		c.addSev(RuleOperatorWatchNamespace, SeverityInfo, fl.Field, fmt.Sprintf(
			"the KubeRay operator reads its settings from --config %s, whose ConfigMap is not in the files: raygate cannot tell which namespaces it watches", fl.Value))
		return c.out
	}
	if ns != nil {
		for _, g := range x.grants(f) {
			if !g.clusterWide {
				continue
			}
			bc := g.binding.checker()
			bc.addSev(RuleOperatorWatchNamespace, SeverityWarning, path("roleRef"), fmt.Sprintf(
				"the KubeRay operator watches only %s, but %s grants it %s in every namespace: bind the role with a RoleBinding in each watched namespace instead (Helm: singleNamespaceInstall: true)",
				strings.Join(ns, ", "), g.binding.describe(), g.roleName()))
			c.out = append(c.out, bc.out...)
		}
		return c.out
	}
	field := cp.Key("args")
	if fl, ok := f.op.Flags[manifest.WatchNamespaceFlag]; ok {
		field = fl.Field
	} else if fl, ok := f.op.Flags[manifest.ConfigFlag]; ok {
		field = fl.Field
	}
	sev, why := SeverityInfo, "if teams share the cluster"
	if shared, reason := x.shared(); shared {
		sev, why = SeverityWarning, "teams share this cluster ("+reason+")"
	}
	msg := fmt.Sprintf(
		"the KubeRay operator watches every namespace (%s): it reconciles every team's Ray clusters and holds their Ray tokens; %s, run it for their namespaces only: --watch-namespace=NS1,NS2 with a Role and RoleBinding in each (Helm: singleNamespaceInstall: true, watchNamespace)",
		how, why)
	if _, flagSet := f.op.Flags[manifest.WatchNamespaceFlag]; f.op.WatchEnvSet && !flagSet {
		msg += fmt.Sprintf("; %s is set, but KubeRay reads only --watch-namespace: pass --watch-namespace=$(%s)", manifest.WatchNamespaceEnv, manifest.WatchNamespaceEnv)
	}
	c.addSev(RuleOperatorWatchNamespace, sev, field, msg)
	return c.out
}
