#!/usr/bin/env bash
# Installs Helm (from the Go module proxy: helm.sh/helm/v3) into the raygate
# cache, once per version (cold: a few minutes). Prints the binary's path.
# Used to lint and render deploy/helm/raygate.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

bin="$RAYGATE_CACHE/helm-$HELM_VERSION/helm"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
log "installing Helm $HELM_VERSION into $(dirname "$bin") (first run only, a few minutes)"
mkdir -p "$(dirname "$bin")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && GOBIN="$tmp" go install -trimpath "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
mv "$tmp/helm" "$bin"
echo "$bin"
