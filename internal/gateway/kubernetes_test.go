package gateway

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/route"
)

// fakeKube is the API server's TokenReview and SubjectAccessReview:
// grants are "user ns/name verb".
type fakeKube struct {
	mu     sync.Mutex
	grants map[string]bool
	sarErr error
	cs     *fake.Clientset
}

// saToken is a ServiceAccount token as the fake reviews it.
var saToken = func() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"https://kubernetes.default.svc"}`)) + ".c2ln"
}()

func newFakeKube() *fakeKube {
	f := &fakeKube{grants: map[string]bool{}, cs: fake.NewClientset()}
	f.cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		if f.sarErr != nil {
			return true, nil, f.sarErr
		}
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = f.grants[sar.Spec.User+" "+ra.Namespace+"/"+ra.Name+" "+ra.Verb]
		return true, sar, nil
	})
	f.cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview).DeepCopy()
		if tr.Spec.Token == saToken {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"raygate"},
				User: authenticationv1.UserInfo{Username: "system:serviceaccount:team-c:pipeline", Groups: []string{"system:serviceaccounts"}}}
		}
		return true, tr, nil
	})
	return f
}

func (f *fakeKube) grant(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants[s] = true
}

type staticSource struct{ d *route.Discovered }

func (s staticSource) Discovered() *route.Discovered { return s.d }

// newKubeHarness serves the static clusters plus discovered ones:
// team-c/ray2 (rayC, token "c-token"), team-c/k8s (rayK, where Ray
// checks Kubernetes tokens) and a clashing team-a/ray1.
func newKubeHarness(t *testing.T) (*harness, *fakeKube, *fakeRay, *fakeRay) {
	t.Helper()
	h := &harness{rayA: newFakeRay(t, "cluster-a-token"), rayB: newFakeRay(t, ""), audit: &syncBuffer{}, m: metrics.New()}
	rayC, rayK := newFakeRay(t, "c-token"), newFakeRay(t, "")
	h.path = testConfig(t, h.rayA.srv.URL, h.rayB.srv.URL, `  kubernetes: {audiences: [raygate]}
authorization:
  kubernetes: {}
discovery:
  kubernetes:
    access:
      - {role: viewer, serviceAccounts: [team-c/pipeline]}
