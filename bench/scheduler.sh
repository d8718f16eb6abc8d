#!/usr/bin/env bash
# bench/scheduler.sh: the scheduler's lateness (how long after its start_at a
# confirmed job is running) and catch-up throughput (mojob.advance() over a
# backlog of due jobs, against the bare floor).  Needs a server started with
# shared_preload_libraries = 'mojob': it starts a second throwaway cluster
# for itself.  Prints a Markdown section on stdout.
#
#   BENCH_SCHED_JOBS        jobs per lateness round               (default 40)
#   BENCH_SCHED_GAP_MS      their start times' spacing, ms        (default 100)
#   BENCH_SCHED_ROUNDS      lateness rounds after a warm-up round (default 5; quick: 2)
#   BENCH_SCHED_TABLE_JOBS  jobs in the table meanwhile (default 100000; quick: 10000): the
#                           rounds run in three series, on an empty table ("empty"), on a
#                           facility's table of that many jobs ("facility": most of them
#                           completed, some confirmed ahead) and on that table plus as many
#                           confirmed jobs a year ahead ("confirmed")
#   BENCH_CATCHUP_JOBS      due jobs for mojob.advance()          (default 100000; quick: 20000)
#   BENCH_CATCHUP_ROUNDS    timed rounds after a warm-up round    (default 7; quick: 3)
#   BENCH_SCHED_CLUSTER, BENCH_SCHED_PORT   the second cluster    (default $BENCH_CLUSTER-sched, $BENCH_PORT + 1)
. "$(dirname "$0")/lib.sh"

per_round=${BENCH_SCHED_JOBS:-40}
gap_ms=${BENCH_SCHED_GAP_MS:-100}
rounds=${BENCH_SCHED_ROUNDS:-$(bench_rounds 5 2)}
table_jobs=${BENCH_SCHED_TABLE_JOBS:-$(bench_rounds 100000 10000)}
backlogs=(empty facility confirmed)
catchup=${BENCH_CATCHUP_JOBS:-$(bench_rounds 100000 20000)}
catchup_rounds=${BENCH_CATCHUP_ROUNDS:-$(bench_rounds 7 3)}
sched_cluster=${BENCH_SCHED_CLUSTER:-$BENCH_CLUSTER-sched}
sched_port=${BENCH_SCHED_PORT:-$((BENCH_PORT + 1))}
db=bench_sched          # the scheduler's database: listed in mojob.database
cdb=bench_catchup       # not listed: no worker touches it

work=$(mktemp -d /tmp/mojob-bench-sched.XXXXXX)
bench_on_exit 'rm -rf "$work"'

# The cluster: the harness's settings, mojob preloaded, one database
# scheduled.  Everything below talks to it.
bench_extra_cluster_start "$sched_cluster" "$sched_port" \
    "shared_preload_libraries = 'mojob'" "mojob.database = '$db'"
export PGHOST=$sched_cluster PGPORT=$sched_port

"$bench_bindir/createdb" $db
bench_psql $db -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION mojob CASCADE'
# The launcher looks for listed databases every 5 s; a reload makes it look now.
bench_value postgres "SELECT pg_reload_conf()" >/dev/null

# wait_sleeping: until the database's worker waits on its latch (a
# WaitLatch with PG_WAIT_EXTENSION: wait_event_type 'Extension').
worker_state() {
    bench_value postgres "SELECT coalesce(string_agg(wait_event_type || '/' || state, ','), 'none')
                          FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = '$db'"
}
wait_sleeping() {
    local i s
    for ((i = 0; i < 300; i++)); do
        s=$(worker_state)
        [ "$s" = "Extension/idle" ] && return 0
        sleep 0.1
    done
    bench_die "the scheduler worker of $db does not sleep (pg_stat_activity: $s)"
}
wait_sleeping
worker_pid=$(bench_value postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = '$db'")
bench_log "scheduler: worker $worker_pid serves $db and sleeps"

# ---------------------------------------------------------------------------
# 1. Lateness.  Each round: a confirmed job due in 60 s (a "sentinel"); once
# the worker sleeps towards it (or an earlier round's), one transaction
# creates per_round jobs starting gap_ms apart from 1 s on, each tentative
# with its own resource, and confirms them.  Its commit must wake the
# worker, which then sleeps until each start.  Lateness = job_event.at
# (cause time, to running) - start_at.  A series of rounds (the first one
# warms up) on each table: empty; a facility's (table_jobs jobs over two
# years, most completed, the rest canceled or ahead: confirmed, tentative,
# draft; none running or due); that one plus table_jobs confirmed jobs a
# year ahead.  None is due while the rounds run.
# ---------------------------------------------------------------------------
nseries=${#backlogs[@]}
declare -A mix
bench_psql $db -v nres=$((nseries * (rounds + 1) * per_round)) >/dev/null <<'SQL'
INSERT INTO mojob.resource (name) SELECT 'lateness ' || r FROM generate_series(1, :nres) AS r;
SQL
: >"$work/lateness"
r=0           # rounds are numbered across the series
for b in "${backlogs[@]}"; do
    case $b in
    empty) ;;
    facility)
        bench_log "scheduler: lateness on a facility's table of $table_jobs jobs"
        bench_psql $db -v n="$table_jobs" >/dev/null <<'SQL'
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, canceled_at)
SELECT 'facility ' || i, st, t - interval '15 minutes', t, t + interval '2 hours', t + interval '150 minutes',
       CASE WHEN st = 'canceled' THEN t - interval '1 day' END
