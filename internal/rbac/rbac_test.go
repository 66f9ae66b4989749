package rbac

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// fakeRBAC answers reviews from a set of "subject ns/name verb" grants,
// where subject is a user or "group:NAME".
type fakeRBAC struct {
	grants map[string]bool
	err    error
	asked  []authorizationv1.SubjectAccessReviewSpec
}

func (f *fakeRBAC) clientset() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		f.asked = append(f.asked, sar.Spec)
		if f.err != nil {
			return true, nil, f.err
		}
		ra := sar.Spec.ResourceAttributes
		if ra.Group != Group || ra.Resource != Resource {
			return true, sar, nil
		}
		obj := " " + ra.Namespace + "/" + ra.Name + " " + ra.Verb
		subjects := append([]string{sar.Spec.User}, prefixed("group:", sar.Spec.Groups)...)
		for _, s := range subjects {
			if f.grants[s+obj] {
				sar.Status.Allowed = true
			}
		}
		return true, sar, nil
	})
	return cs
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func newResolver(f *fakeRBAC, now *time.Time) *Resolver {
	size := 100
	r := New(config.KubernetesAuthz{AllowTTL: config.Duration(10 * time.Second), DenyTTL: config.Duration(5 * time.Second), CacheSize: &size},
		f.clientset().AuthorizationV1().SubjectAccessReviews(), nil)
	r.now = func() time.Time { return *now }
	return r
}

var (
	alice = &identity.Identity{User: "alice@example.com", Groups: []string{"team-a"}}
	ray1  = authz.Resource{Namespace: "team-a", Name: "ray1"}
)

func TestRoleOf(t *testing.T) {
	adminBinding := authz.NewBindings([]config.Binding{{Role: "admin", Users: []string{"alice@example.com"}}})
	viewerBinding := authz.NewBindings([]config.Binding{{Role: "viewer", Groups: []string{"team-a"}}})
	for _, tc := range []struct {
		name       string
		grants     []string
		bindings   *authz.Bindings
		want       authz.Role
		wantReason string
		wantAsked  []string
	}{
		{"nothing", nil, nil, authz.RoleNone, ReasonNone, []string{VerbAdmin, VerbWrite, VerbRead}},
		{"write", []string{"alice@example.com team-a/ray1 ray:write"}, nil, authz.RoleDeveloper, "rbac ray:write", []string{VerbAdmin, VerbWrite}},
		{"read by group", []string{"group:team-a team-a/ray1 ray:read"}, nil, authz.RoleViewer, "rbac ray:read", []string{VerbAdmin, VerbWrite, VerbRead}},
		{"admin", []string{"alice@example.com team-a/ray1 ray:admin"}, nil, authz.RoleAdmin, "rbac ray:admin", []string{VerbAdmin}},
		{"other cluster's grant", []string{"alice@example.com team-a/ray2 ray:write"}, nil, authz.RoleNone, ReasonNone, []string{VerbAdmin, VerbWrite, VerbRead}},
		{"other namespace's grant", []string{"alice@example.com team-b/ray1 ray:admin"}, nil, authz.RoleNone, ReasonNone, []string{VerbAdmin, VerbWrite, VerbRead}},
		{"binding admin skips review", nil, adminBinding, authz.RoleAdmin, authz.ReasonBinding, nil},
		{"binding viewer, rbac write wins", []string{"alice@example.com team-a/ray1 ray:write"}, viewerBinding, authz.RoleDeveloper, "rbac ray:write", []string{VerbAdmin, VerbWrite}},
		{"binding viewer, rbac read adds nothing", []string{"alice@example.com team-a/ray1 ray:read"}, viewerBinding, authz.RoleViewer, authz.ReasonBinding, []string{VerbAdmin, VerbWrite}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRBAC{grants: map[string]bool{}}
			for _, g := range tc.grants {
				f.grants[g] = true
			}
			now := time.Unix(1000, 0)
			res := ray1
			res.Bindings = tc.bindings
			role, reason, err := newResolver(f, &now).RoleOf(context.Background(), alice, res)
			if err != nil || role != tc.want || reason != tc.wantReason {
				t.Fatalf("RoleOf = %v, %q, %v; want %v, %q", role, reason, err, tc.want, tc.wantReason)
			}
			var asked []string
			for _, s := range f.asked {
				asked = append(asked, s.ResourceAttributes.Verb)
				if s.User != alice.User || !slices.Equal(s.Groups, alice.Groups) {
					t.Errorf("review named %q %v", s.User, s.Groups)
				}
			}
			if !slices.Equal(asked, tc.wantAsked) {
				t.Fatalf("asked %v, want %v", asked, tc.wantAsked)
			}
		})
	}
}