`)
	// testConfig ends with the proxy section; move authentication.kubernetes under authentication.
	fixKubeConfig(t, h.path)
	cfg, err := config.Load(h.path)
	if err != nil {
		t.Fatal(err)
	}
	up := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	d := &route.Discovered{Clusters: map[string]*route.Cluster{
		"team-c/ray2": {Namespace: "team-c", Name: "ray2", Key: "team-c/ray2", Upstream: up(rayC.srv.URL), Token: "c-token", Source: route.SourceKubernetes, Owner: "RayJob/train"},
		"team-c/k8s":  {Namespace: "team-c", Name: "k8s", Key: "team-c/k8s", Upstream: up(rayK.srv.URL), Source: route.SourceKubernetes, RayChecksKubernetesTokens: true},
		"team-a/ray1": {Namespace: "team-a", Name: "ray1", Key: "team-a/ray1", Upstream: up(rayC.srv.URL), Source: route.SourceKubernetes},
	}}
	kube := newFakeKube()
	h.g = New(h.m, slog.New(slog.NewTextHandler(io.Discard, nil)), audit.NewWriter(h.audit))
	h.g.UseKubernetes(&Kubernetes{TokenReviews: kube.cs.AuthenticationV1().TokenReviews(),
		AccessReviews: kube.cs.AuthorizationV1().SubjectAccessReviews(), Discovered: staticSource{d}})
	st, err := h.g.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.g.Swap(st, 0)
	h.srv = httptest.NewServer(h.g)
	t.Cleanup(h.srv.Close)
	return h, kube, rayC, rayK
}

func fixKubeConfig(t *testing.T, path string) {
	t.Helper()
	b, _ := readFile(path)
	s := strings.Replace(b, "  kubernetes: {audiences: [raygate]}\n", "", 1)
	s = strings.Replace(s, "authentication:\n", "authentication:\n  kubernetes: {audiences: [raygate]}\n", 1)
	if err := writeFile(path, s); err != nil {
		t.Fatal(err)
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func TestRBACDecidesDiscoveredClusters(t *testing.T) {
	h, kube, rayC, _ := newKubeHarness(t)
	const jobs = "/clusters/team-c/ray2/api/jobs/"
	if r := h.do(t, "eve", "GET", jobs, ""); r.StatusCode != 404 {
		t.Fatalf("no binding, no RBAC: %d, want 404", r.StatusCode)
	}
	kube.grant("alice team-c/ray2 ray:read")
	if r := h.do(t, "alice", "GET", "/clusters/team-c/ray2/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("ray:read: GET %d, want 200", r.StatusCode)
	}
	if ev := lastEvent(t, h); ev.Role != "viewer" || ev.RoleSource != "rbac ray:read" {
		t.Fatalf("audit role %q from %q", ev.Role, ev.RoleSource)
	}
	if r := h.do(t, "alice", "POST", jobs, `{"entrypoint":"echo"}`); r.StatusCode != 403 {
		t.Fatalf("ray:read: submit %d, want 403", r.StatusCode)
	}
	if got := rayC.seen[len(rayC.seen)-1].Header.Get("X-Ray-Authorization"); got != "Bearer c-token" {
		t.Fatalf("discovered cluster's token not injected: %q", got)
	}
}

func TestRBACErrorIs503(t *testing.T) {
	h, kube, _, _ := newKubeHarness(t)
	kube.sarErr = errors.New("apiserver down")
	r := h.do(t, "alice", "GET", "/clusters/team-c/ray2/api/jobs/", "")
	if r.StatusCode != 503 {
		t.Fatalf("failed review: %d, want 503", r.StatusCode)
	}
	if ev := lastEvent(t, h); ev.Decision != audit.Deny || ev.Reason != "authorization unavailable" {
		t.Fatalf("audit %s %q", ev.Decision, ev.Reason)
	}
	// Even a caller the bindings make developer is refused: an error denies.
	if r := h.do(t, "bob", "GET", "/clusters/team-a/ray1/api/jobs/", ""); r.StatusCode != 503 {
		t.Fatalf("failed review with a binding: %d, want 503", r.StatusCode)
	}
}

func TestClashServesStatic(t *testing.T) {
	h, _, rayC, _ := newKubeHarness(t)
	n := len(rayC.seen)
	if r := h.do(t, "alice", "GET", "/clusters/team-a/ray1/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("static cluster: %d", r.StatusCode)
	}
	if len(rayC.seen) != n || len(h.rayA.seen) == 0 {
		t.Fatal("a clashing discovered cluster received the static cluster's request")
	}
}

func TestServiceAccountToken(t *testing.T) {
	h, kube, _, rayK := newKubeHarness(t)
	do := func(path string) *http.Response {
		t.Helper()
		return h.do(t, "", "GET", path, "", "Authorization", "Bearer "+saToken)
	}
	if r := do("/clusters/team-c/ray2/api/version"); r.StatusCode != 200 {
		t.Fatalf("serviceAccounts binding: %d, want 200", r.StatusCode)
	}
	ev := lastEvent(t, h)
	if ev.User != "system:serviceaccount:team-c:pipeline" || ev.AuthMethod != "kubernetes" || ev.RoleSource != "binding" {
		t.Fatalf("audit %+v", ev)
	}
	// Where Ray checks Kubernetes tokens itself, the caller's reviewed
	// token is what reaches it.
	kube.grant("system:serviceaccount:team-c:pipeline team-c/k8s ray:write")
	if r := do("/clusters/team-c/k8s/api/version"); r.StatusCode != 200 {
		t.Fatalf("ray:write on the k8s-token cluster: %d", r.StatusCode)
	}
	seen := rayK.seen[len(rayK.seen)-1]
	if seen.Header.Get("X-Ray-Authorization") != "Bearer "+saToken || seen.Header.Get("Authorization") != "" {
		t.Fatalf("Ray saw X-Ray-Authorization %q, Authorization %q", seen.Header.Get("X-Ray-Authorization"), seen.Header.Get("Authorization"))
	}
	// An API-key caller's key never reaches it.
	kube.grant("alice team-c/k8s ray:write")
	if r := h.do(t, "alice", "GET", "/clusters/team-c/k8s/api/version", ""); r.StatusCode != 200 {
		t.Fatalf("alice: %d", r.StatusCode)
	}
	if got := rayK.seen[len(rayK.seen)-1].Header.Get("X-Ray-Authorization"); got != "" {
		t.Fatalf("an API key caller's request carried %q", got)
	}
}

func TestWhoAmIShowsOwner(t *testing.T) {
	h, kube, _, _ := newKubeHarness(t)
	kube.grant("alice team-c/ray2 ray:write")
	body := readBody(t, h.do(t, "alice", "GET", "/_raygate/whoami", ""))
	if !strings.Contains(body, `{"cluster":"team-c/ray2","role":"developer","path":"/clusters/team-c/ray2/","owner":"RayJob/train"}`) {
		t.Fatalf("whoami = %s", body)
	}
}
