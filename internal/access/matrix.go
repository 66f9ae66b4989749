package access

import (
	"context"
	"sort"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/route"
)

// Discovered is the name of the row (and the cluster in a diff) that
// stands for every cluster discovery serves: they all get
// discovery.kubernetes.access.
const Discovered = "(discovered)"

// Matrix is what one caller may do on every cluster.
type Matrix struct {
	Subject explain.Subject `json:"subject"`
	// Actions are every action, in order of the least role they need.
	Actions []string `json:"actions"`
	// Clusters has a row per cluster, sorted; the last is Discovered when
	// the config discovers clusters.
	Clusters []Row `json:"clusters"`
	// RBAC is "" when Kubernetes RBAC is no source of roles, "not asked"
	// or "asked".
	RBAC string `json:"rbac,omitempty"`
}

// Row is the caller's access to one cluster.
type Row struct {
	Cluster string `json:"cluster"`
	// Role is the caller's role, "none" for none (every request is 404).
	Role       string `json:"role"`
	RoleSource string `json:"role_source,omitempty"`
	// Via is the binding that gives Role, when one does.
	Via *Via `json:"via,omitempty"`
	// Allowed are the actions the role allows there.
	Allowed []string `json:"allowed"`
	// Error says why the role could not be resolved (every request would
	// be refused with 503).
	Error string `json:"error,omitempty"`
}

// Of is id's matrix of clusters and actions under p, with roles resolved
// as the gateway resolves them.
func Of(ctx context.Context, p explain.Policy, id *identity.Identity) *Matrix {
	m := &Matrix{Subject: explain.Subject{User: id.User, Groups: id.Groups, ServiceAccount: id.ServiceAccount}, Clusters: []Row{}}
	if m.Subject.Groups == nil {
		m.Subject.Groups = []string{}
	}
	for _, a := range authz.Actions {
		m.Actions = append(m.Actions, string(a))
	}
	cs := p.Registry.Clusters()
	sort.Slice(cs, func(i, j int) bool { return cs[i].Key < cs[j].Key })
	for _, c := range cs {
		role, source, err := p.Roles.RoleOf(ctx, id, authz.Resource{Namespace: c.Namespace, Name: c.Name, Bindings: c.Bindings})
		row := Row{Cluster: c.Key}
		if err != nil {
			row.Role, row.Error, row.Allowed = authz.RoleNone.String(), err.Error(), []string{}
			m.Clusters = append(m.Clusters, row)
			continue
		}
		m.Clusters = append(m.Clusters, rowOf(c, id, role, source))
	}
	if d := p.Config.Discovery.Kubernetes; d != nil {
		c := &route.Cluster{Key: Discovered, Bindings: authz.NewBindings(d.Access), Source: route.SourceKubernetes}
		role, source, _ := authz.BindingsOnly{}.RoleOf(ctx, id, authz.Resource{Bindings: c.Bindings})
		m.Clusters = append(m.Clusters, rowOf(c, id, role, source))
	}
	if p.RBAC() {
		m.RBAC = "not asked"
		if p.RBACAsked {
			m.RBAC = "asked"
		}
	}
	return m
}

func rowOf(c *route.Cluster, id *identity.Identity, role authz.Role, source string) Row {
	row := Row{Cluster: c.Key, Role: role.String(), Allowed: []string{}}
	if role == authz.RoleNone {
		return row
	}
	row.RoleSource = source
	if source == authz.ReasonBinding {
		v := viaOf(c.Bindings.Match(id))
		row.Via = &v
	}
	for _, a := range authz.Actions {
		if decision.Allows(c, role, a).Allow {
			row.Allowed = append(row.Allowed, string(a))
		}
	}
	return row
}
