#!/usr/bin/env bash
# Starts raygate's local demo: installs Ray and builds Dex into the cache on
# first use, builds raygate, then runs two real Ray clusters, Dex and raygate
# and walks through an allowed job, a cross-tenant refusal and the audit log.
# Ctrl-C stops everything. Pass --exit to stop after the walkthrough.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
cd "$root"

run_stack_program demo ./test/demo "$@"
