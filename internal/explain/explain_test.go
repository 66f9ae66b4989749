package explain

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raygate/raygate/internal/config"
)

const kubeConfig = `authentication:
  kubernetes: {audiences: [raygate]}
authorization:
  kubernetes: {}
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    access:
      - {role: viewer, groups: [team-a]}
`

// reviewer allows the verbs in allow for user, or fails.
type reviewer struct {
	user  string
	allow map[string]bool
	err   error
	asked []string
}

func (r *reviewer) Create(_ context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	a := sar.Spec.ResourceAttributes
	r.asked = append(r.asked, a.Verb+" "+a.Namespace+"/"+a.Name+" "+a.Group+"/"+a.Resource)
	if r.err != nil {
		return nil, r.err
	}
	out := sar.DeepCopy()
	if sar.Spec.User == r.user && r.allow[a.Verb] {
		out.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "RBAC: allowed by RoleBinding team-a/devs"}
	}
	return out, nil
}

func kubePolicy(t *testing.T, rv *reviewer) Policy {
	t.Helper()
	cfg, err := config.ParsePolicy("kube.yaml", []byte(kubeConfig))
	if err != nil {
		t.Fatal(err)
	}
	var p Policy
	if rv == nil {
		p, err = FromConfig(cfg, nil)
	} else {
		p, err = FromConfig(cfg, rv)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExplainAsksRBAC(t *testing.T) {
	rv := &reviewer{user: "alice", allow: map[string]bool{"ray:write": true}}
	p := kubePolicy(t, rv)
	q := Query{Method: "POST", Path: "/clusters/team-a/ray1/api/jobs/"}
	alice, _ := Identity("alice", []string{"team-a"}, "")
	e := Explain(context.Background(), p, q, As(alice))
	if e.Outcome != OutcomeAllow || e.Role != "developer" || e.RoleSource != "rbac ray:write" || e.RBAC != "asked" || e.Binding != nil {
		t.Fatalf("explanation %+v", e)
	}
	want := []Review{{Verb: "ray:admin"}, {Verb: "ray:write", Allowed: true, Reason: "RBAC: allowed by RoleBinding team-a/devs"}}
	if !reflect.DeepEqual(e.Reviews, want) {
		t.Fatalf("reviews %+v", e.Reviews)
	}
	if rv.asked[0] != "ray:admin team-a/ray1 ray.io/rayclusters" {
		t.Fatalf("asked %v", rv.asked)
	}
	if !hasStep(e, "role", "developer, from Kubernetes RBAC (ray:write on rayclusters.ray.io team-a/ray1); the bindings alone give viewer") {
		t.Fatalf("steps %+v", e.Steps)
	}
	// Every explanation asks afresh: nothing is cached between them.
	rv.asked = nil
	Explain(context.Background(), p, q, As(alice))
	if len(rv.asked) != 2 {
		t.Fatalf("second explanation asked %v", rv.asked)
	}

	// Without the API server, the bindings alone, and the explanation says so.
	e = Explain(context.Background(), kubePolicy(t, nil), q, As(alice))
	if e.Outcome != OutcomeDeny || e.Role != "viewer" || e.RBAC != "not asked" || !strings.Contains(Summary(e), "Kubernetes RBAC was not asked") {
		t.Fatalf("offline: %+v", e)
	}
}

func TestExplainRBACFails(t *testing.T) {
	p := kubePolicy(t, &reviewer{err: errors.New("connection refused")})
	alice, _ := Identity("alice", nil, "")
	e := Explain(context.Background(), p, Query{Method: "GET", Path: "/clusters/team-a/ray1/"}, As(alice))
	if e.Outcome != OutcomeDeny || e.Status != 503 || e.Reason != "authorization unavailable" || len(e.Reviews) != 1 || e.Reviews[0].Error == "" {
		t.Fatalf("explanation %+v", e)
	}
	if !hasStep(e, "role", "could not be resolved: rbac: subject access review: connection refused") {
		t.Fatalf("steps %+v", e.Steps)
	}
	// To the caller itself, the error stays inside.
	p.Private = true
	e = Explain(context.Background(), p, Query{Method: "GET", Path: "/clusters/team-a/ray1/"}, As(alice))
	for _, s := range e.Steps {
		if strings.Contains(s.Detail, "connection refused") {
			t.Fatalf("the caller is shown an internal error: %+v", s)
		}
	}
}

func hasStep(e *Explanation, name, prefix string) bool {
	for _, s := range e.Steps {
		if s.Step == name && strings.HasPrefix(s.Detail, prefix) {
			return true
		}
	}
	return false
}

func TestIdentity(t *testing.T) {
	id, err := Identity("", []string{"ops"}, "ci/runner")
	if err != nil || id.User != "system:serviceaccount:ci:runner" || id.ServiceAccount != "ci/runner" ||
		!reflect.DeepEqual(id.Groups, []string{"ops", "system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}) {
		t.Fatalf("Identity = %+v, %v", id, err)
	}
	for _, tc := range []struct {
		user, sa string
		groups   []string
	}{
		{"", "", nil},
		{"  ", "", nil},
		{"a", "", []string{""}},
		{"", "ci", nil},
		{"", "Ci/x", nil},
		{"bob", "ci/runner", nil},
	} {
		if id, err := Identity(tc.user, tc.groups, tc.sa); err == nil {
			t.Errorf("Identity(%q, %q, %q) = %+v", tc.user, tc.groups, tc.sa, id)
		}
	}
}
