package authz

import (
	"testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

func TestBindingsRoleOf(t *testing.T) {
	b := NewBindings([]config.Binding{
		{Role: "developer", Groups: []string{"team-a"}},
		{Role: "viewer", Users: []string{"auditor@example.com"}, Groups: []string{"everyone"}},
		{Role: "admin", Users: []string{"root@example.com"}},
		{Role: "viewer", Groups: []string{"team-a"}}, // lower role never lowers
		{Role: "developer", ServiceAccounts: []string{"ci/runner"}},
	})
	for _, tc := range []struct {
		name string
		id   *identity.Identity
		want Role
	}{
		{"nil", nil, RoleNone},
		{"stranger", &identity.Identity{User: "x@example.com", Groups: []string{"team-b"}}, RoleNone},
		{"group", &identity.Identity{User: "alice@example.com", Groups: []string{"team-a"}}, RoleDeveloper},
		{"user", &identity.Identity{User: "auditor@example.com"}, RoleViewer},
		{"highest wins", &identity.Identity{User: "root@example.com", Groups: []string{"everyone"}}, RoleAdmin},
		{"group and viewer", &identity.Identity{User: "bob", Groups: []string{"everyone", "team-a"}}, RoleDeveloper},
		{"case matters", &identity.Identity{User: "Auditor@example.com", Groups: []string{"Team-A"}}, RoleNone},
		{"service account", &identity.Identity{User: "system:serviceaccount:ci:runner", ServiceAccount: "ci/runner", Method: identity.MethodKubernetes}, RoleDeveloper},
		{"sa name as user does not match", &identity.Identity{User: "ci/runner"}, RoleNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.RoleOf(tc.id); got != tc.want {
				t.Fatalf("RoleOf = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"viewer", "developer", "admin"} {
		r, ok := ParseRole(s)
		if !ok || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, ok)
		}
	}
	for _, s := range []string{"", "Admin", "owner", "none"} {
		if _, ok := ParseRole(s); ok {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}
