#!/usr/bin/env bash
# Builds the test OpenID Connect provider (test/tools/dex, a small main around
# Dex's server package) into the raygate cache, once per Dex version and source
# digest (cold: a few minutes). Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

src="$here/../test/tools/dex"
digest="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
bin="$RAYGATE_CACHE/dex-$DEX_VERSION-$digest/dex"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
log "building Dex $DEX_VERSION into $(dirname "$bin") (first run only, a few minutes)"
mkdir -p "$(dirname "$bin")"
(cd "$src" && go build -trimpath -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
echo "$bin"
