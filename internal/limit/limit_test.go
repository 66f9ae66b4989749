package limit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/config"
)

func TestDecide(t *testing.T) {
	r := rule{rate: 2, burst: 3, concurrency: 2, streams: 1}
	for _, tc := range []struct {
		name   string
		s      state
		stream bool
		at     time.Duration
		kind   string // "" admitted
		retry  time.Duration
		after  state
	}{
		{name: "fresh", s: state{tokens: 3}, after: state{tokens: 2, inflight: 1}},
		{name: "last token", s: state{tokens: 1}, after: state{tokens: 0, inflight: 1}},
		{name: "empty bucket", s: state{tokens: 0}, kind: KindRate, retry: 500 * time.Millisecond},
		{name: "half a token", s: state{tokens: 0.5}, kind: KindRate, retry: 250 * time.Millisecond},
		{name: "refilled", s: state{tokens: 0}, at: time.Second, after: state{tokens: 1, at: time.Second, inflight: 1}},
		{name: "refill capped at burst", s: state{tokens: 0}, at: time.Hour, after: state{tokens: 2, at: time.Hour, inflight: 1}},
		{name: "clock behind the state", s: state{tokens: 1, at: time.Second}, at: 0, after: state{tokens: 0, at: time.Second, inflight: 1}},
		{name: "concurrency full", s: state{tokens: 3, inflight: 2}, kind: KindConcurrency, retry: time.Second},
		{name: "concurrency full spends no token", s: state{tokens: 1, inflight: 2}, kind: KindConcurrency, retry: time.Second},
		{name: "stream beside full concurrency", s: state{tokens: 3, inflight: 2}, stream: true, after: state{tokens: 2, inflight: 2, streams: 1}},
		{name: "streams full", s: state{tokens: 3, streams: 1}, stream: true, kind: KindStreams, retry: time.Second},
		{name: "request beside full streams", s: state{tokens: 3, streams: 1}, after: state{tokens: 2, inflight: 1, streams: 1}},
		{name: "stream spends a token", s: state{tokens: 0}, stream: true, kind: KindRate, retry: 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ref := decide(tc.s, r, tc.stream, tc.at)
			if tc.kind == "" {
				if ref != nil {
					t.Fatalf("refused: %+v", ref)
				}
				if got != tc.after {
					t.Fatalf("state %+v, want %+v", got, tc.after)
				}
				return
			}
			if ref == nil || ref.Kind != tc.kind || ref.RetryAfter != tc.retry {
				t.Fatalf("refusal %+v, want %s after %s", ref, tc.kind, tc.retry)
			}
			if got != tc.s {
				t.Fatalf("a refusal changed the state: %+v", got)
			}
		})
	}
}

func TestDecideUnlimited(t *testing.T) {
	s := state{}
	for i := 0; i < 1000; i++ {
		var ref *Refusal
		if s, ref = decide(s, rule{}, i%2 == 0, 0); ref != nil {
			t.Fatalf("no limits refused: %+v", ref)
		}
	}
}

func TestNewWithoutLimitsIsNil(t *testing.T) {
	if l := New(config.Limits{MaxUsers: 10}); l != nil {
		t.Fatal("a limiter with no limits")
	}
	var l *Limiter
	tk, ref := l.Admit("alice", "a/b", false, time.Now())
	if ref != nil {
		t.Fatal("nil limiter refused")
	}
	tk.Release()
}

func TestAdmitScopes(t *testing.T) {
	t0 := time.Now()
	l := New(config.Limits{
		PerUser:    config.Limit{RequestsPerSecond: 1, Burst: 2, ConcurrentRequests: 5},
		PerCluster: config.Limit{ConcurrentRequests: 3, ConcurrentStreams: 1},
		MaxUsers:   100,
	})
	l.epoch = t0
	admit := func(user, cluster string, stream bool) (Ticket, *Refusal) {
		return l.Admit(user, cluster, stream, t0)
	}
	a1, r := admit("alice", "c1", false)
	if r != nil {
		t.Fatal(r)
	}
	if _, r = admit("alice", "c1", false); r != nil {
		t.Fatal(r)
	}
	// alice spent her burst; bob is not affected.
	if _, r = admit("alice", "c2", false); r == nil || r.Scope != ScopeUser || r.Kind != KindRate || r.RetryAfterSeconds() != "1" {
		t.Fatalf("alice's third request: %+v", r)
	}
	if r.Reason() != "limit: user rate" {
		t.Fatalf("reason %q", r.Reason())
	}
	// c1 has 2 in flight; bob's request makes 3, the next is refused by
	// the cluster and holds nothing of carol's.
	if _, r = admit("bob", "c1", false); r != nil {
		t.Fatal(r)
	}
	if _, r = admit("carol", "c1", false); r == nil || r.Scope != ScopeCluster || r.Kind != KindConcurrency {
		t.Fatalf("fourth request to c1: %+v", r)
	}
	if got := l.user.get("carol"); got.inflight != 0 {
		t.Fatalf("a cluster refusal left carol %d in flight", got.inflight)
	}
	// Releasing one of alice's frees a cluster slot.
	a1.Release()
	a1.Release() // a second release is harmless
	if _, r = admit("carol", "c1", false); r != nil {
		t.Fatalf("after a release: %+v", r)
	}
	// Streams have their own slots.
	s1, r := admit("dave", "c1", true)
	if r != nil {
		t.Fatalf("first stream: %+v", r)
	}
	if _, r = admit("erin", "c1", true); r == nil || r.Kind != KindStreams || r.Scope != ScopeCluster {
		t.Fatalf("second stream: %+v", r)
	}
	s1.Release()
	if _, r = admit("erin", "c1", true); r != nil {
		t.Fatalf("stream after release: %+v", r)
	}
}

