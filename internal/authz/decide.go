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

// decisionRow holds one action's decision for every role.
type decisionRow [RoleAdmin + 1]Decision

// defaultDecisions holds the decision of every role for every known
// action, built once so that deciding allocates nothing.
var defaultDecisions = buildDecisions(nil)

func buildDecisions(raised map[Action]Role) map[Action]decisionRow {
	m := make(map[Action]decisionRow, len(Actions))
	for _, a := range Actions {
		need, up := LeastRole(a), false
		if r, ok := raised[a]; ok && r > need {
			need, up = r, true
		}
		var row decisionRow
		for r := RoleNone; r <= RoleAdmin; r++ {
			row[r] = decide(r, a, need, up)
		}
		m[a] = row
	}
	return m
}

// Decide allows action when role is at least the action's least role.
func Decide(role Role, action Action) Decision {
	if row, ok := defaultDecisions[action]; ok && role <= RoleAdmin {
		return row[role]
	}
	return decide(role, action, LeastRole(action), false)
}

func decide(role Role, action Action, need Role, raised bool) Decision {
	if role == RoleNone {
		return Decision{Allow: false, Reason: "no role on cluster", Needs: need}
	}
	if role >= need {
		return Decision{Allow: true, Reason: fmt.Sprintf("role %s allows %s", role, action), Needs: need}
	}
	where := ""
	if raised {
		where = " on this cluster"
	}
	return Decision{Allow: false, Reason: fmt.Sprintf("role %s does not allow %s (needs %s%s)", role, action, need, where), Needs: need}
}
