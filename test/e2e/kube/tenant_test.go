//go:build e2e

package kube

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/test/e2e/harness"
)

var tenantsFile = filepath.Join("..", "..", "..", "internal", "tenant", "testdata", "tenants.yaml")

// raygate runs the raygate binary built for the end-to-end tests.
func raygate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := harness.RequireEnv(t, "RAYGATE_BIN", "raygate binary", "scripts/test.sh builds it")
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// TestTenantObjectsApply renders the tenants file with the raygate binary,
// creates every object in the API server, and checks what they enforce:
// Pod Security restricted, quota with defaults from the LimitRange, and the
// ray verbs of each group.
func TestTenantObjectsApply(t *testing.T) {
	c := apiServer(t)
	out, stderr, code := raygate(t, "tenant", "render", "--file", tenantsFile)
	if code != 0 {
		t.Fatalf("tenant render exited %d: %s", code, stderr)
	}
	objs := objectsFromYAML(t, []byte(out))
	kinds := map[string]int{}
	for _, o := range objs {
		if err := c.Create(ctx(t), o); err != nil {
			t.Fatalf("create %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"Namespace", "ResourceQuota", "LimitRange", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"} {
		if kinds[k] == 0 {
			t.Errorf("no %s rendered", k)
		}
	}
	t.Logf("applied %d objects: %v", len(objs), kinds)

	// Pod Security restricted is enforced.
	sample := readSample(t, filepath.Join(samplesDir, "ray-cluster.sample.yaml"))
	head := headTemplateJSON(t, sample)
	if err := dryRunCreate(t, c, podFromTemplate(t, head, "team-a", "insecure-head")); !isPodSecurityDenial(err) {
		t.Errorf("team-a admitted an unhardened Ray head: %v", err)
	}
	// A hardened head, without resources, runs as the token-less ray
	// ServiceAccount and gets the LimitRange's defaults under the quota.
	hardened, _, err := harden.File(sample)
	if err != nil {
		t.Fatal(err)
	}
	pod := podFromTemplate(t, headTemplateJSON(t, hardened), "team-a", "hardened-head")
	ctrs, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
	for _, ct := range ctrs {
		delete(ct.(map[string]any), "resources")
	}
	_ = unstructured.SetNestedSlice(pod.Object, ctrs, "spec", "containers")
	_ = unstructured.SetNestedField(pod.Object, "ray", "spec", "serviceAccountName")
	if err := dryRunCreate(t, c, pod); err != nil {
		t.Errorf("team-a refused a hardened Ray head: %v", err)
	} else {
		ctrs, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
		lim, _, _ := unstructured.NestedString(ctrs[0].(map[string]any), "resources", "limits", "cpu")
		if lim != "1" {
			t.Errorf("the LimitRange's default cpu limit was not applied: %q", lim)
		}
	}

	// RBAC: the ray verbs per role.
	for _, tc := range []struct {
		group, ns, verb string
		want            bool
	}{
		{"team-a", "team-a", "ray:write", true},
		{"team-a", "team-a", "ray:admin", false},
		{"team-a-admins", "team-a", "ray:admin", true},
		{"auditors", "team-a", "ray:read", true},
		{"auditors", "team-a", "ray:write", false},
		{"team-a", "team-b", "ray:read", false},
		{"team-b", "team-b", "ray:write", true},
		{"team-b", "team-a", "ray:read", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "someone", Groups: []string{tc.group},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: tc.ns, Verb: tc.verb, Group: "ray.io", Resource: "rayclusters", Name: "ray"},
		}}
		if err := c.Create(ctx(t), sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.want {
			t.Errorf("group %s %s rayclusters in %s: allowed=%v, want %v (%s)", tc.group, tc.verb, tc.ns, sar.Status.Allowed, tc.want, sar.Status.Reason)
		}
	}

	// The same file's policies prove isolation.
	verify, stderr, code := raygate(t, "tenant", "verify", "--file", tenantsFile)
	if code != 0 || !strings.Contains(verify, "isolated:") {
		t.Errorf("tenant verify exited %d: %s%s", code, verify, stderr)
	}
}

func headTemplateJSON(t *testing.T, data []byte) []byte {
	t.Helper()
	file, err := manifest.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range file.Objects() {
		for _, tm := range manifest.Templates(o) {
			if tm.Role == manifest.RoleHead {
				j, err := tm.Value.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				return j
			}
		}
	}
	t.Fatal("no head template")
	return nil
}

// TestTenantBundlesApply renders the tenants files of
// internal/tenant/testdata/apply, which sit at the edges of what the
// tenants file accepts, and creates every object in the API server: an
// object it refused would leave a tenant's namespace without its quota,
// defaults or policies.
func TestTenantBundlesApply(t *testing.T) {
	c := apiServer(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "internal", "tenant", "testdata", "apply", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no tenants files: %v", err)
	}
	for _, f := range files {
		out, stderr, code := raygate(t, "tenant", "render", "--file", f)
		if code != 0 {
			t.Fatalf("%s: tenant render exited %d: %s", f, code, stderr)
		}
		n := 0
		for _, o := range objectsFromYAML(t, []byte(out)) {
			if err := c.Create(ctx(t), o); err != nil {
				t.Errorf("%s: the API server refuses %s %s/%s: %v", filepath.Base(f), o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
			n++
		}
		t.Logf("%s: %d objects applied", filepath.Base(f), n)
	}
}
