#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into the raygate
# cache, once per version (cold: about 10 minutes; cached: instant). Prints the
# folder holding both binaries (usable as KUBEBUILDER_ASSETS).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

if [ -x "$K8S_ASSETS/kube-apiserver" ] && [ -x "$K8S_ASSETS/etcd" ]; then
  echo "$K8S_ASSETS"; exit 0
fi
log "building kube-apiserver $K8S_VERSION and etcd $ETCD_VERSION into $K8S_ASSETS (first run only, about 10 minutes)"
mkdir -p "$K8S_ASSETS"
cd "$here/../test/tools/k8s"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done
go build -trimpath -ldflags "$ldflags" -o "$K8S_ASSETS/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -o "$K8S_ASSETS/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$K8S_ASSETS/etcd.tmp" "$K8S_ASSETS/etcd"
mv "$K8S_ASSETS/kube-apiserver.tmp" "$K8S_ASSETS/kube-apiserver"
echo "$K8S_ASSETS"
