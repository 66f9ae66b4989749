//go:build e2e

package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/raygate/raygate/test/e2e/harness"
)

// kubeMode is raygate in Kubernetes mode against the test API server:
// discovery of RayClusters in namespaces labelled raygate-e2e=selected
// (upstreams from EndpointSlices), roles from RBAC, ServiceAccount tokens
// for the audience "raygate", and API keys for alice, carol and mallory.
// One real Ray head runs in a network namespace; the tests' RayClusters
// point their head Services' EndpointSlices at it.
type kubeMode struct {
	c   client.Client
	cs  kubernetes.Interface
	gw  *harness.Raygate
	ray *harness.Ray
}

var (
	kmOnce   sync.Once
	km       *kubeMode
	kmErr    error
	cleanups []func()
)

// apiKeys of the tests' users.
var apiKeys = map[string]string{"alice": "alice-key-0123456789", "carol": "carol-key-0123456789", "mallory": "mallory-key-0123456789"}

const (
	selectedLabel = "raygate-e2e"
	allowTTL      = 2 * time.Second
	denyTTL       = time.Second
)

// kubeGateway starts (once) the Ray head and raygate in Kubernetes mode.
func kubeGateway(t *testing.T) *kubeMode {
	t.Helper()
	c := apiServer(t)
	bin := harness.RequireEnv(t, "RAYGATE_BIN", "raygate binary", "go build -o $RAYGATE_BIN ./cmd/raygate")
	venv := harness.RequireEnv(t, "RAYGATE_RAY_VENV", "Ray virtualenv", "run scripts/install-ray.sh")
	helm := harness.RequireEnv(t, "RAYGATE_HELM_BIN", "helm", "run scripts/build-helm.sh")
	if os.Geteuid() != 0 {
		if harness.InCI() {
			t.Fatal("network namespaces need root")
		}
		t.Skip("network namespaces need root")
	}
	kmOnce.Do(func() { km, kmErr = startKubeMode(c, bin, venv, helm) })
	if kmErr != nil {
		t.Fatal(kmErr)
	}
	return km
}

func startKubeMode(c client.Client, bin, venv, helm string) (*kubeMode, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := artifactsDir("kubemode")
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return nil, err
	}
	// raygate runs as its own user, with only the chart's ClusterRole.
	out, err := exec.Command(helm, "template", "rg", "../../../deploy/helm/raygate", "--namespace", "raygate-system",
		"--kube-version", "1.37.2", "--set", "config.discovery.kubernetes.namespaceSelector="+selectedLabel+"=selected",
		"--set", "config.discovery.kubernetes.upstreamFrom=endpointSlices").Output()
	if err != nil {
		return nil, fmt.Errorf("helm template: %w", err)
	}
	for _, o := range objectsFromBytes(out) {
		if o.GetKind() == "ClusterRole" {
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("raygate-e2e"), client.ForceOwnership); err != nil {
				return nil, fmt.Errorf("apply %s: %w", o.GetName(), err)
			}
		}
	}
	user, err := env.AddUser(envtest.User{Name: "raygate-e2e"}, nil)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "raygate-e2e"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "rg-raygate"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "raygate-e2e", APIGroup: "rbac.authorization.k8s.io"}}}
	if err := c.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}

	ns, err := harness.NewNetns(fmt.Sprintf("%d", os.Getpid()%100000))
	if err != nil {
		return nil, err
	}
	ray, err := harness.StartRayInNetns(ctx, venv, dir, ns)
	if err != nil {
		ns.Delete()
		return nil, err
	}
	cleanups = append(cleanups, func() {
		ray.Stop()
		ns.Delete()
	})

	var keys []string
	for user, key := range apiKeys {
		sum := sha256.Sum256([]byte(key))
		keys = append(keys, fmt.Sprintf("{name: %s, sha256: %s, user: %s}", user, hex.EncodeToString(sum[:]), user))
	}
	gw, err := harness.StartRaygate(ctx, bin, dir, "raygate", harness.GatewayConfig{
		APIKeys:        keys,
		Authentication: "  kubernetes: {audiences: [raygate]}\n",
		Extra: fmt.Sprintf(`authorization:
  kubernetes: {allowTTL: %s, denyTTL: %s}
discovery:
  kubernetes:
    namespaceSelector: %s=selected
    upstreamFrom: endpointSlices
kubernetes: {kubeconfig: %s}
`, allowTTL, denyTTL, selectedLabel, kcPath),
	})
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, gw.Stop)
	return &kubeMode{c: c, cs: cs, gw: gw, ray: ray}, nil
}

func artifactsDir(name string) string {
	base := os.Getenv("RAYGATE_E2E_ARTIFACTS")
	if base == "" {
		base = os.TempDir()
	}
	d := filepath.Join(base, name)
	_ = os.MkdirAll(d, 0o755)
	return d
}

func objectsFromBytes(data []byte) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil || len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

