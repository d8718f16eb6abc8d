#!/usr/bin/env bash
# bench/bulk_transitions.sh: one statement moving many jobs confirmed ->
# tentative ("down"), and one moving them back ("up"), for mojob, the
# PL/pgSQL reference and the bare floor.  Prints a Markdown section on stdout.
#
#   BENCH_BULK_JOBS     jobs moved by each statement  (default 100000)
#   BENCH_BULK_ROUNDS   timed rounds, after one warm-up round (default 7; quick: 3)
. "$(dirname "$0")/lib.sh"

jobs=${BENCH_BULK_JOBS:-100000}
rounds=${BENCH_BULK_ROUNDS:-$(bench_rounds 7 3)}
db=bench_bulk
impls=(mojob ref bare)

# The statements.  mojob and ref: the plain UPDATE an application writes; the
# trigger does the rest.  bare: the same change with its version bump and
# its history rows, in one statement, with nothing checked.
stmt() {
    local impl=$1 from=$2 to=$3
    case $impl in
    mojob | ref)
        echo "UPDATE $impl.job SET state = '$to' WHERE state = '$from';" ;;
    bare)
        echo "WITH u AS (UPDATE bare.job SET state = '$to', version = version + 1, updated_at = now()" \
             "WHERE state = '$from' RETURNING id)" \
             "INSERT INTO bare.job_event (job_id, from_state, to_state, at, by_user, cause)" \
             "SELECT id, '$from', '$to', clock_timestamp(), session_user, 'user' FROM u;" ;;
    esac
}

bench_cluster_start
work=$(mktemp -d /tmp/mojob-bench-bulk.XXXXXX)
bench_on_exit 'rm -rf "$work"'
bench_on_exit "bench_db_drop $db 2>/dev/null"

bench_log "bulk transitions: creating $jobs jobs in each of ${impls[*]}"
bench_db_create $db
bench_populate $db "$jobs"
indexes=$(bench_value $db "SELECT string_agg(format('%s (%s)', c.relname, pg_get_indexdef(i.indexrelid, 0, true)), ', ' ORDER BY i.indexrelid)
                           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                           WHERE i.indrelid = 'mojob.job'::regclass" |
          sed -E 's/CREATE (UNIQUE )?INDEX [a-z_]+ ON mojob\.job USING //g; s/::mojob\.job_state//g')

# ---------------------------------------------------------------------------
# Before timing anything: the reference must behave like mojob.  Each refuses
# an illegal transition with MJ001, and one transition sends the same NOTIFY.
# ---------------------------------------------------------------------------
for impl in mojob ref; do
    code=$(bench_psql $db -At 2>&1 <<SQL || true
\set VERBOSITY sqlstate
UPDATE $impl.job SET state = 'draft' WHERE id = 1;
SQL
)
    case $code in
    *MJ001*) ;;
    *) bench_die "$impl.job accepted confirmed -> draft, or failed otherwise: $code" ;;
    esac
done
payloads=$(bench_psql $db -At <<'SQL' 2>&1
LISTEN mojob;
BEGIN; UPDATE mojob.job SET state = 'tentative' WHERE id = 1; ROLLBACK;
BEGIN; UPDATE mojob.job SET state = 'tentative' WHERE id = 1; COMMIT;
UPDATE mojob.job SET state = 'confirmed' WHERE id = 1;
UPDATE ref.job SET state = 'tentative' WHERE id = 1;
UPDATE ref.job SET state = 'confirmed' WHERE id = 1;
WITH u AS (UPDATE bare.job SET state = 'tentative', version = version + 1, updated_at = now()
           WHERE id = 1 RETURNING id)
INSERT INTO bare.job_event (job_id, from_state, to_state, at, by_user, cause)
SELECT id, 'confirmed', 'tentative', clock_timestamp(), session_user, 'user' FROM u;
WITH u AS (UPDATE bare.job SET state = 'confirmed', version = version + 1, updated_at = now()
           WHERE id = 1 RETURNING id)
INSERT INTO bare.job_event (job_id, from_state, to_state, at, by_user, cause)
SELECT id, 'tentative', 'confirmed', clock_timestamp(), session_user, 'user' FROM u;
SQL
)
# The payloads, with the instant blanked: mojob's two, then ref's two.
shapes=$(sed -n 's/^Asynchronous notification "mojob" with payload "\(.*\)" received.*/\1/p' <<<"$payloads" |
         sed 's/"at": "[0-9T:.+-]*"/"at": T/')
if [ "$(wc -l <<<"$shapes")" != 4 ] || [ "$(sort <<<"$shapes" | uniq | wc -l)" != 2 ]; then
    echo "$payloads" >&2
    bench_die "mojob and ref do not send the same NOTIFY payloads"
