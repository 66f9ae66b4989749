#!/usr/bin/env bash
# Installs ray[default] into a virtualenv under the raygate cache, once per
# version; a half-finished install (no .complete marker) is redone. Prints the
# virtualenv's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

if [ -x "$RAY_VENV/bin/ray" ] && [ -f "$RAY_VENV/.complete" ]; then
  echo "$RAY_VENV"; exit 0
fi
log "installing ray[default]==$RAY_VERSION into $RAY_VENV (first run only, a few minutes)"
rm -rf "$RAY_VENV"
mkdir -p "$(dirname "$RAY_VENV")"
python3 -m venv "$RAY_VENV"
"$RAY_VENV/bin/pip" install --quiet --disable-pip-version-check "ray[default]==$RAY_VERSION" >&2
touch "$RAY_VENV/.complete"
echo "$RAY_VENV"
