// Package access reads who may do what under a raygate config, with the
// gateway's own decision functions: who holds an action on a cluster
// (WhoCan), what one caller may do on every cluster (Of), and how
// effective access changes between two configs (Diff).
package access

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/rbac"
	"github.com/raygate/raygate/internal/route"
)

// Via is where a role comes from: a config binding.
type Via struct {
	// Binding names the subject the binding matched ("group team-a").
	Binding string `json:"binding"`
	// Role is the role it gives.
	Role string `json:"role"`
	// File, Line and Field are where it is written.
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field,omitempty"`
}

func viaOf(m authz.Match) Via {
	return Via{Binding: m.Kind.String() + " " + m.Subject, Role: m.Role.String(), File: m.Position.File, Line: m.Position.Line, Field: m.Position.Field}
}

// String is "FILE:LINE (field)".
func (v Via) String() string {
	return config.Position{File: v.File, Line: v.Line, Field: v.Field}.String() + " (" + v.Field + ")"
}

// Holder is a name that holds an action on a cluster.
type Holder struct {
	// Kind is user, group, serviceAccount or apiKey.
	Kind string `json:"kind"`
	// Name is the name; for an API key, the key's name in the config.
	Name string `json:"name"`
	// Role is its role on the cluster.
	Role string `json:"role"`
	// As is, for an API key, the identity it authenticates as.
	As string `json:"as,omitempty"`
	// Via is the binding that gives Role.
	Via Via `json:"via"`
}

// Kinds of holders and subjects.
const (
	KindUser           = "user"
	KindGroup          = "group"
	KindServiceAccount = "serviceAccount"
	KindAPIKey         = "apiKey"
)

// RBACGrant is a Kubernetes RBAC binding that gives a role on a cluster.
type RBACGrant struct {
	rbac.Grant
	// RaygateRole is the role its highest verb gives.
	RaygateRole string `json:"raygate_role"`
}

// WhoCanResult is everyone who holds an action on a cluster.
type WhoCanResult struct {
	Action  string `json:"action"`
	Cluster string `json:"cluster"`
	// ClusterSource is config, or kubernetes-assumed for a cluster
	// discovery would serve.
	ClusterSource string `json:"cluster_source"`
	// RequiredRole is the least role the action needs there.
	RequiredRole string `json:"required_role"`
	// RaisedFrom is the action's default least role when the cluster's
	// actionRoles raise it to RequiredRole.
	RaisedFrom string `json:"raised_from,omitempty"`
	// OwnJobsOnly says that the action (jobs.stop) is only on the
	// holder's own jobs; anyone else's is jobs.stop.any.
	OwnJobsOnly bool `json:"own_jobs_only,omitempty"`
	// Holders are the names the config gives the action to.
	Holders []Holder `json:"holders"`
	// RBAC is "" when Kubernetes RBAC is no source of roles, "not asked"
	// or "asked".
	RBAC string `json:"rbac,omitempty"`
	// RBACGrants are the RBAC bindings that give the action, when RBAC
	// was asked.
	RBACGrants []RBACGrant `json:"rbac_grants,omitempty"`
}

// ParseAction reads an action name.
func ParseAction(s string) (authz.Action, error) {
	for _, a := range authz.Actions {
		if string(a) == s {
			return a, nil
		}
	}
	names := make([]string, len(authz.Actions))
	for i, a := range authz.Actions {
		names[i] = string(a)
	}
	return "", fmt.Errorf("access: unknown action %q (one of %v)", s, names)
}

// leastRole is the least role that may perform action on c.
func leastRole(c *route.Cluster, action authz.Action) authz.Role {
	return decision.Allows(c, authz.RoleAdmin, action).Needs
}

// WhoCan lists who holds action on the cluster namespace/name under p's
// config: every user, group and service account a binding gives a role
// that allows it, every API key whose identity does, and, when grants is
// set (Kubernetes RBAC asked), the RBAC bindings that do.
func WhoCan(ctx context.Context, p explain.Policy, action authz.Action, namespace, name string, grants func(ctx context.Context, namespace, name string) ([]rbac.Grant, error)) (*WhoCanResult, error) {
	c := p.Registry.Lookup(namespace, name)
	if c == nil {
		return nil, fmt.Errorf("access: no cluster %s/%s in %s", namespace, name, p.Config.File)
	}
	need := leastRole(c, action)
	out := &WhoCanResult{Action: string(action), Cluster: c.Key, ClusterSource: "config", RequiredRole: need.String(),
		OwnJobsOnly: action == authz.ActionJobsStop, Holders: []Holder{}}
	if c.Source == route.SourceKubernetes {
		out.ClusterSource = "kubernetes-assumed"
	}
	if def := authz.LeastRole(action); need != def {
		out.RaisedFrom = def.String()
	}
	for _, s := range c.Bindings.Subjects() {
		if !decision.Allows(c, s.Role, action).Allow {
			continue
		}
		out.Holders = append(out.Holders, Holder{Kind: s.Kind.String(), Name: s.Name, Role: s.Role.String(),
			Via: viaOf(authz.Match{Role: s.Role, Kind: s.Kind, Subject: s.Name, Position: s.Positions[0]})})
	}
	for _, k := range p.Config.Authentication.APIKeys {
		m := c.Bindings.Match(&identity.Identity{User: k.User, Groups: k.Groups})
		if m.Role == authz.RoleNone || !decision.Allows(c, m.Role, action).Allow {
			continue
		}
		as := "user " + k.User
		if len(k.Groups) > 0 {
			as += ", groups " + strings.Join(k.Groups, ", ")
		}
		out.Holders = append(out.Holders, Holder{Kind: KindAPIKey, Name: k.Name, Role: m.Role.String(), As: as, Via: viaOf(m)})
	}
	sort.SliceStable(out.Holders, func(i, j int) bool { return rank(out.Holders[i].Kind) < rank(out.Holders[j].Kind) })
	if p.RBAC() {
		out.RBAC = "not asked"
		if grants != nil {
			out.RBAC = "asked"
			gs, err := grants(ctx, namespace, name)
			if err != nil {
				return nil, err
			}
			for _, g := range gs {
				if decision.Allows(c, g.RaygateRole, action).Allow {
					out.RBACGrants = append(out.RBACGrants, RBACGrant{Grant: g, RaygateRole: g.RaygateRole.String()})
				}
			}
		}
	}
	return out, nil
}

func rank(kind string) int {
	switch kind {
	case KindUser:
		return 0
	case KindGroup:
		return 1
	case KindServiceAccount:
		return 2
	}
	return 3
}

func roleOf(name string) authz.Role {
	r, _ := authz.ParseRole(name)
	return r
}
