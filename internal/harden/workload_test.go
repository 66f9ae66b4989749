package harden

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
)

// platformDir holds the operator installs and workloads of the lint
// tests.
var platformDir = filepath.Join("..", "lint", "testdata", "platform")

func platformFiles(t testing.TB) []string {
	t.Helper()
	files, err := manifest.FindFiles([]string{platformDir})
	if err != nil || len(files) == 0 {
		t.Fatalf("no platform files: %v", err)
	}
	return files
}

// TestGoldenPlatform hardens the operator installs and workloads of the
// lint tests and compares with testdata/golden/platform.
func TestGoldenPlatform(t *testing.T) {
	for _, f := range platformFiles(t) {
		rel, _ := filepath.Rel(platformDir, f)
		name := strings.ReplaceAll(rel, string(filepath.Separator), "_")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := File(in)
			if err != nil {
				t.Fatalf("harden: %v", err)
			}
			golden := filepath.Join("testdata", "golden", "platform", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want, err := os.ReadFile(golden); err != nil {
				t.Fatalf("%v (run with -update)", err)
			} else if !bytes.Equal(want, out) {
				t.Errorf("output differs from %s (run with -update and review the diff)", golden)
			}
		})
	}
}

// TestPropertiesOnPlatform checks harden's properties on the operator
// installs and workloads.
func TestPropertiesOnPlatform(t *testing.T) {
	for _, f := range platformFiles(t) {
		checkProperties(t, f, readFile(t, f))
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWorkloadFixes pins what harden does to a workload: the restricted
// profile, with uid 65532 where runAsUser is 0, and none of the Ray fixes
// (the token, a default uid, a writable /tmp are the workload's own
// business).
func TestWorkloadFixes(t *testing.T) {
	in := `apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          securityContext: {runAsUser: 0}
          containers:
          - name: c
            image: busybox:1.36
            securityContext: {privileged: true, readOnlyRootFilesystem: true, capabilities: {add: [SYS_ADMIN]}}
`
	out, changes, err := File([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	f, err := manifest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	spec := f.Resources()[0].Value.Lookup("spec.jobTemplate.spec.template.spec")
	for p, want := range map[string]string{
		"securityContext.runAsUser":                              "65532",
		"securityContext.runAsNonRoot":                           "true",
		"securityContext.seccompProfile.type":                    "RuntimeDefault",
		"containers[0].securityContext.privileged":               "false",
		"containers[0].securityContext.allowPrivilegeEscalation": "false",
		"containers[0].securityContext.capabilities.drop[0]":     "ALL",
		"containers[0].securityContext.readOnlyRootFilesystem":   "true",
		"containers[0].securityContext.capabilities.add":         "",
		"automountServiceAccountToken":                           "",
		"volumes":                                                "",
		"containers[0].volumeMounts":                             "",
	} {
		if got := spec.Lookup(p).Scalar(); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if len(changes) == 0 || changes[0].Kind != "CronJob" || !strings.HasPrefix(changes[0].Field, "spec.jobTemplate.spec.template.spec.") {
		t.Errorf("changes %v", changes)
	}
}

// TestRayOnlyKeepsWorkloads: with --only ray, harden leaves other
// workloads as they are and still hardens the KubeRay operator.
func TestRayOnlyKeepsWorkloads(t *testing.T) {
	in := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c, image: busybox:1.36}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kuberay-operator}
spec:
  template:
    spec:
      containers: [{name: kuberay-operator, image: "quay.io/kuberay/operator:v1.6.0"}]
`
	_, changes, err := FileWith([]byte(in), Options{RayOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, c := range changes {
		kinds[c.Kind] = true
	}
	if kinds["Pod"] || !kinds["Deployment"] {
		t.Errorf("--only ray changed %v", kinds)
	}
	_, changes, _ = File([]byte(in))
	kinds = map[string]bool{}
	for _, c := range changes {
		kinds[c.Kind] = true
	}
	if !kinds["Pod"] || !kinds["Deployment"] {
		t.Errorf("without --only ray changed %v", kinds)
	}
}

// workloadVariant writes a workload of a random pod-bearing kind with the
// spellings and structures the Ray variants use (YAML 1.1 booleans, uid
// 0 written other ways, merged securityContexts, capability spellings).
func workloadVariant(r *rand.Rand) []byte {
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	bools := func() string { return pick("true", "false", "yes", "no", "on", "off") }
	uid := func() string { return pick("0", "00", "0x0", "+0", "0.0", "1000", "65532") }
	kinds := []struct{ apiVersion, kind, head, ind string }{
		{"v1", "Pod", "", ""},
		{"v1", "PodTemplate", "template:\n", "  "},
		{"v1", "ReplicationController", "spec:\n  template:\n", "    "},
		{"apps/v1", "Deployment", "spec:\n  selector: {matchLabels: {a: b}}\n  template:\n", "    "},
		{"apps/v1", "StatefulSet", "spec:\n  template:\n", "    "},
		{"apps/v1", "DaemonSet", "spec:\n  template:\n", "    "},
		{"apps/v1", "ReplicaSet", "spec:\n  template:\n", "    "},
		{"batch/v1", "Job", "spec:\n  template:\n", "    "},
		{"batch/v1", "CronJob", "spec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n", "        "},
		{"apps/v1beta2", "Deployment", "spec:\n  template:\n", "    "},
	}
	k := kinds[r.Intn(len(kinds))]
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: w\nanchors:\n", k.apiVersion, k.kind)
	fmt.Fprintf(&b, "  podsc: &podsc {runAsNonRoot: %s, runAsUser: %s}\n", bools(), uid())
	fmt.Fprintf(&b, "  ctrsc: &ctrsc {allowPrivilegeEscalation: %s, capabilities: {drop: [%s]}}\n", bools(), pick("ALL", "all", "NET_RAW"))
	b.WriteString(k.head)
	w := func(format string, args ...any) { fmt.Fprintf(&b, k.ind+format+"\n", args...) }
	if k.kind != "Pod" {
		w("metadata: {labels: {a: b}}")
	}
	w("spec:")
	switch r.Intn(5) {
	case 1:
		w("  securityContext: {runAsNonRoot: %s, runAsUser: %s}", bools(), uid())
	case 2:
		w("  securityContext: {<<: *podsc}")
	case 3:
		w("  securityContext: {runAsUser: %s, <<: *podsc, seccompProfile: {type: %s}}", uid(), pick("Unconfined", "RuntimeDefault", "Localhost"))
	case 4:
		w("  hostUsers: false")
	}
	w("  containers:")
	for i := 0; i < 1+r.Intn(2); i++ {
		var parts []string
		if r.Intn(2) == 0 {
			parts = append(parts, "capabilities: {drop: ["+pick("all", "ALL", "CAP_ALL", "NET_RAW")+"], add: ["+pick("CAP_NET_BIND_SERVICE", "SYS_ADMIN", "NET_BIND_SERVICE")+"]}")
		}
		if r.Intn(2) == 0 {
			parts = append(parts, "privileged: "+bools())
		}
		if r.Intn(3) == 0 {
			parts = append(parts, "runAsUser: "+uid())
		}
		if r.Intn(3) == 0 {
			parts = append(parts, "<<: *ctrsc")
		}
		if r.Intn(4) == 0 {
			parts = append(parts, "procMount: Unmasked")
		}
		w("  - name: c%d", i)
		w("    image: busybox:1.36")
		w("    securityContext: {%s}", strings.Join(parts, ", "))
	}
	return []byte(b.String())
}

// TestPropertiesOnWorkloadVariants checks the properties on generated
// workloads of every kind.
func TestPropertiesOnWorkloadVariants(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	insecure := 0
	for i := 0; i < 200; i++ {
		data := workloadVariant(r)
		fs, err := lint.File("w.yaml", data)
		if err != nil {
			t.Fatalf("variant %d does not read: %v\n%s", i, err, data)
		}
		for _, f := range fs {
			if rule, ok := lint.RuleByID(f.Rule); ok && rule.Hardened && f.Severity == lint.SeverityError {
				insecure++
				break
			}
		}
		checkProperties(t, fmt.Sprintf("workload-%d.yaml", i), data)
		if t.Failed() {
			t.Logf("variant %d:\n%s", i, data)
			return
		}
	}
	if insecure < 150 {
		t.Errorf("only %d of 200 variants had something to fix", insecure)
	}
}