func TestCacheTTLs(t *testing.T) {
	f := &fakeRBAC{grants: map[string]bool{"alice@example.com team-a/ray1 ray:write": true}}
	now := time.Unix(1000, 0)
	r := newResolver(f, &now)
	role := func() authz.Role {
		t.Helper()
		got, _, err := r.RoleOf(context.Background(), alice, ray1)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if role() != authz.RoleDeveloper || len(f.asked) != 2 {
		t.Fatalf("first resolution asked %d reviews", len(f.asked))
	}
	role()
	if len(f.asked) != 2 {
		t.Fatalf("cached reviews asked again: %d", len(f.asked))
	}
	// The grant goes away: the cached allow holds until allowTTL.
	delete(f.grants, "alice@example.com team-a/ray1 ray:write")
	now = now.Add(9 * time.Second)
	if role() != authz.RoleDeveloper {
		t.Fatal("allow not cached for allowTTL")
	}
	now = now.Add(2 * time.Second) // 11s: allow expired, deny of ray:admin expired too
	if role() != authz.RoleNone {
		t.Fatal("a removed grant still allows after allowTTL")
	}
	// A new grant is seen once the denies expire (denyTTL 5s).
	f.grants["alice@example.com team-a/ray1 ray:read"] = true
	now = now.Add(4 * time.Second)
	if role() != authz.RoleNone {
		t.Fatal("deny not cached for denyTTL")
	}
	now = now.Add(2 * time.Second)
	if role() != authz.RoleViewer {
		t.Fatal("a new grant is not seen after denyTTL")
	}
}

func TestErrorDeniesAndIsNotCached(t *testing.T) {
	f := &fakeRBAC{grants: map[string]bool{"alice@example.com team-a/ray1 ray:write": true}, err: errors.New("etcd timeout")}
	now := time.Unix(1000, 0)
	r := newResolver(f, &now)
	viewer := ray1
	viewer.Bindings = authz.NewBindings([]config.Binding{{Role: "viewer", Users: []string{"alice@example.com"}}})
	role, reason, err := r.RoleOf(context.Background(), alice, viewer)
	if err == nil || role != authz.RoleNone || reason != ReasonFailed || !strings.Contains(err.Error(), "etcd timeout") {
		t.Fatalf("RoleOf with a failing API = %v, %q, %v; want none and an error, even with a binding", role, reason, err)
	}
	f.err = nil
	role, _, err = r.RoleOf(context.Background(), alice, ray1)
	if err != nil || role != authz.RoleDeveloper {
		t.Fatalf("after recovery RoleOf = %v, %v: the failure was cached", role, err)
	}
}

func TestCacheKeySeparatesSubjects(t *testing.T) {
	a := cacheKey(&identity.Identity{User: "ab", Groups: []string{"c"}}, ray1, VerbRead)
	b := cacheKey(&identity.Identity{User: "a", Groups: []string{"bc"}}, ray1, VerbRead)
	c := cacheKey(&identity.Identity{User: "ab", Groups: []string{"c"}}, authz.Resource{Namespace: "team-a", Name: "ray2"}, VerbRead)
	d := cacheKey(&identity.Identity{User: "ab", Groups: []string{"c"}}, ray1, VerbWrite)
	if a == b || a == c || a == d {
		t.Fatal("distinct reviews share a cache key")
	}
}

// BenchmarkRoleOfCached is the request path's cost of RBAC once the
// reviews are cached: a developer (two verbs looked up).
func BenchmarkRoleOfCached(b *testing.B) {
	f := &fakeRBAC{grants: map[string]bool{"alice@example.com team-a/ray1 ray:write": true}}
	now := time.Unix(1000, 0)
	r := newResolver(f, &now)
	ctx := context.Background()
	if role, _, _ := r.RoleOf(ctx, alice, ray1); role != authz.RoleDeveloper {
		b.Fatal(role)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = r.RoleOf(ctx, alice, ray1)
	}
}
