package lint

import (
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/tenant"
)

// operatorDeployment is a KubeRay operator Deployment that meets
// restricted, in namespace ray-system, with args and extra pod-level
// fields substituted.
func operatorDeployment(image, args, podExtra, ctrSC string) string {
	if ctrSC == "" {
		ctrSC = "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}"
	}
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kuberay-operator
  namespace: ray-system
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: kuberay-operator}
  template:
    metadata:
      labels: {app.kubernetes.io/name: kuberay-operator, app.kubernetes.io/instance: kuberay}
    spec:
      serviceAccountName: kuberay-operator
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}` + podExtra + `
      containers:
      - name: kuberay-operator
        image: ` + image + `
        args: ` + args + `
        ports: [{name: http, containerPort: 8080}]
        securityContext: ` + ctrSC + `
`
}

const goodImage = "quay.io/kuberay/operator:v1.6.0"

func clusterRole(name, rules string) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " + name + "}\nrules:\n" + rules
}

func binding(kind, name, ns, roleKind, role, subjects string) string {
	meta := "{name: " + name + "}"
	if ns != "" {
		meta = "{name: " + name + ", namespace: " + ns + "}"
	}
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: " + kind + "\nmetadata: " + meta +
		"\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: " + roleKind + ", name: " + role + "}\nsubjects:\n" + subjects
}

const operatorSA = "- {kind: ServiceAccount, name: kuberay-operator, namespace: ray-system}\n"

func rayCluster(ns, auth string) string {
	return `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: ray1, namespace: ` + ns + `}
