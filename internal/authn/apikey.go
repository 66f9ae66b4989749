package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// APIKeys authenticates static API keys by their SHA-256; the keys
// themselves are never stored.
type APIKeys struct {
	byHash map[[sha256.Size]byte]*identity.Identity
}

// NewAPIKeys builds the key table from validated config.
func NewAPIKeys(keys []config.APIKey) *APIKeys {
	a := &APIKeys{byHash: make(map[[sha256.Size]byte]*identity.Identity, len(keys))}
	for _, k := range keys {
		b, err := hex.DecodeString(strings.ToLower(k.SHA256))
		if err != nil || len(b) != sha256.Size {
			continue // config validation refuses these
		}
		var h [sha256.Size]byte
		copy(h[:], b)
		a.byHash[h] = &identity.Identity{
			User:   k.User,
			Groups: slices.Clone(k.Groups),
			Method: identity.MethodAPIKey,
			Source: k.Name,
		}
	}
	return a
}

// Len is the number of configured keys.
func (a *APIKeys) Len() int { return len(a.byHash) }

// Lookup returns the identity of key, or a Failure. Hashing first makes the
// table lookup independent of how much of a guess matches a real key.
func (a *APIKeys) Lookup(key string) (*identity.Identity, error) {
	id, ok := a.byHash[sha256.Sum256([]byte(key))]
	if !ok {
		return nil, fail(ReasonUnknownAPIKey, "invalid API key", nil)
	}
	return id, nil
}
