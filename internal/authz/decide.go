package authz

import "fmt"

// Decision is the outcome of authorizing one action, with its reason for
// the audit log.
type Decision struct {
	Allow  bool
	Reason string
}

// Decide allows action when role is at least the action's least role.
func Decide(role Role, action Action) Decision {
	need := LeastRole(action)
	if role == RoleNone {
		return Decision{Allow: false, Reason: "no role on cluster"}
	}
	if role >= need {
		return Decision{Allow: true, Reason: fmt.Sprintf("role %s allows %s", role, action)}
	}
	return Decision{Allow: false, Reason: fmt.Sprintf("role %s does not allow %s (needs %s)", role, action, need)}
}
