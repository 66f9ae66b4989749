package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const insecureCluster = `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: c}
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{name: h, image: "rayproject/ray:2.52.0"}]
`

func TestToolkitCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	insecure := write("manifests/insecure.yaml", insecureCluster)
	notYAML := write("broken/bad.yaml", "kind: [\n")
	other := write("other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	tenants := write("tenants.yaml", "raygate: {namespace: raygate-system}\ntenants: [{name: team-a}, {name: team-b}]\n")
	badTenants := write("bad-tenants.yaml", "raygate: {namespace: raygate-system}\ntenants: [{name: Team}]\n")
	wideTenants := write("wide-tenants.yaml", "raygate: {namespace: raygate-system}\napiServer: {cidrs: [10.0.0.0/16]}\ntenants: [{name: team-a, autoscaling: true}]\n")
	duplicate := write("dup/duplicate.yaml", "apiVersion: ray.io/v1\nkind: ConfigMap\nkind: RayCluster\nmetadata: {name: d}\n")
	foreignSA := write("sa/foreign.yaml", strings.Replace(insecureCluster, "      spec:\n", "      spec:\n        serviceAccountName: admin\n", 1))
	privilegedPod := write("workloads/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox:1.36, securityContext: {privileged: true}}]}\n")
	// The operator and the ClusterRole that lets it read every Secret,
	// in two files: lint checks the paths together.
	operator := write("operator/deployment.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: kuberay-operator, namespace: ray-system}
spec:
  template:
    spec:
      serviceAccountName: kuberay-operator
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: kuberay-operator
        image: quay.io/kuberay/operator:v1.5.1
        args: [--watch-namespace=team-a]
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`)
	rbac := write("operator/rbac.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kuberay-operator}
rules: [{apiGroups: [""], resources: [secrets], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kuberay-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kuberay-operator}
subjects: [{kind: ServiceAccount, name: kuberay-operator, namespace: ray-system}]
`)

	runCases(t, []cliCase{
		{"lint help", []string{"lint", "--help"}, ExitOK, "--format", "", false},
		{"lint no path", []string{"lint"}, ExitUsage, "", "no PATH given", true},
		{"lint bad format", []string{"lint", "--format", "xml", insecure}, ExitUsage, "", "unknown --format", true},
		{"lint missing path", []string{"lint", filepath.Join(dir, "nope")}, ExitUsage, "", "no such file or directory", true},
		{"lint errors", []string{"lint", insecure}, ExitFailure, "error PSS-runAsNonRoot RayCluster/c (document 0)", "", false},
		{"lint folder", []string{"lint", filepath.Join(dir, "manifests")}, ExitFailure, "insecure.yaml", "", false},
		{"lint clean", []string{"lint", other}, ExitOK, "0 errors, 0 warnings, 0 info in 1 file", "", false},
		{"lint not YAML", []string{"lint", notYAML, insecure}, ExitUsage, "RG-auth-disabled", "bad.yaml: line 1", true},
		{"lint sarif", []string{"lint", "--format", "sarif", insecure}, ExitFailure, `"version": "2.1.0"`, "", false},
		{"harden help", []string{"harden", "--help"}, ExitOK, "--write", "", false},
		{"harden prints", []string{"harden", insecure}, ExitOK, "allowPrivilegeEscalation: false", "", false},
		{"harden not YAML", []string{"harden", notYAML}, ExitUsage, "", "bad.yaml: line 1", true},
		{"harden two paths", []string{"harden", insecure, other}, ExitUsage, "", "exactly one PATH", true},
		{"harden folder without --write", []string{"harden", dir}, ExitUsage, "", "use --write", true},
		{"tenant help", []string{"tenant", "--help"}, ExitOK, "render|verify", "", false},
		{"tenant no subcommand", []string{"tenant"}, ExitUsage, "", "render or verify", true},
		{"tenant unknown subcommand", []string{"tenant", "apply"}, ExitUsage, "", "unknown subcommand", true},
		{"tenant render help", []string{"tenant", "render", "--help"}, ExitOK, "--file", "", false},
		{"tenant render no file", []string{"tenant", "render"}, ExitUsage, "", "--file is required", true},
		{"tenant render", []string{"tenant", "render", "--file", tenants}, ExitOK, "kind: NetworkPolicy", "", false},
		{"tenant render bad file", []string{"tenant", "render", "--file", badTenants}, ExitUsage, "", "tenants[0].name", true},
		{"tenant verify", []string{"tenant", "verify", "--file", tenants}, ExitOK, "isolated:", "", false},
		{"tenant render warns", []string{"tenant", "render", "--file", wideTenants}, ExitOK, "kind: Namespace", "warning: " + wideTenants + ": apiServer.cidrs[0]: 10.0.0.0/16 is wider than /24", false},
		{"lint refuses duplicate keys", []string{"lint", duplicate}, ExitUsage, "", `line 3: duplicate key "kind" (also at line 2)`, true},
		{"harden refuses duplicate keys", []string{"harden", duplicate}, ExitUsage, "", `duplicate key "kind"`, true},
		{"lint with tenants", []string{"lint", "--tenants", tenants, "--namespace", "team-a", foreignSA}, ExitFailure, "RG-service-account", "", false},
		{"lint with tenants, no namespace", []string{"lint", "--tenants", tenants, foreignSA}, ExitFailure, "RG-tenant-namespace", "", false},
		{"lint a workload", []string{"lint", privilegedPod}, ExitFailure, "error PSS-privileged Pod/p (document 0) spec.containers[0].securityContext.privileged: pod: privileged", "", false},
		{"lint --only ray skips workloads", []string{"lint", "--only", "ray", privilegedPod}, ExitOK, "0 errors, 0 warnings, 0 info in 1 file", "", false},
		{"lint bad --only", []string{"lint", "--only", "all", privilegedPod}, ExitUsage, "", `unknown --only "all" (the one value is ray)`, true},
		{"lint checks files together", []string{"lint", operator, rbac}, ExitFailure, "error RG-operator-rbac-secrets ClusterRole/kuberay-operator (document 0) rules[0]", "", false},
		{"lint one file of an install", []string{"lint", operator}, ExitOK, "0 errors", "", false},
		{"lint --only ray keeps the operator", []string{"lint", "--only", "ray", filepath.Join(dir, "operator")}, ExitFailure, "RG-operator-rbac-secrets", "", false},
		{"harden a workload", []string{"harden", privilegedPod}, ExitOK, "privileged: false", "", false},
		{"harden --only ray keeps workloads", []string{"harden", "--only", "ray", privilegedPod}, ExitOK, "securityContext: {privileged: true}", "", false},
		{"harden bad --only", []string{"harden", "--only", "x", privilegedPod}, ExitUsage, "", `unknown --only "x"`, true},
		{"lint with a bad tenants file", []string{"lint", "--tenants", badTenants, foreignSA}, ExitUsage, "", "--tenants " + badTenants + ": tenants[0].name", true},
	})

	// JSON: one array with the SPEC's keys.
	code, out, _ := run("lint", "--format", "json", insecure, other)
	if code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	var fs []map[string]any
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) == 0 {
		t.Fatalf("not a JSON array of findings: %v\n%s", err, out)
	}
	// harden --write is idempotent and leaves lint without errors.
	if code, _, errOut := run("harden", "--write", "--explain", filepath.Join(dir, "manifests")); code != ExitOK || !strings.Contains(errOut, "authOptions.mode") {
		t.Fatalf("harden --write: %d %s", code, errOut)
	}
	first, _ := os.ReadFile(insecure)
	if code, _, _ := run("harden", "--write", insecure); code != ExitOK {
		t.Fatal("second harden failed")
	}
	second, _ := os.ReadFile(insecure)
	if string(first) != string(second) {
		t.Error("harden --write is not idempotent")
	}
	if code, out, _ := run("lint", insecure); code != ExitOK {
		t.Errorf("hardened file still has errors:\n%s", out)
	}
}