fi
check_state=$(bench_psql $db -At -F' ' <<'SQL'
SELECT (SELECT string_agg(format('%s,%s,%s', id, state, version), ';' ORDER BY id) FROM mojob.job WHERE id = 1),
       (SELECT string_agg(format('%s,%s,%s', id, state, version), ';' ORDER BY id) FROM ref.job WHERE id = 1),
       (SELECT string_agg(format('%s,%s,%s', id, state, version), ';' ORDER BY id) FROM bare.job WHERE id = 1);
SQL
)
read -r a b c <<<"$check_state"
[ "$a" = "$b" ] && [ "$b" = "$c" ] || bench_die "the three implementations left job 1 differently: $check_state"
bench_log "bulk transitions: ref refuses what mojob refuses and sends the same NOTIFY payload: $(head -1 <<<"$shapes")"

# The three must find their rows the same way (same statistics, same plans).
declare -A scans
for impl in "${impls[@]}"; do
    for dir in down up; do
        if [ $dir = down ]; then from=confirmed to=tentative; else from=tentative to=confirmed; fi
        scans[$impl.$dir]=$(bench_psql $db -At -c "EXPLAIN (COSTS OFF) $(stmt "$impl" $from $to)" |
                            grep -o -E '(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)( using [a-z_]+)? on job' |
                            sed 's/ on job$//')
    done
done
for dir in down up; do
    [ "${scans[mojob.$dir]}" = "${scans[bare.$dir]}" ] && [ "${scans[ref.$dir]}" = "${scans[bare.$dir]}" ] ||
        bench_die "the $dir statements scan differently: mojob ${scans[mojob.$dir]}, ref ${scans[ref.$dir]}, bare ${scans[bare.$dir]}"
done

