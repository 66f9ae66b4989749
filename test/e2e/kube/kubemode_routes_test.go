//go:build e2e

package kube

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestKubeDiscoveryRoutes: a RayCluster in a selected namespace is served
// at its head Service's endpoint within seconds and disappears when
// deleted; one in an unselected namespace is never served, even to a
// caller RBAC would allow.
func TestKubeDiscoveryRoutes(t *testing.T) {
	k := kubeGateway(t)
	k.tenant(t, "kd-routes", true)
	k.tenant(t, "kd-outside", false)
	k.bind(t, "kd-routes", "raygate-viewer", user("carol"))
	k.bind(t, "kd-outside", "raygate-admin", user("carol"))
	want := k.ray.Dashboard

	k.rayCluster(t, "kd-outside", "ray1", "")
	k.rayCluster(t, "kd-routes", "ray1", k.ray.Token)
	took := eventually(t, 10*time.Second, "kd-routes/ray1 is served", func() bool { return k.status(t).upstreamOf("kd-routes/ray1") == want })
	t.Logf("served %s after its objects were created", took)
	if code, body := k.do(t, key("carol"), "GET", "/clusters/kd-routes/ray1/api/version", ""); code != 200 || !strings.Contains(body, "ray_version") {
		t.Fatalf("GET through the discovered route: %d %s", code, body)
	}
	s := k.status(t)
	if s.upstreamOf("kd-outside/ray1") != "" || s.Pending["kd-outside/ray1"] != "" {
		t.Fatalf("a RayCluster outside the selected namespaces was discovered: %+v", s)
	}
	if code, _ := k.do(t, key("carol"), "GET", "/clusters/kd-outside/ray1/api/version", ""); code != 404 {
		t.Fatalf("cluster outside the selected namespaces: %d, want 404", code)
	}

	rc := &unstructured.Unstructured{}
	rc.SetAPIVersion("ray.io/v1")
	rc.SetKind("RayCluster")
	rc.SetNamespace("kd-routes")
	rc.SetName("ray1")
	if err := k.c.Delete(ctx(t), rc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the deleted cluster is no longer served", func() bool {
		code, _ := k.do(t, key("carol"), "GET", "/clusters/kd-routes/ray1/api/version", "")
		return code == 404 && k.status(t).upstreamOf("kd-routes/ray1") == ""
	})
}

// TestKubeTenantCannotSteer: nothing a tenant writes into the RayCluster
// (annotations, status, the head Service template) or next to it (a
// Service or EndpointSlice the cluster does not control) changes the
// upstream raygate resolved.
func TestKubeTenantCannotSteer(t *testing.T) {
	k := kubeGateway(t)
	k.tenant(t, "kd-steer", true)
	k.rayCluster(t, "kd-steer", "ray1", k.ray.Token)
	want := k.ray.Dashboard
	eventually(t, 10*time.Second, "kd-steer/ray1 is served", func() bool { return k.status(t).upstreamOf("kd-steer/ray1") == want })

	// The tenant edits its RayCluster.
	rc := &unstructured.Unstructured{}
	rc.SetAPIVersion("ray.io/v1")
	rc.SetKind("RayCluster")
	if err := k.c.Get(ctx(t), client.ObjectKey{Namespace: "kd-steer", Name: "ray1"}, rc); err != nil {
		t.Fatal(err)
	}
	rc.SetAnnotations(map[string]string{"raygate.dev/upstream": "http://10.250.95.254:8265", "ray.io/head-service": "decoy"})
	_ = unstructured.SetNestedField(rc.Object, map[string]any{"metadata": map[string]any{"name": "decoy"}, "spec": map[string]any{"type": "ExternalName", "externalName": "evil.example.com"}}, "spec", "headGroupSpec", "headService")
	if err := k.c.Update(ctx(t), rc); err != nil {
		t.Fatal(err)
	}
	// A Service of its own that claims to be the head, without the
	// cluster's controller reference, and a stray EndpointSlice for the
	// real head Service that the Service does not own.
	decoy := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy", Namespace: "kd-steer", Labels: map[string]string{"ray.io/cluster": "ray1", "ray.io/node-type": "head"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"ray.io/cluster": "ray1", "ray.io/node-type": "head"},
			Ports: []corev1.ServicePort{{Name: "dashboard", Port: 8265}}},
	}
	if err := k.c.Create(ctx(t), decoy); err != nil {
		t.Fatal(err)
	}
	k.endpointSlice(t, decoy, "10.250.95.253", false)
	head := &corev1.Service{}
	if err := k.c.Get(ctx(t), client.ObjectKey{Namespace: "kd-steer", Name: "ray1-head-svc"}, head); err != nil {
		t.Fatal(err)
	}
	k.endpointSlice(t, head, "10.250.95.250", false)
	time.Sleep(2 * time.Second) // let discovery see it all
	if got := k.status(t).upstreamOf("kd-steer/ray1"); got != want {
		t.Fatalf("a tenant's objects moved the upstream to %q (want %q)", got, want)
	}
	k.bind(t, "kd-steer", "raygate-viewer", user("carol"))
	if code, body := k.do(t, key("carol"), "GET", "/clusters/kd-steer/ray1/api/version", ""); code != 200 || !strings.Contains(body, "ray_version") {
		t.Fatalf("GET after the tenant's edits: %d %s", code, body)
	}
}

