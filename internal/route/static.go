package route

import (
	"fmt"
	"net/url"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
)

// FromConfig builds the static clusters of a validated config, with their
// bindings and their least role per action (actionRoles). Ray tokens are not read: whoever serves the clusters sets
// Token.
func FromConfig(cs []config.Cluster) (Static, error) {
	s := make(Static, len(cs))
	for _, c := range cs {
		up, err := url.Parse(c.Upstream)
		if err != nil {
			return nil, fmt.Errorf("route: cluster %s/%s: upstream: %w", c.Namespace, c.Name, err)
		}
		policy, err := authz.NewPolicy(c.ActionRoles)
		if err != nil {
			return nil, fmt.Errorf("route: cluster %s/%s: %w", c.Namespace, c.Name, err)
		}
		rc := &Cluster{
			Namespace: c.Namespace, Name: c.Name, Key: c.Namespace + "/" + c.Name,
			Upstream: up, Bindings: authz.NewBindings(c.Access), Policy: policy, Source: SourceStatic,
		}
		s[rc.Key] = rc
	}
	return s, nil
}
