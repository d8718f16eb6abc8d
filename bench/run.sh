#!/usr/bin/env bash
# bench/run.sh: run mojob's benchmarks on one throwaway cluster (`make bench`
# builds and installs the extension first, then runs this).
#
# Starts its own cluster (scripts/pgcluster.sh, in $BENCH_CLUSTER, port
# $BENCH_PORT), runs each benchmark script bench/NAME.sh in turn, prints the
# results as Markdown and writes them to bench/RESULTS.md; destroys the
# cluster and its temporary files at the end, however it ends.
#
#   BENCH_ONLY="edits"     run only these benchmarks (names of bench/NAME.sh)
#   BENCH_RESULTS=FILE     where to write the results (default bench/RESULTS.md; - : nowhere)
#   BENCH_STRICT=1         exit 1 when a goal is missed
#   BENCH_QUICK=1          fewer and shorter rounds, to try the harness
#   BENCH_SYNCHRONOUS_COMMIT, BENCH_CLUSTER, BENCH_PORT: see bench/lib.sh;
#   each benchmark's own settings: see the head of its script.
user_settings=$(env | grep '^BENCH_' | sort | tr '\n' ' ' || true)
. "$(dirname "$0")/lib.sh"

# The benchmarks, in the order they run: bench/NAME.sh each.  A new one is a
# script that sources lib.sh and prints a Markdown section (see README.md).
benchmarks=(bulk_transitions edits reservations scheduler views recurrence)
if [ -n "${BENCH_ONLY:-}" ]; then
    read -ra benchmarks <<<"$BENCH_ONLY"
fi
for b in "${benchmarks[@]}"; do
    [ -x "$bench_dir/$b.sh" ] || bench_die "no benchmark bench/$b.sh"
done
results=${BENCH_RESULTS:-$bench_dir/RESULTS.md}

work=$(mktemp -d /tmp/mojob-bench-run.XXXXXX)
bench_on_exit 'rm -rf "$work"'
export BENCH_GOALS=$work/goals
: >"$BENCH_GOALS"

started=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$SECONDS
bench_cluster_start

[ "$(bench_value postgres "SELECT count(*) FROM pg_available_extensions WHERE name = 'mojob'")" = 1 ] ||
    bench_die "mojob is not installed: run make install (or make bench) first"

for b in "${benchmarks[@]}"; do
    bench_log "== $b"
    bench_wait "$bench_dir/$b.sh" >"$work/$b.md" || bench_die "benchmark $b failed"
done

# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------
setting() { bench_value postgres "SHOW $1"; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
virt=$(systemd-detect-virt 2>/dev/null || true)
commit=$(git -C "$bench_top" describe --always --dirty 2>/dev/null || echo unknown)
missed=$(grep -c 'missed' "$BENCH_GOALS" || true)

{
    cat <<EOF
# mojob benchmark results

Written by \`bench/run.sh\` (see [README.md](README.md)) on $started, in
$(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s.

- **Command:** \`make bench\`${user_settings:+ with \`${user_settings% }\`} (builds and installs mojob, then runs \`bench/run.sh\`)
- **Source:** git \`$commit\` (\`-dirty\`: run with uncommitted changes)
- **Machine:** $cpu, $(nproc) cores, $mem, $os, Linux $(uname -r)${virt:+, virtualized ($virt)}
- **Server:** $(bench_value postgres "SELECT split_part(version(), ' on ', 1)"), a throwaway cluster on a Unix socket; clients on the same machine
- **synchronous_commit = $(setting synchronous_commit)**, fsync = $(setting fsync), full_page_writes = $(setting full_page_writes), wal_level = $(setting wal_level), autovacuum = $(setting autovacuum), jit = $(setting jit), shared_buffers = $(setting shared_buffers), work_mem = $(setting work_mem), max_wal_size = $(setting max_wal_size)

## Goals

| benchmark | goal | measured | |
|---|---|---:|---|
EOF
    while IFS=$'\t' read -r bench what value verdict; do
        echo "| $bench | $what | $value | $verdict |"
    done <"$BENCH_GOALS"
    for b in "${benchmarks[@]}"; do
        echo
        cat "$work/$b.md"
    done
} >"$work/RESULTS.md"

# Every section says which run it comes from, under its title, so that
# sections kept by a partial run keep their own provenance.
awk -v run="$started, git \`$commit\`" '
    { print }
    /^## [0-9]+\. / { print ""; print "*From the run of " run ".*" }
' "$work/RESULTS.md" >"$work/stamped.md"
mv "$work/stamped.md" "$work/RESULTS.md"

# A partial run (BENCH_ONLY) updates only its own benchmarks' goals and
# sections of an existing results file; the others' stay as they were
# (with the run each names under its title; one from an older file that
# names none is given the run of that file's header), and the header says
# so.  Sections and goal rows are matched by their number ("## 4. ...",
# "| 4. ... |").  A section of the old file without a number after the
# numbered ones (a comparison written by compare.sh, a note) is kept, at
# the end.
if [ -n "${BENCH_ONLY:-}" ] && [ "$results" != - ] && [ -f "$results" ]; then
    awk -v only="$BENCH_ONLY" '
        function row_num(l,   w) { split(substr(l, 3), w, "."); return w[1] + 0 }
        FNR == 1 { f++ }
        f == 2 && /^## [0-9]+\. / { renew[$2 + 0] = 1 }
        { line[f, ++n[f]] = $0 }
        f == 1 && /^Written by/ { when = $0; sub(/.* on /, "", when); sub(/, in.*/, "", when) }
        f == 1 && /^- \*\*Source:\*\*/ { src = $0; sub(/^[^`]*`/, "", src); sub(/`.*/, "", src) }
        END {
            for (g = 1; g <= 2; g++) {
                sec = -1
                for (i = 1; i <= n[g]; i++) {
                    l = line[g, i]
                    if (l ~ /^## [0-9]+\. /) { split(l, w, " "); sec = w[2] + 0 }
                    else if (g == 1 && sec >= 0 && l ~ /^## /) sec = 100 + (++extra)
                    if (sec < 0 && l ~ /^\| [0-9]+\. /) {
                        if (g == 2 || !(row_num(l) in renew)) rows[row_num(l)] = rows[row_num(l)] l "\n"
                    } else if (sec >= 0 && (g == 2 || !(sec in renew))) {
                        body[sec] = body[sec] l "\n"
                        if (g == 1) {
                            kept[sec] = 1
                            if (l ~ /^## [0-9]+\. / && !(line[g, i + 2] ~ /^\*From the run of /))
                                body[sec] = body[sec] "\n*From the run of " when ", git `" src "`.*\n"
                        }
                    }
                }
            }
            for (k = 0; k < 100; k++) {
                if (k in kept) kept_list = kept_list (kept_list == "" ? "" : ", ") k
                if (k in renew) new_list = new_list (new_list == "" ? "" : ", ") k
            }
            for (i = 1; i <= n[2]; i++) {
                l = line[2, i]
                if (l ~ /^## Goals/ && kept_list != "")
                    printf "- **Partial run** (`BENCH_ONLY=\"%s\"`): sections %s are from this run; %s were kept from earlier runs (each names its run under its title)\n\n", only, new_list, kept_list
                print l
                if (l ~ /^\|---\|---\|---:\|---\|$/) break
            }
            for (k = 0; k < 100; k++) if (k in rows) printf "%s", rows[k]
            for (k = 0; k < 100 + extra + 1; k++) if (k in body) { sub(/\n+$/, "\n", body[k]); printf "\n%s", body[k] }
        }
    ' "$results" "$work/RESULTS.md" >"$work/merged.md"
    mv "$work/merged.md" "$work/RESULTS.md"
fi

cat "$work/RESULTS.md"
if [ "$results" != - ]; then
    cp "$work/RESULTS.md" "$results"
    bench_log "results written to $results"
fi
bench_log "done: $missed goal(s) missed"
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$missed" != 0 ]; then
    exit 1
fi
exit 0
