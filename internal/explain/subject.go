package explain

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/identity"
)

// Identity is the caller named by a user, groups and a service account
// ("namespace/name"), as authentication would report it. A service
// account is the user system:serviceaccount:NAMESPACE:NAME, in the groups
// the API server's TokenReview reports for it (system:serviceaccounts,
// system:serviceaccounts:NAMESPACE, system:authenticated) besides groups.
// user may be empty for a service account; otherwise it must match it.
func Identity(user string, groups []string, serviceAccount string) (*identity.Identity, error) {
	for _, g := range groups {
		if strings.TrimSpace(g) == "" {
			return nil, errors.New("explain: a group is empty")
		}
	}
	id := &identity.Identity{User: user, Groups: slices.Clone(groups)}
	if serviceAccount != "" {
		ns, name, ok := strings.Cut(serviceAccount, "/")
		username := authn.ServiceAccountPrefix + ns + ":" + name
		if _, _, valid := authn.ParseServiceAccount(username); !ok || !valid {
			return nil, fmt.Errorf("explain: service account %q is not namespace/name", serviceAccount)
		}
		if user != "" && user != username {
			return nil, fmt.Errorf("explain: a service account's user is %s, not %s", username, user)
		}
		id.User, id.ServiceAccount = username, serviceAccount
		for _, g := range []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"} {
			if !slices.Contains(id.Groups, g) {
				id.Groups = append(id.Groups, g)
			}
		}
	}
	if strings.TrimSpace(id.User) == "" {
		return nil, errors.New("explain: no user (give a user or a service account)")
	}
	return id, nil
}
