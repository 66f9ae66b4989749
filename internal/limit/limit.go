// Package limit enforces raygate's abuse limits: a request rate (token
// bucket) and a number of requests and WebSockets in flight, per user and
// per cluster. A Limiter is built from the config's limits and is safe for
// concurrent use; per-user state is kept only while it matters, so memory
// stays bounded however many users come.
package limit

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/raygate/raygate/internal/config"
)

// Scopes: whose limit refused a request.
const (
	ScopeUser    = "user"
	ScopeCluster = "cluster"
)

// Limit kinds: which limit refused a request.
const (
	// KindRate: the request rate's budget is spent.
	KindRate = "rate"
	// KindConcurrency: too many requests in flight.
	KindConcurrency = "concurrency"
	// KindStreams: too many WebSockets open.
	KindStreams = "streams"
	// KindUsers: more users are busy at once than limits.maxUsers.
	KindUsers = "users"
)

// Refusal says why a request is over a limit and when to try again.
type Refusal struct {
	// Scope is ScopeUser or ScopeCluster.
	Scope string
	// Kind is one of the Kind constants.
	Kind string
	// RetryAfter is when the refused request could pass, at the earliest.
	RetryAfter time.Duration
}

// Reason is the refusal as an audit reason: "limit: user rate", "limit:
// cluster concurrency", ..., "limit: too many users".
func (r *Refusal) Reason() string {
	if r.Kind == KindUsers {
		return "limit: too many users"
	}
	return "limit: " + r.Scope + " " + r.Kind
}

// RetryAfterSeconds is RetryAfter for a Retry-After header: whole seconds,
// at least 1.
func (r *Refusal) RetryAfterSeconds() string {
	s := int64(math.Ceil(r.RetryAfter.Seconds()))
	return strconv.FormatInt(max(s, 1), 10)
}

// Message is the refusal for the caller.
func (r *Refusal) Message() string {
	what := map[string]string{
		KindRate:        "too many requests",
		KindConcurrency: "too many requests in flight",
		KindStreams:     "too many open streams",
		KindUsers:       "too many users at once",
	}[r.Kind]
	return what + " for this " + r.Scope + "; retry after " + r.RetryAfterSeconds() + "s"
}

// Limiter applies one config's limits. A nil Limiter limits nothing.
type Limiter struct {
	user, cluster *keyed
	epoch         time.Time
}

// New returns the limiter of cfg, or nil when it sets no limit.
func New(cfg config.Limits) *Limiter {
	l := &Limiter{epoch: time.Now()}
	l.user = newKeyed(ScopeUser, cfg.PerUser, cfg.MaxUsers)
	l.cluster = newKeyed(ScopeCluster, cfg.PerCluster, 0)
	if l.user == nil && l.cluster == nil {
		return nil
	}
	return l
}

// Ticket is what an admitted request holds until it finishes. The zero
// Ticket holds nothing.
type Ticket struct {
	user, cluster slot
}

// Release gives back the ticket's slots. Call it once, when the request
// (or its stream) finishes.
func (t *Ticket) Release() {
	t.user.release()
	t.cluster.release()
	*t = Ticket{}
}

// Admit takes one request of user to cluster (stream: a WebSocket) at now.
// It returns the ticket to Release when the request finishes, or why the
// request is refused; a refused request holds nothing.
func (l *Limiter) Admit(user, cluster string, stream bool, now time.Time) (Ticket, *Refusal) {
	if l == nil {
		return Ticket{}, nil
	}
	at := now.Sub(l.epoch)
	var t Ticket
	var r *Refusal
	if t.user, r = l.user.admit(user, stream, at); r != nil {
		return Ticket{}, r
	}
	if t.cluster, r = l.cluster.admit(cluster, stream, at); r != nil {
		t.user.release()
		return Ticket{}, r
	}
	return t, nil
}

// Tracked returns how many users' state is kept now.
func (l *Limiter) Tracked() int {
	if l == nil || l.user == nil {
		return 0
	}
	return l.user.len()
}

// shards spread a scope's keys over independently locked maps.
const shards = 16

// sweepEvery is how often a shard forgets idle state; fullSweepEvery how
// often, at most, a full one tries to make room for a new key.
const (
	sweepEvery     = 30 * time.Second
	fullSweepEvery = 100 * time.Millisecond
)

// keyed holds one scope's state by key.
type keyed struct {
	scope   string
	rule    rule
	maxKeys int // per shard; 0 is unbounded
	seed    maphash.Seed
	shards  [shards]shard
}

type shard struct {
	mu        sync.Mutex
	m         map[string]*state
	lastSweep time.Duration
}

// rule is a scope's limits as numbers.
type rule struct {
	rate        float64 // tokens per second; 0 is no rate limit
	burst       float64
	concurrency int
	streams     int
}

func newKeyed(scope string, c config.Limit, maxKeys int) *keyed {
	r := rule{rate: c.RequestsPerSecond, burst: float64(c.Burst), concurrency: c.ConcurrentRequests, streams: c.ConcurrentStreams}
	if r.rate == 0 && r.concurrency == 0 && r.streams == 0 {
		return nil
	}
	if r.rate > 0 && r.burst < 1 {
		r.burst = 1
	}
	k := &keyed{scope: scope, rule: r, seed: maphash.MakeSeed()}
	if maxKeys > 0 {
		k.maxKeys = max(1, (maxKeys+shards-1)/shards)
	}
	for i := range k.shards {
		k.shards[i].m = map[string]*state{}
	}
	return k
}

func (k *keyed) len() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// slot is one scope's share of a ticket.
type slot struct {
	sh     *shard
	st     *state
	stream bool
}

func (s slot) release() {
	if s.st == nil {
		return
	}
	s.sh.mu.Lock()
	if s.stream {
		s.st.streams--
	} else {
		s.st.inflight--
	}
	s.sh.mu.Unlock()
}

func (k *keyed) admit(key string, stream bool, at time.Duration) (slot, *Refusal) {
	if k == nil {
		return slot{}, nil
	}
	sh := &k.shards[maphash.String(k.seed, key)%shards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.m[key]
	if st == nil {
		full := k.maxKeys > 0 && len(sh.m) >= k.maxKeys
		if since := at - sh.lastSweep; since > sweepEvery || (full && since > fullSweepEvery) {
			sh.sweep(k.rule, at)
		}
		if k.maxKeys > 0 && len(sh.m) >= k.maxKeys {
			return slot{}, &Refusal{Scope: k.scope, Kind: KindUsers, RetryAfter: time.Second}
		}
		st = &state{tokens: k.rule.burst, at: at}
		sh.m[key] = st
	}
	next, r := decide(*st, k.rule, stream, at)
	if r != nil {
		r.Scope = k.scope
		return slot{}, r
	}
	*st = next
	return slot{sh: sh, st: st, stream: stream}, nil
}

// sweep forgets every state that is the same as a fresh one: nothing in
// flight and a full bucket. Forgetting it changes no decision.
func (sh *shard) sweep(r rule, at time.Duration) {
	sh.lastSweep = at
	for key, st := range sh.m {
		if st.idle(r, at) {
			delete(sh.m, key)
		}
	}
}
