package authn

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/raygate/raygate/internal/identity"
)

// TokenCache is a bounded, least-recently-used cache of verified tokens,
// keyed by the token's SHA-256 (the token itself is not kept). An entry is
// trusted until the earlier of the token's expiry and the cache's TTL.
type TokenCache struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	ll   *list.List
	byID map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	key   [sha256.Size]byte
	id    *identity.Identity
	until time.Time
}

// NewTokenCache returns a cache of at most size entries, each trusted for at
// most ttl. A size of 0 returns nil (no caching).
func NewTokenCache(size int, ttl time.Duration) *TokenCache {
	if size <= 0 {
		return nil
	}
	return &TokenCache{max: size, ttl: ttl, ll: list.New(), byID: make(map[[sha256.Size]byte]*list.Element, min(size, 1024))}
}

// Get returns the cached identity for key if it is still valid at now.
func (c *TokenCache) Get(key [sha256.Size]byte, now time.Time) (*identity.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.until) {
		c.ll.Remove(el)
		delete(c.byID, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.id, true
}

// Put caches id under key until the earlier of until and now+TTL.
func (c *TokenCache) Put(key [sha256.Size]byte, id *identity.Identity, until, now time.Time) {
	if limit := now.Add(c.ttl); until.After(limit) {
		until = limit
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[key]; ok {
		el.Value = &cacheEntry{key: key, id: id, until: until}
		c.ll.MoveToFront(el)
		return
	}
	c.byID[key] = c.ll.PushFront(&cacheEntry{key: key, id: id, until: until})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.byID, last.Value.(*cacheEntry).key)
	}
}

// Len is the number of cached entries.
func (c *TokenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
