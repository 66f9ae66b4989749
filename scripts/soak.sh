#!/usr/bin/env bash
# Runs raygate's soak test (test/soak): two real Ray clusters, a real Dex and
# raygate under a mixed load of users, roles, reads, job submissions, stops
# and WebSocket log tails, checking every status and that raygate's memory,
# goroutines and file descriptors stay flat. Flags go to the command, e.g.
#   scripts/soak.sh -duration 10m -workers 8
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
cd "$root"

run_stack_program soak ./test/soak "$@"
