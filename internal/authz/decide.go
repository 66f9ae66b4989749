package authz

import "fmt"

// Decision is the outcome of authorizing one action, with its reason for
// the audit log.
type Decision struct {
	Allow  bool
	Reason string
	// Needs is the least role the action needs on the cluster.
	Needs Role
}

// decisions holds the decision of every role for every known action, built
// once so that deciding allocates nothing.
var decisions = func() map[Action][RoleAdmin + 1]Decision {
	m := make(map[Action][RoleAdmin + 1]Decision, len(Actions))
	for _, a := range Actions {
		var row [RoleAdmin + 1]Decision
		for r := RoleNone; r <= RoleAdmin; r++ {
			row[r] = decide(r, a)
		}
		m[a] = row
	}
	return m
}()

// Decide allows action when role is at least the action's least role.
func Decide(role Role, action Action) Decision {
	if row, ok := decisions[action]; ok && role <= RoleAdmin {
		return row[role]
	}
	return decide(role, action)
}

func decide(role Role, action Action) Decision {
	need := LeastRole(action)
	if role == RoleNone {
		return Decision{Allow: false, Reason: "no role on cluster", Needs: need}
	}
	if role >= need {
		return Decision{Allow: true, Reason: fmt.Sprintf("role %s allows %s", role, action), Needs: need}
	}
	return Decision{Allow: false, Reason: fmt.Sprintf("role %s does not allow %s (needs %s)", role, action, need), Needs: need}
}