// TestKubeRBACAndJobs: a RoleBinding of raygate-developer lets alice
// submit a job that runs to SUCCEEDED on the real Ray head; removing it
// denies her within the cache TTLs; raygate-viewer reads but cannot
// submit; a caller with nothing gets 404.
func TestKubeRBACAndJobs(t *testing.T) {
	k := kubeGateway(t)
	k.tenant(t, "kd-rbac", true)
	k.rayCluster(t, "kd-rbac", "ray1", k.ray.Token)
	eventually(t, 10*time.Second, "kd-rbac/ray1 is served", func() bool { return k.status(t).upstreamOf("kd-rbac/ray1") != "" })
	const jobs = "/clusters/kd-rbac/ray1/api/jobs/"

	if code, _ := k.do(t, key("mallory"), "GET", jobs, ""); code != 404 {
		t.Fatalf("no binding at all: %d, want 404", code)
	}
	k.bind(t, "kd-rbac", "raygate-viewer", user("carol"))
	eventually(t, 5*time.Second, "carol reads", func() bool { code, _ := k.do(t, key("carol"), "GET", jobs, ""); return code == 200 })
	if code, body := k.do(t, key("carol"), "POST", jobs, `{"entrypoint":"echo no"}`); code != 403 {
		t.Fatalf("ray:read submits: %d %s, want 403", code, body)
	}

	rb := k.bind(t, "kd-rbac", "raygate-developer", user("alice"))
	var code int
	var body string
	eventually(t, 5*time.Second, "alice may submit", func() bool {
		code, body = k.do(t, key("alice"), "POST", jobs, `{"entrypoint":"python -c \"print('hello from raygate')\""}`)
		return code == 200
	})
	var sub struct {
		SubmissionID string `json:"submission_id"`
	}
	if err := json.Unmarshal([]byte(body), &sub); err != nil || sub.SubmissionID == "" {
		t.Fatalf("submit answered %s", body)
	}
	eventually(t, 3*time.Minute, "the job SUCCEEDED", func() bool {
		_, b := k.do(t, key("alice"), "GET", jobs+sub.SubmissionID, "")
		var st struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal([]byte(b), &st)
		if st.Status == "FAILED" || st.Status == "STOPPED" {
			t.Fatalf("job %s: %s", sub.SubmissionID, b)
		}
		return st.Status == "SUCCEEDED"
	})

	if err := k.c.Delete(ctx(t), rb); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 10*time.Second, "alice is denied", func() bool { code, _ := k.do(t, key("alice"), "GET", jobs, ""); return code == 404 })
	if limit := allowTTL + denyTTL + 2*time.Second; took > limit {
		t.Fatalf("alice was still allowed %s after her RoleBinding went (limit %s)", took, limit)
	}
	t.Logf("denied %s after the RoleBinding was deleted (allowTTL %s)", took, allowTTL)
}