FROM generate_series(1, :n) AS i,
     LATERAL (SELECT date_trunc('hour', now()) - interval '365 days' + i * (interval '730 days' / :n)) AS w(t),
     LATERAL (SELECT CASE WHEN t + interval '150 minutes' < now()
                          THEN CASE WHEN i % 20 = 0 THEN 'canceled' ELSE 'completed' END
                          WHEN t < now() + interval '1 day' THEN 'draft'    -- neither running nor due
                          ELSE (ARRAY['confirmed', 'confirmed', 'tentative', 'draft', 'canceled'])[1 + i % 5]
                     END::mojob.job_state) AS s(st);
VACUUM ANALYZE;
CHECKPOINT;
SQL
        ;;
    confirmed)
        bench_log "scheduler: lateness with $table_jobs more confirmed jobs a year ahead"
        bench_psql $db -v n="$table_jobs" >/dev/null <<'SQL'
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
SELECT 'ahead ' || i, 'confirmed', t - interval '10 minutes', t, t + interval '1 hour', t + interval '70 minutes'
FROM generate_series(1, :n) AS i,
     LATERAL (SELECT date_trunc('hour', now()) + interval '1 year' + i * interval '1 minute') AS w(t);
VACUUM ANALYZE;
CHECKPOINT;
SQL
        ;;
    esac
    mix[$b]=$(bench_value $db "SELECT format('%s jobs (%s)', coalesce(sum(n), 0), coalesce(string_agg(format('%s %s', state, n), ', ' ORDER BY state), 'none'))
                               FROM (SELECT state, count(*) AS n FROM mojob.job GROUP BY state) x")
    for ((q = 0; q <= rounds; q++, r++)); do
        bench_psql $db -c "SELECT mojob.confirm((mojob.create_job('sentinel $r', now() + interval '60 seconds',
                               now() + interval '2 hours', state => 'tentative')).id)" >/dev/null
        sleep 0.5
        wait_sleeping
        bench_psql $db -v r=$r -v n="$per_round" -v gap="$gap_ms" >/dev/null <<'SQL'
BEGIN;
SELECT mojob.confirm((mojob.create_job(format('lateness %s/%s', :r, k),
                                       t0 + k * :gap * interval '1 millisecond',
                                       t0 + k * :gap * interval '1 millisecond' + interval '1 hour',
                                       state => 'tentative',
                                       resources => ARRAY[(SELECT id FROM mojob.resource
                                                           WHERE name = 'lateness ' || (:r * :n + k + 1))])).id)
