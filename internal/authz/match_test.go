package authz

import (
	"reflect"
	"testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

func pos(line int) config.Position {
	return config.Position{File: "r.yaml", Line: line}
}

func TestBindingsMatch(t *testing.T) {
	b := NewBindings([]config.Binding{
		{Role: "viewer", Groups: []string{"everyone"}, Position: pos(10)},
		{Role: "developer", Groups: []string{"team-a"}, Users: []string{"bob"}, Position: pos(11)},
		{Role: "developer", Groups: []string{"team-a"}, Position: pos(12)}, // same role later: the first binding stays
		{Role: "admin", Users: []string{"root"}, Position: pos(13)},
		{Role: "developer", ServiceAccounts: []string{"ci/runner"}, Position: pos(14)},
		{Role: "viewer", Users: []string{"root"}, Position: pos(15)}, // lower: never lowers
	})
	for _, tc := range []struct {
		name string
		id   *identity.Identity
		want Match
	}{
		{"nobody", &identity.Identity{User: "x", Groups: []string{"y"}}, Match{}},
		{"nil", nil, Match{}},
		{"group", &identity.Identity{User: "alice", Groups: []string{"everyone", "team-a"}}, Match{Role: RoleDeveloper, Kind: SubjectGroup, Subject: "team-a", Position: pos(11)}},
		{"user beats an equal group", &identity.Identity{User: "bob", Groups: []string{"team-a"}}, Match{Role: RoleDeveloper, Kind: SubjectUser, Subject: "bob", Position: pos(11)}},
		{"first group with the highest role", &identity.Identity{User: "c", Groups: []string{"everyone"}}, Match{Role: RoleViewer, Kind: SubjectGroup, Subject: "everyone", Position: pos(10)}},
		{"highest role", &identity.Identity{User: "root", Groups: []string{"team-a"}}, Match{Role: RoleAdmin, Kind: SubjectUser, Subject: "root", Position: pos(13)}},
		{"service account", &identity.Identity{User: "system:serviceaccount:ci:runner", ServiceAccount: "ci/runner", Groups: []string{"everyone"}}, Match{Role: RoleDeveloper, Kind: SubjectServiceAccount, Subject: "ci/runner", Position: pos(14)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := b.Match(tc.id)
			if got != tc.want {
				t.Fatalf("Match = %+v, want %+v", got, tc.want)
			}
			if r := b.RoleOf(tc.id); r != got.Role {
				t.Fatalf("RoleOf = %s, Match.Role = %s", r, got.Role)
			}
		})
	}
	var none *Bindings
	if m := none.Match(&identity.Identity{User: "x"}); m != (Match{}) {
		t.Fatalf("nil bindings match %+v", m)
	}
}

func TestBindingsSubjects(t *testing.T) {
	b := NewBindings([]config.Binding{
		{Role: "viewer", Groups: []string{"team-a"}, Users: []string{"carol"}, Position: pos(1)},
		{Role: "developer", Groups: []string{"team-a"}, Position: pos(2)},
		{Role: "admin", ServiceAccounts: []string{"ci/runner"}, Position: pos(3)},
	})
	want := []Subject{
		{Kind: SubjectUser, Name: "carol", Role: RoleViewer, Positions: []config.Position{pos(1)}},
		{Kind: SubjectGroup, Name: "team-a", Role: RoleDeveloper, Positions: []config.Position{pos(2), pos(1)}},
		{Kind: SubjectServiceAccount, Name: "ci/runner", Role: RoleAdmin, Positions: []config.Position{pos(3)}},
	}
	if got := b.Subjects(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Subjects = %+v\nwant %+v", got, want)
	}
}

func TestDecisionNeeds(t *testing.T) {
	for _, a := range Actions {
		for r := RoleNone; r <= RoleAdmin; r++ {
			d := Decide(r, a)
			if d.Needs != LeastRole(a) {
				t.Errorf("Decide(%s, %s).Needs = %s, want %s", r, a, d.Needs, LeastRole(a))
			}
			if d.Allow != (r != RoleNone && r >= d.Needs) {
				t.Errorf("Decide(%s, %s) = %+v", r, a, d)
			}
		}
	}
}

func TestRoutesTable(t *testing.T) {
	rs := Routes()
	if len(rs) != len(routes) {
		t.Fatalf("%d routes, table has %d", len(rs), len(routes))
	}
	for _, r := range rs {
		if r.Pattern == "" || len(r.Methods) == 0 || r.Action == "" {
			t.Errorf("incomplete route %+v", r)
		}
		if r.JobID && r.Action != ActionClusterRead && r.Action != ActionJobsStop {
			t.Errorf("route %s names a job but is %s", r.Pattern, r.Action)
		}
	}
	rs[0].Methods[0] = "changed"
	if Routes()[0].Methods[0] == "changed" {
		t.Fatal("Routes shares the table's method slices")
	}
}
