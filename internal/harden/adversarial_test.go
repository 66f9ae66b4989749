package harden

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/manifest"
)

// TestAdversarial hardens the manifests of lint's testdata/adversarial:
// harden refuses what lint refuses, and otherwise keeps the properties
// (TestPropertiesOnSamples) and the specific values each case is about.
// The output is compared with testdata/adversarial (refresh with -update).
func TestAdversarial(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "lint", "testdata", "adversarial", "*.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no adversarial manifests: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, _, herr := File(in)
			_, rerr := manifest.Read(in)
			if rerr != nil {
				if herr == nil || herr.Error() != rerr.Error() {
					t.Fatalf("harden must refuse what the reader refuses (%v), got %v", rerr, herr)
				}
				out = []byte("refused: " + herr.Error() + "\n")
			} else if herr != nil {
				t.Fatalf("harden: %v", herr)
			} else {
				checkHardened(t, name, out)
			}
			golden := filepath.Join("testdata", "adversarial", name)
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(want, out) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, out)
			}
		})
	}
}

// checkHardened checks the values a case is about in the hardened output.
func checkHardened(t *testing.T, name string, out []byte) {
	t.Helper()
	f, err := manifest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	o := f.Resources()[0].Value
	expect := func(path string, want string) {
		t.Helper()
		got := o.Lookup(path)
		if want == "<absent>" {
			if got != nil {
				t.Errorf("%s is %s, want it absent:\n%s", path, got.Scalar(), out)
			}
			return
		}
		if b, _ := got.MarshalJSON(); got == nil || string(b) != want {
			t.Errorf("%s = %s, want %s:\n%s", path, b, want, out)
		}
	}
	switch name {
	case "alias-worker-template.yaml":
		// The head runs the autoscaler and keeps its token; the worker,
		// written as an alias of the head's template, does not.
		expect("spec.headGroupSpec.template.spec.automountServiceAccountToken", "<absent>")
		expect("spec.workerGroupSpecs[0].template.spec.automountServiceAccountToken", "false")
	case "merged-pod-security-context.yaml":
		// Compliant values from a merge are kept as they are.
		for _, p := range []string{"spec.headGroupSpec.template.spec.securityContext", "spec.workerGroupSpecs[0].template.spec.securityContext"} {
			expect(p+".runAsUser", "2000")
			expect(p+".fsGroup", "3000")
			expect(p+".runAsNonRoot", "true")
		}
		if !bytes.Contains(out, []byte("<<:")) {
			t.Errorf("the merges were flattened:\n%s", out)
		}
	case "capability-spellings.yaml":
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.capabilities", `{"add":["NET_BIND_SERVICE"],"drop":["ALL"]}`)
		expect("spec.headGroupSpec.template.spec.containers[1].securityContext.capabilities", `{"add":["NET_BIND_SERVICE"],"drop":["ALL"]}`)
	case "yaml11-scalars.yaml":
		expect("spec.headGroupSpec.enableIngress", "false")
		expect("spec.headGroupSpec.template.spec.securityContext.runAsUser", "1000")
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.runAsUser", "1000")
		expect("spec.headGroupSpec.template.spec.containers[1].securityContext.runAsUser", "1000")
		expect("spec.workerGroupSpecs[0].template.spec.securityContext.runAsUser", "1000")
	case "non-specific-tag.yaml":
		// Strings written with the non-specific tag stay strings.
		expect("metadata.labels", `{"build":"0x1F","tier":"yes"}`)
		expect("spec.headGroupSpec.rayStartParams", `{"num-cpus":"0"}`)
		expect("spec.headGroupSpec.template.spec.containers[0].env", `[{"name":"WORKERS","value":"4"},{"name":"DEBUG","value":"off"}]`)
		expect("spec.workerGroupSpecs[0].template.spec.containers[0].env", `[{"name":"WORKERS","value":"4"}]`)
		expect("spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.allowPrivilegeEscalation", "false")
	case "merge-after-explicit.yaml":
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.allowPrivilegeEscalation", "false")
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.capabilities", `{"drop":["ALL"]}`)
	case "head-external-ips.yaml":
		expect("spec.headGroupSpec.headService.spec.externalIPs", "<absent>")
		expect("spec.headGroupSpec.headService.spec.loadBalancerSourceRanges", "<absent>")
	case "ephemeral-containers.yaml":
		expect("spec.headGroupSpec.template.spec.ephemeralContainers[0].securityContext",
			`{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"privileged":false,"runAsUser":1000}`)
	case "user-namespace-root.yaml":
		// Root in a user namespace complies with restricted: kept.
		expect("spec.headGroupSpec.template.spec.securityContext", `{"runAsNonRoot":false,"runAsUser":0,"seccompProfile":{"type":"RuntimeDefault"}}`)
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.runAsUser", "0")
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.runAsNonRoot", "false")
		expect("spec.autoscalerOptions.securityContext.runAsUser", "0")
		expect("spec.workerGroupSpecs[0].template.spec.securityContext", `{"seccompProfile":{"type":"RuntimeDefault"}}`)
	case "operator-user-namespace-root.yaml":
		// The operator is held to non-root in a user namespace too.
		expect("spec.template.spec.securityContext.runAsUser", "65532")
		expect("spec.template.spec.securityContext.runAsNonRoot", "true")
	case "apparmor-empty-annotation.yaml":
		expect(`spec.headGroupSpec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/ray-head"]`, `""`)
	case "windows-workload.yaml":
		// Only runAsNonRoot: the API server refuses Linux-only fields in a
		// Windows pod.
		expect("spec.template.spec.securityContext", `{"runAsNonRoot":true}`)
		expect("spec.template.spec.containers[0].securityContext", "<absent>")
	case "raycronjob.yaml":
		expect("spec.jobTemplate.rayClusterSpec.headGroupSpec.serviceType", `"ClusterIP"`)
		expect("spec.jobTemplate.rayClusterSpec.authOptions.mode", `"token"`)
		expect("spec.jobTemplate.rayClusterSpec.headGroupSpec.template.spec.containers[0].securityContext.privileged", "false")
		expect("spec.jobTemplate.submitterPodTemplate.spec.containers[0].securityContext.allowPrivilegeEscalation", "false")
	case "list-in-configmap.yaml":
		expect("spec.headGroupSpec.template.spec.containers[0].securityContext.privileged", "false")
	}
}
