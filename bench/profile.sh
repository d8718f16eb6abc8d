#!/usr/bin/env bash
# bench/profile.sh: where the time goes, for whoever makes mojob faster.
# Not one of run.sh's benchmarks by default (BENCH_ONLY="... profile" adds it).
#
# Records the server backend with `perf record -e cpu-clock -g` while it runs
#   - the bulk transition of bulk_transitions.sh (confirmed -> tentative of
#     BENCH_PROFILE_JOBS jobs) on mojob.job, then the bare floor's statement;
#   - pgbench's single-row edit of edits.sh on mojob.job, then on bare.job
#     (BENCH_PROFILE_SECONDS each);
# and prints, for each, the functions with the most inclusive time (the
# postgres binary is stripped of its static symbols, so some frames show as
# addresses and are left out).  Keeps the perf data in BENCH_PROFILE_KEEP=DIR
# if set, for perf report.
. "$(dirname "$0")/lib.sh"

jobs=${BENCH_PROFILE_JOBS:-100000}
seconds=${BENCH_PROFILE_SECONDS:-$(bench_rounds 10 4)}
top=${BENCH_PROFILE_TOP:-40}
db=bench_profile

command -v perf >/dev/null || bench_die "perf is not installed (apt-get install linux-perf)"
perf record -q -e cpu-clock -o /dev/null true >/dev/null 2>&1 ||
    bench_die "perf record -e cpu-clock does not work here (kernel.perf_event_paranoid?)"

bench_cluster_start
work=$(mktemp -d /tmp/mojob-bench-profile.XXXXXX)
bench_on_exit 'rm -rf "$work"'
bench_on_exit "bench_db_drop $db 2>/dev/null"

bench_log "profile: creating $jobs jobs in each of mojob, ref, bare"
bench_db_create $db
bench_populate $db "$jobs"

# profile_statement NAME SQL: record the backend running SQL (after an
# untimed VACUUM and checkpoint), in a session of its own.
profile_statement() {
    local name=$1 sql=$2 pid perfpid line
    coproc PSQL { bench_psql $db -At 2>&1; }
    echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"
    read -r pid <&"${PSQL[0]}"
    printf 'VACUUM %s;\nCHECKPOINT;\nSELECT %s;\n' "$3" "'ready'" >&"${PSQL[1]}"
    while read -r line <&"${PSQL[0]}"; do [ "$line" = ready ] && break; done
    perf record -q -e cpu-clock -F 4999 -g -p "$pid" -o "$work/$name.data" >/dev/null 2>&1 &
    perfpid=$!
    sleep 1
    printf '\\timing on\n%s\n\\timing off\nSELECT %s;\n' "$sql" "'done'" >&"${PSQL[1]}"
    while read -r line <&"${PSQL[0]}"; do
        case $line in Time:*) echo "${line#Time: }" >"$work/$name.time" ;; done) break ;; esac
    done
    kill -INT $perfpid
    wait $perfpid || true
    echo '\q' >&"${PSQL[1]}"
    wait "${PSQL_PID:-}" 2>/dev/null || true
}

# profile_pgbench NAME SCRIPT: record the backend of a one-client pgbench run.
profile_pgbench() {
    local name=$1 script=$2 pid pgbpid
    bench_psql $db -c "VACUUM $3" -c CHECKPOINT
    "$bench_bindir/pgbench" -n -M prepared -c 1 -j 1 -T $((seconds + 2)) -f "$script" \
        $db >"$work/$name.pgbench" 2>&1 &
    pgbpid=$!
    sleep 1
    pid=$(bench_value $db "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = '$db'")
    perf record -q -e cpu-clock -F 4999 -g -p "$pid" -o "$work/$name.data" -- sleep "$seconds" >/dev/null 2>&1 || true
    wait $pgbpid
    sed -n 's/^tps = \([0-9.]*\).*/\1 tps/p' "$work/$name.pgbench" >"$work/$name.time"
}

# report NAME: the top inclusive functions, as a Markdown table.
report() {
    local name=$1
    echo
    echo "**$2** ($(cat "$work/$name.time")):"
    echo
    echo '| inclusive | self | function |'
    echo '|---:|---:|---|'
    perf report -i "$work/$name.data" --stdio --children --sort sym -g none --percent-limit 0.4 2>/dev/null |
        awk -v top="$top" '$1 ~ /%$/ && $3 == "[.]" && $4 !~ /^0x/ && $4 !~ /^(main|PostmasterMain|PostgresMain|__libc_start_call_main|_start|ServerLoop|BackendRun|BackendStartup|exec_simple_query|exec_execute_message|PortalRun|PortalRunMulti|PortalRunSelect|ProcessQuery|standard_ProcessUtility|ProcessUtility|__libc_start_main)$/ {
                sym = $4; for (i = 5; i <= NF; i++) sym = sym " " $i
                if (++n <= top) printf "| %s | %s | `%s` |\n", $1, $2, sym }'

}

bench_log "profile: bulk transition, mojob then bare"
profile_statement bulk_mojob "UPDATE mojob.job SET state = 'tentative' WHERE state = 'confirmed';" mojob.job
profile_statement bulk_bare "WITH u AS (UPDATE bare.job SET state = 'tentative', version = version + 1, updated_at = now() WHERE state = 'confirmed' RETURNING id) INSERT INTO bare.job_event (job_id, from_state, to_state, at, by_user, cause) SELECT id, 'confirmed', 'tentative', clock_timestamp(), session_user, 'user' FROM u;" bare.job

bench_log "profile: single-row edits, mojob then bare (${seconds}s each)"
for t in mojob bare; do
    printf '\\set id random(1, %s)\n\\set v random(1, 1000000000)\nUPDATE %s.job SET name = $$job $$ || :v WHERE id = :id;\n' \
        "$jobs" $t >"$work/edit_$t.pgbench_script"
    profile_pgbench edit_$t "$work/edit_$t.pgbench_script" $t.job
done

if [ -n "${BENCH_PROFILE_KEEP:-}" ]; then
    mkdir -p "$BENCH_PROFILE_KEEP"
    cp "$work"/*.data "$BENCH_PROFILE_KEEP"/
    bench_log "profile: perf data kept in $BENCH_PROFILE_KEEP (perf report -i FILE --children)"
fi
bench_db_drop $db

cat <<EOF
## Profile

\`perf record -e cpu-clock -g\` of the server backend (sampling at 4999 Hz);
inclusive share of the samples (0.4% and more), in user space: the kernel's
frames, the postgres binary's static functions (shown as addresses) and the
call chain's outer frames are left out.
EOF
report bulk_mojob "Bulk transition, mojob: UPDATE mojob.job SET state = 'tentative' WHERE state = 'confirmed' ($jobs jobs)"
report bulk_bare "Bulk transition, bare: the floor's UPDATE + INSERT ($jobs jobs)"
report edit_mojob "Single-row edits, mojob.job, for ${seconds}s"
report edit_bare "Single-row edits, bare.job, for ${seconds}s"
