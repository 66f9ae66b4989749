package authn

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/identity"
)

// countingTokens counts the verifications that reach a verifier.
type countingTokens struct {
	inner TokenVerifier
	calls atomic.Int64
}

func (c *countingTokens) Verify(ctx context.Context, tok string) (*identity.Identity, time.Time, error) {
	c.calls.Add(1)
	return c.inner.Verify(ctx, tok)
}

func bearerRequest(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// TestEachTokenVerifiedOnce: 10,000 distinct valid tokens, each presented
// by 8 callers at about the same time, cost one signature verification
// each, and every caller gets its own token's identity.
func TestEachTokenVerifiedOnce(t *testing.T) {
	const tokens, callers = 10000, 8
	f := newFakeIssuer(t)
	k := newECKey(t, "k1")
	f.publish(k)
	v := &countingTokens{inner: newVerifier(t, f, nil)}
	b := &Bearer{Issuers: map[string]TokenVerifier{f.srv.URL: v}, Cache: NewTokenCache(tokens, 5*time.Minute),
		Now: func() time.Time { return testNow }}
	toks := make([]string, tokens)
	for i := range toks {
		c := baseClaims(f.srv.URL)
		c["email"] = "user" + strconv.Itoa(i) + "@example.com"
		toks[i] = sign(t, k, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, tok := range toks {
				id, err := b.Authenticate(context.Background(), bearerRequest(tok))
				if err != nil {
					errs <- err
					return
				}
				if want := "user" + strconv.Itoa(i) + "@example.com"; id.User != want {
					errs <- fmt.Errorf("token %d authenticated as %q, want %q", i, id.User, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := v.calls.Load(); n != tokens {
		t.Fatalf("%d signature verifications for %d distinct tokens presented %d times each, want %d", n, tokens, callers, tokens)
	}
}

// blockingVerifier holds every verification until release is closed.
type blockingVerifier struct {
	calls   atomic.Int64
	started chan struct{}
	release chan struct{}
}

func (v *blockingVerifier) Verify(ctx context.Context, _ string) (*identity.Identity, time.Time, error) {
	if v.calls.Add(1) == 1 {
		close(v.started)
	}
	select {
	case <-v.release:
	case <-ctx.Done():
		return nil, time.Time{}, fail(ReasonIdPUnavailable, "identity provider unavailable", ctx.Err())
	}
	return &identity.Identity{User: "alice", Method: identity.MethodOIDC}, testNow.Add(time.Hour), nil
}

// TestConcurrentMissesShareOneVerification: callers that present a token
// while it is being verified wait for that verification; a waiter whose
// leader's caller went away verifies for itself instead of failing.
func TestConcurrentMissesShareOneVerification(t *testing.T) {
	v := &blockingVerifier{started: make(chan struct{}), release: make(chan struct{})}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(10, time.Hour),
		Now: func() time.Time { return testNow }}
	tok := jwtFor("https://idp")

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, err := b.Authenticate(leaderCtx, bearerRequest(tok))
		leader <- err
	}()
	<-v.started
	const waiters = 20
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if id, err := b.Authenticate(context.Background(), bearerRequest(tok)); err != nil || id.User != "alice" {
				failed.Add(1)
			}
		}()
	}
	// Let the waiters queue up behind the leader, then the leader's
	// caller goes away.
	for deadline := time.Now().Add(5 * time.Second); ; {
		b.mu.Lock()
		n := len(b.inflight)
		b.mu.Unlock()
		if n == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	cancelLeader()
	if err := <-leader; err == nil {
		t.Fatal("the canceled leader authenticated")
	}
	close(v.release)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d waiters failed after the leader's caller went away", failed.Load())
	}
	// The leader's verification, then one by a waiter after the leader
	// gave up, which the others joined.
	if n := v.calls.Load(); n != 2 {
		t.Fatalf("%d verifications, want 2", n)
	}
	calls := v.calls.Load()
	if _, err := b.Authenticate(context.Background(), bearerRequest(tok)); err != nil || v.calls.Load() != calls {
		t.Fatalf("the token is not cached after its verification: %v", err)
	}
}

// TestConcurrentMissesVerifyOnce: 50 callers presenting one new token at
// once cause one verification.
func TestConcurrentMissesVerifyOnce(t *testing.T) {
	v := &blockingVerifier{started: make(chan struct{}), release: make(chan struct{})}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(10, time.Hour),
		Now: func() time.Time { return testNow }}
	tok := jwtFor("https://idp")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Authenticate(context.Background(), bearerRequest(tok)); err != nil {
				t.Error(err)
			}
		}()
	}
	<-v.started
	time.Sleep(20 * time.Millisecond)
	close(v.release)
	wg.Wait()
	if n := v.calls.Load(); n != 1 {
		t.Fatalf("%d verifications of one token presented by 50 callers at once, want 1", n)
	}
}