// tenant creates a namespace, selected for discovery or not.
func (k *kubeMode) tenant(t *testing.T, name string, selected bool) {
	t.Helper()
	labels := map[string]string{}
	if selected {
		labels[selectedLabel] = "selected"
	}
	restrictedNamespace(t, k.c, name, labels)
}

// rayCluster creates a RayCluster and what KubeRay would create for it:
// the head Service it controls, that Service's EndpointSlice pointing at
// the Ray head in the network namespace, and, with token, the token
// Secret (holding token). It returns the cluster's UID.
func (k *kubeMode) rayCluster(t *testing.T, ns, name string, token string) types.UID {
	t.Helper()
	rc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"rayVersion": "2.60.0",
			"headGroupSpec": map[string]any{
				"rayStartParams": map[string]any{},
				"template": map[string]any{"spec": map[string]any{"containers": []any{
					map[string]any{"name": "ray-head", "image": "rayproject/ray:2.60.0"},
				}}},
			},
		},
	}}
	if token != "" {
		rc.Object["spec"].(map[string]any)["authOptions"] = map[string]any{"mode": "token"}
	}
	if err := k.c.Create(ctx(t), rc); err != nil {
		t.Fatalf("create RayCluster %s/%s: %v", ns, name, err)
	}
	uid := rc.GetUID()
	owner := metav1.OwnerReference{APIVersion: "ray.io/v1", Kind: "RayCluster", Name: name, UID: uid, Controller: ptr.To(true)}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-head-svc", Namespace: ns, OwnerReferences: []metav1.OwnerReference{owner},
			Labels: map[string]string{"ray.io/cluster": name, "ray.io/node-type": "head", "app.kubernetes.io/created-by": "kuberay-operator"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"ray.io/cluster": name, "ray.io/node-type": "head", "ray.io/identifier": name + "-head"},
			Ports:    []corev1.ServicePort{{Name: "dashboard", Port: 8265}, {Name: "client", Port: 10001}, {Name: "gcs-server", Port: 6379}},
		},
	}
	if err := k.c.Create(ctx(t), svc); err != nil {
		t.Fatalf("create head Service: %v", err)
	}
	k.endpointSlice(t, svc, k.ray.Dashboard[len("http://"):strings.LastIndex(k.ray.Dashboard, ":")], true)
	if token != "" {
		k.tokenSecret(t, ns, name, uid, token)
	}
	return uid
}

// endpointSlice creates the slice the EndpointSlice controller would
// make for svc: owned by it, labelled with its name and the head label.
func (k *kubeMode) endpointSlice(t *testing.T, svc *corev1.Service, addr string, owned bool) {
	t.Helper()
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name, "ray.io/node-type": "head", "ray.io/cluster": svc.Labels["ray.io/cluster"]}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("dashboard"), Port: ptr.To(int32(8265)), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if owned {
		sl.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: ptr.To(true)}}
	}
	if err := k.c.Create(ctx(t), sl); err != nil {
		t.Fatalf("create EndpointSlice: %v", err)
	}
}

// tokenSecret creates (or updates) the Secret KubeRay manages for a
// cluster in token mode.
func (k *kubeMode) tokenSecret(t *testing.T, ns, name string, uid types.UID, token string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"ray.io/cluster": name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "ray.io/v1", Kind: "RayCluster", Name: name, UID: uid, Controller: ptr.To(true)}}},
		Data: map[string][]byte{"auth_token": []byte(token)},
	}
	err := k.c.Create(ctx(t), s)
	if apierrors.IsAlreadyExists(err) {
		err = k.c.Update(ctx(t), s)
	}
	if err != nil {
		t.Fatalf("token Secret: %v", err)
	}
}

// bind gives a user or ServiceAccount one of the chart's ClusterRoles in
// namespace ns, and returns the RoleBinding.
func (k *kubeMode) bind(t *testing.T, ns, clusterRole string, subject rbacv1.Subject) *rbacv1.RoleBinding {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: clusterRole + "-", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{subject},
	}
	if err := k.c.Create(ctx(t), rb); err != nil {
		t.Fatalf("create RoleBinding: %v", err)
	}
	return rb
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "User", Name: name, APIGroup: "rbac.authorization.k8s.io"}
}

// status is /status/discovery.
type status struct {
	Served []struct {
		Cluster, Upstream, Owner string
		RayToken                 bool
	} `json:"served"`
	Pending map[string]string `json:"pending"`
}

func (k *kubeMode) status(t *testing.T) status {
	t.Helper()
	resp, err := http.Get(k.gw.MetricsURL + "/status/discovery")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// upstreamOf returns the upstream a discovered cluster is served at, ""
// when it is not served.
func (s status) upstreamOf(key string) string {
	for _, c := range s.Served {
		if c.Cluster == key {
			return c.Upstream
		}
	}
	return ""
}

// eventually polls cond until it holds or timeout passes, and says how
// long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// do sends a request through raygate with an Authorization header ("" for
// none) and returns the status and body.
func (k *kubeMode) do(t *testing.T, auth, method, path, body string) (int, string) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, k.gw.URL+path, rb)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func key(user string) string { return "Bearer " + apiKeys[user] }
