package limit

import "time"

// state is one key's limit state: a token bucket and the requests and
// streams it has in flight.
type state struct {
	tokens   float64
	at       time.Duration // when tokens was last brought up to date
	inflight int
	streams  int
}

// refill returns the bucket's tokens at time at.
func (s state) refill(r rule, at time.Duration) float64 {
	if r.rate == 0 {
		return r.burst
	}
	t := s.tokens
	if at > s.at {
		t += (at - s.at).Seconds() * r.rate
	}
	return min(t, r.burst)
}

// idle reports whether s is the same as a fresh state at time at.
func (s state) idle(r rule, at time.Duration) bool {
	return s.inflight == 0 && s.streams == 0 && s.refill(r, at) >= r.burst
}

// decide takes one request (stream: a WebSocket) from s at time at under
// rule r. It returns the state with the request taken, or why it is
// refused (Scope left for the caller). Concurrency is checked before the
// rate, so a refused request spends no token.
func decide(s state, r rule, stream bool, at time.Duration) (state, *Refusal) {
	switch {
	case stream && r.streams > 0 && s.streams >= r.streams:
		return s, &Refusal{Kind: KindStreams, RetryAfter: time.Second}
	case !stream && r.concurrency > 0 && s.inflight >= r.concurrency:
		return s, &Refusal{Kind: KindConcurrency, RetryAfter: time.Second}
	}
	if r.rate > 0 {
		tokens := s.refill(r, at)
		if tokens < 1 {
			wait := time.Duration((1 - tokens) / r.rate * float64(time.Second))
			return s, &Refusal{Kind: KindRate, RetryAfter: wait}
		}
		s.tokens, s.at = tokens-1, max(s.at, at)
	}
	if stream {
		s.streams++
	} else {
		s.inflight++
	}
	return s, nil
}
