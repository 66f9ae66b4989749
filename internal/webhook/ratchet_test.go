package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/tenant"
)

var metaReview = metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}

// clean is a RayCluster with no error finding, with a worker group, in
// team-a.
func clean(t testing.TB) string {
	t.Helper()
	out, _, err := harden.File([]byte(insecure))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// ask posts one AdmissionReview to h and returns the response.
func ask(t *testing.T, h http.Handler, path string, req admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	req.UID = "u-1"
	if req.Namespace == "" {
		req.Namespace = "team-a"
	}
	if req.Name == "" {
		req.Name = "c"
	}
	if req.UserInfo.Username == "" {
		req.UserInfo = authenticationv1.UserInfo{Username: "dev@example.com", Groups: []string{"team-a"}}
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metaReview, Request: &req,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &rev); err != nil || rev.Response == nil {
		t.Fatalf("bad response %s", rec.Body)
	}
	return rev.Response
}

func update(t *testing.T, h http.Handler, kind, newYAML, oldYAML string) *admissionv1.AdmissionResponse {
	t.Helper()
	req := admissionv1.AdmissionRequest{Operation: admissionv1.Update}
	req.Kind.Group, req.Kind.Version, req.Kind.Kind = "ray.io", "v1", kind
	req.Object.Raw, req.OldObject.Raw = toJSON(t, newYAML), toJSON(t, oldYAML)
	return ask(t, h, PathValidate, req)
}

func message(r *admissionv1.AdmissionResponse) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Message
}

