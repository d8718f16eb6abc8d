# bench/lib.sh: what the benchmark scripts share.  Sourced, not run:
#
#   . "$(dirname "$0")/lib.sh"
#
# A benchmark script (bench/NAME.sh) calls bench_cluster_start, which starts
# the throwaway cluster unless run.sh already did, makes its own database
# with bench_db_create, prints its progress on stderr and a Markdown section
# of results on stdout, and drops its database with bench_db_drop.
#
# Settings (environment):
#   BENCH_CLUSTER     cluster directory          (default /tmp/mojob-bench)
#   BENCH_PORT        its port                   (default 5442)
#   BENCH_SYNCHRONOUS_COMMIT                     (default off)
#   BENCH_QUICK=1     fewer rounds and shorter runs, to try the harness

set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_top=$(cd "$bench_dir/.." && pwd)
bench_bindir=$(pg_config --bindir)

: "${BENCH_CLUSTER:=/tmp/mojob-bench}"
: "${BENCH_PORT:=5442}"
: "${BENCH_SYNCHRONOUS_COMMIT:=off}"
: "${BENCH_QUICK:=0}"
export BENCH_CLUSTER BENCH_PORT BENCH_SYNCHRONOUS_COMMIT BENCH_QUICK

export PGHOST=$BENCH_CLUSTER PGPORT=$BENCH_PORT PGUSER=postgres
unset PGDATABASE PGOPTIONS PGSERVICE

# The server's settings, stated rather than inherited.  fsync = off comes
# from scripts/pgcluster.sh.  Autovacuum is off because the benchmarks
# VACUUM the tables themselves, untimed, before every timed statement; no
# checkpoint, JIT compilation or full-page image lands inside a timing.
bench_server_settings=(
    "synchronous_commit = $BENCH_SYNCHRONOUS_COMMIT"
    "autovacuum = off"
    "jit = off"
    "full_page_writes = off"
    "shared_buffers = 1GB"
    "work_mem = 4MB"
    "max_wal_size = 8GB"
    "checkpoint_timeout = 1h"
)

bench_log() { echo "[bench] $*" >&2; }
bench_die() { echo "[bench] error: $*" >&2; exit 1; }

# bench_on_exit COMMAND: run COMMAND when the script exits, however it exits
# (last registered, first run).
bench_cleanups=()
bench_on_exit() { bench_cleanups=("$1" "${bench_cleanups[@]}"); }
bench_run_cleanups() {
    local c
    for c in "${bench_cleanups[@]}"; do eval "$c" || true; done
    bench_cleanups=()
}

# bench_wait CMD...: run a long command (a benchmark, a timed psql script,
# pgbench) and wait for it.  Bash runs a trap only once the foreground
# command has ended; a command waited for in the background lets a signal
# stop the script at once: the trap stops the command (by its pid) first.
bench_child=
bench_wait() {
    local rc=0
    "$@" &
    bench_child=$!
    wait "$bench_child" || rc=$?
    bench_child=
    return $rc
}
bench_signal() {
    if [ -n "$bench_child" ]; then
        kill -TERM "$bench_child" 2>/dev/null || true
        wait "$bench_child" 2>/dev/null || true
    fi
    exit "$1"
}
trap bench_run_cleanups EXIT
trap 'bench_signal 130' INT
trap 'bench_signal 143' TERM

# --------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------

bench_cluster_destroy() {
    PGPORT=$BENCH_PORT "$bench_top/scripts/pgcluster.sh" destroy "$BENCH_CLUSTER" || true
}

# Start the throwaway cluster, unless the caller (run.sh) already did; the
# one who starts it destroys it when it exits, however it exits.
bench_cluster_start() {
    if [ "${BENCH_CLUSTER_OWNER:-}" != "" ]; then
        return 0
    fi
    export BENCH_CLUSTER_OWNER=$$
    bench_on_exit bench_cluster_destroy
    # A cluster left by a run that was killed: start afresh.
    bench_cluster_destroy
    bench_log "starting a throwaway cluster in $BENCH_CLUSTER (port $BENCH_PORT)"
    PGPORT=$BENCH_PORT "$bench_top/scripts/pgcluster.sh" start "$BENCH_CLUSTER" \
        "${bench_server_settings[@]}"
}

