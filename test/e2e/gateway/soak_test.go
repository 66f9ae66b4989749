//go:build e2e

package gateway_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/test/e2e/harness"
)

// TestSoakShort runs the soak (test/soak) briefly against the shared
// stack: a mixed load of users, roles, reads, submissions, stops and
// WebSocket tails with no unexpected status, every request audited once
// (a forwarded mutation with its write-ahead record first), and raygate's
// memory, goroutines and file descriptors flat. RAYGATE_SOAK_DURATION sets the
// length (default 30s); scripts/soak.sh runs it for longer.
func TestSoakShort(t *testing.T) {
	s := requireStack(t)
	d := 30 * time.Second
	if v := os.Getenv("RAYGATE_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("RAYGATE_SOAK_DURATION: %v", err)
		}
	}
	rep, err := harness.Soak(context.Background(), s, harness.SoakOptions{
		Duration: d, Workers: 4, Tails: 2, Think: 20 * time.Millisecond,
		SubmitEvery: 5 * time.Second, SampleEvery: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Write(&b)
	t.Log("\n" + b.String())
	for _, v := range rep.Violations() {
		t.Error(v)
	}
}
