#!/usr/bin/env bash
# bench/reservations.sh: reservations.  Prints a Markdown section on stdout.
#
#  1. Throughput: one client creates a job on 2 random resources (of 1,000)
#     and reserves it, in one transaction, with 10k and with 1M holding
#     bookings already there; mojob against a PL/pgSQL reference
#     (bench/reference_reservations.sql) with the same data, interleaved in
#     one pgbench session as in edits.sh.
#  2. A storm: 8 clients reserve (and cancel) random overlapping jobs on 5
#     resources (concurrency 1-3, capacities) at READ COMMITTED, REPEATABLE
#     READ and SERIALIZABLE, twice each (with and without creating jobs
#     directly tentative); then an independent SQL check (a self-join over
#     mojob.job_resource and mojob.job) looks for over-bookings, and the
#     errors pgbench saw are counted by SQLSTATE.
#
#   BENCH_RES_SMALL, BENCH_RES_LARGE  existing bookings   (default 10000, 1000000; quick: 10000, 200000)
#   BENCH_RES_ROUNDS       timed rounds after a warm-up round (default 5; quick: 2)
#   BENCH_RES_SECONDS      length of each round, per data set (default 20; quick: 4)
#   BENCH_RES_STORM_SECONDS  length of each storm run (2 per isolation level; default 10; quick: 4)
#   BENCH_RES_STORM_CLIENTS  clients in the storm (default 8)
#   BENCH_RES_KEEP=DIR     keep the pgbench scripts, outputs and logs in DIR
. "$(dirname "$0")/lib.sh"

resources=1000                      # the resources of the throughput data sets
pairs=$((resources / 2))            # existing jobs hold resources 2p+1 and 2p+2
slots=1000                          # per resource: slots of 4 hours
small=${BENCH_RES_SMALL:-10000}
large=${BENCH_RES_LARGE:-$(bench_rounds 1000000 200000)}
rounds=${BENCH_RES_ROUNDS:-$(bench_rounds 5 2)}
seconds=${BENCH_RES_SECONDS:-$(bench_rounds 20 4)}
storm_seconds=${BENCH_RES_STORM_SECONDS:-$(bench_rounds 10 4)}
storm_clients=${BENCH_RES_STORM_CLIENTS:-8}
storm_max_tries=100
variants=(mojob ref_generic mojob_tentative ref_tentative ref)
sets=(small large)
declare -A size=([small]=$small [large]=$large)
declare -A dbs=([small]=bench_res_small [large]=bench_res_large)
storm_db=bench_res_storm

for s in "${sets[@]}"; do
    n=${size[$s]}
    { [ $((n % resources)) = 0 ] && [ $((slots % (n / resources))) = 0 ]; } ||
        bench_die "reservations: $n bookings do not spread evenly over $resources resources and $slots slots"
done

bench_cluster_start
work=$(mktemp -d /tmp/mojob-bench-res.XXXXXX)
bench_on_exit 'rm -rf "$work"'
if [ -n "${BENCH_RES_KEEP:-}" ]; then
    bench_on_exit 'mkdir -p "$BENCH_RES_KEEP" && cp -r "$work"/. "$BENCH_RES_KEEP"/'
fi
for s in "${sets[@]}"; do bench_on_exit "bench_db_drop ${dbs[$s]} 2>/dev/null"; done
bench_on_exit "bench_db_drop $storm_db 2>/dev/null"

# Every connection loads mojob.so afresh: a make install elsewhere during the
# run would mix two builds (and databases made by the other's SQL script).
so=$(pg_config --pkglibdir)/mojob.so
so_sum=$(md5sum "$so" | cut -d' ' -f1)
so_check() {
    [ "$(md5sum "$so" | cut -d' ' -f1)" = "$so_sum" ] ||
        bench_die "$so was replaced during the run (make install elsewhere?): start again"
}

# The time everything is booked in: slots of 4 hours from 30 days ahead.
base=$(bench_value postgres "SELECT extract(epoch FROM date_trunc('day', now()) + interval '30 days')::bigint")

