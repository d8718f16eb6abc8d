#!/usr/bin/env bash
# bench/views.sh: the views at a real facility's size.  Loads 1,000,000 jobs
# on 1,000 resources over four years (two past, two ahead) through mojob's
# triggers, then times what the screens ask: the Ops Board's next 24 hours,
# one resource's week, the jobs with errors in the next 24 hours, and the
# error overlay of the board.  Prints a Markdown section on stdout.
#
#   BENCH_VIEWS_JOBS        jobs                                  (default 1000000; quick: 100000)
#   BENCH_VIEWS_RESOURCES   resources                             (default 1000)
#   BENCH_VIEWS_SECONDS     length of each timed pgbench round    (default 30; quick: 5)
. "$(dirname "$0")/lib.sh"

njobs=${BENCH_VIEWS_JOBS:-$(bench_rounds 1000000 100000)}
nres=${BENCH_VIEWS_RESOURCES:-1000}
seconds=${BENCH_VIEWS_SECONDS:-$(bench_rounds 30 5)}
db=bench_views
[ "$nres" -ge 7 ] || bench_die "BENCH_VIEWS_RESOURCES must be at least 7"

# ---------------------------------------------------------------------------
# The queries.  Each is a pgbench script; :rid is a random resource.
# ---------------------------------------------------------------------------
queries=(a a_rules a_ideal a_floor a_rows a_cols b b_int4 c c_nolower d d_all e_page e_join)
declare -A sql label
sql[a]="SELECT * FROM mojob.ops_board WHERE board = 'upcoming' AND start_at < now() + interval '24 hours';"
label[a]="(a) Ops Board, upcoming in the next 24 h"
# (a_ideal): the least any board can do: read the same rows through the same
# index from mojob.job and send the same 30 columns, the action flags being
# constants (no state test, no lock, no node probe, no view).
k_up="CASE WHEN j.state = ANY (mojob.board_states('upcoming')) THEN j.start_at END"
sql[a_ideal]="SELECT 'upcoming'::mojob.board AS board, j.id, j.code, j.name, j.description, j.priority, j.state, j.pre_roll_start, $k_up AS start_at, j.end_at, j.post_roll_end, j.canceled_at, j.cancel_reason, j.owner, j.properties, j.version, j.created_at, j.created_by, j.updated_at, j.locked_by, j.locked_until, j.recurrence_id, false AS can_edit, false AS can_delete, false AS can_reserve, false AS can_confirm, false AS can_unconfirm, false AS can_start, false AS can_stop, false AS can_cancel FROM mojob.job j WHERE j.state = ANY (mojob.board_states('upcoming')) AND $k_up < now() + interval '24 hours' ORDER BY $k_up, j.id;"
label[a_ideal]="(a) lower bound, for information: the board's rows and 30 columns read from mojob.job through its index, the 8 flags constants (no view, no rule)"
# (a_rules): the same rows with the board's rules applied as cheaply as this
# project knows, by one hand-written query (no view: one index scan, the
# flags and node probes in its projection).  Returns what (a) returns.
lock_other="coalesce(j.locked_until > now() AND j.locked_by <> (SELECT mojob.acting_user()), false)"
flags=""
for act in edit delete reserve confirm unconfirm start stop cancel; do
    f="mojob.action_open('$act', j.state) AND NOT $lock_other"
    case $act in
    reserve) f="$f AND (d.ids = '{}' OR NOT EXISTS (SELECT FROM mojob.job_resource n WHERE n.job_id = j.id AND n.resource_id = ANY (d.ids) OFFSET 0))" ;;
    confirm) f="$f AND NOT EXISTS (SELECT FROM mojob.job_resource n WHERE n.job_id = j.id AND n.resource_id IS NULL OFFSET 0)" ;;
    stop) f="$f AND j.start_at < now()" ;;
    esac
    flags+=", $f AS can_$act"
