package authz

import (
	"context"

	"github.com/raygate/raygate/internal/identity"
)

// Resource is the cluster a role is resolved on.
type Resource struct {
	// Namespace and Name address the cluster.
	Namespace, Name string
	// Bindings are the cluster's role bindings; nil binds nobody.
	Bindings *Bindings
}

// Role sources, the reasons a RoleResolver gives.
const (
	ReasonBinding   = "binding"
	ReasonNoBinding = "no binding"
)

// RoleResolver finds a caller's role on a cluster. Every caller of the
// gateway's policy (the request pipeline, whoami) resolves roles through
// one. reason says where the role came from (e.g. "binding" or "rbac
// ray:write"); an error means the role could not be established, and the
// caller must deny.
type RoleResolver interface {
	RoleOf(ctx context.Context, id *identity.Identity, r Resource) (role Role, reason string, err error)
}

// BindingsOnly resolves roles from the cluster's bindings alone.
type BindingsOnly struct{}

var _ RoleResolver = BindingsOnly{}

// RoleOf implements RoleResolver.
func (BindingsOnly) RoleOf(_ context.Context, id *identity.Identity, r Resource) (Role, string, error) {
	if role := r.Bindings.RoleOf(id); role != RoleNone {
		return role, ReasonBinding, nil
	}
	return RoleNone, ReasonNoBinding, nil
}
