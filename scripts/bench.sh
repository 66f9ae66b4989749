#!/usr/bin/env bash
# Measures raygate next to a bare httputil.ReverseProxy and oauth2-proxy
# (test/bench/loadtest): interleaved wrk rounds at 32 connections and at 1,
# CPU per request of each proxy process, a 500 MiB upload and download
# through raygate with its resident memory. The last line gives the ratios.
# See docs/performance.md. Flags go to the command, e.g.
#   scripts/bench.sh --rounds 7 --duration 15s
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
cd "$root"

command -v wrk >/dev/null || die "wrk not found (Debian package wrk: apt-get install wrk)"
o2p="$("$here/build-oauth2-proxy.sh")"
mkdir -p bin
go build -o bin/raygate ./cmd/raygate
go build -o bin/raygate-loadtest ./test/bench/loadtest
exec bin/raygate-loadtest --raygate "$root/bin/raygate" --oauth2-proxy "$o2p" "$@"