done
sql[a_rules]="SELECT 'upcoming'::mojob.board AS board, j.id, j.code, j.name, j.description, j.priority, j.state, j.pre_roll_start, $k_up AS start_at, j.end_at, j.post_roll_end, j.canceled_at, j.cancel_reason, j.owner, j.properties, j.version, j.created_at, j.created_by, j.updated_at, j.locked_by, j.locked_until, j.recurrence_id$flags FROM mojob.job j CROSS JOIN (SELECT ARRAY(SELECT r.id FROM mojob.resource r WHERE NOT r.enabled) AS ids) d WHERE j.state = ANY (mojob.board_states('upcoming')) AND $k_up < now() + interval '24 hours' ORDER BY $k_up, j.id;"
label[a_rules]="(a) for information: the board's rows with its rules, by one hand-written query (no view; the least this project found a board with the rules can cost)"
sql[a_floor]="SELECT 'upcoming' AS board, * FROM mojob.job WHERE state IN ('draft', 'tentative', 'confirmed') AND start_at < now() + interval '24 hours' ORDER BY start_at, id;"
label[a_floor]="(a) floor, for information: the same rows and job columns from mojob.job, no view"
sql[a_rows]="SELECT * FROM public.bench_board_rows;"
label[a_rows]="(a) floor of this machine, for information: the board's rows and columns from a plain table of only them (what formatting and sending them costs)"
sql[a_cols]="SELECT id, code, name, state, start_at, end_at, can_edit, can_cancel FROM mojob.ops_board WHERE board = 'upcoming' AND start_at < now() + interval '24 hours';"
label[a_cols]="(a) for information: some of the board's columns, as an application lists them"
sql[b]="SELECT * FROM mojob.resource_schedule WHERE resource_id = :rid AND held && tstzrange(now(), now() + interval '7 days');"
label[b]="(b) one resource's schedule for a week (\`\$1\` a bigint parameter)"
sql[b_int4]="SELECT * FROM mojob.resource_schedule WHERE resource_id = :rid::integer AND held && tstzrange(now(), now() + interval '7 days');"
label[b_int4]="(b) for information: the same with an \`integer\` parameter (a literal \`= 42\`, JDBC \`setInt\`)"
sql[c]="SELECT * FROM mojob.jobs WHERE has_error AND start_at >= now() AND start_at < now() + interval '24 hours';"
label[c]="(c) jobs with errors starting in the next 24 h"
sql[c_nolower]="SELECT * FROM mojob.jobs WHERE has_error AND start_at < now() + interval '24 hours';"
label[c_nolower]="(c) without the lower bound: jobs with errors starting before 24 h from now"
sql[d]="SELECT e.* FROM mojob.job_errors e JOIN mojob.ops_board b ON b.id = e.job_id WHERE b.board = 'upcoming' AND b.start_at < now() + interval '24 hours';"
label[d]="(d) the errors of the board's upcoming jobs (job_errors joined to (a))"
sql[d_all]="SELECT * FROM mojob.job_errors;"
label[d_all]="(d) for information: every error now"
# (e): the Job View as an application pages through it and joins into it:
# the view must stay one scan of mojob.job that an index order or a join
# by id can reach.
sql[e_page]="SELECT * FROM mojob.jobs ORDER BY start_at DESC, id DESC LIMIT 50;"
label[e_page]="(e) for information: the Job View's last page (50 rows by start, newest first)"
sql[e_join]="SELECT j.* FROM mojob.job_resource n JOIN mojob.jobs j ON j.id = n.job_id WHERE n.resource_id = :rid ORDER BY n.job_id DESC LIMIT 20;"
label[e_join]="(e) for information: the Job View joined by id (a resource's 20 newest jobs)"
# They run interleaved in one pgbench session.
fast=(a a_rules a_ideal a_floor a_rows a_cols b b_int4 c c_nolower d d_all e_page e_join)

bench_cluster_start
work=$(mktemp -d /tmp/mojob-bench-views.XXXXXX)
bench_on_exit 'rm -rf "$work"'
bench_on_exit "bench_db_drop $db 2>/dev/null"

bench_db_drop $db
"$bench_bindir/createdb" $db
bench_psql $db -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION mojob CASCADE'

