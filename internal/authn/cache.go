package authn

import (
	"crypto/sha256"
	"time"

	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/lru"
)

// TokenCache is a bounded, least-recently-used cache of verified tokens,
// keyed by the token's SHA-256 (the token itself is not kept). An entry is
// trusted until the earlier of the token's expiry and the cache's TTL.
type TokenCache struct {
	ttl time.Duration
	c   *lru.Cache[[sha256.Size]byte, *identity.Identity]
}

// NewTokenCache returns a cache of at most size entries, each trusted for at
// most ttl. A size of 0 returns nil (no caching).
func NewTokenCache(size int, ttl time.Duration) *TokenCache {
	if size <= 0 {
		return nil
	}
	return &TokenCache{ttl: ttl, c: lru.New[[sha256.Size]byte, *identity.Identity](size)}
}

// Get returns the cached identity for key if it is still valid at now.
func (c *TokenCache) Get(key [sha256.Size]byte, now time.Time) (*identity.Identity, bool) {
	return c.c.Get(key, now)
}

// Put caches id under key until the earlier of until and now+TTL.
func (c *TokenCache) Put(key [sha256.Size]byte, id *identity.Identity, until, now time.Time) {
	if limit := now.Add(c.ttl); until.After(limit) {
		until = limit
	}
	c.c.Put(key, id, until, now)
}

// Len is the number of cached entries.
func (c *TokenCache) Len() int { return c.c.Len() }
