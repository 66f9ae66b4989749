package signin

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/raygate/raygate/internal/session"
)

// shared is what outlives a config reload: the states already used and
// the renewals in flight or just done.
type shared struct {
	mu       sync.Mutex
	used     map[string]time.Time // state → when it may be forgotten
	renewals map[[sha256.Size]byte]*renewal
}

// Bounds on the shared maps; past them the oldest entries go first.
const (
	maxUsed     = 100000
	maxRenewals = 10000
	// renewalReuse is how long a finished renewal answers other requests
	// that still carry the old cookie (a dashboard sends many at once).
	renewalReuse = 30 * time.Second
)

func newShared() *shared {
	return &shared{used: map[string]time.Time{}, renewals: map[[sha256.Size]byte]*renewal{}}
}

// useState records state as used until until and reports whether it was
// unused: a state works once, on this replica even if the browser kept a
// copy of its cookie.
func (s *shared) useState(state string, until, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.used[state]; ok && now.Before(exp) {
		return false
	}
	if len(s.used) >= maxUsed {
		for k, exp := range s.used {
			if !now.Before(exp) || len(s.used) >= maxUsed {
				delete(s.used, k)
			}
		}
	}
	s.used[state] = until
	return true
}

// renewal is one refresh of a session, shared by every request that
// carries the same refresh token.
type renewal struct {
	done chan struct{}
	sess *session.Session
	err  error
	at   time.Time
}

// renew runs fn once per refresh token at a time, and lets requests that
// arrive shortly after reuse its result.
func (s *shared) renew(refreshToken string, now time.Time, fn func() (*session.Session, error)) (*session.Session, error) {
	key := sha256.Sum256([]byte(refreshToken))
	s.mu.Lock()
	if r, ok := s.renewals[key]; ok && (r.at.IsZero() || now.Sub(r.at) < renewalReuse) {
		s.mu.Unlock()
		<-r.done
		return r.sess, r.err
	}
	if len(s.renewals) >= maxRenewals {
		for k, r := range s.renewals {
			if !r.at.IsZero() {
				delete(s.renewals, k)
			}
		}
	}
	r := &renewal{done: make(chan struct{})}
	s.renewals[key] = r
	s.mu.Unlock()

	r.sess, r.err = fn()
	s.mu.Lock()
	r.at = now
	if r.err != nil {
		delete(s.renewals, key) // a failed renewal is not reused
	}
	s.mu.Unlock()
	close(r.done)
	return r.sess, r.err
}