# ---------------------------------------------------------------------------
# The facility.  Written as the superuser, who owns mojob.job and may insert
# jobs in any state (as a restore does); every row still goes through
# mojob's triggers, which fill the bookings.
#
# Resources: nres, concurrency 1; the last one is a spare, disabled at the end.
# Lane l (of (nres - 1) / 3) owns resources 3l+1 .. 3l+3.  Its jobs follow one
# another in slots of equal length (four years / jobs per lane), the lanes
# shifted by l/lanes of a slot so that starts spread evenly over time.  In
# its slot a job's pre-roll starts 0-2 h in, lasts 15-30 min; the job lasts
# 30 min - 6 h, its post-roll 10-30 min: no two bookings of a resource
# overlap.  Each job has 1, 2 or 3 nodes (10%, 30%, 60%): resources 3l+1 ...
#
# States, as a facility has them: over (post-roll ended): 5% canceled, one in
# 9973 a forgotten draft (START_MISSED), the rest completed; started and not
# ended: running; ended, in post-roll: completed; not started: within a day
# 85% confirmed, 10% tentative, 5% draft; within 30 days 60/25/10% and 5%
# canceled; later 25/30/40% and 5% canceled.  Future drafts and tentatives:
# 2% also have a pool node still to be filled (NODE_UNRESOLVED); 0.3% of
# future drafts also use the spare resource (RESOURCE_UNAVAILABLE).
# ---------------------------------------------------------------------------
bench_log "views: loading $njobs jobs on $nres resources"
t_load=$SECONDS
bench_psql $db -v n="$njobs" -v nres="$nres" >/dev/null <<'SQL'
SET client_min_messages = warning;
INSERT INTO mojob.resource (id, name, concurrency, capabilities, properties)
SELECT r, format('%s %s', (ARRAY['Studio', 'Camera', 'Encoder', 'Link', 'Crew'])[1 + r % 5], r), 1,
       CASE WHEN r % 3 = 1 THEN '{uhd}'::text[] ELSE '{}' END,
       jsonb_build_object('kind', (ARRAY['studio', 'camera', 'encoder', 'link', 'crew'])[1 + r % 5])
FROM generate_series(1, :nres) AS r;
SELECT setval('mojob.resource_id_seq', :nres);
INSERT INTO mojob.pool (id, name) VALUES (1, 'Cameras');
SELECT setval('mojob.pool_id_seq', 1);
INSERT INTO mojob.pool_member (pool_id, resource_id)
SELECT 1, 3 * l + 1 FROM generate_series(0, (:nres - 1) / 3 - 1) AS l;

CREATE UNLOGGED TABLE public.bench_gen AS
WITH p AS (
    SELECT (:nres - 1) / 3 AS lanes,
           date_trunc('hour', now()) - interval '730 days' AS t0,
           interval '1461 days' / ceil(:n::numeric / ((:nres - 1) / 3))::int AS slot
), g AS (
    SELECT i, (i - 1) % p.lanes AS lane, (i - 1) / p.lanes AS k, p.lanes, p.t0, p.slot,
           hashint4(i)::bigint & 2147483647 AS h1,
           hashint4(i + 1000000007)::bigint & 2147483647 AS h2,
           hashint4(-i)::bigint & 2147483647 AS h3
    FROM p, generate_series(1, :n) AS i
), w AS (
    SELECT g.*, t0 + (k + lane::float8 / lanes) * slot + (h1 % 7200) * interval '1 second' AS pre
    FROM g
), w2 AS (
    SELECT w.*, pre + (15 + h2 % 16) * interval '1 minute' AS start_at FROM w
), w3 AS (
    SELECT w2.*, start_at + (30 + h3 % 331) * interval '1 minute' AS end_at FROM w2
), w4 AS (
    SELECT w3.*, end_at + (10 + (h1 / 7200) % 21) * interval '1 minute' AS post_end,
           (h2 / 16) % 100 AS pct, (h3 / 331) % 1000 AS permille, (h1 / 151200) % 10 AS decile
    FROM w3
)
SELECT i, lane, CASE WHEN decile < 1 THEN 1 WHEN decile < 4 THEN 2 ELSE 3 END AS nnodes,
       pct, permille, pre, start_at, end_at, post_end,
       CASE
           WHEN post_end <= now() THEN
               CASE WHEN i % 9973 = 0 THEN 'draft' WHEN pct < 5 THEN 'canceled' ELSE 'completed' END
           WHEN start_at <= now() THEN CASE WHEN end_at <= now() THEN 'completed' ELSE 'running' END
           WHEN start_at < now() + interval '1 day' THEN
               CASE WHEN pct < 85 THEN 'confirmed' WHEN pct < 95 THEN 'tentative' ELSE 'draft' END
           WHEN start_at < now() + interval '30 days' THEN
               CASE WHEN pct < 60 THEN 'confirmed' WHEN pct < 85 THEN 'tentative'
                    WHEN pct < 95 THEN 'draft' ELSE 'canceled' END
           ELSE
               CASE WHEN pct < 25 THEN 'confirmed' WHEN pct < 55 THEN 'tentative'
                    WHEN pct < 95 THEN 'draft' ELSE 'canceled' END
       END::mojob.job_state AS state