# ---------------------------------------------------------------------------
# The timed rounds, in one psql session.  Round 0 warms up and is not
# counted.  Each round runs the implementations in a rotated order; before
# each timed statement the table it updates is vacuumed and a checkpoint
# is taken (untimed), so every statement starts from the same kind of table.
# psql's \timing measures the statement with its commit (autocommit), as a
# client sees it.
# ---------------------------------------------------------------------------
script=$work/bulk.sql
{
    echo '\set ON_ERROR_STOP on'
    for ((r = 0; r <= rounds; r++)); do
        for ((k = 0; k < ${#impls[@]}; k++)); do
            impl=${impls[$(((r + k) % ${#impls[@]}))]}
            for dir in down up; do
                if [ $dir = down ]; then from=confirmed to=tentative; else from=tentative to=confirmed; fi
                echo "VACUUM $impl.job;"
                echo "CHECKPOINT;"
                echo "\\echo @ $r $impl $dir"
                echo '\timing on'
                stmt "$impl" $from $to
                echo '\timing off'
            done
        done
    done
} >"$script"

bench_log "bulk transitions: $((rounds + 1)) rounds (the first one warms up) of 2 statements x ${#impls[@]} implementations"
bench_wait "$bench_bindir/psql" -X -q -v ON_ERROR_STOP=1 -d $db -f "$script" >"$work/out" 2>"$work/err" || {
    cat "$work/err" >&2
    bench_die "the timed statements failed"
}
# "@ round impl dir" then "Time: ms": one line "round impl dir ms" each.
awk '/^@ / { key = $2 " " $3 " " $4 } /^Time: / { print key, $2; key = "" }' "$work/out" >"$work/raw"
[ "$(wc -l <"$work/raw")" = $(((rounds + 1) * ${#impls[@]} * 2)) ] || {
    cat "$work/out" "$work/err" >&2
    bench_die "could not read the timings"
}

# Every implementation did the same: all jobs confirmed again, the same
# versions, two history rows per job and round (the checks above add two).
summary=$(bench_psql $db -At -F' ' <<'SQL'
SELECT 'mojob', count(*) FILTER (WHERE state = 'confirmed'), sum(version),
       (SELECT count(*) FROM mojob.job_event) FROM mojob.job
UNION ALL
SELECT 'ref', count(*) FILTER (WHERE state = 'confirmed'), sum(version),
       (SELECT count(*) FROM ref.job_event) FROM ref.job
UNION ALL
SELECT 'bare', count(*) FILTER (WHERE state = 'confirmed'), sum(version),
       (SELECT count(*) FROM bare.job_event) FROM bare.job;
SQL
)
if [ "$(cut -d' ' -f2- <<<"$summary" | uniq | wc -l)" != 1 ] ||
   [ "$(head -1 <<<"$summary" | cut -d' ' -f2)" != "$jobs" ]; then
    echo "$summary" >&2
    bench_die "the implementations did not end in the same state"
fi
bench_log "bulk transitions: all three end with $jobs confirmed jobs, the same versions and history counts"

bench_db_drop $db

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
med() { # med IMPL DIR: median ms over the timed rounds; DIR "both" = down + up of a round
    if [ "$2" = both ]; then
        awk -v i="$1" '$1 > 0 && $2 == i { s[$1] += $4 } END { for (r in s) print s[r] }' "$work/raw"
    else
        awk -v i="$1" -v d="$2" '$1 > 0 && $2 == i && $3 == d { print $4 }' "$work/raw"
    fi | median
}
declare -A m
for impl in "${impls[@]}"; do
    for dir in down up both; do
        m[$impl.$dir]=$(med "$impl" $dir)
    done
done
vs_bare=$(ratio "${m[mojob.both]}" "${m[bare.both]}")
ref_vs=$(ratio "${m[ref.both]}" "${m[mojob.both]}")
label() {
    case $1 in
    mojob) echo "mojob (C trigger)" ;;
    ref) echo "ref (PL/pgSQL trigger, bench/reference.sql)" ;;
    bare) echo "bare (floor: no trigger, UPDATE + history INSERT in one statement)" ;;
    esac
}

cat <<EOF
## 1. Bulk transitions

One statement moves all $jobs jobs confirmed → tentative (*down*), a second
moves them back (*up*); the jobs start a year from now, so confirming never
makes them run.  Each statement is timed by psql (\`\\timing\`, autocommit:
the statement and its commit), in one session: medians of $rounds rounds (of
each direction, and of each round's down + up, which the ratios compare) after
one warm-up round, the three implementations in a rotated order each round.
Before each timed statement its table is vacuumed and a checkpoint taken
(untimed).  The three find their rows alike (down: ${scans[bare.down]}; up:
${scans[bare.up]}).  The jobs have no resources, so no booking changes.
Indexes on each job table (ref's and bare's mirror mojob.job's): $indexes.

| implementation | down (ms) | up (ms) | round: down + up (ms) | × bare |
|---|---:|---:|---:|---:|
EOF
for impl in "${impls[@]}"; do
    printf '| %s | %.1f | %.1f | %.1f | %s |\n' "$(label "$impl")" \
        "${m[$impl.down]}" "${m[$impl.up]}" "${m[$impl.both]}" "$(ratio "${m[$impl.both]}" "${m[bare.both]}")"
done
cat <<EOF

| goal | measured | |
|---|---:|---|
| mojob's time ≤ 1.25 × bare's | $vs_bare × | $(goal "$vs_bare" '<=' 1.25) |
| ref's time ≥ 1.8 × mojob's (mojob at least 1.8× faster) | $ref_vs × | $(goal "$ref_vs" '>=' 1.8) |

Raw timings (ms), in the order they ran (round 0 is the warm-up):

| round | order | $(for i in "${impls[@]}"; do printf '%s down | %s up | ' "$i" "$i"; done | sed 's/ | $//') |
|---|---|$(for i in "${impls[@]}"; do printf -- '---:|---:|'; done)
EOF
for ((r = 0; r <= rounds; r++)); do
    order=$(awk -v r=$r '$1 == r && $3 == "down" { printf "%s%s", sep, $2; sep = " → " }' "$work/raw")
    row="| $r | $order |"
    for impl in "${impls[@]}"; do
        for dir in down up; do
            row+=" $(awk -v r=$r -v i="$impl" -v d=$dir '$1 == r && $2 == i && $3 == d { print $4 }' "$work/raw") |"
        done
    done
    echo "$row"
done
echo
echo "Statements timed:"
echo
echo '```sql'
for impl in "${impls[@]}"; do stmt "$impl" confirmed tentative; done
echo '```'

# For run.sh: the goals, one line each.
{
    printf '1. bulk transitions\tmojob'"'"'s time ≤ 1.25 × bare'"'"'s\t%s ×\t%s\n' "$vs_bare" "$(goal "$vs_bare" '<=' 1.25)"
    printf '1. bulk transitions\tref'"'"'s time ≥ 1.8 × mojob'"'"'s\t%s ×\t%s\n' "$ref_vs" "$(goal "$ref_vs" '>=' 1.8)"
} >>"${BENCH_GOALS:-/dev/null}"

# For compare.sh: the headline figures.
bench_ratio bulk.mojob_x_bare "$(ratio4 "${m[mojob.both]}" "${m[bare.both]}")" lower
bench_ratio bulk.ref_x_mojob "$(ratio4 "${m[ref.both]}" "${m[mojob.both]}")" higher
bench_ratio bulk.mojob_ms "${m[mojob.both]}" lower