# bench_extra_cluster_start DIR PORT SETTING...: a second throwaway cluster
# with the harness's settings plus these (e.g. shared_preload_libraries), for
# a benchmark that needs a server configured otherwise (bench/scheduler.sh);
# destroyed when the calling script exits, however it exits.  Clients reach
# it with PGHOST=DIR PGPORT=PORT.
bench_extra_cluster_start() {
    local dir=$1 port=$2
    shift 2
    bench_on_exit "PGPORT=$port '$bench_top/scripts/pgcluster.sh' destroy '$dir' || true"
    PGPORT=$port "$bench_top/scripts/pgcluster.sh" destroy "$dir" || true
    bench_log "starting a throwaway cluster in $dir (port $port) with: $*"
    PGPORT=$port "$bench_top/scripts/pgcluster.sh" start "$dir" "${bench_server_settings[@]}" "$@"
}

# --------------------------------------------------------------------------
# Databases and SQL
# --------------------------------------------------------------------------

# bench_psql DB [psql arguments...]: quiet, stop at the first error.
bench_psql() {
    local db=$1
    shift
    "$bench_bindir/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# bench_value DB SQL: one value.
bench_value() {
    bench_psql "$1" -At -c "$2"
}

# bench_db_create DB: a fresh database with the three implementations of
# the life cycle side by side: schema mojob (the extension), schema ref
# (bench/reference.sql, PL/pgSQL) and schema bare (bench/bare.sql, no rules),
# their job tables with the same columns, constraints and indexes.
bench_db_create() {
    local db=$1
    bench_db_drop "$db"
    "$bench_bindir/createdb" "$db"
    bench_psql "$db" -c 'SET client_min_messages = warning' \
        -c 'CREATE EXTENSION mojob CASCADE' \
        -f "$bench_dir/reference.sql" -f "$bench_dir/bare.sql" 2>&1 |
        { grep -v -e '^NOTICE' -e '^psql:.*NOTICE' -e '^DETAIL' -e '^drop cascades' >&2 || true; }
    # An index definition of mojob's with each call mojob.board_states('b')
    # (IMMUTABLE: PostgreSQL folds it where the index is used) written as the
    # array of states it gives, which the copies in ref and bare can use.
    bench_psql "$db" -q <<'SQL'
CREATE FUNCTION public.bench_fold_boards(def text) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE b(n, f) AS (
        SELECT 0::bigint, def
        UNION ALL
        SELECT b.n + 1, replace(b.f, format('mojob.board_states(%L::mojob.board)', l.label),
                                quote_literal(mojob.board_states(l.label::mojob.board)) || '::mojob.job_state[]')
                        COLLATE "default"
        FROM b JOIN (SELECT row_number() OVER (ORDER BY enumsortorder) AS n, enumlabel AS label
                     FROM pg_enum WHERE enumtypid = 'mojob.board'::regtype) AS l ON l.n = b.n + 1)
    SELECT f FROM b ORDER BY n DESC LIMIT 1
$$;
SQL
    bench_mirror_indexes "$db"
    bench_check_same_shape "$db"
}

# mojob's schema grows indexes and constraints as features come: give ref and
# bare exactly the secondary indexes (those behind no constraint) and CHECK
# constraints that mojob.job and mojob.job_event have now, so that the
# comparison stays fair.  (Primary keys and UNIQUE constraints are in
# reference.sql and bare.sql; bench_check_same_shape compares them.)
bench_mirror_indexes() {
    bench_psql "$1" <<'SQL'
DO $$
DECLARE
    s text;
    r record;
BEGIN
    FOREACH s IN ARRAY ARRAY['ref', 'bare'] LOOP
        FOR r IN SELECT i.indexrelid::regclass AS idx
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = s AND c.relname IN ('job', 'job_event')
                   AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        LOOP
            EXECUTE format('DROP INDEX %s', r.idx);
        END LOOP;
        FOR r IN SELECT k.conrelid::regclass AS rel, k.conname
                 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = s AND c.relname IN ('job', 'job_event') AND k.contype = 'c'
        LOOP
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname);
        END LOOP;
        FOR r IN SELECT public.bench_fold_boards(pg_get_indexdef(i.indexrelid)) AS def
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'mojob' AND c.relname IN ('job', 'job_event')
                   AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                 ORDER BY i.indexrelid
        LOOP
            EXECUTE replace(r.def, 'mojob.', s || '.');
        END LOOP;
        FOR r IN SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) AS def
                 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'mojob' AND c.relname IN ('job', 'job_event') AND k.contype = 'c'
                 ORDER BY k.oid
        LOOP
            EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s',
                           s, r.relname, r.conname, replace(r.def, 'mojob.', s || '.'));
        END LOOP;
    END LOOP;
