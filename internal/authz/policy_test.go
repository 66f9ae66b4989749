package authz

import (
	"testing"

	"github.com/raygate/raygate/internal/config"
)

func TestPolicy(t *testing.T) {
	p, err := NewPolicy(map[string]string{"logs.read": "developer", "jobs.stop.any": "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		p      *Policy
		role   Role
		action Action
		allow  bool
		reason string
		needs  Role
	}{
		{"default: viewers read logs", nil, RoleViewer, ActionLogsRead, true, "role viewer allows logs.read", RoleViewer},
		{"raised: viewers may not read logs", p, RoleViewer, ActionLogsRead, false, "role viewer does not allow logs.read (needs developer on this cluster)", RoleDeveloper},
		{"raised: developers may", p, RoleDeveloper, ActionLogsRead, true, "role developer allows logs.read", RoleDeveloper},
		{"an entry equal to the default changes nothing", p, RoleDeveloper, ActionJobsStopAny, false, "role developer does not allow jobs.stop.any (needs admin)", RoleAdmin},
		{"other actions keep their defaults", p, RoleViewer, ActionClusterRead, true, "role viewer allows cluster.read", RoleViewer},
		{"no role is no role", p, RoleNone, ActionDashboardView, false, "no role on cluster", RoleViewer},
		{"an unknown action needs admin", p, RoleDeveloper, Action("made.up"), false, "role developer does not allow made.up (needs admin)", RoleAdmin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.p.Decide(tc.role, tc.action)
			if d.Allow != tc.allow || d.Reason != tc.reason || d.Needs != tc.needs {
				t.Fatalf("Decide = %+v, want allow=%v reason=%q needs=%s", d, tc.allow, tc.reason, tc.needs)
			}
		})
	}
}

func TestNewPolicyRefuses(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"an unknown action":      {"logs.write": "admin"},
		"an unknown role":        {"logs.read": "owner"},
		"lowering cluster.admin": {"cluster.admin": "developer"},
		"lowering jobs.submit":   {"jobs.submit": "viewer"},
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := NewPolicy(m); err == nil {
				t.Fatalf("NewPolicy(%v) = %v, want an error", m, p)
			}
		})
	}
	if p, err := NewPolicy(nil); p != nil || err != nil {
		t.Fatalf("NewPolicy(nil) = %v, %v; want the default (nil) policy", p, err)
	}
}

// TestActionsMatchConfig keeps the config's action vocabulary (what
// actionRoles may name, and each action's default) equal to this
// package's actions.
func TestActionsMatchConfig(t *testing.T) {
	if len(config.Actions) != len(Actions) {
		t.Errorf("config.Actions has %d actions, authz.Actions %d", len(config.Actions), len(Actions))
	}
	for _, a := range Actions {
		def, ok := config.Actions[string(a)]
		if !ok {
			t.Errorf("config.Actions lacks %s", a)
			continue
		}
		if def != LeastRole(a).String() {
			t.Errorf("config.Actions[%s] = %s, authz.LeastRole = %s", a, def, LeastRole(a))
		}
	}
}
