package access

import (
	"context"
	"errors"
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/rbac"
)

const key = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

const base = `authentication:
  apiKeys: [{name: ci, sha256: ` + key + `, user: ci-bot, groups: [team-a]}]
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    access:
      - {role: developer, groups: [team-a]}
      - {role: viewer, groups: [viewers], users: [auditor]}
      - {role: admin, users: [root]}
`

func parse(t *testing.T, name, text string) *config.Config {
	t.Helper()
	c, err := config.ParsePolicy(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func policy(t *testing.T, text string) explain.Policy {
	t.Helper()
	p, err := explain.FromConfig(parse(t, "c.yaml", text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWhoCan(t *testing.T) {
	p := policy(t, base)
	r, err := WhoCan(context.Background(), p, authz.ActionJobsSubmit, "team-a", "ray1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range r.Holders {
		got = append(got, h.Kind+" "+h.Name+" "+h.Role+" "+h.Via.String())
	}
	want := []string{
		"user root admin c.yaml:10 (clusters[0].access[2])",
		"group team-a developer c.yaml:8 (clusters[0].access[0])",
		"apiKey ci developer c.yaml:8 (clusters[0].access[0])",
	}
	if !reflect.DeepEqual(got, want) || r.RequiredRole != "developer" || r.RBAC != "" {
		t.Fatalf("who-can %+v\n%v", r, got)
	}
	r, _ = WhoCan(context.Background(), p, authz.ActionClusterRead, "team-a", "ray1", nil)
	if len(r.Holders) != 5 {
		t.Fatalf("cluster.read holders %+v", r.Holders)
	}
	if _, err := WhoCan(context.Background(), p, authz.ActionClusterRead, "team-z", "ray1", nil); err == nil {
		t.Fatal("a cluster not in the config was listed")
	}
}

func TestWhoCanRBAC(t *testing.T) {
	p := policy(t, base+"authorization:\n  kubernetes: {}\n")
	grants := func(_ context.Context, ns, name string) ([]rbac.Grant, error) {
		if ns != "team-a" || name != "ray1" {
			return nil, errors.New("wrong cluster")
		}
		return []rbac.Grant{
			{Binding: "RoleBinding team-a/devs", Role: "ClusterRole raygate-developer", Verbs: []string{"ray:write", "ray:read"}, RaygateRole: authz.RoleDeveloper, Subjects: []rbacv1.Subject{{Kind: "Group", Name: "ml"}}},
			{Binding: "ClusterRoleBinding readers", Role: "ClusterRole raygate-viewer", Verbs: []string{"ray:read"}, RaygateRole: authz.RoleViewer, Subjects: []rbacv1.Subject{{Kind: "Group", Name: "all"}}},
		}, nil
	}
	r, err := WhoCan(context.Background(), p, authz.ActionJobsSubmit, "team-a", "ray1", grants)
	if err != nil {
		t.Fatal(err)
	}
	if r.RBAC != "asked" || len(r.RBACGrants) != 1 || r.RBACGrants[0].Binding != "RoleBinding team-a/devs" || r.RBACGrants[0].RaygateRole != "developer" {
		t.Fatalf("rbac grants %+v", r.RBACGrants)
	}
	r, _ = WhoCan(context.Background(), p, authz.ActionJobsSubmit, "team-a", "ray1", nil)
	if r.RBAC != "not asked" || r.RBACGrants != nil {
		t.Fatalf("not asked: %+v", r)
	}
}

func TestOf(t *testing.T) {
	p := policy(t, base+`  - namespace: team-b
    name: ray1
    upstream: http://127.0.0.1:8266
    access: [{role: admin, groups: [team-a]}]
`)
	m := Of(context.Background(), p, &identity.Identity{User: "alice", Groups: []string{"team-a"}})
	if len(m.Clusters) != 2 || m.Clusters[0].Cluster != "team-a/ray1" || m.Clusters[0].Role != "developer" ||
		!reflect.DeepEqual(m.Clusters[0].Allowed, []string{"dashboard.view", "cluster.read", "logs.read", "jobs.submit", "jobs.stop"}) ||
		m.Clusters[1].Role != "admin" || len(m.Clusters[1].Allowed) != len(authz.Actions) || m.Clusters[0].Via.Field != "clusters[0].access[0]" {
		t.Fatalf("matrix %+v", m)
	}
	m = Of(context.Background(), p, &identity.Identity{User: "mallory"})
	if m.Clusters[0].Role != "none" || len(m.Clusters[0].Allowed) != 0 || m.Clusters[0].Via != nil {
		t.Fatalf("matrix %+v", m)
	}
}

// TestDiff: a config change with known gains and losses, among them one
// that quietly lets viewers submit jobs.
func TestDiff(t *testing.T) {
	old := parse(t, "old.yaml", base)
	next := parse(t, "new.yaml", `authentication:
  apiKeys: [{name: ci, sha256: `+key+`, user: ci-bot, groups: [team-a, viewers]}]
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    access:
      - {role: developer, groups: [team-a, viewers]}
      - {role: viewer, users: [auditor]}
`)
	d, err := Diff(old, next)
	if err != nil {
		t.Fatal(err)
	}
	summary := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Subject+" "+c.Cluster+" "+c.Action+" "+c.Role+" "+c.Via.String())
		}
		return out
	}
	wantGained := []string{
		"group viewers team-a/ray1 jobs.submit developer new.yaml:8 (clusters[0].access[0])",
		"group viewers team-a/ray1 jobs.stop developer new.yaml:8 (clusters[0].access[0])",
	}
	wantLost := []string{
		"user root team-a/ray1 dashboard.view admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 cluster.read admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 logs.read admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 jobs.submit admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 jobs.stop admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 jobs.stop.any admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 serve.deploy admin old.yaml:10 (clusters[0].access[2])",
		"user root team-a/ray1 cluster.admin admin old.yaml:10 (clusters[0].access[2])",
	}
	if g := summary(d.Gained); !reflect.DeepEqual(g, wantGained) {
		t.Errorf("gained\n%v\nwant\n%v", g, wantGained)
	}
	if l := summary(d.Lost); !reflect.DeepEqual(l, wantLost) {
		t.Errorf("lost\n%v\nwant\n%v", l, wantLost)
	}
	same, _ := Diff(old, old)
	if len(same.Gained)+len(same.Lost) != 0 {
		t.Fatalf("a config differs from itself: %+v", same)
	}
	// An API key's groups are part of its access.
	keyOnly := parse(t, "k.yaml", `authentication:
  apiKeys: [{name: ci, sha256: `+key+`, user: ci-bot, groups: [team-a, root-group]}]
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    access:
      - {role: developer, groups: [team-a]}
      - {role: viewer, groups: [viewers], users: [auditor]}
      - {role: admin, users: [root], groups: [root-group]}
`)
	d, _ = Diff(old, keyOnly)
	var apiKeyGains, groupGains int
	for _, c := range d.Gained {
		switch c.Subject {
		case "apiKey ci":
			apiKeyGains++
		case "group root-group":
			groupGains++
		}
	}
	if apiKeyGains != 3 || groupGains != len(authz.Actions) || len(d.Gained) != 3+len(authz.Actions) {
		t.Fatalf("gained %v", summary(d.Gained))
	}
}
