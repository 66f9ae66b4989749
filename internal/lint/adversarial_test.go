package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adversarialExpect says, for each file of testdata/adversarial, what lint
// must do: refuse the file (with a message naming the cause), or report
// each rule at each field. These are manifests that an earlier lint
// passed while the API server stored something insecure.
var adversarialExpect = map[string]struct {
	refused string
	want    []want
	notWant []string
}{
	"duplicate-kind.yaml":     {refused: `line 7: duplicate key "kind" (also at line 4)`},
	"duplicate-template.yaml": {refused: `line 16: duplicate key "template" (also at line 9)`},
	"duplicate-exposure.yaml": {refused: `line 11: duplicate key "mode" (also at line 10)`},
	"end-marker.yaml":         {refused: "line 5: a YAML document continues after a document end marker"},
	"json-duplicate.json":     {refused: `duplicate key "serviceType"`},
	"merge-after-explicit.yaml": {want: []want{
		{"PSS-allowPrivilegeEscalation", "spec.headGroupSpec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
		{"PSS-capabilities_restricted", "spec.headGroupSpec.template.spec.containers[0].securityContext.capabilities"},
	}},
	"merge-list-order.yaml": {want: []want{
		{"PSS-privileged", "spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"},
		{"PSS-allowPrivilegeEscalation", "spec.headGroupSpec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
	}},
	"quoted-merge-key.yaml": {want: []want{
		{"PSS-allowPrivilegeEscalation", "spec.headGroupSpec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
		{"PSS-capabilities_restricted", "spec.headGroupSpec.template.spec.containers[0].securityContext.capabilities"},
	}},
	"list-in-configmap.yaml": {want: []want{
		{"PSS-privileged", "items[0].spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"},
		{"RG-auth-disabled", "items[0].spec.authOptions"},
	}},
	"list-document-itself.yaml": {want: []want{
		{"PSS-privileged", "spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"},
	}},
	"list-kind-inherited.yaml": {want: []want{
		{"RG-head-service-exposed", "items[0].spec.headGroupSpec.serviceType"},
		{"PSS-hostNamespaces", "items[0].spec.headGroupSpec.template.spec.hostNetwork"},
	}},
	"head-external-ips.yaml": {want: []want{
		{"RG-head-service-exposed", "spec.headGroupSpec.headService.spec.externalIPs"},
		{"RG-head-service-exposed", "spec.headGroupSpec.headService.spec.loadBalancerSourceRanges"},
	}},
	"serve-external-ips.yaml": {want: []want{
		{"RG-serve-service-exposed", "spec.serveService.spec.externalIPs"},
	}},
	"yaml11-scalars.yaml": {want: []want{
		{"RG-head-ingress", "spec.headGroupSpec.enableIngress"},
		{"PSS-hostNamespaces", "spec.headGroupSpec.template.spec.hostNetwork"},
		{"PSS-runAsUser", "spec.headGroupSpec.template.spec.securityContext.runAsUser"},
		{"PSS-runAsUser", "spec.headGroupSpec.template.spec.containers[0].securityContext.runAsUser"},
		{"PSS-runAsUser", "spec.headGroupSpec.template.spec.containers[1].securityContext.runAsUser"},
		{"PSS-runAsUser", "spec.workerGroupSpecs[0].template.spec.securityContext.runAsUser"},
	}},
	"capability-spellings.yaml": {want: []want{
		{"PSS-capabilities_restricted", "spec.headGroupSpec.template.spec.containers[0].securityContext.capabilities"},
		{"PSS-capabilities_restricted", "spec.headGroupSpec.template.spec.containers[1].securityContext.capabilities"},
	}},
	"alias-worker-template.yaml": {
		want:    []want{{"RG-sa-token-automount", "spec.workerGroupSpecs[0].template.spec.automountServiceAccountToken"}},
		notWant: []string{"RG-sa-token-automount@spec.headGroupSpec"},
	},
	"merged-pod-security-context.yaml": {
		notWant: []string{"PSS-runAsNonRoot", "PSS-runAsUser", "PSS-seccompProfile_restricted"},
	},
	"ephemeral-containers.yaml": {want: []want{
		{"PSS-privileged", "spec.headGroupSpec.template.spec.ephemeralContainers[0].securityContext.privileged"},
		{"PSS-runAsUser", "spec.headGroupSpec.template.spec.ephemeralContainers[0].securityContext.runAsUser"},
		{"PSS-capabilities_restricted", "spec.headGroupSpec.template.spec.ephemeralContainers[0].securityContext.capabilities"},
	}},
	"user-namespace-root.yaml": {
		notWant: []string{"PSS-", "RG-autoscaler-restricted"},
	},
	"operator-user-namespace-root.yaml": {
		want: []want{{"RG-operator-non-root", "spec.template.spec.securityContext.runAsUser"}},
	},
	"apparmor-empty-annotation.yaml": {
		notWant: []string{"PSS-appArmorProfile"},
	},
	"windows-workload.yaml": {
		want:    []want{{"PSS-runAsNonRoot", "spec.template.spec.containers[0].securityContext.runAsNonRoot"}},
		notWant: []string{"PSS-seccompProfile_restricted", "PSS-capabilities_restricted", "PSS-allowPrivilegeEscalation"},
	},
	"operator-rbac-empty-resource-name.yaml": {want: []want{
		{"RG-operator-rbac-secrets", "rules[0]"},
	}},
	"operator-rbac-subresource-wildcard.yaml": {want: []want{
		{"RG-operator-rbac-exec", "rules[0]"},
		{"RG-operator-rbac-wildcard", "rules[0]"},
	}},
	"operator-rbac-aggregated.yaml": {want: []want{
		{"RG-operator-rbac-secrets", "rules[0]"},
		{"RG-operator-rbac-secrets", "aggregationRule.clusterRoleSelectors[1]"},
		{"RG-operator-rbac-exec", "aggregationRule.clusterRoleSelectors[1]"},
	}},
	"operator-rbac-builtin-role.yaml": {want: []want{
		{"RG-operator-rbac-secrets", "roleRef.name"},
	}},
	"operator-mirrored.yaml": {want: []want{
		{"RG-operator-non-root", "spec.template.spec.securityContext.runAsUser"},
		{"RG-operator-rbac-secrets", "rules[0]"},
		{"RG-operator-watch-namespace", "spec.template.spec.containers[0].args[0]"},
	}},
	"autoscaler-account-takeover.yaml": {want: []want{
		{"RG-service-account", "spec.headGroupSpec.template.spec.serviceAccountName"},
	}},
	"raycronjob.yaml": {want: []want{
		{"PSS-privileged", "spec.jobTemplate.rayClusterSpec.headGroupSpec.template.spec.containers[0].securityContext.privileged"},
		{"RG-head-service-exposed", "spec.jobTemplate.rayClusterSpec.headGroupSpec.serviceType"},
		{"RG-auth-disabled", "spec.jobTemplate.rayClusterSpec.authOptions"},
		{"RG-submitter-restricted", "spec.jobTemplate.submitterPodTemplate"},
	}},
	"serve-incremental-gateway.yaml": {want: []want{
		{"RG-serve-service-exposed", "spec.upgradeStrategy.clusterUpgradeOptions.gatewayClassName"},
	}},
	"head-separate-service.yaml": {want: []want{
		{"RG-head-route", "spec.ports[0]"},
	}},
	"operator-rbac-pod-maker.yaml": {want: []want{
		{"RG-operator-rbac-secrets", "rules[0]"},
		{"RG-operator-rbac-secrets", "rules[1]"},
	}},
	"non-specific-tag.yaml": {
		want: []want{
			{"PSS-allowPrivilegeEscalation", "spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
			{"PSS-capabilities_restricted", "spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.capabilities"},
		},
		notWant: []string{"PSS-allowPrivilegeEscalation@spec.headGroupSpec", "PSS-capabilities_restricted@spec.headGroupSpec"},
	},
}

// TestAdversarial lints every file of testdata/adversarial, checks what
// each must yield and compares the report with its golden file (refresh
// with -update).
func TestAdversarial(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "adversarial", "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		n++
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			exp, ok := adversarialExpect[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := File(name, data)
			var buf bytes.Buffer
			switch {
			case exp.refused != "":
				if err == nil || !strings.Contains(err.Error(), exp.refused) {
					t.Fatalf("lint must refuse the file (%q), got %v", exp.refused, err)
				}
				buf.WriteString("refused: " + err.Error() + "\n")
			case err != nil:
				t.Fatalf("lint refused the file: %v", err)
			default:
				got := map[string]bool{}
				for _, x := range fs {
					got[x.Rule+"@"+x.Field] = true
					if x.Line == 0 {
						t.Errorf("%s at %s has no line", x.Rule, x.Field)
					}
				}
				for _, w := range exp.want {
					if !got[w.rule+"@"+w.field] {
						t.Errorf("missing %s at %s", w.rule, w.field)
					}
				}
				for _, nw := range exp.notWant {
					for k := range got {
						if strings.HasPrefix(k, nw) {
							t.Errorf("unexpected %s", k)
						}
					}
				}
				if err := Report(&buf, FormatText, fs, 1, "test"); err != nil {
					t.Fatal(err)
				}
			}
			golden := f + ".golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("report differs from %s (run with -update and review the diff):\n%s", golden, buf.String())
			}
		})
	}
	if n != len(adversarialExpect) {
		t.Errorf("%d files for %d expectations", n, len(adversarialExpect))
	}
}
