package authz

import "fmt"

// Policy is one cluster's least role per action: the defaults of
// LeastRole, raised where the cluster's config says so (actionRoles). It is
// immutable; the nil Policy is the defaults.
type Policy struct {
	decisions map[Action]decisionRow
}

// NewPolicy builds a cluster's policy from its actionRoles (action name to
// role name). It refuses unknown actions and roles, and any entry that
// would lower an action's default role: config validation reports the
// same, so an error here means the config was not validated.
func NewPolicy(actionRoles map[string]string) (*Policy, error) {
	if len(actionRoles) == 0 {
		return nil, nil
	}
	raised := make(map[Action]Role, len(actionRoles))
	for name, roleName := range actionRoles {
		a := Action(name)
		if !known(a) {
			return nil, fmt.Errorf("authz: unknown action %q", name)
		}
		r, ok := ParseRole(roleName)
		if !ok {
			return nil, fmt.Errorf("authz: %s: unknown role %q", name, roleName)
		}
		if r < LeastRole(a) {
			return nil, fmt.Errorf("authz: %s: role %s is below its default %s", name, r, LeastRole(a))
		}
		raised[a] = r
	}
	return &Policy{decisions: buildDecisions(raised)}, nil
}

// Decide allows action when role is at least the action's least role on
// this cluster.
func (p *Policy) Decide(role Role, action Action) Decision {
	if p == nil {
		return Decide(role, action)
	}
	if row, ok := p.decisions[action]; ok && role <= RoleAdmin {
		return row[role]
	}
	return Decide(role, action)
}

func known(a Action) bool {
	for _, x := range Actions {
		if x == a {
			return true
		}
	}
	return false
}
