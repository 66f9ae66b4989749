#!/usr/bin/env bash
# Renders the KubeRay operator's own install (the kustomize config of the
# ray-operator Go module: config/default, manager, rbac,
# default-with-webhooks) with kustomize's Go API (test/tools/kuberay),
# into the raygate cache, once per renderer source digest. Prints the
# folder holding default.yaml, manager.yaml, rbac.yaml and
# default-with-webhooks.yaml.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

src="$here/../test/tools/kuberay"
digest="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
out="$RAYGATE_CACHE/kuberay-$KUBERAY_VERSION-$digest"
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
log "rendering KubeRay $KUBERAY_VERSION's kustomize config into $out"
mkdir -p "$out"
(cd "$src" && go run . -out "$out") || die "cannot render KubeRay's kustomize config"
touch "$out/.complete"
echo "$out"