FROM (SELECT clock_timestamp() + interval '1 second' AS t0) AS t, generate_series(0, :n - 1) AS k;
COMMIT;
SQL
        # Leave the worker alone until the last one is due, then wait for it.
        sleep "$(awk -v n="$per_round" -v g="$gap_ms" 'BEGIN { printf "%.1f", 1.3 + n * g / 1000 }')"
        for ((i = 0; i < 100; i++)); do
            running=$(bench_value $db "SELECT count(*) FROM mojob.job WHERE name LIKE 'lateness $r/%' AND state = 'running'")
            [ "$running" = "$per_round" ] && break
            sleep 0.2
        done
        [ "$running" = "$per_round" ] || bench_die "round $r: only $running of $per_round jobs run after 20 s"
        # Lines: table round counted(0: warm-up) k lateness_ms
        counted=$((q > 0 ? 1 : 0))
        bench_value $db "SELECT '$b', $r, $counted, k,
                                round(extract(epoch FROM e.at - j.start_at) * 1000, 3)
                         FROM mojob.job j JOIN mojob.job_event e ON e.job_id = j.id
                         CROSS JOIN LATERAL (SELECT split_part(j.name, '/', 2)::int AS k) x
                         WHERE j.name LIKE 'lateness $r/%' AND e.cause = 'time' AND e.to_state = 'running'
                         ORDER BY k" | tr '|' ' ' >>"$work/lateness"
        bench_log "scheduler: lateness round $r ($b table$([ $q = 0 ] && echo ', warm-up')): $(awk -v r=$r '$2 == r { print $5 }' "$work/lateness" | sort -g |
            awk '{ v[NR] = $1 } END { printf "min %.2f ms, median %.2f ms, max %.2f ms", v[1], v[int((NR + 1) / 2)], v[NR] }')"
    done
done
total_rounds=$r
[ "$(awk '$3 == 1' "$work/lateness" | wc -l)" = $((nseries * rounds * per_round)) ] ||
    bench_die "lateness: expected $((nseries * rounds * per_round)) samples"
