// Package harness holds what raygate's end-to-end tests share: finding the
// real components scripts/test.sh prepared, starting them, and failing (not
// skipping) when one is missing under CI.
package harness

import (
	"os"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// component is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireEnv returns the value of the environment variable that locates a
// real component (a binary, a folder). When it is unset or names nothing on
// disk, the test fails under CI and is skipped otherwise, saying how to get
// the component.
func RequireEnv(t testing.TB, name, what, how string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		if _, err := os.Stat(v); err == nil {
			return v
		}
	}
	msg := what + " not available: set " + name + " (" + how + ")"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
