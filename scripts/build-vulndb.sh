#!/usr/bin/env bash
# Builds the Go vulnerability database that govulncheck reads, once per
# pinned golang.org/x/vulndb version: the module (served by the Go module
# proxy) carries every report as an OSV file, and its indexdb command writes
# them out as a database (cold: about 3 minutes). Prints a file:// URL for
# govulncheck's -db flag.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

db="$RAYGATE_CACHE/vulndb-$VULNDB_VERSION"
if [ -f "$db/.complete" ]; then echo "file://$db"; exit 0; fi
log "building the Go vulnerability database $VULNDB_VERSION into $db (first run only, a few minutes)"
src="$(cd "$here/.." && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src/data/osv" ] || die "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv"
rm -rf "$db" && mkdir -p "$(dirname "$db")"
go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$db.tmp" >&2
mv "$db.tmp" "$db"
touch "$db/.complete"
echo "file://$db"
