package harden

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// samplesDir holds KubeRay's sample manifests (shared with the lint tests).
var samplesDir = filepath.Join("..", "lint", "testdata", "kuberay")

func TestGoldenSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := File(in)
			if err != nil {
				t.Fatalf("harden: %v", err)
			}
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want, err := os.ReadFile(golden); err != nil {
				t.Fatalf("%v (run with -update)", err)
			} else if !bytes.Equal(want, out) {
				t.Errorf("output differs from %s (run with -update and review the diff)", golden)
			}

			again, changes, err := File(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, out) || len(changes) != 0 {
				t.Errorf("not idempotent: second pass changed %v", changes)
			}

			fs, err := lint.File(name, out)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range fs {
				if x.Severity == lint.SeverityError {
					t.Errorf("hardened output has an error: %s %s: %s", x.Rule, x.Field, x.Message)
				}
			}

			for _, c := range comments(in) {
				if !bytes.Contains(out, []byte(c)) {
					t.Errorf("comment lost: %q", c)
				}
			}
			assertSameKeysInOrder(t, in, out)
		})
	}
}

// comments returns the text of every comment of a YAML file (the part from
// " #" or a leading "#").
func comments(data []byte) []string {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			out = append(out, strings.TrimSpace(strings.TrimLeft(t, "#")))
			continue
		}
		if i := strings.Index(t, " #"); i >= 0 && !strings.ContainsAny(t[:i], `"'`) {
			out = append(out, strings.TrimSpace(t[i+2:]))
		}
	}
	return out
}

// assertSameKeysInOrder checks that the keys of the input appear in the
// output in the same order (the output may add keys).
func assertSameKeysInOrder(t *testing.T, in, out []byte) {
	t.Helper()
	keys := func(b []byte) []string {
		f, err := manifest.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, d := range f.Docs {
			if d.Node != nil {
				ks = append(ks, flatten("", d.Node)...)
			}
		}
		return ks
	}
	a, b := keys(in), keys(out)
	j := 0
	for _, k := range a {
		if strings.HasSuffix(k, ".capabilities.add") || strings.Contains(k, ".capabilities.add[") {
			continue // restricted allows no added capability but NET_BIND_SERVICE
		}
		for j < len(b) && b[j] != k {
			j++
		}
		if j == len(b) {
			t.Errorf("key %s missing or out of order in the output", k)
			return
		}
	}
}

// flatten lists the field paths of n in document order.
func flatten(prefix string, n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	var out []string
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = append(out, flatten(prefix, c)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := prefix + "." + n.Content[i].Value
			out = append(out, p)
			out = append(out, flatten(p, n.Content[i+1])...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, flatten(fmt.Sprintf("%s[%d]", prefix, i), c)...)
		}
	}
	return out
}