func TestRefusalMessage(t *testing.T) {
	r := &Refusal{Scope: ScopeUser, Kind: KindRate, RetryAfter: 1500 * time.Millisecond}
	if r.RetryAfterSeconds() != "2" || r.Message() != "too many requests for this user; retry after 2s" {
		t.Fatalf("%q %q", r.RetryAfterSeconds(), r.Message())
	}
	if (&Refusal{RetryAfter: time.Millisecond}).RetryAfterSeconds() != "1" {
		t.Fatal("Retry-After under a second must round up to 1")
	}
}

// get returns a copy of key's state (zero when none is kept).
func (k *keyed) get(key string) state {
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		st := s.m[key]
		s.mu.Unlock()
		if st != nil {
			return *st
		}
	}
	return state{}
}

// TestManyUsersBoundedMemory: a stream of distinct users does not grow the
// state beyond what is busy; idle state is forgotten without changing any
// decision.
func TestManyUsersBoundedMemory(t *testing.T) {
	t0 := time.Now()
	l := New(config.Limits{PerUser: config.Limit{RequestsPerSecond: 10, Burst: 1}, MaxUsers: 1000})
	l.epoch = t0
	at := t0
	for i := 0; i < 200000; i++ {
		at = at.Add(time.Millisecond)
		tk, r := l.Admit(fmt.Sprint("user-", i), "c", false, at)
		if r != nil {
			t.Fatalf("user %d refused: %+v", i, r)
		}
		tk.Release()
	}
	// Each user's bucket is full again 100ms after its request, and every
	// shard sweeps at least every sweepEvery: only recent users are kept.
	if n := l.Tracked(); n > 1000 {
		t.Fatalf("%d users tracked, want at most maxUsers (1000)", n)
	}
	// A user who is limited is not forgotten while it matters.
	l2 := New(config.Limits{PerUser: config.Limit{RequestsPerSecond: 0.001, Burst: 1}, MaxUsers: 16})
	l2.epoch = t0
	if _, r := l2.Admit("mallory", "c", false, t0); r != nil {
		t.Fatal(r)
	}
	for i := 0; i < 1000; i++ {
		tk, _ := l2.Admit(fmt.Sprint("u", i), "c", false, t0.Add(time.Duration(i)*100*time.Millisecond))
		tk.Release()
	}
	if _, r := l2.Admit("mallory", "c", false, t0.Add(100*time.Second)); r == nil || r.Kind != KindRate {
		t.Fatalf("mallory's budget was forgotten: %+v", r)
	}
}

// TestMaxUsersBusy: when every kept user is busy, a new one is refused
// until one finishes.
func TestMaxUsersBusy(t *testing.T) {
	t0 := time.Now()
	l := New(config.Limits{PerUser: config.Limit{ConcurrentRequests: 10}, MaxUsers: 1})
	l.epoch = t0
	held := map[string]Ticket{}
	var refused *Refusal
	var refusedUser string
	for i := 0; i < 100 && refused == nil; i++ {
		u := fmt.Sprint("u", i)
		tk, r := l.Admit(u, "c", false, t0)
		if r != nil {
			refused, refusedUser = r, u
			break
		}
		held[u] = tk
	}
	if refused == nil || refused.Kind != KindUsers || refused.Scope != ScopeUser || refused.Reason() != "limit: too many users" {
		t.Fatalf("no users refusal with %d busy users: %+v", len(held), refused)
	}
	for _, tk := range held {
		tk.Release()
	}
	if _, r := l.Admit(refusedUser, "c", false, t0.Add(time.Second)); r != nil {
		t.Fatalf("after the busy users finished: %+v", r)
	}
}

func TestConcurrentAdmitRelease(t *testing.T) {
	l := New(config.Limits{PerUser: config.Limit{ConcurrentRequests: 4}, PerCluster: config.Limit{ConcurrentRequests: 8}, MaxUsers: 100})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				tk, r := l.Admit(fmt.Sprint("u", g%3), "c", i%5 == 0, time.Now())
				if r == nil {
					tk.Release()
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 3; i++ {
		if st := l.user.get(fmt.Sprint("u", i)); st.inflight != 0 || st.streams != 0 {
			t.Fatalf("u%d left %+v", i, st)
		}
	}
	if st := l.cluster.get("c"); st.inflight != 0 || st.streams != 0 {
		t.Fatalf("cluster left %+v", st)
	}
}

// BenchmarkAdmit is the cost limits add to a request: one Admit and one
// Release, user and cluster limits on, many users. The cluster's rate is
// far above what the benchmark reaches (millions a second on two cores).
func BenchmarkAdmit(b *testing.B) {
	l := New(config.Limits{
		PerUser:    config.Limit{RequestsPerSecond: 1e6, Burst: 1e6, ConcurrentRequests: 1000},
		PerCluster: config.Limit{RequestsPerSecond: 1e9, Burst: 1e9, ConcurrentRequests: 100000},
		MaxUsers:   100000,
	})
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprint("user-", i, "@example.com")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tk, r := l.Admit(names[i%len(names)], "team-a/ray1", false, time.Now())
			if r != nil {
				b.Fatal(r)
			}
			tk.Release()
			i++
		}
	})
}
