// Package authz decides what a caller may do on a Ray cluster. It
// classifies every request into one Ray action (classify.go), finds the
// caller's role on the cluster from the cluster's bindings (bindings.go) and
// compares the two (decide.go). Everything here is a pure function of its
// inputs.
package authz

// Role is a caller's level of access to one cluster. Roles nest: each
// allows everything the lower ones do.
type Role uint8

// Roles, lowest first. RoleNone means the caller cannot see the cluster.
const (
	RoleNone Role = iota
	RoleViewer
	RoleDeveloper
	RoleAdmin
)

// ParseRole maps a config role name to a Role.
func ParseRole(s string) (Role, bool) {
	switch s {
	case "viewer":
		return RoleViewer, true
	case "developer":
		return RoleDeveloper, true
	case "admin":
		return RoleAdmin, true
	}
	return RoleNone, false
}

// String returns the role's config name ("none" for RoleNone).
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleDeveloper:
		return "developer"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}
