#!/usr/bin/env bash
# Installs Debian's chromium (and fonts-liberation, so screenshots have
# readable text) for the browser end-to-end tests on first use, with
# apt-get. Prints the browser's path. Installing needs root; without it the
# script says what to run and fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

find_chromium() {
  local c
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

if bin="$(find_chromium)"; then echo "$bin"; exit 0; fi
[ "$(id -u)" = 0 ] || die "chromium is not installed; run: sudo apt-get install chromium fonts-liberation"
command -v apt-get >/dev/null 2>&1 || die "chromium is not installed and there is no apt-get to install it"
mkdir -p "$RAYGATE_CACHE"
aptlog="$RAYGATE_CACHE/install-chromium.log"
log "installing chromium from Debian (first run only, a minute or two; log in $aptlog)"
export DEBIAN_FRONTEND=noninteractive
# Another process may hold the package lock: wait for it rather than fail.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@" >>"$aptlog" 2>&1; }
install() { apt_get install -y -q --no-install-recommends chromium fonts-liberation; }
if ! install; then
  apt_get update -q && install || { tail -n 20 "$aptlog" >&2; die "apt-get could not install chromium"; }
fi
bin="$(find_chromium)" || die "chromium was installed but is not on PATH"
echo "$bin"
