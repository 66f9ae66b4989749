//go:build !race

package authn

// raceEnabled skips the longest tests under the race detector.
const raceEnabled = false