spec:
  rayVersion: "2.52.0"
  authOptions: ` + auth + `
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.52.0"}]
`
}

func docs(ds ...string) string { return strings.Join(ds, "---\n") }

func TestOperatorRules(t *testing.T) {
	type expect struct {
		rule, sev, kind, field, msg string
	}
	tests := []struct {
		name  string
		files []string
		opts  Options
		want  []expect
		// none lists rules that must not be reported.
		none []string
	}{
		{
			name:  "a restricted operator watching its teams' namespaces is clean",
			files: []string{operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", "")},
			none:  []string{"RG-operator-"},
		},
		{
			name:  "privileged operator",
			files: []string{operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", "{privileged: true}")},
			want: []expect{
				{RuleOperatorRestricted, "error", "Deployment", "spec.template", "fails Pod Security restricted (allowPrivilegeEscalation, capabilities_restricted, privileged)"},
				{"PSS-privileged", "error", "Deployment", "spec.template.spec.containers[0].securityContext.privileged", "privileged"},
			},
		},
		{
			name: "operator namespace without restricted enforcement",
			files: []string{docs("apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-system, labels: {pod-security.kubernetes.io/enforce: baseline}}\n",
				operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""))},
			want: []expect{{RuleOperatorRestricted, "warning", "Namespace", "metadata.labels", "has pod-security.kubernetes.io/enforce: baseline"}},
		},
		{
			name:  "root in a user namespace passes restricted but not the operator's rule",
			files: []string{operatorDeployment(goodImage, "[--watch-namespace=team-a]", "\n      hostUsers: false", "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, runAsUser: 0, runAsNonRoot: false}")},
			want:  []expect{{RuleOperatorNonRoot, "error", "Deployment", "spec.template.spec.containers[0].securityContext.runAsUser", `container "kuberay-operator" of the KubeRay operator runs as root (runAsUser: 0)`}},
			none:  []string{"PSS-", RuleOperatorRestricted},
		},
		{
			name:  "runAsNonRoot false on the container overrides the pod",
			files: []string{operatorDeployment(goodImage, "[--watch-namespace=team-a]", "\n      hostUsers: false", "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, runAsNonRoot: false}")},
			want:  []expect{{RuleOperatorNonRoot, "error", "Deployment", "spec.template.spec.containers[0].securityContext.runAsNonRoot", "runAsNonRoot is not true for it"}},
		},
		{
			name: "cluster-wide Secrets read",
			files: []string{
				operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				docs(clusterRole("kuberay-operator", "- {apiGroups: [\"\"], resources: [secrets], verbs: [get, list, watch, create]}\n"),
					binding("ClusterRoleBinding", "kuberay-operator", "", "ClusterRole", "kuberay-operator", operatorSA)),
			},
			want: []expect{
				{RuleOperatorRBACSecrets, "error", "ClusterRole", "rules[0]", "lets the KubeRay operator's service account ray-system/kuberay-operator (through ClusterRoleBinding kuberay-operator) get, list, watch Secrets in every namespace"},
				{RuleOperatorWatchNamespace, "warning", "ClusterRoleBinding", "roleRef", "watches only team-a, but ClusterRoleBinding kuberay-operator grants it ClusterRole kuberay-operator in every namespace"},
			},
		},
		{
			name: "Secrets read by name or in one namespace is what KubeRay needs",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("kuberay-operator", "- {apiGroups: [\"\"], resources: [secrets], verbs: [get, list, watch]}\n"),
				binding("RoleBinding", "kuberay-operator", "team-a", "ClusterRole", "kuberay-operator", operatorSA),
				clusterRole("named", "- {apiGroups: [\"\"], resources: [secrets], resourceNames: [webhook-cert], verbs: [get]}\n"),
				binding("ClusterRoleBinding", "named", "", "ClusterRole", "named", operatorSA))},
			none: []string{RuleOperatorRBACSecrets},
		},
		{
			name: "exec cluster-wide through the service account's user name",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("debug", "- {apiGroups: [\"\"], resources: [pods/exec], verbs: [create]}\n"),
				binding("ClusterRoleBinding", "debug", "", "ClusterRole", "debug", "- {kind: User, name: \"system:serviceaccount:ray-system:kuberay-operator\"}\n"))},
			want: []expect{{RuleOperatorRBACExec, "error", "ClusterRole", "rules[0]", "run commands in pods in every namespace (pods/exec)"}},
		},
		{
			name: "attach in one namespace through a group is a warning",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: dbg, namespace: team-a}\nrules:\n- {apiGroups: [\"\"], resources: [pods/attach], verbs: [create]}\n",
				binding("RoleBinding", "dbg", "team-a", "Role", "dbg", "- {kind: Group, name: \"system:serviceaccounts:ray-system\"}\n"))},
			want: []expect{{RuleOperatorRBACExec, "warning", "Role", "rules[0]", "in namespace team-a (pods/attach)"}},
		},
		{
			name: "wildcards and escalation verbs",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("all", "- {apiGroups: [apps], resources: [\"*\"], verbs: [get]}\n- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind, escalate]}\n"),
				binding("ClusterRoleBinding", "all", "", "ClusterRole", "all", operatorSA))},
			want: []expect{
				{RuleOperatorRBACWildcard, "error", "ClusterRole", "rules[0]", "unbounded rights in every namespace (resources *)"},
				{RuleOperatorRBACWildcard, "error", "ClusterRole", "rules[1]", "(bind, escalate)"},
			},
			none: []string{RuleOperatorRBACSecrets, RuleOperatorRBACExec},
		},
		{
			name: "built-in ClusterRoles the files do not hold",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				binding("ClusterRoleBinding", "god", "", "ClusterRole", "cluster-admin", operatorSA),
				binding("RoleBinding", "edit", "team-a", "ClusterRole", "edit", operatorSA),
				binding("ClusterRoleBinding", "view", "", "ClusterRole", "view", operatorSA))},
			want: []expect{
				{RuleOperatorRBACSecrets, "error", "ClusterRoleBinding", "roleRef.name", "the built-in ClusterRole cluster-admin lets the KubeRay operator's service account ray-system/kuberay-operator (through ClusterRoleBinding god) use every verb (*) on Secrets in every namespace"},
				{RuleOperatorRBACExec, "error", "ClusterRoleBinding", "roleRef.name", "the built-in ClusterRole cluster-admin lets"},
				{RuleOperatorRBACWildcard, "error", "ClusterRoleBinding", "roleRef.name", "the built-in ClusterRole cluster-admin gives"},
				{RuleOperatorRBACExec, "warning", "RoleBinding", "roleRef.name", "the built-in ClusterRole edit lets the KubeRay operator's service account ray-system/kuberay-operator (through RoleBinding team-a/edit) run commands in pods in namespace team-a (pods/exec, pods/attach)"},
				{RuleOperatorWatchNamespace, "warning", "ClusterRoleBinding", "roleRef", "grants it the built-in ClusterRole cluster-admin in every namespace"},
			},
		},
		{
			name: "RBAC matches verbs and resources exactly: upper case grants nothing, named Secrets are named",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("upper", "- {apiGroups: [\"\"], resources: [Secrets, pods/exec], verbs: [GET, LIST, CREATE]}\n- {apiGroups: [\"\"], resources: [secrets], resourceNames: [a, b], verbs: [get, list]}\n"),
				binding("ClusterRoleBinding", "upper", "", "ClusterRole", "upper", operatorSA))},
			none: []string{RuleOperatorRBACSecrets, RuleOperatorRBACExec, RuleOperatorRBACWildcard},
		},
		{
			name: "creating pods or Jobs in every namespace reads every Secret; in one namespace it does not",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("makers", "- {apiGroups: [\"\"], resources: [pods], verbs: [create]}\n- {apiGroups: [\"*\"], resources: [jobs, deployments], verbs: [\"*\"]}\n"),
				binding("ClusterRoleBinding", "makers", "", "ClusterRole", "makers", operatorSA),
				binding("RoleBinding", "makers-team-a", "team-a", "ClusterRole", "makers", operatorSA))},
			want: []expect{
				{RuleOperatorRBACSecrets, "error", "ClusterRole", "rules[0]", "create pods in every namespace: a pod it makes can mount any Secret of its namespace"},
				{RuleOperatorRBACSecrets, "error", "ClusterRole", "rules[1]", "create apps/deployments, batch/jobs in every namespace"},
			},
		},
		{
			name: "an empty resource name matches list and watch",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("empty", "- {apiGroups: [\"*\"], resources: [secrets], resourceNames: [webhook-cert, \"\"], verbs: [list]}\n"),
				binding("ClusterRoleBinding", "empty", "", "ClusterRole", "empty", operatorSA))},
			want: []expect{{RuleOperatorRBACSecrets, "error", "ClusterRole", "rules[0]", "list Secrets in every namespace"}},
		},
		{
			name: "*/exec, nodes/proxy and */token",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				clusterRole("sub", "- {apiGroups: [\"\"], resources: [\"*/exec\", nodes/proxy], verbs: [create]}\n- {apiGroups: [\"\"], resources: [\"*/token\"], verbs: [create]}\n"),
				binding("ClusterRoleBinding", "sub", "", "ClusterRole", "sub", operatorSA))},
			want: []expect{
				{RuleOperatorRBACExec, "error", "ClusterRole", "rules[0]", "(pods/exec, nodes/proxy)"},
				{RuleOperatorRBACWildcard, "error", "ClusterRole", "rules[1]", "(create serviceaccounts/token)"},
			},
		},
		{
			name: "an aggregation selector that selects every ClusterRole collects cluster-admin",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""),
				"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: agg}\naggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [{key: example.com/none, operator: DoesNotExist}]\n",
				binding("RoleBinding", "agg", "team-a", "ClusterRole", "agg", operatorSA))},
			want: []expect{
				{RuleOperatorRBACWildcard, "warning", "ClusterRole", "aggregationRule.clusterRoleSelectors[0]", "the built-in ClusterRole cluster-admin (aggregated into ClusterRole agg by clusterRoleSelectors[0])"},
				{RuleOperatorRBACExec, "warning", "ClusterRole", "aggregationRule.clusterRoleSelectors[0]", "in namespace team-a"},
			},
			none: []string{RuleOperatorRBACSecrets},
		},
		{
			name:  "a binding of another service account grants nothing to the operator",
			files: []string{docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""), clusterRole("all", "- {apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}\n"), binding("ClusterRoleBinding", "all", "", "ClusterRole", "all", "- {kind: ServiceAccount, name: other, namespace: ray-system}\n"))},
			none:  []string{"RG-operator-rbac"},
		},
		{
			name:  "watching every namespace where teams share the cluster",
			files: []string{operatorDeployment(goodImage, "[--enable-leader-election]", "", ""), docs(rayCluster("team-a", "{mode: token}"), rayCluster("team-b", "{mode: token}"))},
			want:  []expect{{RuleOperatorWatchNamespace, "warning", "Deployment", "spec.template.spec.containers[0].args", "watches every namespace (no --watch-namespace): it reconciles every team's Ray clusters and holds their Ray tokens; teams share this cluster (the files have Ray objects in namespaces team-a, team-b)"}},
		},
		{
			name:  "watching every namespace, one team",
			files: []string{operatorDeployment(goodImage, "[--watch-namespace, \"\"]", "", "")},
			want:  []expect{{RuleOperatorWatchNamespace, "info", "Deployment", "spec.template.spec.containers[0].args[1]", "(--watch-namespace is empty)"}},
		},
		{
			name:  "a tenants file with several tenants means a shared cluster",
			files: []string{operatorDeployment(goodImage, "[]", "", "")},
			opts:  Options{Tenants: &tenant.File{Tenants: []tenant.Tenant{{Name: "a"}, {Name: "b"}}}},
			want:  []expect{{RuleOperatorWatchNamespace, "warning", "Deployment", "spec.template.spec.containers[0].args", "teams share this cluster (the tenants file has 2 tenants)"}},
		},
		{
			name: "WATCH_NAMESPACE alone is not read by KubeRay",
			files: []string{strings.Replace(operatorDeployment(goodImage, "[]", "", ""), "        ports:",
				"        env: [{name: WATCH_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]\n        ports:", 1)},
			want: []expect{{RuleOperatorWatchNamespace, "info", "Deployment", "spec.template.spec.containers[0].args", "WATCH_NAMESPACE is set, but KubeRay reads only --watch-namespace: pass --watch-namespace=$(WATCH_NAMESPACE)"}},
		},
		{
			name: "--watch-namespace=$(WATCH_NAMESPACE) watches the operator's namespace",
			files: []string{strings.Replace(operatorDeployment(goodImage, "[\"--watch-namespace=$(WATCH_NAMESPACE)\"]", "", ""), "        ports:",
				"        env: [{name: WATCH_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]\n        ports:", 1)},
			none: []string{RuleOperatorWatchNamespace},
		},
		{
			name:  "a config file the files do not hold",
			files: []string{operatorDeployment(goodImage, "[--config, /etc/kuberay/config.yaml]", "", "")},
			want:  []expect{{RuleOperatorWatchNamespace, "info", "Deployment", "spec.template.spec.containers[0].args[1]", "reads its settings from --config /etc/kuberay/config.yaml, whose ConfigMap is not in the files"}},
		},
		{
			name:  "an operator too old for the clusters' token authentication",
			files: []string{operatorDeployment("quay.io/kuberay/operator:v1.5.0", "[--watch-namespace=team-a]", "", ""), rayCluster("team-a", "{mode: token}")},
			want:  []expect{{RuleOperatorVersion, "error", "Deployment", "spec.template.spec.containers[0].image", "KubeRay 1.5.0 is older than 1.5.1, which added spec.authOptions: RayCluster team-a/ray1 (f1.yaml:6) sets it"}},
		},
		{
			name:  "secretName needs 1.6.0",
			files: []string{operatorDeployment("quay.io/kuberay/operator:v1.5.1", "[--watch-namespace=team-a]", "", ""), rayCluster("team-a", "{mode: token, secretName: tok}")},
			want:  []expect{{RuleOperatorVersion, "error", "Deployment", "spec.template.spec.containers[0].image", "older than 1.6.0, which added authOptions.secretName"}},
		},
		{
			name:  "a cluster the operator does not watch does not count",
			files: []string{operatorDeployment("quay.io/kuberay/operator:v1.5.0", "[--watch-namespace=team-a]", "", ""), rayCluster("team-b", "{mode: token}")},
			want:  []expect{{RuleOperatorVersion, "warning", "Deployment", "spec.template.spec.containers[0].image", "KubeRay 1.5.0 cannot turn on Ray token authentication"}},
		},
		{
			name:  "a tag that names no version",
			files: []string{operatorDeployment("quay.io/kuberay/operator:nightly", "[--watch-namespace=team-a]", "", "")},
			want:  []expect{{RuleOperatorVersion, "info", "Deployment", "spec.template.spec.containers[0].image", `the operator image "quay.io/kuberay/operator:nightly" names no KubeRay version`}},
		},
		{
			name: "a NodePort Service, externalIPs and routes to the operator",
			files: []string{operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", ""), docs(
				"apiVersion: v1\nkind: Service\nmetadata: {name: m, namespace: ray-system}\nspec: {type: NodePort, selector: {app.kubernetes.io/name: kuberay-operator}, ports: [{port: 8080, targetPort: http}]}\n",
				"apiVersion: v1\nkind: Service\nmetadata: {name: w, namespace: ray-system}\nspec: {externalIPs: [203.0.113.9], selector: {app.kubernetes.io/instance: kuberay}, ports: [{port: 443, targetPort: 9443}]}\n",
				"apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: ray-system}\nspec: {type: LoadBalancer, selector: {app: other}, ports: [{port: 80}]}\n",
				"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: ray-system}\nspec: {rules: [{backendRefs: [{name: m, port: 8080}]}]}\n",
				"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: team-a}\nspec: {defaultBackend: {service: {name: m, port: {number: 8080}}}}\n")},
			want: []expect{
				{RuleOperatorExposed, "error", "Service", "spec.type", "Service ray-system/m is of type NodePort and selects the KubeRay operator's pods: it publishes their metrics port 8080 outside the cluster"},
				{RuleOperatorExposed, "error", "Service", "spec.externalIPs", "it publishes their webhook port 9443 outside the cluster"},
				{RuleOperatorExposed, "error", "HTTPRoute", "spec.rules[0].backendRefs[0]", "HTTPRoute ray-system/r routes to Service ray-system/m, which reaches the KubeRay operator's metrics port 8080"},
			},
		},
		{
			name:  "no operator, no operator rules",
			files: []string{strings.ReplaceAll(strings.ReplaceAll(operatorDeployment("nginx:1.27", "[]", "", ""), "kuberay-operator", "web"), "quay.io/kuberay/operator", "nginx")},
			none:  []string{"RG-operator-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []Input
			for i, y := range tt.files {
				f, err := manifest.Read([]byte(y))
				if err != nil {
					t.Fatalf("file %d: %v\n%s", i, err, y)
				}
				in = append(in, Input{Name: "f" + string(rune('0'+i)) + ".yaml", File: f})
			}
			fs := CheckSet(in, tt.opts)
			var all []string
			for _, f := range fs {
				all = append(all, string(f.Severity)+" "+f.Rule+" "+f.Kind+" "+f.Field+": "+f.Message)
				if f.Line == 0 {
					t.Errorf("%s at %s has no line", f.Rule, f.Field)
				}
			}
			for _, w := range tt.want {
				ok := false
				for _, f := range fs {
					if f.Rule == w.rule && string(f.Severity) == w.sev && f.Kind == w.kind && f.Field == w.field && strings.Contains(f.Message, w.msg) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("missing %s %s on %s at %s saying %q; got:\n%s", w.sev, w.rule, w.kind, w.field, w.msg, strings.Join(all, "\n"))
				}
			}
			for _, n := range tt.none {
				for _, f := range fs {
					if strings.HasPrefix(f.Rule, n) {
						t.Errorf("unexpected %s at %s: %s", f.Rule, f.Field, f.Message)
					}
				}
			}
		})
	}
}

func TestRayOnly(t *testing.T) {
	data := docs(operatorDeployment(goodImage, "[--watch-namespace=team-a]", "", "{privileged: true}"),
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostPID: true, containers: [{name: c, image: busybox:1.36}]}\n")
	f, err := manifest.Read([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	kinds := func(fs []Finding) map[string]bool {
		out := map[string]bool{}
		for _, f := range fs {
			out[f.Kind] = true
		}
		return out
	}
	all := kinds(Check("x.yaml", f, Options{}))
	ray := kinds(Check("x.yaml", f, Options{RayOnly: true}))
	if !all["Pod"] || !all["Deployment"] {
		t.Errorf("without --only ray both workloads are checked: %v", all)
	}
	if ray["Pod"] || !ray["Deployment"] {
		t.Errorf("--only ray checks the operator and skips other workloads: %v", ray)
	}
}

// FuzzCheckSet checks two files together, as lint does a set of paths:
// the operator rules read RBAC, Services, routes, ConfigMaps and Ray
// objects across files; every finding must name a rule, a severity and a
// field of its object.
func FuzzCheckSet(f *testing.F) {
	for _, dir := range platformCases(f) {
		parts := readSetFiles(f, dir)
		for len(parts) < 2 {
			parts = append(parts, "")
		}
		f.Add(parts[0], strings.Join(parts[1:], "---\n"))
	}
	f.Add(operatorDeployment(goodImage, "[--config, /c/x.yaml]", "", ""), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ray-system}\ndata: {x.yaml: 'watchNamespace: [a'}\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		var in []Input
		for i, s := range []string{a, b} {
			mf, err := manifest.Read([]byte(s))
			if err != nil {
				continue
			}
			in = append(in, Input{Name: string(rune('a'+i)) + ".yaml", File: mf})
		}
		for _, x := range CheckSet(in, Options{}) {
			if x.Rule == "" || x.Severity == "" || x.Message == "" {
				t.Fatalf("incomplete finding %+v", x)
			}
		}
	})
}

// readSetFiles returns the texts of the manifests of a folder.
func readSetFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := manifest.FindFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, string(mustReadFile(t, f)))
	}
	return out
}
