// Package lru is a bounded, least-recently-used cache whose entries expire.
// raygate keeps every verdict it caches (verified tokens, token reviews,
// access reviews) in one of these, so no cache can grow without bound and
// no entry outlives the time its owner gave it.
package lru

import (
	"container/list"
	"sync"
	"time"
)

// Cache maps keys to values until each entry's expiry. It holds at most
// Size entries, evicting the least recently used first. It is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	byKey map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	val   V
	until time.Time
}

// New returns a cache of at most size entries; a size of 0 or less
// returns nil, which caches nothing (Get misses, Put drops).
func New[K comparable, V any](size int) *Cache[K, V] {
	if size <= 0 {
		return nil
	}
	return &Cache[K, V]{max: size, ll: list.New(), byKey: make(map[K]*list.Element, min(size, 1024))}
}

// Get returns the value cached under key if it has not expired at now.
func (c *Cache[K, V]) Get(key K, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[K, V])
	if !now.Before(e.until) {
		c.ll.Remove(el)
		delete(c.byKey, key)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// Put caches val under key until until; an entry already expired at now
// is not stored (and removes an older entry for key).
func (c *Cache[K, V]) Put(key K, val V, until, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(until) {
		if el, ok := c.byKey[key]; ok {
			c.ll.Remove(el)
			delete(c.byKey, key)
		}
		return
	}
	if el, ok := c.byKey[key]; ok {
		el.Value = &entry[K, V]{key: key, val: val, until: until}
		c.ll.MoveToFront(el)
		return
	}
	c.byKey[key] = c.ll.PushFront(&entry[K, V]{key: key, val: val, until: until})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.byKey, last.Value.(*entry[K, V]).key)
	}
}

// Len is the number of entries held, expired ones included until they are
// next looked up or evicted.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
