# shellcheck shell=bash
# Shared helpers for raygate's scripts: cache locations and pinned versions.

RAYGATE_CACHE="${RAYGATE_CACHE:-$HOME/.cache/raygate}"
RAY_VERSION="2.60.0"
DEX_VERSION="v0.0.0-20260806151424-ab64ed778070"
K8S_VERSION="v1.37.2"
ETCD_VERSION="v3.7.0"
HELM_VERSION="v3.22.0"
OAUTH2_PROXY_VERSION="v7.15.6"  # the benchmark's point of comparison (scripts/bench.sh)
KUBERAY_VERSION="v1.5.0"   # test/tools/kuberay renders this release's kustomize config
GOVULNCHECK_VERSION="v1.9.0"
VULNDB_VERSION="v0.0.0-20261105234957-e22db6528018"

RAY_VENV="$RAYGATE_CACHE/ray-$RAY_VERSION"

K8S_ASSETS="$RAYGATE_CACHE/k8s-$K8S_VERSION"

# Build with the toolchain go.mod names (it carries the standard library
# fixes govulncheck checks for), even where the installed Go says "local".
export GOTOOLCHAIN=auto

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# run_stack_program NAME PKG [ARGS...] installs Ray and builds Dex on first
# use, builds raygate and the program in PKG as bin/raygate-NAME, and runs it
# against them with its working files under .cache/NAME. It must be called
# from the repository's root, and does not return.
run_stack_program() {
  local name="$1" pkg="$2" venv dex here
  shift 2
  here="$(pwd)/scripts"
  venv="$("$here/install-ray.sh")"
  dex="$("$here/build-dex.sh")"
  mkdir -p bin
  go build -o bin/raygate ./cmd/raygate
  go build -o "bin/raygate-$name" "$pkg"
  exec "bin/raygate-$name" --ray-venv "$venv" --dex "$dex" --raygate "$(pwd)/bin/raygate" --dir "$(pwd)/.cache/$name" "$@"
}