early=$(bench_value $db "SELECT count(*) FROM mojob.job j JOIN mojob.job_event e ON e.job_id = j.id
                         WHERE j.name LIKE 'lateness %' AND e.cause = 'time' AND e.at < j.start_at")
[ "$early" = 0 ] || bench_die "lateness: $early jobs ran before their start"

# ---------------------------------------------------------------------------
# 1b. For information: the worker catching up a backlog by itself, in batches
# of mojob.batch_size (1000) per transaction.  Jobs inserted due (as the
# table owner, in state confirmed, with triggers off the way a data-only
# restore writes them: since 1.1 a confirmed job inserted with the triggers
# on wakes the worker at commit, and it would catch up before the clock
# starts), then a reload sets the worker's latch.
# ---------------------------------------------------------------------------
bench_log "scheduler: the worker catches up $catchup due jobs"
bench_psql $db -v n="$catchup" >/dev/null <<'SQL'
SET session_replication_role = replica;
INSERT INTO mojob.job (code, name, state, pre_roll_start, start_at, end_at, post_roll_end,
                       created_at, created_by, updated_at)
SELECT 'DUE-' || lpad(i::text, 7, '0'), 'due ' || i, 'confirmed', s - interval '10 minutes', s, e,
       e + interval '10 minutes', s - interval '7 days', 'planner', s - interval '7 days'
FROM generate_series(1, :n) AS i,
     LATERAL (SELECT now() - interval '3 days' + i * (interval '2 days' / :n)) AS w(s),
     LATERAL (SELECT CASE WHEN i % 2 = 0 THEN s + interval '30 minutes' ELSE s + interval '7 days' END) AS x(e);
VACUUM ANALYZE;
CHECKPOINT;
SQL
wait_sleeping
woken=$(bench_value postgres "SELECT clock_timestamp()")
bench_value postgres "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 600; i++)); do
    left=$(bench_value $db "SELECT count(*) FROM mojob.job WHERE name LIKE 'due %' AND state = 'confirmed'")
    [ "$left" = 0 ] && break
    sleep 0.5
done
[ "$left" = 0 ] || bench_die "the worker left $left due jobs after 300 s"
wait_sleeping
worker_catchup=$(bench_value $db "SELECT round(extract(epoch FROM max(e.at) - '$woken'::timestamptz)::numeric, 2),
                                         count(*), count(DISTINCT e.job_id)
                                  FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id
                                  WHERE j.name LIKE 'due %'")
IFS='|' read -r worker_s worker_events worker_jobs <<<"$worker_catchup"
awk -v s="$worker_s" 'BEGIN { exit !(s > 0) }' ||
    bench_die "the worker's catch-up took $worker_s s from its wake-up: it moved the jobs before it was woken"
# Unlisted, the worker leaves; then the database can go.
bench_psql postgres -c "ALTER SYSTEM SET mojob.database = ''" -c "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 100; i++)); do
    [ "$(worker_state)" = none ] && break
    sleep 0.1
done
bench_db_drop $db

# ---------------------------------------------------------------------------
# 2. Catch-up throughput: SELECT mojob.advance() over catchup due jobs
# against the floor, the same change and history rows written by one bare
# statement on a copy of the table without triggers (bench/bare.sql).  The
# database is not in mojob.database: no worker races the statement.
# Each round starts from fresh tables: TRUNCATE, the same rows inserted
# (as the table owner, in state confirmed), VACUUM ANALYZE, CHECKPOINT.
# ---------------------------------------------------------------------------
bench_log "scheduler: catch-up, $catchup due jobs in mojob and bare"
bench_db_create $cdb
bench_on_exit "bench_db_drop $cdb 2>/dev/null"
bench_psql $cdb -v n="$catchup" >/dev/null <<'SQL'
CREATE TABLE public.seed AS
SELECT i AS id, 'JOB-' || lpad(i::text, 7, '0') AS code, 'due ' || i AS name,
       s - interval '10 minutes' AS pre_roll_start, s AS start_at, e AS end_at,
       e + interval '10 minutes' AS post_roll_end, s - interval '7 days' AS created_at
FROM generate_series(1, :n) AS i,
     LATERAL (SELECT now() - interval '3 days' + i * (interval '2 days' / :n)) AS w(s),
     LATERAL (SELECT CASE WHEN i % 2 = 0 THEN s + interval '30 minutes' ELSE s + interval '7 days' END) AS x(e);
SQL
bare_stmt="WITH u AS (UPDATE bare.job SET state = CASE WHEN state = 'confirmed' AND end_at > now()
                                               THEN 'running'::bare.job_state ELSE 'completed' END,
                                    version = version + 1, updated_at = now()
           WHERE (state = 'confirmed' AND start_at <= now()) OR (state = 'running' AND end_at <= now())
           RETURNING id, state)
INSERT INTO bare.job_event (job_id, from_state, to_state, at, by_user, cause)
SELECT u.id, t.f, t.t, clock_timestamp(), session_user, 'time'
FROM u CROSS JOIN LATERAL (VALUES ('confirmed'::bare.job_state, 'running'::bare.job_state),
                                  ('running', 'completed')) AS t(f, t)
WHERE t.f = 'confirmed' OR u.state = 'completed';"
mojob_stmt="SELECT mojob.advance();"
reset() { # reset IMPL: fresh tables holding the seed's jobs, confirmed
    cat <<SQL
SET client_min_messages = warning;
TRUNCATE $1.job, $1.job_event CASCADE;
INSERT INTO $1.job (id, code, name, state, pre_roll_start, start_at, end_at, post_roll_end,
                    created_at, created_by, updated_at)
SELECT id, code, name, 'confirmed', pre_roll_start, start_at, end_at, post_roll_end,
       created_at, 'planner', created_at FROM public.seed ORDER BY id;
VACUUM ANALYZE $1.job, $1.job_event;
CHECKPOINT;
SQL
}
# The two must find their rows alike.
declare -A scan
for impl in mojob bare; do
    reset $impl | bench_psql $cdb >/dev/null
done
scan[mojob]=$(bench_psql $cdb -At -c "EXPLAIN (COSTS OFF) UPDATE mojob.job SET state = state
                                       WHERE (state = 'confirmed' AND start_at <= now()) OR (state = 'running' AND end_at <= now())" |
              grep -o -E '(Seq Scan|Index Scan|Bitmap Heap Scan|Bitmap Index Scan)( using [a-z_]+)?( on [a-z_]+)?' | paste -sd, - | sed 's/,/, /g')
scan[bare]=$(bench_psql $cdb -At -c "EXPLAIN (COSTS OFF) $bare_stmt" |
             grep -o -E '(Seq Scan|Index Scan|Bitmap Heap Scan|Bitmap Index Scan)( using [a-z_]+)?( on [a-z_]+)?' | paste -sd, - | sed 's/,/, /g')

script=$work/catchup.sql
impls=(mojob bare)
{
    echo '\set ON_ERROR_STOP on'
    for ((r = 0; r <= catchup_rounds; r++)); do
        for ((k = 0; k < ${#impls[@]}; k++)); do
            impl=${impls[$(((r + k) % ${#impls[@]}))]}
            reset "$impl"
            echo "\\echo @ $r $impl"
            echo '\timing on'
            if [ "$impl" = mojob ]; then echo "$mojob_stmt"; else echo "$bare_stmt"; fi
            echo '\timing off'
        done
    done
} >"$script"
bench_log "scheduler: catch-up, $((catchup_rounds + 1)) rounds (the first one warms up)"
bench_wait "$bench_bindir/psql" -X -q -v ON_ERROR_STOP=1 -d $cdb -f "$script" >"$work/out" 2>"$work/err" || {
    cat "$work/err" >&2
    bench_die "the timed statements failed"
}
awk '/^@ / { key = $2 " " $3 } /^Time: / { print key, $2; key = "" }' "$work/out" >"$work/raw"
[ "$(wc -l <"$work/raw")" = $(((catchup_rounds + 1) * 2)) ] || {
    cat "$work/out" "$work/err" >&2
    bench_die "could not read the timings"
}
# The last round left both alike: the same states, versions and history rows.
summary=$(bench_psql $cdb -At -F' ' <<'SQL'
SELECT 'mojob', count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'completed'),
       sum(version), (SELECT count(*) FROM mojob.job_event WHERE cause = 'time') FROM mojob.job
UNION ALL
SELECT 'bare', count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'completed'),
       sum(version), (SELECT count(*) FROM bare.job_event WHERE cause = 'time') FROM bare.job;
SQL
)
if [ "$(cut -d' ' -f2- <<<"$summary" | uniq | wc -l)" != 1 ]; then
    echo "$summary" >&2
    bench_die "catch-up: mojob and bare did not end alike"
fi
read -r _ c_running c_completed _ c_events <<<"$(head -1 <<<"$summary")"
bench_db_drop $cdb

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
# lat TABLE P: the P-th percentile (nearest rank) of the counted lateness
# samples on that table (P = 0: the least).
lat() {
    awk -v b="$1" '$1 == b && $3 == 1 { print $5 }' "$work/lateness" | sort -g |
        awk -v p="$2" '{ v[NR] = $1 } END { k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; printf "%.2f\n", v[k] }'
}
l99=$(lat facility 99)
l99c=$(lat confirmed 99)
samples=$((rounds * per_round))
med() { awk -v i="$1" '$1 > 0 && $2 == i { print $3 }' "$work/raw" | median; }
m_mojob=$(med mojob)
m_bare=$(med bare)
vs_bare=$(ratio "$m_mojob" "$m_bare")
transitions=$((c_running + 2 * c_completed))
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n / (ms / 1000) }'; }

cat <<EOF
## 4. Scheduler

A second throwaway cluster with the same settings plus
\`shared_preload_libraries = 'mojob'\` and \`mojob.database = '$db'\`
(synchronous_commit = $BENCH_SYNCHRONOUS_COMMIT); one worker serves the
database, found in \`pg_stat_activity\` as backend type \`mojob scheduler\`.

### Lateness

Each round, a confirmed job due in 60 s is made first and the script waits
until the worker sleeps (\`wait_event_type = 'Extension'\`, idle; it sleeps
towards that job or an earlier round's, 20–60 s away).  Then one
transaction creates $per_round jobs with \`mojob.create_job(..., state =>
'tentative', resources => ...)\` (each its own resource) and confirms them
with \`mojob.confirm\`, their starts ${gap_ms} ms apart from 1 s after the
statement began.  Its commit wakes the worker, which sleeps until each
start in turn.  Lateness = \`job_event.at\` (the clock time the transition
was written, \`cause = 'time'\`, to running) − \`start_at\`; no job ran early.
A series of $rounds rounds after a warm-up round ($samples samples) on each of
three tables, none of whose other jobs is due meanwhile: *empty* (only the
rounds' jobs); *facility*, a facility's table of $table_jobs jobs over two
years, most of them completed, the rest canceled or ahead (confirmed,
tentative, draft), none running (the goal is judged here); *confirmed*, that
table plus $table_jobs confirmed jobs a year ahead (a table mostly of
confirmed jobs).  The jobs of the earlier rounds stay (running, ending in
an hour).

| table | samples | min | p50 | p90 | p99 | max (ms) |
|---|---:|---:|---:|---:|---:|---:|
EOF
for b in "${backlogs[@]}"; do
    printf '| %s: %s | %s | %s | %s | %s | %s | %s |\n' "$b" "${mix[$b]}" "$samples" "$(lat "$b" 0)" "$(lat "$b" 50)" \
        "$(lat "$b" 90)" "$(lat "$b" 99)" "$(lat "$b" 100)"
done
cat <<EOF

Per round (the first of each series warms up and is not counted):

| table | round | min | p50 | max (ms) |
|---|---|---:|---:|---:|
EOF
for ((q = 0; q < total_rounds; q++)); do
    awk -v r=$q '$2 == r { print $5 }' "$work/lateness" | sort -g |
        awk -v r=$q -v b="$(awk -v r=$q '$2 == r { print $1 " " $3; exit }' "$work/lateness")" '
            { v[NR] = $1 } END { split(b, x, " "); printf "| %s | %d%s | %.2f | %.2f | %.2f |\n", x[1], r,
                                 (x[2] == 0 ? " (warm-up)" : ""), v[1], v[int((NR + 1) / 2)], v[NR] }'
done
cat <<EOF

For information, the worker catching up by itself: $catchup jobs inserted
due (half of them also past their end) while it slept, then woken by a
reload: $worker_events transitions of $worker_jobs jobs made in $worker_s s
(in transactions of \`mojob.batch_size\` = 1000 jobs), about
$(awk -v n="$worker_events" -v s="$worker_s" 'BEGIN { printf "%.0f", n / s }') transitions/s.

### Catch-up throughput

$catchup confirmed jobs whose start passed 1–3 days ago (inserted as the
table owner in state confirmed, without resources); every other one also
past its end, so \`mojob.advance()\` moves half to running and half through
running to completed: $transitions transitions ($c_running running,
$c_completed completed), one history row each.  The floor does the same
with one statement on \`bare.job\` (no trigger, same columns, constraints and
indexes).  Each statement is timed by psql (\`\\timing\`, autocommit, so the
commit, with mojob's NOTIFYs, is in), in one session: medians of
$catchup_rounds rounds after a warm-up round, the two in a rotated order; each
starts from fresh tables (TRUNCATE, the same rows inserted, VACUUM ANALYZE,
CHECKPOINT, untimed).  The database is not in \`mojob.database\`, so no
worker races the statement.  Scans: mojob ${scan[mojob]}; bare ${scan[bare]}.

| implementation | median (ms) | transitions/s | × bare |
|---|---:|---:|---:|
| mojob: \`SELECT mojob.advance()\` | $m_mojob | $(rate $transitions "$m_mojob") | $vs_bare |
| bare (floor: UPDATE + history INSERT in one statement, no trigger) | $m_bare | $(rate $transitions "$m_bare") | 1.00 |

| goal | measured | |
|---|---:|---|
| lateness p99 ≤ 10 ms, a facility's table | $l99 ms | $(goal "$l99" '<=' 10) |
| lateness p99 ≤ 10 ms, a table mostly of confirmed jobs ahead | $l99c ms | $(goal "$l99c" '<=' 10) |
| catch-up: mojob's time ≤ 1.25 × bare's | $vs_bare × | $(goal "$vs_bare" '<=' 1.25) |

Raw catch-up timings (ms), round 0 the warm-up:

| round | order | mojob | bare |
|---|---|---:|---:|
EOF
for ((r = 0; r <= catchup_rounds; r++)); do
    order=$(awk -v r=$r '$1 == r { printf "%s%s", sep, $2; sep = " → " }' "$work/raw")
    printf '| %d | %s | %s | %s |\n' $r "$order" \
        "$(awk -v r=$r '$1 == r && $2 == "mojob" { print $3 }' "$work/raw")" \
        "$(awk -v r=$r '$1 == r && $2 == "bare" { print $3 }' "$work/raw")"
done
echo
echo "The floor's statement (its history rows assume every due job was confirmed, as here):"
echo
echo '```sql'
echo "$bare_stmt"
echo '```'

{
    printf '4. scheduler\tlateness p99 ≤ 10 ms (a facility'"'"'s table)\t%s ms\t%s\n' "$l99" "$(goal "$l99" '<=' 10)"
    printf '4. scheduler\tlateness p99 ≤ 10 ms (table mostly confirmed jobs ahead)\t%s ms\t%s\n' "$l99c" "$(goal "$l99c" '<=' 10)"
    printf '4. scheduler\tcatch-up: mojob.advance() ≤ 1.25 × bare'"'"'s time\t%s ×\t%s\n' "$vs_bare" "$(goal "$vs_bare" '<=' 1.25)"
} >>"${BENCH_GOALS:-/dev/null}"

# For compare.sh: the headline figures.
bench_ratio sched.lateness_p99_facility_ms "$l99" lower
bench_ratio sched.lateness_p99_confirmed_ms "$l99c" lower
bench_ratio sched.catchup_x_bare "$(ratio4 "$m_mojob" "$m_bare")" lower
bench_ratio sched.catchup_ms "$m_mojob" lower
