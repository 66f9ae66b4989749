#!/usr/bin/env bash
# Installs oauth2-proxy (from the Go module proxy) into the raygate cache,
# once per version, and checks that the binary runs. Prints its path. The
# benchmark (scripts/bench.sh) measures raygate next to it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

bin="$RAYGATE_CACHE/oauth2-proxy-$OAUTH2_PROXY_VERSION/oauth2-proxy"
if [ ! -x "$bin" ]; then
  log "installing oauth2-proxy $OAUTH2_PROXY_VERSION into $(dirname "$bin") (first run only, a few minutes)"
  mkdir -p "$(dirname "$bin")"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && GOBIN="$tmp" go install "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION")
  mv "$tmp/oauth2-proxy" "$bin"
fi
"$bin" --version >/dev/null 2>&1 || die "$bin does not run"
echo "$bin"