// TestKubeServiceAccountTokens: a token from the TokenRequest API for the
// audience raygate authenticates as its ServiceAccount, which RBAC then
// authorizes; a token for another audience is 401.
func TestKubeServiceAccountTokens(t *testing.T) {
	k := kubeGateway(t)
	k.tenant(t, "kd-sa", true)
	k.rayCluster(t, "kd-sa", "ray1", k.ray.Token)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "pipeline", Namespace: "kd-sa"}}
	if err := k.c.Create(ctx(t), sa); err != nil {
		t.Fatal(err)
	}
	k.bind(t, "kd-sa", "raygate-developer", rbacSA("kd-sa", "pipeline"))
	token := func(aud string) string {
		tr, err := k.cs.CoreV1().ServiceAccounts("kd-sa").CreateToken(ctx(t), "pipeline", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{aud}, ExpirationSeconds: ptr.To(int64(600))},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("TokenRequest: %v", err)
		}
		return tr.Status.Token
	}
	good := "Bearer " + token("raygate")
	code, body := k.do(t, good, "GET", "/_raygate/whoami", "")
	if code != 200 || !strings.Contains(body, `"user":"system:serviceaccount:kd-sa:pipeline"`) || !strings.Contains(body, `"auth_method":"kubernetes"`) {
		t.Fatalf("whoami with a ServiceAccount token: %d %s", code, body)
	}
	eventually(t, 10*time.Second, "the ServiceAccount reaches its cluster", func() bool {
		code, _ := k.do(t, good, "GET", "/clusters/kd-sa/ray1/api/version", "")
		return code == 200
	})
	if code, body := k.do(t, "Bearer "+token("some-other-service"), "GET", "/clusters/kd-sa/ray1/api/version", ""); code != http.StatusUnauthorized {
		t.Fatalf("token for another audience: %d %s, want 401", code, body)
	}
	if code, _ := k.do(t, good+"x", "GET", "/clusters/kd-sa/ray1/api/version", ""); code != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d, want 401", code)
	}
}

// TestKubeRayTokenRotation: raygate injects the token of the cluster's
// Secret, and follows the Secret when it changes, without a restart.
func TestKubeRayTokenRotation(t *testing.T) {
	k := kubeGateway(t)
	k.tenant(t, "kd-rotate", true)
	uid := k.rayCluster(t, "kd-rotate", "ray1", "not-the-ray-token")
	k.bind(t, "kd-rotate", "raygate-viewer", user("carol"))
	eventually(t, 10*time.Second, "kd-rotate/ray1 is served", func() bool { return k.status(t).upstreamOf("kd-rotate/ray1") != "" })
	eventually(t, 5*time.Second, "Ray refuses the wrong token (502)", func() bool {
		code, _ := k.do(t, key("carol"), "GET", "/clusters/kd-rotate/ray1/api/version", "")
		return code == http.StatusBadGateway
	})
	pid := k.gw.Proc
	k.tokenSecret(t, "kd-rotate", "ray1", uid, k.ray.Token)
	took := eventually(t, 10*time.Second, "the rotated token is injected", func() bool {
		code, _ := k.do(t, key("carol"), "GET", "/clusters/kd-rotate/ray1/api/version", "")
		return code == 200
	})
	if exited, _ := pid.Exited(); exited || k.gw.Proc != pid {
		t.Fatal("raygate restarted")
	}
	t.Logf("rotation picked up after %s", took)
}

func rbacSA(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "ServiceAccount", Name: name, Namespace: ns}
}
