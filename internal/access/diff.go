package access

import (
	"sort"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/route"
)

// Change is one (subject, cluster, action) whose access differs between
// two configs.
type Change struct {
	// Subject is "KIND NAME": a user, a group (every member of it), a
	// service account, or an API key (the identity it authenticates as).
	Subject string `json:"subject"`
	Cluster string `json:"cluster"`
	Action  string `json:"action"`
	// Role is the role that allows the action: in the new config for a
	// gain, in the old one for a loss.
	Role string `json:"role"`
	// Via is the binding that gives Role.
	Via Via `json:"via"`
}

// DiffResult is the change in effective access from Old to New.
type DiffResult struct {
	Old    string   `json:"old"`
	New    string   `json:"new"`
	Gained []Change `json:"gained"`
	Lost   []Change `json:"lost"`
	// RBAC is true when either config takes roles from Kubernetes RBAC,
	// which is outside both files and not compared.
	RBAC bool `json:"rbac,omitempty"`
}

// subject is a name some binding or API key of either config names.
type subject struct{ kind, name string }

// side is one config's clusters and API keys, as the gateway builds them.
type side struct {
	clusters map[string]*route.Cluster
	keys     map[string]config.APIKey
}

func sideOf(cfg *config.Config) (side, error) {
	static, err := route.FromConfig(cfg.Clusters)
	if err != nil {
		return side{}, err
	}
	s := side{clusters: map[string]*route.Cluster{}, keys: map[string]config.APIKey{}}
	for k, c := range static {
		s.clusters[k] = c
	}
	if d := cfg.Discovery.Kubernetes; d != nil {
		s.clusters[Discovered] = &route.Cluster{Key: Discovered, Bindings: authz.NewBindings(d.Access), Source: route.SourceKubernetes}
	}
	for _, k := range cfg.Authentication.APIKeys {
		s.keys[k.Name] = k
	}
	return s, nil
}

// identity is who subj is under this config; nil for an API key it does
// not have.
func (s side) identity(subj subject) *identity.Identity {
	switch subj.kind {
	case KindUser:
		return &identity.Identity{User: subj.name}
	case KindGroup:
		return &identity.Identity{Groups: []string{subj.name}}
	case KindServiceAccount:
		return &identity.Identity{ServiceAccount: subj.name}
	}
	k, ok := s.keys[subj.name]
	if !ok {
		return nil
	}
	return &identity.Identity{User: k.User, Groups: k.Groups}
}

// allows says whether subj may perform action on cluster under this
// config, and by which binding.
func (s side) allows(subj subject, cluster string, action authz.Action) (bool, authz.Match) {
	c, id := s.clusters[cluster], s.identity(subj)
	if c == nil || id == nil {
		return false, authz.Match{}
	}
	m := c.Bindings.Match(id)
	return decision.Allows(c, m.Role, action).Allow, m
}

// Diff compares the effective access of old and new: for every name a
// binding or API key of either config mentions, on every cluster of
// either, each action it gains or loses. Names are symbolic: a group
// stands for every member, whoever the identity provider puts in it; a
// user's access is also that of its groups.
func Diff(old, new *config.Config) (*DiffResult, error) {
	a, err := sideOf(old)
	if err != nil {
		return nil, err
	}
	b, err := sideOf(new)
	if err != nil {
		return nil, err
	}
	out := &DiffResult{Old: old.File, New: new.File, Gained: []Change{}, Lost: []Change{},
		RBAC: old.Authorization.Kubernetes != nil || new.Authorization.Kubernetes != nil}
	subjects := subjectsOf(old, new)
	clusters := map[string]bool{}
	for k := range a.clusters {
		clusters[k] = true
	}
	for k := range b.clusters {
		clusters[k] = true
	}
	keys := make([]string, 0, len(clusters))
	for k := range clusters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, subj := range subjects {
		for _, cl := range keys {
			for _, act := range authz.Actions {
				was, wm := a.allows(subj, cl, act)
				is, im := b.allows(subj, cl, act)
				switch {
				case is && !was:
					out.Gained = append(out.Gained, Change{Subject: subj.kind + " " + subj.name, Cluster: cl, Action: string(act), Role: im.Role.String(), Via: viaOf(im)})
				case was && !is:
					out.Lost = append(out.Lost, Change{Subject: subj.kind + " " + subj.name, Cluster: cl, Action: string(act), Role: wm.Role.String(), Via: viaOf(wm)})
				}
			}
		}
	}
	return out, nil
}

// subjectsOf lists every name either config's bindings and API keys
// mention, sorted by kind and name.
func subjectsOf(cfgs ...*config.Config) []subject {
	seen := map[subject]bool{}
	add := func(kind string, names []string) {
		for _, n := range names {
			seen[subject{kind, n}] = true
		}
	}
	bindings := func(bs []config.Binding) {
		for _, b := range bs {
			add(KindUser, b.Users)
			add(KindGroup, b.Groups)
			add(KindServiceAccount, b.ServiceAccounts)
		}
	}
	for _, cfg := range cfgs {
		for _, c := range cfg.Clusters {
			bindings(c.Access)
		}
		if d := cfg.Discovery.Kubernetes; d != nil {
			bindings(d.Access)
		}
		for _, k := range cfg.Authentication.APIKeys {
			add(KindAPIKey, []string{k.Name})
			add(KindUser, []string{k.User})
			add(KindGroup, k.Groups)
		}
	}
	out := make([]subject, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if rank(out[i].kind) != rank(out[j].kind) {
			return rank(out[i].kind) < rank(out[j].kind)
		}
		return out[i].name < out[j].name
	})
	return out
}
