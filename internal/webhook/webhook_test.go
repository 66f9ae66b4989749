package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/lint"
)

const insecure = `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: insecure, namespace: team-a}
spec:
  headGroupSpec:
    serviceType: LoadBalancer
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
          resources: {limits: {cpu: "1", memory: 2Gi}}
  workerGroupSpecs:
  - groupName: w
    replicas: 1
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:2.52.0
          resources: {limits: {cpu: "1", memory: 2Gi}}
`

func toJSON(t testing.TB, y string) []byte {
	t.Helper()
	b, err := sigsyaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hardenedJSON(t testing.TB, y string) []byte {
	t.Helper()
	out, _, err := harden.File([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return toJSON(t, string(out))
}

func review(op admissionv1.Operation, ns, kind string, obj, old []byte) []byte {
	var oldField string
	if old != nil {
		oldField = fmt.Sprintf(`,"oldObject":%s`, old)
	}
	if obj == nil {
		obj = []byte("null")
	}
	return []byte(fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"ray.io","version":"v1","kind":%q},"resource":{"group":"ray.io","version":"v1","resource":"rayclusters"},"name":"insecure","namespace":%q,"operation":%q,"object":%s%s}}`,
		kind, ns, op, obj, oldField))
}

type server struct {
	t   *testing.T
	url string
	c   *http.Client
}

func newServer(t *testing.T, cfg *config.Webhook) *server {
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	return &server{t: t, url: ts.URL, c: ts.Client()}
}

func (s *server) post(path string, body []byte) (int, *admissionv1.AdmissionReview, string) {
	s.t.Helper()
	resp, err := s.c.Post(s.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(b)
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &rev); err != nil {
		s.t.Fatalf("bad response %s: %v", b, err)
	}
	if rev.Response == nil || rev.Response.UID != "u-1" || rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		s.t.Fatalf("bad review response %s", b)
	}
	return resp.StatusCode, &rev, string(b)
}

func TestValidate(t *testing.T) {
	s := newServer(t, &config.Webhook{ExemptNamespaces: []string{"kube-system"}})
	privileged := strings.Replace(insecure, "          resources: {limits: {cpu: \"1\", memory: 2Gi}}\n  workerGroupSpecs",
		"          resources: {limits: {cpu: \"1\", memory: 2Gi}}\n          securityContext: {privileged: true}\n  workerGroupSpecs", 1)
	tests := []struct {
		name     string
		body     []byte
		allowed  bool
		mentions []string
		warnings bool
	}{
		{name: "insecure cluster denied naming rule and field", body: review(admissionv1.Create, "team-a", "RayCluster", toJSON(t, insecure), nil),
			mentions: []string{"PSS-runAsNonRoot at spec.headGroupSpec.template.spec.containers[0].securityContext.runAsNonRoot", "RG-head-service-exposed at spec.headGroupSpec.serviceType", "RG-auth-disabled at spec.authOptions"}},
		{name: "hardened cluster admitted", body: review(admissionv1.Create, "team-a", "RayCluster", hardenedJSON(t, insecure), nil), allowed: true},
		{name: "warnings returned as admission warnings", body: review(admissionv1.Create, "team-a", "RayCluster", hardenedJSON(t, strings.ReplaceAll(insecure, "2.52.0", "latest")), nil),
			allowed: true, warnings: true},
		{name: "exempt namespace", body: review(admissionv1.Create, "kube-system", "RayCluster", toJSON(t, insecure), nil), allowed: true},
		{name: "other kind", body: review(admissionv1.Create, "team-a", "Deployment", []byte(`{"apiVersion":"apps/v1","kind":"Deployment"}`), nil), allowed: true},
		// Workloads are Pod Security Admission's to judge in the cluster
		// (and lint's before): the webhook admits them unchanged, even a
		// privileged KubeRay operator.
		{name: "workloads are left to Pod Security Admission", body: review(admissionv1.Create, "team-a", "Deployment",
			[]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kuberay-operator"},"spec":{"template":{"spec":{"containers":[{"name":"m","image":"quay.io/kuberay/operator:v1.5.1","securityContext":{"privileged":true}}]}}}}`), nil), allowed: true},
		{name: "delete", body: review(admissionv1.Delete, "team-a", "RayCluster", nil, toJSON(t, insecure)), allowed: true},
		{name: "unreadable object fails closed", body: review(admissionv1.Create, "team-a", "RayCluster", []byte(`{"apiVersion":"v1","kind":"ConfigMap"}`), nil),
			mentions: []string{"not a RayCluster"}},
		{name: "missing object fails closed", body: review(admissionv1.Create, "team-a", "RayCluster", nil, nil), mentions: []string{"no object"}},
		{name: "update keeping old findings is admitted", body: review(admissionv1.Update, "team-a", "RayCluster", toJSON(t, insecure), toJSON(t, insecure)), allowed: true, warnings: true},
		{name: "update adding a finding is denied", body: review(admissionv1.Update, "team-a", "RayCluster", toJSON(t, privileged), toJSON(t, insecure)),
			mentions: []string{"PSS-privileged at spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, rev, raw := s.post(PathValidate, tt.body)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, raw)
			}
			r := rev.Response
			if r.Allowed != tt.allowed {
				t.Fatalf("allowed=%v, want %v: %s", r.Allowed, tt.allowed, raw)
			}
			if !r.Allowed && (r.Result == nil || r.Result.Code == 0) {
				t.Errorf("denial without a status: %s", raw)
			}
			for _, m := range tt.mentions {
				if r.Result == nil || !strings.Contains(r.Result.Message, m) {
					t.Errorf("message does not mention %q: %s", m, raw)
				}
			}
			if tt.warnings && len(r.Warnings) == 0 {
				t.Errorf("no warnings: %s", raw)
			}
			for _, w := range r.Warnings {
				if len(w) > maxWarning {
					t.Errorf("warning too long: %q", w)
				}
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	s := newServer(t, nil)
	for _, tt := range []struct {
		name, ct string
		body     string
		want     int
	}{
		{"not JSON", "application/json", "{", http.StatusBadRequest},
		{"wrong content type", "text/plain", "{}", http.StatusUnsupportedMediaType},
		{"not a review", "application/json", `{"apiVersion":"v1","kind":"Pod"}`, http.StatusBadRequest},
		{"no request", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
		{"no uid", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.c.Post(s.url+PathValidate, tt.ct, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	resp, err := s.c.Get(s.url + PathValidate)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestMutate(t *testing.T) {
	s := newServer(t, &config.Webhook{ExemptNamespaces: []string{"kube-system"}})
	for _, kind := range []string{"RayCluster", "RayJob", "RayService"} {
		t.Run(kind, func(t *testing.T) {
			obj := toJSON(t, asKind(kind))
			_, rev, raw := s.post(PathMutate, review(admissionv1.Create, "team-a", kind, obj, nil))
			r := rev.Response
			if !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch || len(r.Patch) == 0 {
				t.Fatalf("no patch: %s", raw)
			}
			patched := applyPatch(t, obj, r.Patch)
			fs, err := lint.File("patched.json", patched)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				if f.Severity == lint.SeverityError {
					t.Errorf("patched object still has %s at %s: %s", f.Rule, f.Field, f.Message)
				}
			}
			_, rev2, raw2 := s.post(PathValidate, review(admissionv1.Create, "team-a", kind, patched, nil))
			if !rev2.Response.Allowed {
				t.Errorf("validation denies the mutated object: %s", raw2)
			}
			_, rev3, _ := s.post(PathMutate, review(admissionv1.Create, "team-a", kind, patched, nil))
			if len(rev3.Response.Patch) != 0 {
				t.Errorf("mutating twice patches again: %s", rev3.Response.Patch)
			}
		})
	}
	_, rev, _ := s.post(PathMutate, review(admissionv1.Create, "kube-system", "RayCluster", toJSON(t, insecure), nil))
	if !rev.Response.Allowed || len(rev.Response.Patch) != 0 {
		t.Error("exempt namespace mutated")
	}
	_, rev, _ = s.post(PathMutate, review(admissionv1.Update, "team-a", "RayCluster", toJSON(t, insecure), toJSON(t, insecure)))
	if !rev.Response.Allowed || len(rev.Response.Patch) != 0 {
		t.Error("update mutated")
	}
	_, rev, _ = s.post(PathMutate, review(admissionv1.Create, "team-a", "RayCluster", []byte(`"x"`), nil))
	if rev.Response.Allowed {
		t.Error("unreadable object admitted by mutate")
	}
}

func asKind(kind string) string {
	spec := insecure[strings.Index(insecure, "spec:\n")+len("spec:\n"):]
	indented := "    " + strings.ReplaceAll(strings.TrimRight(spec, "\n"), "\n", "\n    ") + "\n"
	switch kind {
	case "RayJob":
		return "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j, namespace: team-a}\nspec:\n  entrypoint: python -V\n  rayClusterSpec:\n" + indented
	case "RayService":
		return "apiVersion: ray.io/v1\nkind: RayService\nmetadata: {name: s, namespace: team-a}\nspec:\n  rayClusterConfig:\n" + indented
	}
	return insecure
}

// applyPatch applies a JSON Patch of add, replace and remove operations.
func applyPatch(t *testing.T, doc, patch []byte) []byte {
	t.Helper()
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		parts := strings.Split(op.Path, "/")[1:]
		for i := range parts {
			parts[i] = strings.ReplaceAll(strings.ReplaceAll(parts[i], "~1", "/"), "~0", "~")
		}
		root = applyOne(t, root, parts, op.Op, op.Value)
	}
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func applyOne(t *testing.T, node any, path []string, op string, v any) any {
	if len(path) == 0 {
		return v
	}
	key := path[0]
	switch n := node.(type) {
	case map[string]any:
		if len(path) == 1 {
			switch op {
			case "remove":
				if _, ok := n[key]; !ok {
					t.Fatalf("remove of missing %s", key)
				}
				delete(n, key)
			case "replace":
				if _, ok := n[key]; !ok {
					t.Fatalf("replace of missing %s", key)
				}
				n[key] = v
			default:
				n[key] = v
			}
			return n
		}
		n[key] = applyOne(t, n[key], path[1:], op, v)
		return n
	case []any:
		if key == "-" && len(path) == 1 {
			return append(n, v)
		}
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(n) {
			t.Fatalf("bad index %s", key)
		}
		if len(path) == 1 {
			if op == "remove" {
				return append(n[:i], n[i+1:]...)
			}
			n[i] = v
			return n
		}
		n[i] = applyOne(t, n[i], path[1:], op, v)
		return n
	}
	t.Fatalf("path %v into a scalar", path)
	return nil
}

func TestJSONPatch(t *testing.T) {
	tests := []struct{ from, to, want string }{
		{`{"a":1}`, `{"a":1}`, `null`},
		{`{"a":1}`, `{"a":2}`, `[{"op":"replace","path":"/a","value":2}]`},
		{`{"a":1}`, `{}`, `[{"op":"remove","path":"/a"}]`},
		{`{"a/b":{"c~":[1]}}`, `{"a/b":{"c~":[1,2]}}`, `[{"op":"add","path":"/a~1b/c~0/-","value":2}]`},
		{`{"a":[1,2]}`, `{"a":[3]}`, `[{"op":"replace","path":"/a","value":[3]}]`},
		{`{"a":1.0}`, `{"a":1}`, `null`},
		{`{}`, `{"n":null}`, `[{"op":"add","path":"/n","value":null}]`},
	}
	for _, tt := range tests {
		ops, err := jsonPatch([]byte(tt.from), []byte(tt.to))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ops)
		if string(b) != tt.want {
			t.Errorf("%s -> %s: %s, want %s", tt.from, tt.to, b, tt.want)
		}
	}
}

func FuzzHandler(f *testing.F) {
	f.Add(review(admissionv1.Create, "team-a", "RayCluster", toJSON(f, insecure), nil))
	f.Add(review(admissionv1.Update, "team-a", "RayJob", toJSON(f, asKind("RayJob")), toJSON(f, insecure)))
	f.Add(review(admissionv1.Create, "team-a", "RayService", []byte(`{"apiVersion":"ray.io/v1","kind":"RayService","spec":[]}`), nil))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x"}}`))
	h, err := NewHandler(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{PathValidate, PathMutate} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code == http.StatusOK {
				var rev admissionv1.AdmissionReview
				if err := json.Unmarshal(rec.Body.Bytes(), &rev); err != nil || rev.Response == nil {
					t.Fatalf("bad response: %s", rec.Body.Bytes())
				}
			}
		}
	})
}

func benchmarkReview(b *testing.B, path string, body []byte) {
	h, err := NewHandler(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	benchmarkReview(b, PathValidate, review(admissionv1.Create, "team-a", "RayCluster", toJSON(b, insecure), nil))
}

func BenchmarkMutate(b *testing.B) {
	benchmarkReview(b, PathMutate, review(admissionv1.Create, "team-a", "RayCluster", toJSON(b, insecure), nil))
}
