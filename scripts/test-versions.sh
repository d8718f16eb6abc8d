#!/usr/bin/env bash
# make test-versions: build mojob with -Werror and run its suites on every
# PostgreSQL major version this machine can assemble (15 from Debian, 17 and
# 18 from scripts/pg-versions.sh), then print a table.
#
#   MOJOB_VERSIONS="17 18"   only these versions (default: 15 17 18)
#
# On each version: the pgTAP suite (pg_prove), the isolation specs (the
# version's own pg_isolation_regress), the README tour, and the scheduler
# check (test/t/010_scheduler.pl with PostgreSQL 15's Perl test modules and
# the version's own server binaries).  Clients are PostgreSQL 15's psql and
# pg_prove, which speak to every newer server.  Each version gets its own
# copy of the source tree, so the build here never touches the checkout's.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
versions=${MOJOB_VERSIONS:-15 17 18}
pg15_bin=/usr/lib/postgresql/15/bin
pg15_pgxs_src=$(cd "$(dirname "$("$pg15_bin/pg_config" --pgxs)")/.." && pwd)
werror='-Wall -Wextra -Werror -Wno-unused-parameter'

work=$(mktemp -d /tmp/mojob-versions.XXXXXX)
chmod 755 "$work"
cleanup() {
    for d in "$work"/*/pg; do [ -d "$d" ] && scripts/pgcluster.sh destroy "$d" >/dev/null 2>&1; done
    scripts/as-root.sh rm -rf "$work"
}
trap cleanup EXIT

declare -A result
status() { result[$1,$2]=$3; }

run_version() {
    local v=$1 root bindir libpath=
    local dir=$work/$v
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ "$v" = 15 ]; then
        # A private, relocatable copy of Debian's 15, so that this target
        # never overwrites what `make install` put in the system's tree.
        root=$dir/root15
        mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/include/postgresql"
        cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
        cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
        ln -s /usr/include/postgresql/15 "$root/usr/include/postgresql/15"
        chmod -R a+rX "$root"
        bindir=$root/usr/lib/postgresql/15/bin
    else
        root=$(scripts/pg-versions.sh assemble "$v") || { status "$v" build "no server (assembly failed)"; return; }
        bindir=$root/bin
        # pgTAP is plain SQL: PostgreSQL 15's copy serves every version.
        cp -n /usr/share/postgresql/15/extension/pgtap* "$root/share/postgresql/extension/" 2>/dev/null
        libpath=$root/lib    # its own libpq, for its isolation tester
    fi
    local pgc=$bindir/pg_config
    local full; full=$("$bindir/postgres" --version | awk '{ print $3 }')
    result[$v,server]=$full

    # Build and install into that tree, from a copy of the source.
    local src=$dir/src
    mkdir -p "$src"
    git ls-files -z | xargs -0 cp --parents -t "$src"
    if (cd "$src" && make -s PG_CONFIG="$pgc" PG_CFLAGS="$werror" >"$dir/build.log" 2>&1 &&
            make -s PG_CONFIG="$pgc" install >>"$dir/build.log" 2>&1); then
        status "$v" build pass
    else
        status "$v" build FAIL; tail -20 "$dir/build.log"; return
    fi

    # A cluster of that version.
    local cluster=$dir/pg port=$((5450 + v))
    export PATH=$bindir:$pg15_bin:$PATH PGHOST=$cluster PGPORT=$port PGUSER=postgres
    PGPORT=$port scripts/pgcluster.sh start "$cluster" || { status "$v" server FAIL; return; }

    "$pg15_bin/createdb" mojob_test && "$pg15_bin/psql" -X -q -d mojob_test -c 'CREATE EXTENSION pgtap' &&
        PATH=$pg15_bin:$PATH pg_prove -d mojob_test --ext .sql -r test/pgtap >"$dir/pgtap.log" 2>&1
    if [ $? = 0 ]; then status "$v" pgtap "pass ($(grep -o 'Tests=[0-9]*' "$dir/pgtap.log"))"
    else status "$v" pgtap FAIL; tail -30 "$dir/pgtap.log"; fi

    if PATH=$pg15_bin:$PATH scripts/tour-check.sh >"$dir/tour.log" 2>&1; then status "$v" tour pass
    else status "$v" tour FAIL; cat "$dir/tour.log"; fi

    local iso
    iso=$(dirname "$("$pgc" --pgxs)")/../test/isolation/pg_isolation_regress
    if [ -x "$iso" ]; then
        # The specs as make installcheck generates them (test/specs/README.md).
        local specs
        specs=$(perl scripts/gen-specs.pl --list test/specs) &&
            perl scripts/gen-specs.pl test/specs "$dir/iso-in" >/dev/null &&
            ln -sfn "$PWD/test/expected" "$dir/iso-in/expected" || { status "$v" isolation FAIL; return; }
        if LD_LIBRARY_PATH=$libpath "$iso" --host="$cluster" --port="$port" --user=postgres \
                --inputdir="$dir/iso-in" --outputdir="$dir/iso" --bindir="$pg15_bin" \
                --load-extension=btree_gist --load-extension=mojob \
                $specs >"$dir/iso.log" 2>&1; then
            status "$v" isolation "pass ($(echo $specs | wc -w) specs)"
        else
            status "$v" isolation FAIL; tail -20 "$dir/iso.log"; cat "$dir/iso/regression.diffs" 2>/dev/null | head -80
        fi
    else
        status "$v" isolation "not run (no pg_isolation_regress in this tree)"
    fi
    scripts/pgcluster.sh destroy "$cluster" >/dev/null 2>&1

    # The scheduler on time: 010_scheduler.pl, run by PostgreSQL 15's Perl
    # test modules on this version's server binaries (as postgres: initdb
    # refuses root).
    local tap=$dir/tap
    mkdir -p "$tap/t"; cp test/t/010_scheduler.pl "$tap/t/"; cp -r test/perl "$tap/perl"; chmod -R a+rX "$tap"
    scripts/as-root.sh chown -R postgres "$tap"
    if (cd "$tap" && runuser -u postgres -- env "PATH=$bindir:$pg15_bin:/usr/bin:/bin" \
            "TESTDIR=$tap" "PG_REGRESS=$pg15_pgxs_src/test/regress/pg_regress" \
            prove --ext .pl -I "$pg15_pgxs_src/test/perl" -I "$tap/perl" t/ >"$dir/sched.log" 2>&1); then
        status "$v" scheduler pass
    else
        status "$v" scheduler FAIL; tail -30 "$dir/sched.log"
        for f in "$tap"/tmp_check/log/*; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
    fi
}

for v in $versions; do
    echo "== PostgreSQL $v"
    ( run_version "$v"; declare -p result >"$work/result.$v" )
done

echo
echo "| version | server | build (-Werror) | pgTAP | isolation | README tour | scheduler (010_scheduler.pl) |"
echo "|---|---|---|---|---|---|---|"
fail=0
for v in $versions; do
    declare -A result=()
    [ -f "$work/result.$v" ] && eval "$(sed 's/declare -A/declare -gA/' "$work/result.$v")"
    row="| $v | ${result[$v,server]:-?} |"
    for k in build pgtap isolation tour scheduler; do
        r=${result[$v,$k]:-not run}
        row+=" $r |"
        case $r in pass*|"not run (no pg_isolation_regress"*) ;; *) fail=1 ;; esac
    done
    echo "$row"
done
exit $fail