// TestTokenCacheMemoryBounded: a million distinct valid tokens leave the
// cache at its size and the heap where a full cache puts it.
func TestTokenCacheMemoryBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a million tokens: not with -short or -race")
	}
	const size, tokens = 10000, 1000000
	heap, n := tokenFlood(t, size, tokens)
	t.Logf("%d distinct tokens through a cache of %d: %d cached, heap %.1f MiB above the start", tokens, size, n, float64(heap)/(1<<20))
	if n != size {
		t.Fatalf("%d entries cached, want %d", n, size)
	}
	// An entry (hash, identity, list element, map slot) is a few hundred
	// bytes: a full cache of 10,000 is a few MiB, whatever passed through.
	if heap > 32<<20 {
		t.Fatalf("heap grew by %d bytes for a cache of %d entries", heap, size)
	}
}

// tokenFlood authenticates tokens distinct JWTs (accepted by a verifier
// that checks nothing) through a cache of size, and returns the growth of
// the live heap and the entries cached.
func tokenFlood(tb testing.TB, size, tokens int) (int64, int) {
	v := &countingVerifier{until: testNow.Add(time.Hour)}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(size, time.Hour),
		Now: func() time.Time { return testNow }}
	before := liveHeap()
	r := httptest.NewRequest("GET", "/", nil)
	head := "eyJhbGciOiJFUzI1NiJ9."
	for i := 0; i < tokens; i++ {
		tok := head + b64(`{"iss":"https://idp","jti":"`+strconv.Itoa(i)+`"}`) + ".c2ln"
		r.Header["Authorization"] = []string{"Bearer " + tok}
		if _, err := b.Authenticate(context.Background(), r); err != nil {
			tb.Fatal(err)
		}
	}
	if int(v.calls.Load()) != tokens {
		tb.Fatalf("%d verifications of %d distinct tokens", v.calls.Load(), tokens)
	}
	heap := liveHeap() - before
	runtime.KeepAlive(b)
	return heap, b.Cache.Len()
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkTokenCacheHit is a request whose token is cached: parse, hash,
// look up.
func BenchmarkTokenCacheHit(b *testing.B) {
	v := &countingVerifier{until: testNow.Add(time.Hour)}
	br := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(10000, time.Hour),
		Now: func() time.Time { return testNow }}
	// An RS256 signature's length, as in a real token.
	r := bearerRequest(jwtFor("https://idp") + strings.Repeat("A", 338))
	if _, err := br.Authenticate(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Authenticate(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenCacheMillionTokens reports the live heap after a million
// distinct tokens went through a cache of 10,000 (heap-MiB).
func BenchmarkTokenCacheMillionTokens(b *testing.B) {
	for b.Loop() {
		heap, _ := tokenFlood(b, 10000, 1000000)
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	}
}

// TestTokenCacheHitAllocations: a request whose token is cached allocates
// nothing in authentication (the token is hashed in place).
func TestTokenCacheHitAllocations(t *testing.T) {
	v := &countingVerifier{until: testNow.Add(time.Hour)}
	b := &Bearer{Issuers: map[string]TokenVerifier{"https://idp": v}, Cache: NewTokenCache(10, time.Hour),
		Now: func() time.Time { return testNow }}
	r := bearerRequest(jwtFor("https://idp") + strings.Repeat("A", 338))
	if _, err := b.Authenticate(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := b.Authenticate(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("a cached token's authentication allocates %.1f times, want 0", n)
	}
}
