package lru

import (
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	c := New[string, int](4)
	now := time.Unix(1000, 0)
	c.Put("a", 1, now.Add(time.Second), now)
	if v, ok := c.Get("a", now); !ok || v != 1 {
		t.Fatalf("Get before expiry = %v, %v", v, ok)
	}
	if _, ok := c.Get("a", now.Add(time.Second)); ok {
		t.Fatal("entry served at its expiry")
	}
	if c.Len() != 0 {
		t.Fatalf("expired entry kept: Len = %d", c.Len())
	}
}

func TestPutExpiredRemovesOld(t *testing.T) {
	c := New[string, int](4)
	now := time.Unix(1000, 0)
	c.Put("a", 1, now.Add(time.Minute), now)
	c.Put("a", 2, now, now)
	if _, ok := c.Get("a", now); ok {
		t.Fatal("an already expired Put left the older entry in place")
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[int, int](2)
	now := time.Unix(1000, 0)
	later := now.Add(time.Hour)
	c.Put(1, 1, later, now)
	c.Put(2, 2, later, now)
	c.Get(1, now) // 2 is now the least recently used
	c.Put(3, 3, later, now)
	if _, ok := c.Get(2, now); ok {
		t.Fatal("least recently used entry kept")
	}
	for _, k := range []int{1, 3} {
		if _, ok := c.Get(k, now); !ok {
			t.Fatalf("entry %d evicted", k)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
}

func TestNilCachesNothing(t *testing.T) {
	c := New[string, int](0)
	now := time.Unix(1000, 0)
	c.Put("a", 1, now.Add(time.Hour), now)
	if _, ok := c.Get("a", now); ok || c.Len() != 0 {
		t.Fatal("a size-0 cache cached")
	}
}