END
$$;
SQL
}

bench_db_drop() {
    bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $1"
}

# The three job tables must have the same columns (names, order, types up to
# the enums' schema, NOT NULL), constraints and indexes, or the comparison is
# unfair; so must the three history tables.
bench_check_same_shape() {
    local db=$1 shapes
    shapes=$(bench_psql "$db" -At -F' ' <<'SQL'
SELECT n.nspname,
       md5(string_agg(a.attname || ':' || replace(format_type(a.atttypid, a.atttypmod), n.nspname || '.', '')
                      || ':' || a.attnotnull, ',' ORDER BY a.attnum)),
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid),
       (SELECT md5(string_agg(d, ',' ORDER BY d))
          FROM (SELECT k.contype::text || replace(pg_get_constraintdef(k.oid), n.nspname || '.', '') AS d
                FROM pg_constraint k WHERE k.conrelid = c.oid) AS x),
       (SELECT md5(string_agg(d, ',' ORDER BY d))
          FROM (SELECT replace(public.bench_fold_boards(pg_get_indexdef(i.indexrelid)), n.nspname || '.', '') AS d
                FROM pg_index i WHERE i.indrelid = c.oid) AS x)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relname IN ('job', 'job_event') AND n.nspname IN ('mojob', 'ref', 'bare')
GROUP BY n.nspname, c.oid, c.relname
ORDER BY c.relname, n.nspname;
SQL
)
    # Each table gives 3 rows; compare all but the schema name.
    if [ "$(cut -d' ' -f2- <<<"$shapes" | sort | uniq | wc -l)" != 2 ]; then
        echo "$shapes" >&2
        bench_die "the job tables of mojob, ref and bare differ in columns, constraints or indexes"
    fi
}

# bench_populate DB N: N confirmed jobs, starting a year from now one minute
# apart (so confirming never makes them run), in mojob.job (written as the
# table owner, which may insert confirmed jobs), copied with the same ids,
# codes and times into ref.job and bare.job.
bench_populate() {
    local db=$1 n=$2
    bench_psql "$db" <<SQL
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
SELECT 'job ' || i, 'confirmed',
       t - interval '10 minutes', t, t + interval '1 hour', t + interval '70 minutes'
FROM generate_series(1, $n) AS i,
     LATERAL (SELECT date_trunc('hour', now()) + interval '1 year' + i * interval '1 minute') AS w(t);
INSERT INTO ref.job
SELECT id, code, name, description, priority::text::ref.job_priority,
       state::text::ref.job_state, pre_roll_start, start_at, end_at, post_roll_end,
       canceled_at, cancel_reason, owner, properties, version, created_at, created_by,
       updated_at, locked_by, locked_until
FROM mojob.job ORDER BY id;
INSERT INTO bare.job
SELECT id, code, name, description, priority::text::bare.job_priority,
       state::text::bare.job_state, pre_roll_start, start_at, end_at, post_roll_end,
       canceled_at, cancel_reason, owner, properties, version, created_at, created_by,
       updated_at, locked_by, locked_until
FROM mojob.job ORDER BY id;
VACUUM ANALYZE;
CHECKPOINT;
SQL
}

# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------

# median: of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2];
        else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B to two decimals.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.2f\n", a / b }'
}

# ratio4 A B: A / B to four decimals (for bench_ratio: a change of a few
# percent must not vanish in the rounding).
ratio4() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.4f\n", a / b }'
}

# goal VALUE OP LIMIT: "met" or "**missed**" (OP is <= or >=).
goal() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        ok = (op == "<=") ? (v <= l) : (v >= l)
        print ok ? "met" : "**missed**" }'
}

# bench_ratio NAME VALUE BETTER: one headline figure of the benchmark, for
# bench/compare.sh, as a line "@ratio NAME VALUE BETTER" on stderr (with the
# progress, so that the Markdown on stdout stays as it is).  BETTER says
# which way is faster: "lower" (a time, a time ratio) or "higher" (a
# throughput, a ratio with mojob's time below the line).  A figure the
# extension under test cannot give is simply not printed.
bench_ratio() {
    echo "@ratio $1 $2 $3" >&2
}

# Rounds and durations, shortened by BENCH_QUICK=1.
bench_rounds() {
    if [ "$BENCH_QUICK" = 1 ]; then echo "${2:-3}"; else echo "$1"; fi
}