FROM w4;

INSERT INTO mojob.job (id, code, name, priority, state, pre_roll_start, start_at, end_at, post_roll_end,
                       canceled_at, cancel_reason, owner, version, created_at, created_by, updated_at)
SELECT i, 'JOB-' || lpad(i::text, 7, '0'),
       (ARRAY['Evening news', 'Match', 'Satellite feed', 'Studio show', 'Rehearsal', 'Concert', 'Talk show'])[1 + pct % 7]
           || ' ' || i,
       (ARRAY['normal', 'normal', 'normal', 'high', 'low'])[1 + permille % 5]::mojob.job_priority,
       state, pre, start_at, end_at, post_end,
       CASE WHEN state = 'canceled' THEN least(now(), pre) - interval '1 day' END,
       CASE WHEN state = 'canceled' THEN 'no longer needed' END,
       (ARRAY['anna', 'ben', 'chloe', 'dev'])[1 + permille % 4],
       CASE state WHEN 'draft' THEN 1 WHEN 'tentative' THEN 2 WHEN 'confirmed' THEN 3
                  WHEN 'running' THEN 4 ELSE 5 END,
       least(now(), pre) - (7 + permille % 60) * interval '1 day', 'planner',
       least(now(), pre) - interval '1 day'
FROM public.bench_gen ORDER BY i;
SELECT setval('mojob.job_id_seq', :n), setval('mojob.job_code_seq', :n);
SQL
t_jobs=$((SECONDS - t_load))

# The nodes, through the node trigger (which books them and checks the
# resource is free): one session per core, each on its own lanes, so they
# never wait for each other's resources.
t_nodes=$SECONDS
parts=$(nproc)
pids=()
for ((p = 0; p < parts; p++)); do
    bench_psql $db -v part=$p -v parts="$parts" >/dev/null <<'SQL' &
