#!/usr/bin/env bash
# bench/edits.sh: single-row edits that change no state (a new name for a
# random job), one client, as throughput: mojob against the bare table (and,
# for information, the PL/pgSQL reference, a bare edit that also bumps version
# and updated_at as mojob does, and a copy of the bare table with a no-op C
# trigger: what any BEFORE ROW trigger costs).  Prints a Markdown section on
# stdout.
#
#   BENCH_EDITS_JOBS      jobs in each table                    (default 100000)
#   BENCH_EDITS_ROUNDS    timed rounds after a warm-up round    (default 5; quick: 2)
#   BENCH_EDITS_SECONDS   length of each round                  (default 20; quick: 4)
. "$(dirname "$0")/lib.sh"

jobs=${BENCH_EDITS_JOBS:-100000}
rounds=${BENCH_EDITS_ROUNDS:-$(bench_rounds 5 2)}
seconds=${BENCH_EDITS_SECONDS:-$(bench_rounds 20 4)}
db=bench_edits
variants=(mojob bare ref bare_bump noop)

# The statement of each variant: the same UPDATE for mojob, ref and bare;
# bare_bump also does by hand what mojob's trigger adds to an edit.
stmt() {
    case $1 in
    mojob | ref | bare | noop)
        echo "UPDATE $1.job SET name = 'job ' || :v WHERE id = :id;" ;;
    bare_bump)
        echo "UPDATE bare.job SET name = 'job ' || :v, version = version + 1, updated_at = now() WHERE id = :id;" ;;
    esac
}
label() {
    case $1 in
    mojob) echo "mojob (C trigger)" ;;
    ref) echo "ref (PL/pgSQL trigger), for information" ;;
    bare) echo "bare (no trigger)" ;;
    bare_bump) echo "bare, also bumping version and updated_at, for information" ;;
    noop) echo "bare with a no-op C trigger, for information" ;;
    esac
}

bench_cluster_start
work=$(mktemp -d /tmp/mojob-bench-edits.XXXXXX)
bench_on_exit 'rm -rf "$work"'
bench_on_exit "bench_db_drop $db 2>/dev/null"

bench_log "edits: creating $jobs jobs in each of mojob, ref, bare"
bench_db_create $db
bench_populate $db "$jobs"
# noop: a copy of bare.job with PostgreSQL's own C trigger
# suppress_redundant_updates_trigger() (a memcmp of the old and new rows):
# the cost of having a BEFORE ROW trigger at all, whatever it does.
bench_psql $db <<'SQL'
CREATE SCHEMA noop;
CREATE TABLE noop.job (LIKE bare.job INCLUDING ALL);
INSERT INTO noop.job SELECT * FROM bare.job ORDER BY id;
CREATE TRIGGER noop BEFORE UPDATE ON noop.job
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
VACUUM ANALYZE noop.job;
SQL

scripts=()
for v in "${variants[@]}"; do
    {
        echo "\\set id random(1, $jobs)"
        echo "\\set v random(1, 1000000000)"
        stmt "$v"
    } >"$work/$v.pgbench"
    scripts+=(-f "$work/$v.pgbench@1")
done
pgbench_cmd="pgbench -n -M prepared -c 1 -j 1 -T $seconds -l$(for v in "${variants[@]}"; do printf -- ' -f %s.pgbench@1' "$v"; done)"

# The variants run interleaved: each round is one pgbench run, in one
# session, that picks one of the scripts at random for every transaction, so
# whatever else the machine does meanwhile falls on all of them alike.
# pgbench's per-transaction log (-l) gives each transaction's latency in
# microseconds and its script; a variant's throughput is 1 / its mean
# latency: the rate of one client doing only that edit.
bench_log "edits: $((rounds + 1)) rounds (the first one warms up) of ${seconds}s, interleaving ${variants[*]}"
: >"$work/raw"
for ((r = 0; r <= rounds; r++)); do
    bench_psql $db -c "VACUUM mojob.job, ref.job, bare.job, noop.job" -c CHECKPOINT
    rm -f "$work"/log.*
    bench_wait "$bench_bindir/pgbench" -n -M prepared -c 1 -j 1 -T "$seconds" \
        -l --log-prefix="$work/log" --random-seed=$((1000 + r)) "${scripts[@]}" $db >"$work/pgbench.out" 2>&1 ||
        { cat "$work/pgbench.out" >&2; bench_die "pgbench failed"; }
    out=$(cat "$work/pgbench.out")
    if grep -q 'number of failed transactions: [1-9]' <<<"$out"; then
        echo "$out" >&2
        bench_die "pgbench reported failed transactions"
    fi
    # Log lines: client transaction latency_us script epoch us.
    awk -v r=$r -v names="${variants[*]}" '
        BEGIN { split(names, name, " ") }
        { sum[$4] += $3; n[$4]++ }
        END { for (s in sum) printf "%d %s %.3f %d\n", r, name[s + 1], sum[s] / n[s], n[s] }' \
        "$work"/log.* | sort -k2,2 >>"$work/raw"