func TestFixes(t *testing.T) {
	in := `# leading comment
apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: j # the name
spec:
  entrypoint: python x.py
  rayClusterSpec:
    enableInTreeAutoscaling: true
    headGroupSpec:
      serviceType: NodePort
      enableIngress: true
      headService:
        spec:
          type: LoadBalancer
          externalTrafficPolicy: Local
          ports:
          - {name: dashboard, port: 8265, nodePort: 30265}
      template:
        spec:
          securityContext:
            runAsUser: 0
          containers:
          - name: ray-head
            image: rayproject/ray:2.52.0-py311
            securityContext:
              privileged: true
              readOnlyRootFilesystem: true
              capabilities:
                add: [SYS_ADMIN, NET_BIND_SERVICE]
                drop: [NET_RAW]
              seccompProfile: {type: Unconfined}
    workerGroupSpecs:
    - groupName: w
      template:
        spec:
          containers:
          - name: ray-worker
            image: rayproject/ray:2.52.0-py311
            securityContext:
              runAsUser: 2000
`
	out, changes, err := File([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"# leading comment", "name: j # the name",
		"serviceType: ClusterIP", "enableIngress: false", "type: ClusterIP",
		"mode: token", `rayVersion: 2.52.0`,
		"runAsUser: 1000", "allowPrivilegeEscalation: false", "privileged: false",
		"NET_BIND_SERVICE", "type: RuntimeDefault",
		"mountPath: /tmp", "name: ray-tmp", "emptyDir: {}",
		"submitterPodTemplate:", "name: ray-job-submitter", "image: rayproject/ray:2.52.0-py311",
		"autoscalerOptions:",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, gone := range []string{"SYS_ADMIN", "nodePort", "externalTrafficPolicy", "Unconfined", "runAsUser: 0"} {
		if strings.Contains(s, gone) {
			t.Errorf("output still has %q:\n%s", gone, s)
		}
	}
	// The head runs the autoscaler: its token stays mounted.
	head := s[strings.Index(s, "headGroupSpec:"):strings.Index(s, "workerGroupSpecs:")]
	if strings.Contains(head, "automountServiceAccountToken") {
		t.Errorf("head of an autoscaled cluster must keep its token:\n%s", head)
	}
	// The worker sets its own non-root user: no pod-level runAsUser added.
	worker := s[strings.Index(s, "workerGroupSpecs:"):strings.Index(s, "authOptions:")]
	if strings.Count(worker, "runAsUser") != 1 {
		t.Errorf("worker runAsUser changed:\n%s", worker)
	}
	if len(changes) == 0 {
		t.Fatal("no changes reported")
	}
	fs, err := lint.File("x.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Severity == lint.SeverityError {
			t.Errorf("error after harden: %s %s %s", f.Rule, f.Field, f.Message)
		}
	}
	again, ch2, _ := File(out)
	if !bytes.Equal(again, out) || len(ch2) > 0 {
		t.Errorf("second pass changed %v", ch2)
	}
}

func TestOtherDocumentsUntouched(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c # keep\ndata:\n  a: \"1\"\n---\n# only a comment\n"
	out, changes, err := File([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 || !strings.Contains(string(out), "name: c # keep") {
		t.Errorf("changes %v, output:\n%s", changes, out)
	}
}

func FuzzFile(f *testing.F) {
	for _, p := range []string{"ray-cluster.sample.yaml", "ray-job.sample.yaml", "ray-service.sample.yaml"} {
		if b, err := os.ReadFile(filepath.Join(samplesDir, p)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: ray.io/v1\nkind: RayCluster\nspec: {headGroupSpec: {template: {spec: {containers: [{}]}}}}\n"))
	f.Add([]byte("apiVersion: ray.io/v1\nkind: RayJob\nspec: {rayClusterSpec: &a {headGroupSpec: *a}}\n"))
	f.Add([]byte(`{"apiVersion":"ray.io/v1","kind":"RayService","spec":{"rayClusterConfig":{"headGroupSpec":{"template":{"spec":{"containers":[{"name":"h"}]}}}}}}`))
	r := rand.New(rand.NewSource(7))
	for i := 0; i < 5; i++ {
		f.Add(variant(r))
		f.Add(workloadVariant(r))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		if _, _, err := File(data); err != nil || !typed(data) {
			return
		}
		// Idempotent, lint-clean for every rule harden fixes, and no
		// compliant value changed.
		checkProperties(t, "fuzz.yaml", data)
	})
}

// typed reports whether every KubeRay object of data reads into KubeRay's
// Go types, and every workload's template into a pod template, with the
// API server's rules: objects of the wrong shape, which the API server
// refuses, are no test of what harden writes.
func typed(data []byte) bool {
	f, err := manifest.Read(data)
	if err != nil {
		return false
	}
	for _, o := range f.Resources() {
		var into any
		switch manifest.CanonicalKind(o.Kind) {
		case manifest.KindRayCluster:
			into = &rayv1.RayCluster{}
		case manifest.KindRayJob:
			into = &rayv1.RayJob{}
		case manifest.KindRayService:
			into = &rayv1.RayService{}
		case manifest.KindRayCronJob:
			into = &struct {
				Spec struct {
					JobTemplate rayv1.RayJobSpec `json:"jobTemplate"`
				} `json:"spec"`
			}{}
		}
		if into != nil && o.Value.DecodeInto(into) != nil {
			return false
		}
		// authOptions (KubeRay 1.5.1) is not in the 1.5.0 types: an object
		// with a string mode.
		for _, cs := range manifest.ClusterSpecs(o) {
			if a := cs.Value.Get("authOptions"); a != nil && !a.IsNull() && (!a.IsMap() || (a.Get("mode") != nil && !a.Get("mode").IsString())) {
				return false
			}
		}
		for _, t := range manifest.Templates(o) {
			if t.Value.DecodeInto(&corev1.PodTemplateSpec{}) != nil {
				return false
			}
		}
	}
	return true
}

func TestAppArmor(t *testing.T) {
	in := `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: a}
spec:
  headGroupSpec:
    template:
      metadata:
        annotations:
          container.apparmor.security.beta.kubernetes.io/ray-head: unconfined
      spec:
        securityContext:
          appArmorProfile: {type: Unconfined}
        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
          securityContext:
            appArmorProfile: {type: Unconfined}
`
	out, _, err := File([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "nconfined") || strings.Count(string(out), "RuntimeDefault") < 3 || !strings.Contains(string(out), "runtime/default") {
		t.Errorf("AppArmor not fixed:\n%s", out)
	}
	fs, _ := lint.File("a.yaml", out)
	for _, f := range fs {
		if f.Severity == lint.SeverityError {
			t.Errorf("%s %s", f.Rule, f.Field)
		}
	}
}

func TestK8sTokenAuthKeepsToken(t *testing.T) {
	in := `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: a}
spec:
  authOptions: {mode: token, enableK8sTokenAuth: true}
  headGroupSpec:
    template:
      spec:
        containers: [{name: h, image: "rayproject/ray:2.57.0"}]
  workerGroupSpecs:
  - groupName: w
    template:
      spec:
        containers: [{name: w, image: "rayproject/ray:2.57.0"}]
`
	out, _, err := File([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "automountServiceAccountToken") {
		t.Errorf("the token Ray's Kubernetes authentication needs was unmounted:\n%s", out)
	}
}

func TestJSONStaysJSON(t *testing.T) {
	in := `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"j","labels":{"z":"1","a":"2"}},"spec":{"headGroupSpec":{"template":{"spec":{"containers":[{"name":"h","image":"rayproject/ray:2.52.0"}]}}}}}`
	out, changes, err := File([]byte(in))
	if err != nil || len(changes) == 0 {
		t.Fatalf("%v %v", err, changes)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if strings.Index(string(out), `"z"`) > strings.Index(string(out), `"a"`) {
		t.Errorf("key order lost:\n%s", out)
	}
	again, ch, _ := File(out)
	if !bytes.Equal(again, out) || len(ch) != 0 {
		t.Errorf("not idempotent: %v", ch)
	}
}