SET client_min_messages = warning;
INSERT INTO mojob.job_resource (job_id, resource_id, alias)
SELECT i, 3 * lane + s, (ARRAY['main', 'second', 'third'])[s]
FROM public.bench_gen, generate_series(1, nnodes) AS s
WHERE lane % :parts = :part
ORDER BY i, s;
SQL
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || bench_die "loading the nodes failed"
done
bench_psql $db -v nres="$nres" >/dev/null <<'SQL'
SET client_min_messages = warning;
INSERT INTO mojob.job_resource (job_id, pool_id, alias, required_capabilities)
SELECT i, 1, 'pool camera', '{uhd}' FROM public.bench_gen
WHERE state IN ('draft', 'tentative') AND start_at > now() AND permille < 20 ORDER BY i;
INSERT INTO mojob.job_resource (job_id, resource_id, alias)
SELECT i, :nres, 'spare' FROM public.bench_gen
WHERE state = 'draft' AND start_at > now() AND permille BETWEEN 20 AND 22 ORDER BY i;
UPDATE mojob.resource SET enabled = false WHERE id = :nres;
DROP TABLE public.bench_gen;
SQL
t_nodes=$((SECONDS - t_nodes))
t_vacuum=$SECONDS
bench_psql $db -c 'VACUUM ANALYZE' -c CHECKPOINT
t_vacuum=$((SECONDS - t_vacuum))
# (a_rows): what (a) returns, copied once into a table of its own, so that
# reading it costs nothing but the rows themselves.
bench_psql $db -c "CREATE TABLE public.bench_board_rows AS ${sql[a]%;}" -c 'VACUUM ANALYZE public.bench_board_rows' >/dev/null
# (a_rules) must return what (a) returns, or it measures nothing.
differ=$(bench_value $db "SELECT (SELECT count(*) FROM ((${sql[a]%;}) EXCEPT ALL (${sql[a_rules]%;})) x)
                               + (SELECT count(*) FROM ((${sql[a_rules]%;}) EXCEPT ALL (${sql[a]%;})) y)")
[ "$differ" = 0 ] || bench_die "a_rules does not return what (a) returns: $differ rows differ"
t_load=$((SECONDS - t_load))
bench_log "views: loaded in ${t_load}s (jobs ${t_jobs}s, nodes ${t_nodes}s, VACUUM ANALYZE ${t_vacuum}s)"

# What was loaded.
states=$(bench_value $db "SELECT string_agg(format('%s %s', state, n), ', ' ORDER BY state)
                          FROM (SELECT state, count(*) AS n FROM mojob.job GROUP BY state) s")
nodes=$(bench_value $db "SELECT count(*) FROM mojob.job_resource")
bookings=$(bench_value $db "SELECT count(*) FROM mojob.booking")
errors=$(bench_value $db "SELECT string_agg(format('%s %s', code, n), ', ' ORDER BY code)
                          FROM (SELECT code, count(*) AS n FROM mojob.job_errors GROUP BY code) e")
sizes=$(bench_value $db "SELECT string_agg(format('%s %s', c.relname, pg_size_pretty(pg_total_relation_size(c.oid))), ', '
                                           ORDER BY pg_total_relation_size(c.oid) DESC)
                         FROM pg_class c WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind = 'r'
                           AND c.relname IN ('job', 'job_resource', 'booking')")
span=$(bench_value $db "SELECT format('%s to %s', min(start_at)::date, max(start_at)::date) FROM mojob.job")

# ---------------------------------------------------------------------------
# Plans: EXPLAIN (ANALYZE, BUFFERS) of each query, once warm, for a resource
# in the middle.  The scans are summed up by node for the table.
# ---------------------------------------------------------------------------
rid_plan=$(((nres - 1) / 2))
declare -A rows scans plan_ms
for q in "${queries[@]}"; do
    s=${sql[$q]//:rid/$rid_plan::bigint}    # as a bigint parameter would be
    bench_psql $db -At -c "$s" >/dev/null    # warm the cache
    bench_psql $db -At -c "EXPLAIN (ANALYZE, BUFFERS) $s" >"$work/plan.$q"
    # The top node's actual rows.
    rows[$q]=$(grep -m1 -o 'actual time=[0-9.]*\.\.[0-9.]* rows=[0-9]*' "$work/plan.$q" | sed 's/.*rows=//')
    plan_ms[$q]=$(sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p' "$work/plan.$q")
    # Scan nodes: "node on rel [using idx]" with its rows x loops, summed.
    scans[$q]=$(sed -n 's/^ *\(->  \)\{0,1\}\(\(Parallel \)\{0,1\}\(Seq Scan\|Index Scan\|Index Only Scan\|Bitmap Heap Scan\|Bitmap Index Scan\|Function Scan\) [^(]*\) (cost=[^)]*) (actual [^)]*rows=\([0-9]*\) loops=\([0-9]*\)).*/\2|\5|\6/p;
                       s/^ *\(->  \)\{0,1\}\(\(Parallel \)\{0,1\}\(Seq Scan\|Index Scan\|Index Only Scan\|Bitmap Heap Scan\|Bitmap Index Scan\|Function Scan\) [^(]*\) (cost=[^)]*) (never executed).*/\2|0|0/p' \
                   "$work/plan.$q" |
                 awk -F'|' '{ k = $1; sub(/ +$/, "", k); if (k ~ / on [^ ]+ [^ ]+$/) sub(/ [^ ]+$/, "", k)
                              if (!(k in loops)) order[++n] = k; loops[k] += $3; r[k] += $2 * $3 }
                            END { for (i = 1; i <= n; i++) {
                                      k = order[i]; printf "%s%s: %d row%s in %d loop%s", (i > 1 ? "; " : ""),
                                          k, r[k], (r[k] == 1 ? "" : "s"), loops[k], (loops[k] == 1 ? "" : "s") } }')
done
# (d): does the overlay of the board read every job?
seq_d=$(cat "$work/plan.d" "$work/plan.d_all" | { grep -c -E 'Seq Scan on job ' || true; })

# ---------------------------------------------------------------------------
# Timing.  The fast queries run interleaved in one pgbench session (each
# transaction picks one at random, so whatever the machine does meanwhile
# falls on all alike), once with prepared statements (-M prepared: planned
# once, as drivers and ORMs do) and once with the simple protocol (planned
# every time, as psql does); a short warm-up round first.  Each query's p50
# comes from pgbench's per-transaction log.
# ---------------------------------------------------------------------------
scripts=()
for q in "${fast[@]}"; do
    {
        echo "\\set rid random(1, $((nres - 1)))"
        echo "${sql[$q]}"
    } >"$work/$q.pgbench"
    scripts+=(-f "$work/$q.pgbench@1")
done
run_pgbench() { # run_pgbench MODE SECONDS TAG
    rm -f "$work"/log.*
    bench_wait "$bench_bindir/pgbench" -n -M "$1" -c 1 -j 1 -T "$2" -l --log-prefix="$work/log" \
        --random-seed=4242 "${scripts[@]}" $db >"$work/pgbench.out" 2>&1 ||
        { cat "$work/pgbench.out" >&2; bench_die "pgbench failed"; }
    # Log lines: client transaction latency_us script epoch us.
    awk -v tag="$3" -v names="${fast[*]}" 'BEGIN { split(names, name, " ") }
        { print tag, name[$4 + 1], $3 }' "$work"/log.* >>"$work/lat"
}
: >"$work/lat"
bench_psql $db -c 'VACUUM ANALYZE' -c CHECKPOINT
for mode in prepared simple; do
    bench_log "views: ${seconds}s of interleaved queries, -M $mode (after a warm-up)"
    run_pgbench $mode 3 warmup
    run_pgbench $mode "$seconds" $mode
done

bench_db_drop $db

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
# pct TAG QUERY P: the P-th percentile (nearest rank) of its latencies, in ms.
pct() {
    awk -v t="$1" -v q="$2" '$1 == t && $2 == q { print $3 / 1000 }' "$work/lat" | sort -g |
        awk -v p="$3" '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan"; exit }
            k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; printf "%.2f\n", v[k] }'
}
count() { awk -v t="$1" -v q="$2" '$1 == t && $2 == q { n++ } END { print n + 0 }' "$work/lat"; }
declare -A p50
for q in "${queries[@]}"; do
    p50[$q]=$(pct prepared "$q" 50)
done

cat <<EOF
## 5. Views at a facility's size

A facility of $nres resources (concurrency 1) and $njobs jobs, starting
from $span (two years past, two ahead), loaded as the superuser with
\`INSERT ... SELECT generate_series\` through mojob's triggers (the node trigger
books each node and checks its resource is free), then \`VACUUM ANALYZE\`:
$t_load s in all (jobs $t_jobs s, nodes $t_nodes s in $parts parallel sessions on
separate resources, vacuum $t_vacuum s).  Resources are used in lanes of three,
one job after another, so no booking conflicts; each job has 1–3 nodes (10% /
30% / 60%).  Past jobs are mostly completed (5% canceled, one in 9,973 a draft
that was never done); jobs under way are running; future ones are confirmed,
tentative or draft, more often confirmed the sooner they start (5% canceled
beyond a day).  2% of future drafts and tentatives also wait for a pool camera;
0.3% of future drafts use a spare resource that is then disabled.

- **jobs:** $states
- **nodes:** $nodes; **bookings:** $bookings
- **errors now (\`mojob.job_errors\`):** $errors
- **sizes (with indexes, TOAST):** $sizes

Each query was timed by pgbench in one session (\`-c 1\`), all of them
interleaved (every transaction picks one of them at random) for ${seconds}s
with prepared statements (\`-M prepared\`, planned once as drivers do) and
then ${seconds}s with the simple protocol (\`-M simple\`, planned at each call as
psql does), each after a 3 s warm-up.  Latencies are as the client sees them
(the rows sent over a Unix socket included); \`:rid\` is a random resource.
*rows* and *plan* are from one \`EXPLAIN (ANALYZE, BUFFERS)\` run, warm, for
resource $rid_plan; *plan ms* is its execution time on the server (no
planning, no sending).

| query | rows | p50 ms (prepared) | p90 | p99 | n | p50 ms (simple) | plan ms |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
for q in "${queries[@]}"; do
    simple=$(pct simple "$q" 50)
    [ "$simple" != nan ] || simple='–'
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$q]}" "${rows[$q]}" \
        "${p50[$q]}" "$(pct prepared "$q" 90)" "$(pct prepared "$q" 99)" "$(count prepared "$q")" \
        "$simple" "${plan_ms[$q]}"
done
cat <<EOF

| goal | measured (p50, prepared) | |
|---|---:|---|
| (a) Ops Board upcoming, next 24 h: p50 ≤ 2 ms | ${p50[a]} ms | $(goal "${p50[a]}" '<=' 2) |
| for information: (a)'s rows with its rules by one hand-written query, no view (a_rules) | ${p50[a_rules]} ms | information |
| for information: (a)'s rows and columns read from mojob.job with constant flags (a_ideal) | ${p50[a_ideal]} ms | information |
| for information: (a)'s rows from a plain table of only them (a_rows) | ${p50[a_rows]} ms | information |
| (b) one resource's week: p50 ≤ 2 ms | ${p50[b]} ms | $(goal "${p50[b]}" '<=' 2) |
| (c) jobs with errors in the next 24 h: p50 ≤ 10 ms | ${p50[c]} ms | $(goal "${p50[c]}" '<=' 10) |
| (c) the same without the lower bound: p50 ≤ 10 ms | ${p50[c_nolower]} ms | $(goal "${p50[c_nolower]}" '<=' 10) |
| (d) the board's errors read no job table sequentially | $seq_d seq. scans of mojob.job | $( [ "$seq_d" = 0 ] && echo met || echo '**missed**') |

What each plan reads (scan nodes, rows × loops summed per node):

| query | scans |
|---|---|
EOF
for q in "${queries[@]}"; do
    printf '| %s | %s |\n' "$q" "${scans[$q]}"
done
echo
echo "Queries:"
echo
echo '```sql'
for q in "${queries[@]}"; do
    echo "-- $q"
    echo "${sql[$q]}"
done
echo '```'
for q in a b c c_nolower d; do
    echo
    echo "<details><summary>EXPLAIN (ANALYZE, BUFFERS) of $q</summary>"
    echo
    echo '```'
    cat "$work/plan.$q"
    echo '```'
    echo
    echo '</details>'
done

{
    printf '5. views\t(a) Ops Board upcoming 24 h: p50 ≤ 2 ms\t%s ms\t%s\n' "${p50[a]}" "$(goal "${p50[a]}" '<=' 2)"
    printf '5. views\t(a) for information: its rows with its rules by one query, no view\t%s ms\tinformation\n' "${p50[a_rules]}"
    printf '5. views\t(a) for information: its rows and columns from mojob.job, flags constant\t%s ms\tinformation\n' "${p50[a_ideal]}"
    printf '5. views\t(a) for information: its rows from a plain table of only them\t%s ms\tinformation\n' "${p50[a_rows]}"
    printf '5. views\t(b) one resource'"'"'s week: p50 ≤ 2 ms\t%s ms\t%s\n' "${p50[b]}" "$(goal "${p50[b]}" '<=' 2)"
    printf '5. views\t(c) jobs with errors, next 24 h: p50 ≤ 10 ms\t%s ms\t%s\n' "${p50[c]}" "$(goal "${p50[c]}" '<=' 10)"
    # "Over the next 24 h" read both ways: starting from now on, and every job
    # starting before now + 24 h (those whose start was missed too).
    printf '5. views\t(c) without the lower bound (all jobs starting before now + 24 h, START_MISSED too): p50 ≤ 10 ms\t%s ms\t%s\n' "${p50[c_nolower]}" "$(goal "${p50[c_nolower]}" '<=' 10)"
    printf '5. views\t(d) board errors: no seq. scan of mojob.job\t%s seq. scans\t%s\n' "$seq_d" "$( [ "$seq_d" = 0 ] && echo met || echo '**missed**')"
} >>"${BENCH_GOALS:-/dev/null}"

# For compare.sh: the headline figures (p50, prepared, ms), and the board
# over the same rows read from a plain table (its floor on this machine).
bench_ratio views.a_ms "${p50[a]}" lower
bench_ratio views.a_x_rows "$(ratio4 "${p50[a]}" "${p50[a_rows]}")" lower
bench_ratio views.b_ms "${p50[b]}" lower
bench_ratio views.c_ms "${p50[c]}" lower
bench_ratio views.c_nolower_ms "${p50[c_nolower]}" lower
bench_ratio views.d_ms "${p50[d]}" lower
