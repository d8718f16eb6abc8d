#!/usr/bin/env bash
# Install the Debian packages mojob needs to build, test and demo, when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

pkgs=(
    gcc make                                  # build
    postgresql-15 postgresql-server-dev-15    # server, PGXS, pg_isolation_regress, Perl test modules
    postgresql-15-pgtap                       # pgTAP
    libtap-parser-sourcehandler-pgtap-perl    # pg_prove
    libipc-run-perl                           # Perl TAP tests (PostgreSQL::Test::Cluster)
    libdbd-pg-perl                            # the fuzz suite (test/fuzz/fuzz.pl)
    libical-dev                               # recurrence rules (RFC 5545), linked into mojob.so
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "mojob: installing ${missing[*]}"

if ! "$here/as-root.sh" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
    "$here/as-root.sh" apt-get update
    "$here/as-root.sh" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
