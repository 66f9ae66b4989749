package authz

import (
	"sort"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// SubjectKind is what a binding names: a user, a group or a service
// account.
type SubjectKind uint8

// Subject kinds.
const (
	SubjectUser SubjectKind = iota + 1
	SubjectGroup
	SubjectServiceAccount
)

// String returns the config's word for the kind ("user", "group",
// "serviceAccount").
func (k SubjectKind) String() string {
	switch k {
	case SubjectUser:
		return "user"
	case SubjectGroup:
		return "group"
	case SubjectServiceAccount:
		return "serviceAccount"
	}
	return "none"
}

// Bindings are one cluster's role bindings, indexed for lookup.
type Bindings struct {
	users  map[string]grant
	groups map[string]grant
	sas    map[string]grant
	// bindings are the config's bindings, in order; grants point into it.
	bindings []config.Binding
}

// grant is a subject's highest role and the first binding giving it.
type grant struct {
	role    Role
	binding int
}

// NewBindings indexes validated config bindings. A subject named by several
// bindings keeps the highest role, from the first binding that gives it.
func NewBindings(bs []config.Binding) *Bindings {
	b := &Bindings{users: map[string]grant{}, groups: map[string]grant{}, sas: map[string]grant{}, bindings: bs}
	raise := func(m map[string]grant, k string, r Role, i int) {
		if r > m[k].role {
			m[k] = grant{role: r, binding: i}
		}
	}
	for i, cb := range bs {
		r, ok := ParseRole(cb.Role)
		if !ok {
			continue // config validation refuses unknown roles
		}
		for _, u := range cb.Users {
			raise(b.users, u, r, i)
		}
		for _, g := range cb.Groups {
			raise(b.groups, g, r, i)
		}
		for _, sa := range cb.ServiceAccounts {
			raise(b.sas, sa, r, i)
		}
	}
	return b
}

// Match is the binding that gives an identity its role.
type Match struct {
	// Role is the identity's role; RoleNone when no binding names it.
	Role Role
	// Kind and Subject are the name the binding matched: the user, one of
	// the groups or the service account.
	Kind    SubjectKind
	Subject string
	// Position is where the binding is written.
	Position config.Position
}

// RoleOf returns the highest role any binding gives id, RoleNone if none.
// Service-account bindings match only identities that authenticated as that
// service account. A nil Bindings binds nobody.
func (b *Bindings) RoleOf(id *identity.Identity) Role {
	g, _, _ := b.match(id)
	return g.role
}

// Match returns the role RoleOf returns and the binding that gives it:
// the user's, else the first group's, else the service account's binding
// with that role.
func (b *Bindings) Match(id *identity.Identity) Match {
	g, kind, subject := b.match(id)
	if g.role == RoleNone {
		return Match{}
	}
	return Match{Role: g.role, Kind: kind, Subject: subject, Position: b.bindings[g.binding].Position}
}

func (b *Bindings) match(id *identity.Identity) (grant, SubjectKind, string) {
	if b == nil || id == nil {
		return grant{}, 0, ""
	}
	best, kind, subject := b.users[id.User], SubjectUser, id.User
	for _, g := range id.Groups {
		if gr := b.groups[g]; gr.role > best.role {
			best, kind, subject = gr, SubjectGroup, g
		}
	}
	if id.ServiceAccount != "" {
		if sr := b.sas[id.ServiceAccount]; sr.role > best.role {
			best, kind, subject = sr, SubjectServiceAccount, id.ServiceAccount
		}
	}
	return best, kind, subject
}

// Subject is one name the bindings give a role to.
type Subject struct {
	Kind SubjectKind
	Name string
	// Role is the highest role the bindings give the name.
	Role Role
	// Positions are where every binding naming it is written, the one
	// that gives Role first.
	Positions []config.Position
}

// Subjects lists every name the bindings give a role to, by kind and
// name.
func (b *Bindings) Subjects() []Subject {
	if b == nil {
		return nil
	}
	var out []Subject
	add := func(kind SubjectKind, m map[string]grant, names func(config.Binding) []string) {
		for name, g := range m {
			s := Subject{Kind: kind, Name: name, Role: g.role, Positions: []config.Position{b.bindings[g.binding].Position}}
			for i, cb := range b.bindings {
				if i == g.binding {
					continue
				}
				for _, n := range names(cb) {
					if n == name {
						s.Positions = append(s.Positions, cb.Position)
						break
					}
				}
			}
			out = append(out, s)
		}
	}
	add(SubjectUser, b.users, func(cb config.Binding) []string { return cb.Users })
	add(SubjectGroup, b.groups, func(cb config.Binding) []string { return cb.Groups })
	add(SubjectServiceAccount, b.sas, func(cb config.Binding) []string { return cb.ServiceAccounts })
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}
