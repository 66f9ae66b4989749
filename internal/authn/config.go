package authn

import (
	"fmt"

	"github.com/raygate/raygate/internal/config"
)

// NewBearer builds the Bearer authenticator of a validated config's
// authentication, as the gateway authenticates with it: each OIDC issuer
// verified with the key set keySet returns for it (so a reload can keep
// the key sets it has), the API keys, and k8s for ServiceAccount tokens
// (nil when authentication.kubernetes is not set). It has no token cache.
func NewBearer(a config.Authentication, keySet func(config.OIDC) (*KeySet, error), k8s *Kubernetes, obs Observer) (*Bearer, error) {
	b := &Bearer{Issuers: make(map[string]TokenVerifier, len(a.OIDC)), Kubernetes: k8s, Observer: obs}
	for _, o := range a.OIDC {
		ks, err := keySet(o)
		if err != nil {
			return nil, fmt.Errorf("authn: oidc %s: %w", o.Issuer, err)
		}
		b.Issuers[o.Issuer] = NewOIDC(o, ks)
	}
	if len(a.APIKeys) > 0 {
		b.APIKeys = NewAPIKeys(a.APIKeys)
	}
	return b, nil
}