done
[ "$(wc -l <"$work/raw")" = $(((rounds + 1) * ${#variants[@]})) ] || {
    cat "$work/raw" >&2
    bench_die "could not read pgbench's transaction log"
}

# Every edit went through, as an edit: versions bumped by the triggers, no
# history row, every job still confirmed.
check=$(bench_psql $db -At -F' ' <<'SQL'
SELECT (SELECT count(*) FROM mojob.job WHERE version > 1),
       (SELECT count(*) FROM ref.job WHERE version > 1),
       (SELECT count(*) FROM mojob.job_event) + (SELECT count(*) FROM ref.job_event),
       (SELECT count(*) FROM mojob.job WHERE state <> 'confirmed' OR name NOT LIKE 'job %');
SQL
)
read -r mv rv ev bad <<<"$check"
[ "$mv" -gt 0 ] && [ "$rv" -gt 0 ] && [ "$ev" = 0 ] && [ "$bad" = 0 ] ||
    bench_die "edits: unexpected end state (mojob and ref jobs bumped, history rows, bad jobs): $check"

bench_db_drop $db

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
declare -A m
for v in "${variants[@]}"; do
    m[$v]=$(awk -v v="$v" '$1 > 0 && $2 == v { print $3 }' "$work/raw" | median)   # mean latency, us
done
rate() { awk -v us="$1" 'BEGIN { printf "%.0f", 1e6 / us }'; }
vs_bare=$(ratio "${m[bare]}" "${m[mojob]}")      # throughput ratio = inverse latency ratio

cat <<EOF
## 2. Single-row edits

One client renames random jobs among $jobs (confirmed, so every column may
change; no state change, so no history row and no NOTIFY):

\`\`\`
\\set id random(1, $jobs)
\\set v random(1, 1000000000)
$(stmt mojob)
\`\`\`

with the same script on each of the other tables, **interleaved in one
session**: \`$pgbench_cmd\` picks one of the scripts at random for each
transaction.  A variant's throughput is 1 / its mean latency (from pgbench's
per-transaction log); median of $rounds rounds of ${seconds}s after one warm-up
round, every table vacuumed (untimed) before each round.

| implementation | mean latency (µs) | edits/s | × bare |
|---|---:|---:|---:|
EOF
for v in "${variants[@]}"; do
    printf '| %s | %.1f | %s | %s |\n' "$(label "$v")" "${m[$v]}" "$(rate "${m[$v]}")" \
        "$(ratio "${m[bare]}" "${m[$v]}")"
done
cat <<EOF

| goal | measured | |
|---|---:|---|
| mojob's throughput ≥ 0.95 × bare's | $vs_bare × | $(goal "$vs_bare" '>=' 0.95) |

Raw mean latency (µs) and transactions of each variant, by round (round 0 is
the warm-up):

| round | $(for v in "${variants[@]}"; do printf '%s µs | %s n | ' "$v" "$v"; done | sed 's/ | $//') |
|---|$(for v in "${variants[@]}"; do printf -- '---:|---:|'; done)
EOF
for ((r = 0; r <= rounds; r++)); do
    row="| $r |"
    for v in "${variants[@]}"; do
        row+=" $(awk -v r=$r -v v="$v" '$1 == r && $2 == v { print $3 " | " $4 }' "$work/raw") |"
    done
    echo "$row"
done
echo
echo "Statements (noop.job is \`CREATE TABLE noop.job (LIKE bare.job INCLUDING ALL)\` with"
echo "\`CREATE TRIGGER noop BEFORE UPDATE ON noop.job FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()\`):"
echo
echo '```sql'
for v in "${variants[@]}"; do stmt "$v"; done
echo '```'

printf '2. single-row edits\tmojob'"'"'s throughput ≥ 0.95 × bare'"'"'s\t%s ×\t%s\n' "$vs_bare" "$(goal "$vs_bare" '>=' 0.95)" \
    >>"${BENCH_GOALS:-/dev/null}"

# For compare.sh: the headline figures.
bench_ratio edits.mojob_x_bare "$(ratio4 "${m[bare]}" "${m[mojob]}")" higher
bench_ratio edits.mojob_us "${m[mojob]}" lower
