package authz

import (
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// Bindings are one cluster's role bindings, indexed for lookup.
type Bindings struct {
	users  map[string]Role
	groups map[string]Role
	sas    map[string]Role
}

// NewBindings indexes validated config bindings. A subject named by several
// bindings keeps the highest role.
func NewBindings(bs []config.Binding) *Bindings {
	b := &Bindings{users: map[string]Role{}, groups: map[string]Role{}, sas: map[string]Role{}}
	raise := func(m map[string]Role, k string, r Role) {
		if r > m[k] {
			m[k] = r
		}
	}
	for _, cb := range bs {
		r, ok := ParseRole(cb.Role)
		if !ok {
			continue // config validation refuses unknown roles
		}
		for _, u := range cb.Users {
			raise(b.users, u, r)
		}
		for _, g := range cb.Groups {
			raise(b.groups, g, r)
		}
		for _, sa := range cb.ServiceAccounts {
			raise(b.sas, sa, r)
		}
	}
	return b
}

// RoleOf returns the highest role any binding gives id, RoleNone if none.
// Service-account bindings match only identities that authenticated as that
// service account. A nil Bindings binds nobody.
func (b *Bindings) RoleOf(id *identity.Identity) Role {
	if b == nil || id == nil {
		return RoleNone
	}
	r := b.users[id.User]
	for _, g := range id.Groups {
		if gr := b.groups[g]; gr > r {
			r = gr
		}
	}
	if id.ServiceAccount != "" {
		if sr := b.sas[id.ServiceAccount]; sr > r {
			r = sr
		}
	}
	return r
}