// TestRatchet: on UPDATE only the very same error finding of the old
// object is let through.
func TestRatchet(t *testing.T) {
	h := NewHandlerWith(Options{})
	base := clean(t)
	privHead := strings.Replace(base, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n            privileged: true", 1)
	if privHead == base {
		t.Fatal("no head securityContext to change")
	}
	// A second, privileged container in front of the head's container.
	privNew := strings.Replace(privHead, "        containers:\n", "        containers:\n        - name: intruder\n          image: busybox:1.36\n          resources: {limits: {cpu: \"1\", memory: 1Gi}}\n          securityContext: {privileged: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n", 1)
	jobWithSelector := `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j, namespace: team-a}
spec:
  entrypoint: python -V
  clusterSelector: {ray.io/cluster: c}
`
	// A hardened RayJob without its submitter template: the submitter
	// rule is an error here, a warning for the job above.
	job, _, err := harden.File([]byte(asKind("RayJob")))
	if err != nil {
		t.Fatal(err)
	}
	jobWithCluster := string(job)
	if i := strings.Index(jobWithCluster, "  # KubeRay's default submitter pod"); i > 0 {
		jobWithCluster = jobWithCluster[:i]
	} else {
		t.Fatalf("no submitter template in:\n%s", job)
	}
	tests := []struct {
		name          string
		kind          string
		newer, older  string
		allowed       bool
		mentions      string
		notMentioning string
	}{
		{name: "unchanged error is let through", kind: "RayCluster", newer: privHead, older: privHead, allowed: true},
		{name: "the same error of a moved container is let through", kind: "RayCluster", allowed: true,
			newer: moveHeadContainer(t, privHead), older: privHead},
		{name: "a new container's error is not excused by another container's", kind: "RayCluster", newer: privNew, older: privHead,
			mentions: `PSS-privileged at spec.headGroupSpec.template.spec.containers[0].securityContext.privileged`},
		{name: "an error in another worker group is new", kind: "RayCluster",
			newer: privWorker(t, base), older: privHead,
			mentions: "PSS-privileged at spec.workerGroupSpecs[0]"},
		{name: "a warning never excuses an error at the same field", kind: "RayJob", newer: jobWithCluster, older: jobWithSelector,
			mentions: "RG-submitter-restricted at spec.submitterPodTemplate"},
		{name: "a container's uid 0 behind an old pod-level uid 0", kind: "RayCluster",
			newer:    strings.Replace(strings.Replace(base, "runAsUser: 1000", "runAsUser: 0", 1), "allowPrivilegeEscalation: false\n", "allowPrivilegeEscalation: false\n            runAsUser: 0\n", 1),
			older:    strings.Replace(base, "runAsUser: 1000", "runAsUser: 0", 1),
			mentions: `must not set runAsUser=0`, notMentioning: "PSS-runAsUser at spec.headGroupSpec.template.spec.securityContext"},
	}
	// A legacy cluster with a host-path volume and a load balancer allowed
	// from one network.
	hostLogs := strings.Replace(base, "automountServiceAccountToken: false", "automountServiceAccountToken: false\n        volumes: [{name: logs, hostPath: {path: /var/log/ray}}]", 1)
	lb := strings.Replace(base, "rayStartParams: {}", "rayStartParams: {}\n    headService: {spec: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0/8]}}", 1)
	tests = append(tests, []struct {
		name          string
		kind          string
		newer, older  string
		allowed       bool
		mentions      string
		notMentioning string
	}{
		{name: "an unchanged host path is let through", kind: "RayCluster", newer: hostLogs, older: hostLogs, allowed: true},
		{name: "a host path changed to another path is new", kind: "RayCluster", older: hostLogs,
			newer:    strings.Replace(hostLogs, "path: /var/log/ray", "path: /", 1),
			mentions: "PSS-restrictedVolumes at spec.headGroupSpec.template.spec.volumes[0]"},
		{name: "load balancer source ranges widened", kind: "RayCluster", older: lb,
			newer:    strings.Replace(lb, "10.0.0.0/8", "0.0.0.0/0", 1),
			mentions: "RG-head-service-exposed at spec.headGroupSpec.headService.spec.loadBalancerSourceRanges"},
		{name: "a second container named like an excused one", kind: "RayCluster", older: privHead,
			newer:    strings.Replace(privHead, "        containers:\n        - name: ray-head\n", "        containers:\n        - name: ray-head\n          image: busybox:1.36\n          securityContext: {privileged: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n        - name: ray-head\n", 1),
			mentions: "PSS-privileged at spec.headGroupSpec.template.spec.containers[1].securityContext.privileged"},
		{name: "a second worker group named like an excused one", kind: "RayCluster", older: privWorker(t, base),
			newer:    dupWorkerGroup(t, privWorker(t, base)),
			mentions: "PSS-privileged at spec.workerGroupSpecs[1]"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := update(t, h, tt.kind, tt.newer, tt.older)
			if r.Allowed != tt.allowed {
				t.Fatalf("allowed=%v, want %v: %s", r.Allowed, tt.allowed, message(r))
			}
			if !strings.Contains(message(r), tt.mentions) {
				t.Errorf("message does not mention %q: %s", tt.mentions, message(r))
			}
			if tt.notMentioning != "" && strings.Contains(message(r), tt.notMentioning) {
				t.Errorf("message mentions the old finding %q: %s", tt.notMentioning, message(r))
			}
		})
	}
}

// moveHeadContainer puts a harmless container in front of the head's, so
// that the head's container moves to index 1.
func moveHeadContainer(t *testing.T, y string) string {
	t.Helper()
	out := strings.Replace(y, "containers:\n        - name: ray-head", "containers:\n        - name: first\n          image: busybox:1.36\n          resources: {limits: {cpu: \"1\", memory: 1Gi}}\n          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n        - name: ray-head", 1)
	if out == y {
		t.Fatalf("no head container in:\n%s", y)
	}
	return out
}

// privWorker makes the worker's container privileged.
func privWorker(t *testing.T, y string) string {
	t.Helper()
	i := strings.Index(y, "workerGroupSpecs:")
	j := strings.Index(y[i:], "allowPrivilegeEscalation: false")
	if i < 0 || j < 0 {
		t.Fatalf("no worker securityContext in:\n%s", y)
	}
	return y[:i+j] + "privileged: true\n            " + y[i+j:]
}

// dupWorkerGroup appends a copy of the first worker group, with the same
// groupName.
func dupWorkerGroup(t *testing.T, y string) string {
	t.Helper()
	i := strings.Index(y, "  - groupName:")
	if i < 0 {
		t.Fatalf("no worker group in:\n%s", y)
	}
	group := y[i:]
	if j := strings.Index(group[1:], "\n  authOptions"); j > 0 {
		group = group[:j+2]
	}
	return y[:i] + group + y[i:]
}

type fakeAccess struct {
	allow bool
	err   error
	asked []string
}

func (f *fakeAccess) MayUpdate(_ context.Context, user authenticationv1.UserInfo, ns, resource, name string) (bool, string, error) {
	f.asked = append(f.asked, user.Username+" update "+resource+" "+ns+"/"+name)
	return f.allow, "test", f.err
}

// TestRayServiceOwner: a RayCluster a RayService owns is changed only by
// whoever may update the RayService; errors deny.
func TestRayServiceOwner(t *testing.T) {
	owned := strings.Replace(clean(t), "metadata: {name: insecure, namespace: team-a}",
		"metadata:\n  name: insecure\n  namespace: team-a\n  ownerReferences:\n  - {apiVersion: ray.io/v1, kind: RayService, name: serve, uid: u1, controller: true}", 1)
	if !strings.Contains(owned, "ownerReferences") {
		t.Fatal("no owner reference added")
	}
	free := clean(t)
	// A change to the owned cluster: another image.
	changed := strings.Replace(owned, "rayproject/ray:2.52.0", "rayproject/ray:2.53.0", 1)
	for _, tt := range []struct {
		name     string
		access   *fakeAccess
		op       admissionv1.Operation
		newer    string
		older    string
		allowed  bool
		mentions string
	}{
		{name: "allowed requester", access: &fakeAccess{allow: true}, op: admissionv1.Update, newer: changed, older: owned, allowed: true},
		{name: "requester without access to the RayService", access: &fakeAccess{}, op: admissionv1.Update, newer: changed, older: owned,
			mentions: "belongs to RayService serve, which dev@example.com may not update"},
		{name: "removing the owner reference is a change too", access: &fakeAccess{}, op: admissionv1.Update, newer: free, older: owned, mentions: "RayService serve"},
		{name: "creating a cluster that claims an owner", access: &fakeAccess{}, op: admissionv1.Create, newer: owned, mentions: "RayService serve"},
		{name: "deleting it", access: &fakeAccess{}, op: admissionv1.Delete, older: owned, mentions: "RayService serve"},
		{name: "review error denies", access: &fakeAccess{err: errors.New("connection refused")}, op: admissionv1.Update, newer: changed, older: owned,
			mentions: "could not check"},
		{name: "no access configured denies", op: admissionv1.Update, newer: changed, older: owned, mentions: "no way to check"},
		{name: "an update that changes nothing", access: &fakeAccess{}, op: admissionv1.Update, newer: owned, older: owned, allowed: true},
		{name: "a cluster without owner needs no review", access: &fakeAccess{}, op: admissionv1.Update, newer: free, older: free, allowed: true},
		{name: "the autoscaler scales workers", access: &fakeAccess{}, op: admissionv1.Update, older: owned, allowed: true,
			newer: strings.Replace(owned, "    replicas: 1\n", "    replicas: 3\n    scaleStrategy: {workersToDelete: [w-1]}\n", 1)},
		{name: "scaling and more is a change", access: &fakeAccess{}, op: admissionv1.Update, older: owned, mentions: "RayService serve",
			newer: strings.Replace(strings.Replace(owned, "    replicas: 1\n", "    replicas: 3\n", 1), "rayproject/ray:2.52.0", "evil/ray:1", 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{}
			if tt.access != nil {
				opts.Access = tt.access
			}
			h := NewHandlerWith(opts)
			req := admissionv1.AdmissionRequest{Operation: tt.op, Name: "insecure"}
			req.Kind.Group, req.Kind.Version, req.Kind.Kind = "ray.io", "v1", "RayCluster"
			if tt.newer != "" {
				req.Object.Raw = toJSON(t, tt.newer)
			}
			if tt.older != "" {
				req.OldObject.Raw = toJSON(t, tt.older)
			}
			r := ask(t, h, PathValidate, req)
			if r.Allowed != tt.allowed {
				t.Fatalf("allowed=%v, want %v: %s", r.Allowed, tt.allowed, message(r))
			}
			if !strings.Contains(message(r), tt.mentions) {
				t.Errorf("message does not mention %q: %s", tt.mentions, message(r))
			}
			if tt.access != nil {
				asks := tt.access.err == nil && (!tt.allowed || tt.access.allow)
				switch {
				case asks && (len(tt.access.asked) != 1 || tt.access.asked[0] != "dev@example.com update rayservices team-a/serve"):
					t.Errorf("asked %v", tt.access.asked)
				case !asks && len(tt.access.asked) > 0 && tt.access.err == nil:
					t.Errorf("asked %v for a change that needs no review", tt.access.asked)
				}
			}
		})
	}
}

// TestTenantRules: with a tenants file the webhook applies the tenant's
// service accounts and protected Secrets.
func TestTenantRules(t *testing.T) {
	tf, err := tenant.Parse([]byte("raygate: {namespace: raygate-system}\nprotectedSecrets: [\"*-ray-token\"]\ntenants: [{name: team-a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandlerWith(Options{Tenants: tf})
	base := clean(t)
	create := func(y, ns string) *admissionv1.AdmissionResponse {
		req := admissionv1.AdmissionRequest{Operation: admissionv1.Create, Namespace: ns}
		req.Kind.Group, req.Kind.Version, req.Kind.Kind = "ray.io", "v1", "RayCluster"
		req.Object.Raw = toJSON(t, strings.Replace(y, "namespace: team-a", "namespace: "+ns, 1))
		return ask(t, h, PathValidate, req)
	}
	if r := create(base, "team-a"); !r.Allowed {
		t.Fatalf("clean cluster denied: %s", message(r))
	}
	sa := strings.Replace(base, "automountServiceAccountToken: false", "automountServiceAccountToken: false\n        serviceAccountName: admin-autoscaler", 1)
	if r := create(sa, "team-a"); r.Allowed || !strings.Contains(message(r), "RG-service-account") {
		t.Errorf("foreign service account admitted: %s", message(r))
	}
	secret := strings.Replace(base, "automountServiceAccountToken: false", "automountServiceAccountToken: false\n        volumes: [{name: t, secret: {secretName: admin-ray-token}}]", 1)
	if r := create(secret, "team-a"); r.Allowed || !strings.Contains(message(r), "RG-secret-reference") {
		t.Errorf("protected Secret admitted: %s", message(r))
	}
	other := strings.Replace(secret, "admin-ray-token", "datasets", 1)
	if r := create(other, "team-a"); !r.Allowed || len(r.Warnings) == 0 {
		t.Errorf("an ordinary Secret must be a warning: allowed=%v %v %s", r.Allowed, r.Warnings, message(r))
	}
}