# ---------------------------------------------------------------------------
# The functions pgbench calls.  A refused reservation (MJ005) must not end
# the client (pgbench 15 aborts a client on any error but a serialization
# failure or a deadlock), so each transaction goes through a PL/pgSQL
# function that returns false on MJ005; mojob and ref pay the same wrapper.
# Any other error (a deadlock, a serialization failure) goes to pgbench.
# ---------------------------------------------------------------------------
bench_functions() {
    bench_psql "$1" <<'SQL'
CREATE SCHEMA bench;
CREATE FUNCTION bench.book_mojob(s timestamptz, e timestamptz, r1 bigint, r2 bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mojob.reserve(j.id) FROM mojob.create_job('mojob', s, e, resources => ARRAY[r1, r2]) AS j;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    RETURN false;
END
$$;
CREATE FUNCTION bench.book_mojob_tentative(s timestamptz, e timestamptz, r1 bigint, r2 bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mojob.create_job('mojob_tentative', s, e, state => 'tentative', resources => ARRAY[r1, r2]);
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    RETURN false;
END
$$;
CREATE FUNCTION bench.book_ref(s timestamptz, e timestamptz, r1 bigint, r2 bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ref.reserve(j.id) FROM ref.create_job('ref', s, e, resources => ARRAY[r1, r2]) AS j;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    RETURN false;
END
$$;
-- The same, with generic plans for every statement it runs: PL/pgSQL's
-- default (a custom plan while it looks cheaper) re-plans the reference's
-- peak query at every call, as mojob's SPI queries were before it asked
-- for generic plans.
CREATE FUNCTION bench.book_ref_generic(s timestamptz, e timestamptz, r1 bigint, r2 bigint) RETURNS boolean
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    PERFORM ref.reserve(j.id) FROM ref.create_job('ref_generic', s, e, resources => ARRAY[r1, r2]) AS j;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    RETURN false;
END
$$;
CREATE FUNCTION bench.book_ref_tentative(s timestamptz, e timestamptz, r1 bigint, r2 bigint) RETURNS boolean
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    PERFORM ref.create_job('ref_tentative', s, e, resources => ARRAY[r1, r2], state => 'tentative');
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    RETURN false;
END
$$;

-- The storm's transactions.  Refusals are counted in bench.refusal (in the
-- transaction, so a refusal that a retry replaces is not counted twice).
CREATE TABLE bench.refusal (level text NOT NULL, kind text NOT NULL);
-- A draft job with k nodes and their amounts, then reserve.
CREATE FUNCTION bench.storm_reserve(level text, s timestamptz, e timestamptz,
                                    rs bigint[], amounts numeric[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    j bigint;
BEGIN
    SELECT id INTO j FROM mojob.create_job('storm ' || level, s, e);
    FOR i IN 1 .. cardinality(rs) LOOP
        PERFORM mojob.add_resource(j, rs[i], amounts[i]);
    END LOOP;
    PERFORM mojob.reserve(j);
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    INSERT INTO bench.refusal VALUES (level, 'reserve');
    RETURN false;
END
$$;
-- A job created tentative on two resources (in the order given).
CREATE FUNCTION bench.storm_create(level text, s timestamptz, e timestamptz,
                                   r1 bigint, r2 bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mojob.create_job('storm ' || level, s, e, state => 'tentative', resources => ARRAY[r1, r2]);
    RETURN true;
EXCEPTION WHEN SQLSTATE 'MJ005' THEN
    INSERT INTO bench.refusal VALUES (level, 'create');
    RETURN false;
END
$$;
-- Cancel the k-th most recent tentative job of the run, if any.
CREATE FUNCTION bench.storm_cancel(level text, k int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    j bigint;
BEGIN
    SELECT id INTO j FROM mojob.job
    WHERE state = 'tentative' AND name = 'storm ' || level ORDER BY id DESC OFFSET k LIMIT 1
    FOR NO KEY UPDATE SKIP LOCKED;     -- as an application would: not one another client cancels
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mojob.cancel(j, 'storm');
    RETURN true;
END
$$;
SQL
}

# ---------------------------------------------------------------------------
# The data sets: N holding bookings spread over 1,000 resources.  N / 2 jobs
# of 2 nodes each, tentative, of 30 minutes ([slot, slot + 30 min), with 5
# minutes of pre- and post-roll), at the start of a 4-hour slot: in every
# slot for 1M bookings, in every 100th for 10k.  Pair p holds resources
# 2p+1 and 2p+2.  The jobs are inserted as the superuser, directly in state
# tentative, with plain INSERT ... SELECT; their nodes are inserted the same
# way, and mojob's node trigger books them, checking each (two sessions at
# once, on disjoint resources).  The reference gets the same resources, jobs
# (same ids and codes) and nodes, with held set.  Resource i allows
# 1 + i % 3 jobs at once (1, 2 or 3); capacities are unlimited, amounts 0.
# ---------------------------------------------------------------------------
load() {
    local set=$1 db=${dbs[$1]} n=${size[$1]} used step t0 half pids=()
    used=$((n / resources))         # slots used per resource
    step=$((slots / used))
    bench_log "reservations: loading $n bookings ($((n / 2)) jobs) into $db"
    t0=$SECONDS
    bench_db_create "$db"
    bench_psql "$db" -f "$bench_dir/reference_reservations.sql"
    bench_functions "$db"
    bench_psql "$db" >/dev/null <<SQL
INSERT INTO mojob.resource (id, name, concurrency)
SELECT i, 'resource ' || i, 1 + i % 3 FROM generate_series(1, $resources) AS i;
SELECT setval('mojob.resource_id_seq', $resources);
INSERT INTO mojob.job (id, code, name, state, pre_roll_start, start_at, end_at, post_roll_end, created_by)
SELECT id, 'OLD-' || id, 'existing', 'tentative',
       t, t + interval '5 minutes', t + interval '25 minutes', t + interval '30 minutes', 'bench'
FROM generate_series(0, $used - 1) AS k, generate_series(0, $pairs - 1) AS p,
     LATERAL (SELECT k * $pairs + p + 1, to_timestamp($base) + k * $step * interval '4 hours') AS w(id, t)
ORDER BY id;
SELECT setval('mojob.job_id_seq', $((n / 2)));
SQL
    for half in 0 1; do
        bench_psql "$db" -c "INSERT INTO mojob.job_resource (job_id, resource_id)
                             SELECT k * $pairs + p + 1, 2 * p + i
                             FROM generate_series(0, $used - 1) AS k, generate_series(0, $pairs - 1) AS p,
                                  generate_series(1, 2) AS i
                             WHERE p % 2 = $half ORDER BY k, p, i" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || bench_die "loading the nodes of $db failed"; done
    bench_psql "$db" >/dev/null <<SQL
INSERT INTO ref.resource SELECT * FROM mojob.resource ORDER BY id;
INSERT INTO ref.job
SELECT id, code, name, description, priority::text::ref.job_priority,
       state::text::ref.job_state, pre_roll_start, start_at, end_at, post_roll_end,
       canceled_at, cancel_reason, owner, properties, version, created_at, created_by,
       updated_at, locked_by, locked_until
FROM mojob.job ORDER BY id;
INSERT INTO ref.job_resource (id, job_id, resource_id, alias, amount, held)
SELECT n.id, n.job_id, n.resource_id, n.alias, n.amount, tstzrange(j.pre_roll_start, j.post_roll_end)
FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id ORDER BY n.id;
SELECT setval(pg_get_serial_sequence('ref.job', 'id'), $((n / 2)));
SELECT setval(pg_get_serial_sequence('ref.job_resource', 'id'), (SELECT max(id) FROM ref.job_resource));
VACUUM ANALYZE;
CHECKPOINT;
SQL
    local got
    got=$(bench_value "$db" "SELECT (SELECT count(*) FROM mojob.booking) || ' ' ||
                                    (SELECT count(*) FROM ref.job_resource WHERE held IS NOT NULL) || ' ' ||
                                    (SELECT count(DISTINCT resource_id) FROM mojob.booking)")
    [ "$got" = "$n $n $resources" ] || bench_die "$db: expected $n bookings in mojob and ref over $resources resources, got $got"
    load_seconds[$set]=$((SECONDS - t0))
    bench_log "reservations: $db loaded in ${load_seconds[$set]} s"
}
declare -A load_seconds

# Remove what a round added (untimed): new jobs are canceled (mojob drops
# their bookings) and deleted, with their history, in both schemas.
cleanup() {
    local db=$1 n=$2
    bench_psql "$db" <<SQL
UPDATE mojob.job SET state = 'canceled' WHERE id > $((n / 2)) AND state = 'tentative';
DELETE FROM mojob.job WHERE id > $((n / 2));
DELETE FROM mojob.job_event WHERE job_id > $((n / 2));
DELETE FROM ref.job WHERE id > $((n / 2));
DELETE FROM ref.job_event WHERE job_id > $((n / 2));
VACUUM mojob.job, mojob.job_resource, mojob.booking, mojob.job_event, ref.job, ref.job_resource, ref.job_event;
CHECKPOINT;
SQL
}

# An independent check, in plain SQL, that no resource is over-booked: every
# holding node's window as an event (+1 at its start, -1 at its end; ends
# first at the same instant), summed per resource in time order.  Prints
# "nodes overbooked_instants".  (Amounts are 0 and capacities unlimited in
# these data sets, so only concurrency can be exceeded.)
sweep_check() {
    local db=$1 schema=$2 held
    if [ "$schema" = mojob ]; then
        held="SELECT n.resource_id AS r, greatest(j.pre_roll_start, coalesce(n.held_from, j.pre_roll_start)) AS lo,
                     least(j.post_roll_end, coalesce(n.held_until, j.post_roll_end)) AS hi
              FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
              WHERE n.resource_id IS NOT NULL
                AND (j.state IN ('tentative', 'confirmed', 'running')
                     OR (j.state = 'completed' AND j.post_roll_end > now()))"
    else
        held="SELECT n.resource_id AS r, lower(n.held) AS lo, upper(n.held) AS hi
              FROM ref.job_resource n WHERE n.held IS NOT NULL"
    fi
    bench_value "$db" "
WITH h AS ($held),
e AS (SELECT r, lo AS t, 1 AS d FROM h WHERE lo < hi UNION ALL SELECT r, hi, -1 FROM h WHERE lo < hi),
run AS (SELECT r, t, d, sum(d) OVER (PARTITION BY r ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS held_now FROM e)
SELECT (SELECT count(*) FROM h) || ' ' || count(*) FILTER (WHERE d = 1 AND held_now > x.concurrency)
FROM run JOIN ${schema}.resource x ON x.id = run.r"
}

# ---------------------------------------------------------------------------
# 1. Throughput
# ---------------------------------------------------------------------------
declare -A checked
for s in "${sets[@]}"; do load "$s"; done

scripts=()
for v in "${variants[@]}"; do
    cat >"$work/$v.pgbench" <<EOF
\\set r1 random(1, $resources)
\\set r2 1 + (:r1 + random(0, $((resources - 2)))) % $resources
\\set slot random(0, $((slots - 1)))
\\set s :base + :slot * 14400 + random(30, 210) * 60
SELECT bench.book_$v(to_timestamp(:s), to_timestamp(:s + 1800), :r1, :r2);
EOF
    scripts+=(-f "$work/$v.pgbench@1")
done

# Each round runs one pgbench per data set (in a rotated order), each
# interleaving the variants in one session; then removes what it added.
bench_log "reservations: $((rounds + 1)) rounds (the first one warms up) of ${seconds}s per data set, interleaving ${variants[*]}"
: >"$work/raw"
for ((r = 0; r <= rounds; r++)); do
    for ((k = 0; k < ${#sets[@]}; k++)); do
        s=${sets[$(((r + k) % ${#sets[@]}))]}
        db=${dbs[$s]}
        n=${size[$s]}
        rm -f "$work"/log.*
        bench_wait "$bench_bindir/pgbench" -n -M prepared -c 1 -j 1 -T "$seconds" -D base="$base" \
            -l --log-prefix="$work/log" --random-seed=$((2000 + r)) "${scripts[@]}" "$db" >"$work/pgbench.out" 2>&1 ||
            { cat "$work/pgbench.out" >&2; bench_die "pgbench failed"; }
        if grep -q -e 'number of failed transactions: [1-9]' -e 'aborted' "$work/pgbench.out"; then
            cat "$work/pgbench.out" >&2
            bench_die "pgbench reported failed transactions"
        fi
        # Reservations made, per variant (the job's name), to count refusals.
        made=$(bench_value "$db" "SELECT string_agg(v || '=' || c, ' ') FROM (
                SELECT name AS v, count(*) AS c FROM mojob.job WHERE id > $((n / 2)) AND state = 'tentative' GROUP BY name
                UNION ALL SELECT name, count(*) FROM ref.job WHERE id > $((n / 2)) AND state = 'tentative' GROUP BY name) AS x")
        for schema in mojob ref; do
            check=$(sweep_check "$db" $schema)
            read -r nodes over <<<"$check"
            [ "$over" = 0 ] || bench_die "$db: $schema is over-booked after round $r ($check: nodes, over-booked instants)"
            checked[$s.$schema]=$((${checked[$s.$schema]:-0} + nodes))
        done
        # Log lines: client transaction latency_us script epoch us.
        awk -v r=$r -v set=$s -v names="${variants[*]}" -v made="$made" '
            BEGIN { split(names, name, " "); split(made, m, " ")
                    for (i in m) { split(m[i], kv, "="); ok[kv[1]] = kv[2] } }
            { sum[$4] += $3; n[$4]++ }
            END { for (s in sum) printf "%d %s %s %.3f %d %d\n", r, set, name[s + 1], sum[s] / n[s], n[s], n[s] - ok[name[s + 1]] }' \
            "$work"/log.* >>"$work/raw"
        so_check
        bench_log "reservations: round $r, $s: $(awk -v r=$r -v s=$s '$1 == r && $2 == s { printf "%s %.0f us (%d, %d refused)  ", $3, $4, $5, $6 }' "$work/raw")"
        cleanup "$db" "$n"
    done
done
[ "$(wc -l <"$work/raw")" = $(((rounds + 1) * ${#sets[@]} * ${#variants[@]})) ] || {
    cat "$work/raw" >&2
    bench_die "could not read pgbench's transaction log"
}
for s in "${sets[@]}"; do bench_db_drop "${dbs[$s]}"; done

# ---------------------------------------------------------------------------
# 2. The storm
# ---------------------------------------------------------------------------
levels=("READ COMMITTED" "REPEATABLE READ" "SERIALIZABLE")
declare -A level_tag=(["READ COMMITTED"]=rc ["REPEATABLE READ"]=rr ["SERIALIZABLE"]=ser)
storm_hours=$((24 * 14))            # each run books within two weeks of its own
bench_log "reservations: storm, $storm_clients clients, 2 runs of ${storm_seconds}s at each of ${#levels[@]} isolation levels"
bench_db_create $storm_db
bench_functions $storm_db
bench_psql $storm_db >/dev/null <<'SQL'
INSERT INTO mojob.resource (id, name, concurrency, capacity) VALUES
    (1, 'studio A', 1, NULL), (2, 'studio B', 2, 5), (3, 'camera pool', 3, 6),
    (4, 'encoder', 2, NULL), (5, 'satellite link', 3, 4);
SELECT setval('mojob.resource_id_seq', 5);
SQL
storm_resources=$(bench_value $storm_db "SELECT string_agg(format('%s (concurrency %s, capacity %s)', name, concurrency, coalesce(capacity::text, 'unlimited')), ', ' ORDER BY id) FROM mojob.resource")

# Two runs per level: the whole mix, and the same without the create script
# (so that a deadlock can be put down to one path or the other).  Locks are
# waited for 50 ms before the deadlock check (deadlock_timeout, a superuser's
# session setting) rather than 1 s, so a deadlock costs the storm little
# time; the counts do not depend on it.
: >"$work/storm"
li=0
for level in "${levels[@]}"; do
    for mix in all nocreate; do
        tag=${level_tag[$level]}_$mix
        lbase=$((base + li * 365 * 86400))      # a year apart: the runs never meet
        cat >"$work/reserve.pgbench" <<EOF
\\set k random(1, 3)
\\set r1 random(1, 5)
\\set d1 random(1, 4)
\\set d2 1 + (:d1 + random(0, 2)) % 4
\\set r2 1 + (:r1 - 1 + :d1) % 5
\\set r3 1 + (:r1 - 1 + :d2) % 5
\\set h random(0, $storm_hours)
\\set len random(1, 6)
\\set a1 random(0, 3)
\\set a2 random(0, 3)
\\set a3 random(0, 3)
BEGIN ISOLATION LEVEL $level;
SELECT bench.storm_reserve('$tag', to_timestamp($lbase + :h * 3600), to_timestamp($lbase + (:h + :len) * 3600), (ARRAY[:r1, :r2, :r3]::bigint[])[1:(:k)], ARRAY[:a1, :a2, :a3]::numeric[]);
COMMIT;
EOF
        cat >"$work/create.pgbench" <<EOF
\\set r1 random(1, 5)
\\set r2 1 + (:r1 - 1 + random(1, 4)) % 5
\\set h random(0, $storm_hours)
\\set len random(1, 6)
BEGIN ISOLATION LEVEL $level;
SELECT bench.storm_create('$tag', to_timestamp($lbase + :h * 3600), to_timestamp($lbase + (:h + :len) * 3600), :r1, :r2);
COMMIT;
EOF
        cat >"$work/cancel.pgbench" <<EOF
\\set k random(0, 19)
BEGIN ISOLATION LEVEL $level;
SELECT bench.storm_cancel('$tag', :k);
COMMIT;
EOF
        cp "$work/reserve.pgbench" "$work/storm.$tag.reserve.pgbench"
        cp "$work/create.pgbench" "$work/storm.$tag.create.pgbench"
        cp "$work/cancel.pgbench" "$work/storm.$tag.cancel.pgbench"
        if [ $mix = all ]; then
            storm_scripts=(-f "$work/reserve.pgbench@6" -f "$work/create.pgbench@2" -f "$work/cancel.pgbench@1")
        else
            storm_scripts=(-f "$work/reserve.pgbench@6" -f "$work/cancel.pgbench@1")
        fi
        out=$work/storm.$tag.out
        err=$work/storm.$tag.err
        bench_wait env PGOPTIONS="-c deadlock_timeout=50ms" \
            "$bench_bindir/pgbench" -n -c "$storm_clients" -j 2 -T "$storm_seconds" \
            --max-tries=$storm_max_tries --failures-detailed --verbose-errors --random-seed=$((3000 + li)) \
            "${storm_scripts[@]}" $storm_db >"$out" 2>"$err" ||
            { cat "$out" "$err" >&2; bench_die "pgbench failed in the storm ($level, $mix)"; }
        if grep -q 'aborted' "$out" "$err"; then
            grep -m 5 -e 'aborted' -e 'ERROR' "$err" >&2 || true
            bench_die "a storm client was aborted ($level): an error other than a serialization failure or deadlock"
        fi
        num() { sed -n "s/^$1: *\([0-9]*\).*/\1/p" "$out" | head -1; }
        processed=$(num 'number of transactions actually processed')
        failed=$(num 'number of failed transactions')
        ser_failed=$(num 'number of serialization failures')
        dl_failed=$(num 'number of deadlock failures')
        retried=$(num 'number of transactions retried')
        retries=$(num 'total number of retries')
        # Every error pgbench saw, by SQLSTATE (--verbose-errors prints each).
        grep 'got an error in command' "$err" >"$err.errors" || true
        raw_40001=$(grep -c 'ERROR:  could not serialize access' "$err.errors" || true)
        raw_40P01=$(grep -c 'ERROR:  deadlock detected' "$err.errors" || true)
        # 40001 by cause: mojob's check (a booking committed after the
        # snapshot), SSI (SERIALIZABLE), a row updated concurrently.
        ser_by=$(for why in 'concurrent reservation' 'read/write dependencies' 'concurrent update'; do
                     grep -c "could not serialize access due to $why" "$err.errors" || true
                 done | paste -sd/ | sed 's|/| / |g')
        other=$(grep -v -c -e 'ERROR:  could not serialize access' -e 'ERROR:  deadlock detected' "$err.errors" || true)
        [ "$other" = 0 ] || { head -5 "$err.errors" >&2; bench_die "storm ($level): errors other than 40001 and 40P01"; }
        # Per script, in the order given to pgbench: transactions processed
        # and deadlocks seen.
        if [ $mix = all ]; then names=(reserve create cancel); else names=(reserve cancel); fi
        per_script=$(awk '/^SQL script/ { s++ } / - [0-9]+ transactions/ { print s, $2 }' "$out" | awk '{ printf "%s ", $2 }')
        read -ra n_by <<<"$per_script"
        declare -A n_of=() dl_of=()
        for i in "${!names[@]}"; do
            n_of[${names[$i]}]=${n_by[$i]:-0}
            dl_of[${names[$i]}]=$(grep 'ERROR:  deadlock detected' "$err.errors" | grep -c "of script $i;" || true)
        done
        counts=$(bench_psql $storm_db -At -F' ' <<SQL
SELECT (SELECT count(*) FROM mojob.job WHERE name = 'storm $tag'),
       (SELECT count(*) FROM mojob.job WHERE name = 'storm $tag' AND state = 'canceled'),
       (SELECT count(*) FROM mojob.job WHERE name = 'storm $tag' AND state = 'draft'),
       (SELECT count(*) FROM bench.refusal WHERE level = '$tag');
SQL
)
        read -r made canceled drafts refusals <<<"$counts"
        [ "$drafts" = 0 ] || bench_die "storm ($level): $drafts draft jobs left: a refused reservation left its job behind"
        [ $((made + refusals + n_of[cancel])) = $((processed)) ] ||
            bench_die "storm ($level, $mix): $processed transactions, but $made jobs + $refusals refusals + ${n_of[cancel]} cancels"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$level" "$mix" "$processed" "$made" \
            "$refusals" "$canceled" "$raw_40001" "$raw_40P01" "${dl_of[reserve]} / ${dl_of[create]:-–} / ${dl_of[cancel]}" \
            "$retried" "$retries" "$failed" "$ser_failed" "$dl_failed" "$ser_by" >>"$work/storm"
        so_check
        bench_log "reservations: storm $level, $mix: $processed transactions, $made reserved, $refusals MJ005, $canceled canceled, $raw_40001 x 40001, $raw_40P01 x 40P01, $failed failed after $storm_max_tries tries"
        li=$((li + 1))
    done
done

# The independent check: per resource, the most holding jobs and the largest
# summed amount at any instant, by a self-join of the holding nodes (at the
# start of each, count those that hold then).
bench_psql $storm_db -At -F'|' >"$work/storm.check" <<'SQL'
WITH h AS (
    SELECT n.resource_id AS r, n.job_id, n.amount,
           greatest(j.pre_roll_start, coalesce(n.held_from, j.pre_roll_start)) AS lo,
           least(j.post_roll_end, coalesce(n.held_until, j.post_roll_end)) AS hi
    FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
    WHERE n.resource_id IS NOT NULL
      AND (j.state IN ('tentative', 'confirmed', 'running')
           OR (j.state = 'completed' AND j.post_roll_end > now()))
), peak AS (
    SELECT a.r, a.job_id, a.lo, count(*) AS jobs, sum(b.amount) AS amount
    FROM h a JOIN h b ON b.r = a.r AND b.lo <= a.lo AND a.lo < b.hi
    WHERE a.lo < a.hi AND b.lo < b.hi
    GROUP BY a.r, a.job_id, a.lo
)
SELECT x.name, x.concurrency, coalesce(x.capacity::text, 'unlimited'),
       (SELECT count(*) FROM h WHERE h.r = x.id),
       coalesce(max(p.jobs), 0), coalesce(max(p.amount), 0),
       count(p.r) FILTER (WHERE p.jobs > x.concurrency OR p.amount > x.capacity)
FROM mojob.resource x LEFT JOIN peak p ON p.r = x.id
GROUP BY x.id ORDER BY x.id;
SQL
overbooked=$(awk -F'|' '{ s += $NF } END { print s + 0 }' "$work/storm.check")
# mojob's own bookings must be exactly the holding nodes' windows.
booking_diff=$(bench_value $storm_db "
WITH h AS (
    SELECT n.id, n.resource_id, tstzrange(greatest(j.pre_roll_start, coalesce(n.held_from, j.pre_roll_start)),
                                          least(j.post_roll_end, coalesce(n.held_until, j.post_roll_end))) AS held, n.amount
    FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
    WHERE n.resource_id IS NOT NULL AND j.state IN ('tentative', 'confirmed', 'running'))
SELECT count(*) FROM (
    (SELECT * FROM h EXCEPT SELECT node_id, resource_id, held, amount FROM mojob.booking)
    UNION ALL
    (SELECT node_id, resource_id, held, amount FROM mojob.booking EXCEPT SELECT * FROM h)) AS d")
bench_db_drop $storm_db

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
declare -A m refused total
for s in "${sets[@]}"; do
    for v in "${variants[@]}"; do
        m[$s.$v]=$(awk -v s=$s -v v=$v '$1 > 0 && $2 == s && $3 == v { print $4 }' "$work/raw" | median)
        total[$s.$v]=$(awk -v s=$s -v v=$v '$1 > 0 && $2 == s && $3 == v { n += $5 } END { print n + 0 }' "$work/raw")
        refused[$s.$v]=$(awk -v s=$s -v v=$v '$1 > 0 && $2 == s && $3 == v { n += $6 } END { print n + 0 }' "$work/raw")
    done
done
rate() { awk -v us="$1" 'BEGIN { printf "%.0f", 1e6 / us }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "–"; else printf "%.2f%%", 100 * a / b }'; }
scaling=$(ratio "${m[small.mojob]}" "${m[large.mojob]}")           # throughput large / small
vs_ref_large=$(ratio "${m[large.ref_generic]}" "${m[large.mojob]}")
vs_ref_small=$(ratio "${m[small.ref_generic]}" "${m[small.mojob]}")
tvs_ref_large=$(ratio "${m[large.ref_tentative]}" "${m[large.mojob_tentative]}")
tvs_ref_small=$(ratio "${m[small.ref_tentative]}" "${m[small.mojob_tentative]}")
tscaling=$(ratio "${m[small.mojob_tentative]}" "${m[large.mojob_tentative]}")
label() {
    case $1 in
    mojob) echo "mojob: \`create_job(...)\` then \`reserve\`" ;;
    ref_generic) echo "ref: \`ref.create_job(...)\` then \`ref.reserve\` (PL/pgSQL), generic plans" ;;
    ref) echo "ref (create, then reserve) with PL/pgSQL's default plan caching (its peak query re-planned at each call), for information" ;;
    mojob_tentative) echo "mojob, created tentative: \`create_job(..., state => 'tentative', resources => ...)\`" ;;
    ref_tentative) echo "ref, created tentative: \`ref.create_job(..., state => 'tentative')\`, generic plans" ;;
    esac
}
k() { awk -v n="$1" 'BEGIN { if (n >= 1000000) printf "%gM", n / 1000000; else printf "%gk", n / 1000 }'; }

cat <<EOF
## 3. Reservations

### 3.1 Throughput

One client, in one transaction, creates a job on 2 random resources among
$resources and reserves it (\`synchronous_commit = $(bench_value postgres "SHOW synchronous_commit")\`):

\`\`\`
$(cat "$work/mojob.pgbench")
\`\`\`

\`bench.book_mojob\` runs \`SELECT mojob.reserve(j.id) FROM mojob.create_job('mojob', s, e,
resources => ARRAY[r1, r2]) AS j\` in a PL/pgSQL function that returns false
on MJ005 (pgbench 15 ends a client at any other error than a serialization
failure or a deadlock).  \`bench.book_ref_generic\` does the same with the
reference \`ref.create_job\` and \`ref.reserve\`
([reference_reservations.sql](reference_reservations.sql): resource rows locked
\`FOR UPDATE ORDER BY id\`, the peak count and summed amount over the window
computed in SQL at the window's start and at each booking start inside it,
over a GiST index on the nodes' \`(resource_id, held)\`; history row and NOTIFY
by ref.job's trigger, as in [reference.sql](reference.sql)), with
\`SET plan_cache_mode = force_generic_plan\` on the wrapper: PL/pgSQL's default
re-plans the peak query at every call (its custom plans look cheaper than
the generic one), which mojob's own SPI queries avoid by asking for generic
plans; \`bench.book_ref\` is the reference with the default, for
information.  \`bench.book_mojob_tentative\` creates the job in state
tentative instead (\`create_job(..., state => 'tentative', resources => ...)\`:
no reserve, no history row, no NOTIFY: creating is not a transition), and
\`bench.book_ref_tentative\` the same with \`ref.create_job(..., state =>
'tentative')\` (generic plans).  The wrappers are alike, so all pay the same
for them.

Data: ${small} and ${large} holding bookings already there, in two databases,
each with mojob's and the reference's copy of the same data: $resources
resources (resource i allows 1 + i % 3 jobs at once), $((small / 2)) or $((large / 2))
tentative jobs of 2 nodes, each 30 minutes at the start of a 4-hour slot
(1,000 slots per resource from 30 days ahead; every slot for $(k "$large"),
every $((slots / (small / resources)))th for $(k "$small")).  mojob's jobs were inserted directly
as the superuser in state tentative and their nodes with \`INSERT ... SELECT\`,
so that mojob's node trigger booked each one, checking it (load time, with the
reference's copy and VACUUM ANALYZE: $(k "$small") ${load_seconds[small]} s, $(k "$large") ${load_seconds[large]} s).  A new
job takes 30 minutes at a random instant in the free part of a random slot
(30 to 210 minutes in), so it never overlaps the existing bookings (it may
touch one) and is refused only by a job reserved during the same round.

Each round runs one \`pgbench -n -M prepared -c 1 -j 1 -T $seconds\` per
database, interleaving the variants in one session (each transaction picks
one at random, as in edits.sh); throughput is 1 / mean latency from
pgbench's per-transaction log.  After each round (untimed) the round's jobs
are canceled and deleted with their history, and the tables vacuumed, so
every round starts from the same data.  Median of $rounds rounds after one
warm-up round, the two databases in a rotated order.  After every round,
before the clean-up, an independent SQL sweep over each schema's holding
nodes (windows as +1/-1 events summed per resource in time order; not
mojob's functions) found no instant with more holding jobs than the
resource allows (${checked[small.mojob]} and ${checked[large.mojob]} mojob nodes checked over all rounds).

| variant | $(k "$small") bookings: µs | res/s | refused | $(k "$large") bookings: µs | res/s | refused | $(k "$large") ÷ $(k "$small") throughput |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
for v in "${variants[@]}"; do
    printf '| %s | %.1f | %s | %s | %.1f | %s | %s | %s |\n' "$(label "$v")" \
        "${m[small.$v]}" "$(rate "${m[small.$v]}")" "$(pct "${refused[small.$v]}" "${total[small.$v]}")" \
        "${m[large.$v]}" "$(rate "${m[large.$v]}")" "$(pct "${refused[large.$v]}" "${total[large.$v]}")" \
        "$(ratio "${m[small.$v]}" "${m[large.$v]}")"
done
cat <<EOF

(refused: the share of the variant's transactions, over the timed rounds, whose reservation was refused with MJ005.)

| goal | measured | |
|---|---:|---|
| mojob's throughput with $(k "$large") bookings ≥ 0.8 × with $(k "$small") (create, then reserve) | $scaling × | $(goal "$scaling" '>=' 0.8) |
| the same, created tentative | $tscaling × | $(goal "$tscaling" '>=' 0.8) |
| mojob ≥ 1.5 × the reference's throughput, $(k "$large") bookings (create, then reserve) | $vs_ref_large × | $(goal "$vs_ref_large" '>=' 1.5) |
| mojob ≥ 1.5 × the reference's throughput, $(k "$small") bookings (create, then reserve) | $vs_ref_small × | $(goal "$vs_ref_small" '>=' 1.5) |
| mojob ≥ 1.5 × the reference's throughput, $(k "$large") bookings (created tentative) | $tvs_ref_large × | $(goal "$tvs_ref_large" '>=' 1.5) |
| mojob ≥ 1.5 × the reference's throughput, $(k "$small") bookings (created tentative) | $tvs_ref_small × | $(goal "$tvs_ref_small" '>=' 1.5) |

(The reference with generic plans in each ratio; with PL/pgSQL's default it is the row "for information" above.)

Raw mean latency (µs), transactions and refusals of each variant, by round (round 0 is the warm-up):

| round | data | $(for v in "${variants[@]}"; do printf '%s µs | n | refused | ' "$v"; done | sed 's/ | $//') |
|---|---|$(for v in "${variants[@]}"; do printf -- '---:|---:|---:|'; done)
EOF
for ((r = 0; r <= rounds; r++)); do
    for s in "${sets[@]}"; do
        row="| $r | $(k "${size[$s]}") |"
        for v in "${variants[@]}"; do
            row+=" $(awk -v r=$r -v s=$s -v v=$v '$1 == r && $2 == s && $3 == v { print $4 " | " $5 " | " $6 }' "$work/raw") |"
        done
        echo "$row"
    done
done

cat <<EOF

### 3.2 Storm

$storm_clients clients (\`pgbench -c $storm_clients -j 2 -T $storm_seconds --max-tries=$storm_max_tries --failures-detailed --verbose-errors\`)
on 5 resources: $storm_resources.  Each transaction runs at the level named in its
\`BEGIN ISOLATION LEVEL ...\`, and is one of (weights 6 : 2 : 1):

- *reserve*: a draft job of 1-6 hours at a random hour within two weeks, 1 to 3
  distinct random resources added with \`mojob.add_resource(job, r, amount)\`
  (amounts 0-3), then \`mojob.reserve(job)\`;
- *create*: \`mojob.create_job(..., state => 'tentative', resources => ARRAY[r1, r2])\`,
  two distinct random resources, in random order;
- *cancel*: \`mojob.cancel\` of one of the 20 most recent tentative jobs of the run.

Two runs per level: all three, then *reserve* and *cancel* alone (the
same weights), so that a deadlock can be put down to a path.  MJ005 is
caught in the transaction (which then commits having reserved nothing, and
counts the refusal in a table); 40001 and 40P01 go to pgbench, which retries
the transaction.  Each run books within two weeks of its own.  The clients
run with \`deadlock_timeout = 50ms\` (1 s by default) so that a deadlock does
not stall the storm for long; it changes how soon one is found, not whether.
*Seen* counts every error pgbench received (\`--verbose-errors\` prints each,
retried or not; an error that is neither 40001 nor 40P01 stops the
benchmark), *retries* the transactions pgbench ran again after one.  A 40001
comes from mojob's check (\`could not serialize access due to concurrent
reservation\`: a booking committed after the transaction's snapshot is in
the way), from SSI (\`read/write dependencies\`, SERIALIZABLE only) or from a
job row updated meanwhile (\`concurrent update\`: two cancels, or a cancel and
a reserve under REPEATABLE READ).

| isolation level | scripts | transactions | reserved | MJ005 refused | canceled | 40001 seen | of which mojob / SSI / row update | 40P01 seen | of which in reserve / create / cancel | transactions retried | retries | failed after $storm_max_tries tries (40001 / 40P01) |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
while IFS=$'\t' read -r level mix processed made refusedn canceled r40001 r40P01 dlby retried retries failed sfail dfail serby; do
    if [ "$mix" = all ]; then mixtext="reserve, create, cancel"; else mixtext="reserve, cancel"; fi
    echo "| $level | $mixtext | $processed | $made | $refusedn | $canceled | $r40001 | $serby | $r40P01 | $dlby | $retried | $retries | $failed ($sfail / $dfail) |"
done <"$work/storm"
deadlocks=$(awk -F'\t' '{ s += $8 } END { print s + 0 }' "$work/storm")
cat <<EOF

Afterwards, an independent check in plain SQL — a self-join of the holding
nodes (\`mojob.job_resource\` joined to \`mojob.job\` for the state and window),
counting at the start of each node the nodes that hold the same resource then
— gives, per resource, the most holding jobs and the largest summed amount at
any instant, over all six runs:

| resource | concurrency | capacity | holding nodes | most jobs at once | largest summed amount | over-booked instants |
|---|---:|---:|---:|---:|---:|---:|
EOF
while IFS='|' read -r name conc cap nodes peakj peaka over; do
    echo "| $name | $conc | $cap | $nodes | $peakj | $peaka | $over |"
done <"$work/storm.check"
cat <<EOF

mojob's own \`mojob.booking\` rows differ from the holding nodes' windows in $booking_diff rows.

| goal | measured | |
|---|---:|---|
| storm: no over-booking at any level | $overbooked | $(goal "$overbooked" '<=' 0) |
| storm: no deadlock (40P01) at any level | $deadlocks | $(goal "$deadlocks" '<=' 0) |
EOF

{
    printf '3. reservations\tmojob'"'"'s throughput with %s bookings ≥ 0.8 × with %s (create, then reserve)\t%s ×\t%s\n' "$(k "$large")" "$(k "$small")" "$scaling" "$(goal "$scaling" '>=' 0.8)"
    printf '3. reservations\tmojob ≥ 1.5 × the PL/pgSQL reference'"'"'s throughput (%s bookings)\t%s ×\t%s\n' "$(k "$large")" "$vs_ref_large" "$(goal "$vs_ref_large" '>=' 1.5)"
    printf '3. reservations\tmojob ≥ 1.5 × the PL/pgSQL reference'"'"'s throughput (%s bookings)\t%s ×\t%s\n' "$(k "$small")" "$vs_ref_small" "$(goal "$vs_ref_small" '>=' 1.5)"
    printf '3. reservations\tcreated tentative: mojob ≥ 1.5 × the reference (%s bookings)\t%s ×\t%s\n' "$(k "$large")" "$tvs_ref_large" "$(goal "$tvs_ref_large" '>=' 1.5)"
    printf '3. reservations\tstorm: over-booked instants (3 isolation levels)\t%s\t%s\n' "$overbooked" "$(goal "$overbooked" '<=' 0)"
    printf '3. reservations\tstorm: deadlocks (40P01)\t%s\t%s\n' "$deadlocks" "$(goal "$deadlocks" '<=' 0)"
} >>"${BENCH_GOALS:-/dev/null}"

# For compare.sh: the headline figures (the storm's are counts of faults,
# not speed).
bench_ratio res.large_x_small "$(ratio4 "${m[small.mojob]}" "${m[large.mojob]}")" higher
bench_ratio res.tentative_large_x_small "$(ratio4 "${m[small.mojob_tentative]}" "${m[large.mojob_tentative]}")" higher
bench_ratio res.mojob_x_ref_large "$(ratio4 "${m[large.ref_generic]}" "${m[large.mojob]}")" higher
bench_ratio res.mojob_x_ref_small "$(ratio4 "${m[small.ref_generic]}" "${m[small.mojob]}")" higher
bench_ratio res.tentative_x_ref_large "$(ratio4 "${m[large.ref_tentative]}" "${m[large.mojob_tentative]}")" higher
bench_ratio res.tentative_x_ref_small "$(ratio4 "${m[small.ref_tentative]}" "${m[small.mojob_tentative]}")" higher
bench_ratio res.mojob_us_large "${m[large.mojob]}" lower
bench_ratio res.mojob_us_small "${m[small.mojob]}" lower
