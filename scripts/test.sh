#!/usr/bin/env bash
# make test: run every suite against throwaway clusters; exit non-zero on any failure.
#
#   pgTAP (test/pgtap/*.sql) through pg_prove
#   isolation specs (test/specs/*.spec, generated per isolation level into
#     test/build/specs by make installcheck) through PGXS's pg_isolation_regress
#   the fuzz suite (test/fuzz/fuzz.pl), a Perl client with DBD::Pg
#   Perl TAP (test/t/*.pl) with PostgreSQL::Test::Cluster, which starts its own servers
#
# Servers run as the postgres OS user; clients run as the caller.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bindir=$(pg_config --bindir)
pgxs_src=$(cd "$(dirname "$(pg_config --pgxs)")/.." && pwd)   # .../lib/pgxs/src

work=$(mktemp -d /tmp/mojob-test.XXXXXX)
chmod 755 "$work"
cluster=$work/pg
export PGHOST=$cluster PGPORT=5439 PGUSER=postgres
cleanup() {
    scripts/pgcluster.sh destroy "$cluster"
    scripts/as-root.sh rm -rf "$work"
}
trap cleanup EXIT

failed=()

echo "== starting a throwaway cluster"
scripts/pgcluster.sh start "$cluster" || exit 1

echo "== pgTAP (pg_prove)"
"$bindir/createdb" mojob_test &&
    "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -d mojob_test -c 'CREATE EXTENSION pgtap' &&
    pg_prove -d mojob_test --ext .sql -r test/pgtap || failed+=(pgtap)

echo "== README tour (psql)"
scripts/tour-check.sh || failed+=(readme-tour)

echo "== isolation specs (pg_isolation_regress)"
if ls test/specs/*.spec >/dev/null 2>&1; then
    if ! make -s installcheck; then
        failed+=(isolation)
        [ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
    fi
fi

echo "== fuzz"
# Every mojob function as the README's planner and viewer with hostile
# arguments, then the invariants (test/fuzz/fuzz.pl; known failures in
# test/fuzz/known.txt). It may restart this cluster (a call that cannot be
# canceled is killed): it runs after the other suites that use it.
perl test/fuzz/fuzz.pl || failed+=(fuzz)

echo "== Perl TAP (prove)"
if ls test/t/*.pl >/dev/null 2>&1; then
    # PostgreSQL::Test::Cluster runs initdb, which refuses root: run the tests
    # as postgres, from a copy that postgres can read.
    tap=$work/tap
    mkdir -p "$tap"
    cp -r test/t "$tap/t"
    [ -d test/perl ] && cp -r test/perl "$tap/perl"
    chmod -R a+rX "$tap"
    scripts/as-root.sh chown -R postgres "$tap"
    run=(env "PATH=$bindir:$PATH" "TESTDIR=$tap" "PG_REGRESS=$pgxs_src/test/regress/pg_regress"
         prove --ext .pl -I "$pgxs_src/test/perl" -I "$tap/perl" ${PROVE_FLAGS:-} t/)
    if [ "$(id -un)" = postgres ]; then (cd "$tap" && "${run[@]}")
    elif [ "$(id -u)" = 0 ]; then (cd "$tap" && runuser -u postgres -- "${run[@]}")
    else (cd "$tap" && sudo -u postgres "${run[@]}")
    fi || {
        failed+=(perl-tap)
        for f in "$tap"/tmp_check/log/*; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done
    }
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "== FAILED: ${failed[*]}"
    exit 1
fi
echo "== all suites passed"
