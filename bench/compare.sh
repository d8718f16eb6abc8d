#!/usr/bin/env bash
# bench/compare.sh: is a change slower?  Builds two versions of mojob, BASE
# and HEAD, each into its own private copy of PostgreSQL 15, runs the
# benchmarks against each in turn, interleaved, and reports each benchmark's
# headline figures (the "@ratio" lines of bench_ratio in lib.sh): median for
# BASE, median for HEAD, the change, and whether HEAD is more than 5% slower
# (`make bench-compare BASE=...` runs this; see README.md, "Comparing two
# commits").
#
#   bench/compare.sh BASE [HEAD]        or    BASE=rev [HEAD=rev] bench/compare.sh
#
#   BASE                   the commit to compare against (any git revision)
#   HEAD                   the other one (default: the working tree, uncommitted
#                          changes included)
#   BENCH_ONLY             the benchmarks (default: bulk_transitions edits
#                          reservations scheduler views)
#   BENCH_COMPARE_ROUNDS   runs of each benchmark per side (default 3)
#   BENCH_COMPARE_PORTS    "PORT_BASE PORT_HEAD" (default "5442 5452"); the
#                          scheduler's own cluster of each side uses PORT + 1
#   BENCH_COMPARE_KEEP=DIR keep every run's Markdown and progress in DIR
#   BENCH_RESULTS          where the comparison goes (default bench/RESULTS.md,
#                          where it replaces a comparison of the same two
#                          versions or is added at the end; - : nowhere)
#   BENCH_STRICT=1         exit 1 when a figure of HEAD is more than 5% slower
#   BENCH_QUICK and each benchmark's own settings: as for run.sh.
#
# Both sides run the benchmark scripts of this tree (bench/*.sh next to this
# file): what is measured is the same, only the extension differs.  Each
# side is built from a clean source tree (BASE: a temporary `git worktree`;
# HEAD: a temporary worktree too, or a copy of the working tree's files)
# and installed into a copy of /usr/lib/postgresql/15 and
# /usr/share/postgresql/15 of its own, so neither sees the other's mojob.so
# or SQL scripts, nor the one installed on the machine.  Each run of a
# benchmark starts its own throwaway cluster (bench/lib.sh) with that side's
# server, on that side's port.  For each benchmark the runs go BASE HEAD,
# then HEAD BASE, and so on (ABBA), so that a drift of the machine's speed
# falls on both alike.  Everything made under /tmp (worktrees, copies,
# clusters) is removed at the end, however the script ends.
user_settings=$(env | grep '^BENCH_' | sort | tr '\n' ' ' || true)
. "$(dirname "$0")/lib.sh"

base=${1:-${BASE:-}}
head=${2:-${HEAD:-}}
[ -n "$base" ] || bench_die "usage: bench/compare.sh BASE [HEAD] (or make bench-compare BASE=rev [HEAD=rev])"
rounds=${BENCH_COMPARE_ROUNDS:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_COMPARE_ROUNDS must be a positive number"
read -r port_a port_b <<<"${BENCH_COMPARE_PORTS:-5442 5452}"
[ -n "$port_b" ] && [ "$port_a" != "$port_b" ] && [ "$((port_a + 1))" != "$port_b" ] && [ "$((port_b + 1))" != "$port_a" ] ||
    bench_die "BENCH_COMPARE_PORTS needs two ports at least 2 apart (each side's scheduler cluster uses PORT + 1)"
benchmarks=(bulk_transitions edits reservations scheduler views)
if [ -n "${BENCH_ONLY:-}" ]; then
    read -ra benchmarks <<<"$BENCH_ONLY"
fi
for b in "${benchmarks[@]}"; do
    [ -x "$bench_dir/$b.sh" ] || bench_die "no benchmark bench/$b.sh"
done
results=${BENCH_RESULTS:-$bench_dir/RESULTS.md}
pgver=15

git -C "$bench_top" rev-parse --git-dir >/dev/null 2>&1 || bench_die "$bench_top is not a git checkout"
base_rev=$(git -C "$bench_top" rev-parse --verify --quiet "$base^{commit}") || bench_die "no commit $base"
base_name=$(git -C "$bench_top" rev-parse --short "$base_rev")
if [ -n "$head" ]; then
    head_rev=$(git -C "$bench_top" rev-parse --verify --quiet "$head^{commit}") || bench_die "no commit $head"
    head_name=$(git -C "$bench_top" rev-parse --short "$head_rev")
else
    head_rev=
    head_name="$(git -C "$bench_top" describe --always --dirty) (working tree)"
fi

# Everything lives in one directory under /tmp, which the clusters' owner
# (the postgres OS user) must be able to enter.
work=$(mktemp -d /tmp/mojob-benchcmp.XXXXXX)
chmod 755 "$work"
worktrees=()
remove_all() {
    local w
    for w in "${worktrees[@]}"; do
        git -C "$bench_top" worktree remove --force "$w" 2>/dev/null || rm -rf "$w"
    done
    git -C "$bench_top" worktree prune 2>/dev/null || true
    "$bench_top/scripts/as-root.sh" rm -rf "$work"
}
bench_on_exit remove_all
if [ -n "${BENCH_COMPARE_KEEP:-}" ]; then
    mkdir -p "$BENCH_COMPARE_KEEP"
    bench_on_exit 'cp -r "$work/runs" "$work/build-"*.log "$BENCH_COMPARE_KEEP"/ 2>/dev/null || true'
fi
mkdir -p "$work/runs"

declare -A rev name src root port extversion
rev[a]=$base_rev
rev[b]=$head_rev
name[a]=$base_name
name[b]=$head_name
port[a]=$port_a
port[b]=$port_b

# ---------------------------------------------------------------------------
# The sources: a temporary worktree of each commit; the working tree's files
# (tracked and untracked, not ignored) copied as they are.
# ---------------------------------------------------------------------------
for s in a b; do
    src[$s]=$work/src-$s
    if [ -n "${rev[$s]}" ]; then
        bench_log "compare: a worktree of ${name[$s]} in ${src[$s]}"
        git -C "$bench_top" worktree add --detach --quiet "${src[$s]}" "${rev[$s]}" ||
            bench_die "git worktree add ${rev[$s]} failed"
        worktrees+=("${src[$s]}")
    else
        bench_log "compare: a copy of the working tree in ${src[$s]}"
        mkdir -p "${src[$s]}"
        (cd "$bench_top" && git ls-files -z --cached --others --exclude-standard |
            tar --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null) |
            tar -xf - -C "${src[$s]}" || bench_die "copying the working tree failed"
    fi
done

# The extension's own files alike on both sides: any difference measured is
# the machine's (worth knowing when reading the figures).
same_source=
if diff -rq "${src[a]}/src" "${src[b]}/src" >/dev/null 2>&1 && diff -rq "${src[a]}/sql" "${src[b]}/sql" >/dev/null 2>&1 &&
   cmp -s "${src[a]}/mojob.control" "${src[b]}/mojob.control" && cmp -s "${src[a]}/Makefile" "${src[b]}/Makefile"; then
    same_source=1
    bench_log "compare: note: ${name[a]} and ${name[b]} have the same src/, sql/, mojob.control and Makefile"
fi

# ---------------------------------------------------------------------------
# The servers: each side its own copy of PostgreSQL's binaries and share
# directory (the include directory linked: it is only read), with no mojob
# in it but the one built here.  PostgreSQL finds its files relative to its
# binaries, so the copy is complete; pg_config of the copy points PGXS there.
# ---------------------------------------------------------------------------
for s in a b; do
    root[$s]=$work/root-$s
    r=${root[$s]}
    mkdir -p "$r/usr/lib/postgresql" "$r/usr/share/postgresql" "$r/usr/include/postgresql"
    cp -a "/usr/lib/postgresql/$pgver" "$r/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$pgver" "$r/usr/share/postgresql/"
    ln -sfn "/usr/include/postgresql/$pgver" "$r/usr/include/postgresql/$pgver"
    rm -f "$r/usr/lib/postgresql/$pgver/lib/mojob.so" "$r/usr/share/postgresql/$pgver/extension/mojob"[.-]*
    rm -rf "$r/usr/lib/postgresql/$pgver/lib/bitcode/mojob" "$r/usr/lib/postgresql/$pgver/lib/bitcode/mojob.index.bc"
    chmod -R a+rX "$r"
    bindir=$r/usr/lib/postgresql/$pgver/bin
    [ "$("$bindir/pg_config" --pkglibdir)" = "$r/usr/lib/postgresql/$pgver/lib" ] ||
        bench_die "the copy of PostgreSQL in $r is not relocatable (pg_config --pkglibdir: $("$bindir/pg_config" --pkglibdir))"
    bench_log "compare: building ${name[$s]} into $r"
    {
        PATH=$bindir:$PATH make -C "${src[$s]}" PG_CONFIG="$bindir/pg_config" &&
        PATH=$bindir:$PATH make -C "${src[$s]}" PG_CONFIG="$bindir/pg_config" install
    } >"$work/build-$s.log" 2>&1 || {
        tail -30 "$work/build-$s.log" >&2
        bench_die "building or installing ${name[$s]} failed (log above)"
    }
    extversion[$s]=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$r/usr/share/postgresql/$pgver/extension/mojob.control")
    [ -f "$r/usr/lib/postgresql/$pgver/lib/mojob.so" ] && [ -n "${extversion[$s]}" ] ||
        bench_die "${name[$s]} did not install mojob.so and mojob.control into $r"
done

# ---------------------------------------------------------------------------
# The runs.  run SIDE ROUND BENCHMARK: the benchmark script of this tree,
# with that side's PostgreSQL first in PATH, its own cluster directories and
# ports; its Markdown and progress kept, its @ratio lines collected.
# ---------------------------------------------------------------------------
: >"$work/ratios"
: >"$work/times"
run() {
    local s=$1 r=$2 b=$3 t0 rc=0 out=$work/runs/$2.$1.$3
    bench_log "compare: round $r/$rounds, $b, ${name[$s]} (mojob ${extversion[$s]})"
    t0=$SECONDS
    bench_wait env -u BENCH_CLUSTER_OWNER -u BENCH_GOALS \
        PATH="${root[$s]}/usr/lib/postgresql/$pgver/bin:$PATH" \
        BENCH_CLUSTER="$work/cluster-$s" BENCH_PORT="${port[$s]}" \
        BENCH_SCHED_CLUSTER="$work/cluster-$s-sched" BENCH_SCHED_PORT="$((port[$s] + 1))" \
        "$bench_dir/$b.sh" >"$out.md" 2>"$out.log" || rc=$?
    if [ $rc != 0 ]; then
        tail -30 "$out.log" >&2
        bench_die "$b failed against ${name[$s]} (round $r; its progress above)"
    fi
    echo "$s $b $((SECONDS - t0))" >>"$work/times"
    awk -v s="$s" -v r="$r" -v b="$b" '$1 == "@ratio" && NF == 4 { print s, r, b, $2, $3, $4 }' "$out.log" >>"$work/ratios"
    bench_log "compare: $b, ${name[$s]}: $((SECONDS - t0)) s; $(awk '$1 == "@ratio" { printf "%s%s %s", sep, $2, $3; sep = ", " }' "$out.log")"
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$SECONDS
for ((r = 1; r <= rounds; r++)); do
    if [ $((r % 2)) = 1 ]; then order=(a b); else order=(b a); fi
    for b in "${benchmarks[@]}"; do
        for s in "${order[@]}"; do
            run "$s" "$r" "$b"
        done
    done
done
elapsed=$((SECONDS - t0))

# ---------------------------------------------------------------------------
# The report: per figure, the median of each side's runs; the change as the
# time HEAD takes against BASE's (for a "higher is better" figure, BASE / HEAD),
# so that + is slower whichever way the figure reads.
# ---------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
virt=$(systemd-detect-virt 2>/dev/null || true)
server=$("${root[a]}/usr/lib/postgresql/$pgver/bin/postgres" --version)
cmd="make bench-compare BASE=$base${head:+ HEAD=$head}"
settings=$(tr ' ' '\n' <<<"$user_settings" | grep -v -e '^BENCH_RESULTS=' -e '^$' | tr '\n' ' ' || true)
settings=${settings% }

# Lines: benchmark figure better base_median head_median change_pct verdict
awk '
    { key = $3 " " $4; if (!(key in better)) order[++n] = key; better[key] = $6
      if ($5 ~ /^-?[0-9.]+$/) { v[key, $1] = v[key, $1] " " $5 } }
    END { for (i = 1; i <= n; i++) print order[i], better[order[i]], v[order[i], "a"] "|" v[order[i], "b"] }
' "$work/ratios" | while read -r b f better rest; do
    ma=$(tr ' ' '\n' <<<"${rest%%|*}" | grep . | median)
    mb=$(tr ' ' '\n' <<<"${rest#*|}" | grep . | median)
    awk -v b="$b" -v f="$f" -v better="$better" -v ma="$ma" -v mb="$mb" 'BEGIN {
        if (ma == "nan" || mb == "nan" || ma + 0 == 0 || mb + 0 == 0) { print b, f, better, ma, mb, "–", "–"; exit }
        slow = (better == "higher") ? ma / mb : mb / ma
        printf "%s %s %s %s %s %+.1f%% %s\n", b, f, better, ma, mb, (slow - 1) * 100, (slow > 1.05 ? "**yes**" : "no") }'
done >"$work/summary"
worse=$(grep -c '\*\*yes\*\*' "$work/summary" || true)

runtimes=$(for b in "${benchmarks[@]}"; do
    for s in a b; do
        awk -v s=$s -v b="$b" '$1 == s && $2 == b { print $3 }' "$work/times" | median |
            awk '{ printf "%.0f\n", $1 }'
    done | paste -sd' ' | sed "s/^/$b /"
done)

{
    echo "## Comparison ${name[a]} vs ${name[b]}"
    echo
    echo "Written by \`bench/compare.sh\` (see [README.md](README.md), \"Comparing two commits\") on $started, in $((elapsed / 60)) min $((elapsed % 60)) s of runs."
    echo
    echo "- **Command:** \`$cmd\`${settings:+ with \`$settings\`}"
    echo "- **BASE:** \`${name[a]}\` (mojob ${extversion[a]}); **HEAD:** \`${name[b]}\` (mojob ${extversion[b]}); the benchmark scripts of \`$(git -C "$bench_top" describe --always --dirty)\` for both"
    echo "- **Machine:** $cpu, $(nproc) cores, $mem, $os, Linux $(uname -r)${virt:+, virtualized ($virt)}; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- **Server:** $server, one private copy per side, a throwaway cluster per run (ports ${port[a]} and ${port[b]}, the scheduler's $((port[a] + 1)) and $((port[b] + 1)))"
    echo "- **Runs:** $rounds of each benchmark per side, in the order BASE HEAD, HEAD BASE, ... (benchmarks: ${benchmarks[*]})"
    if [ -n "$same_source" ]; then
        echo "- **The same extension on both sides** (src/, sql/, mojob.control and Makefile alike): every difference below is the machine's noise"
    fi
    echo
    echo "Median of each side's runs.  *Change* is HEAD's time against BASE's: for a"
    echo "figure where higher is better (a throughput, or a ratio with mojob's time"
    echo "below the line) it is BASE ÷ HEAD − 1, else HEAD ÷ BASE − 1; so + is slower."
    echo
    echo "| benchmark | figure | better | BASE | HEAD | change | HEAD > 5% slower |"
    echo "|---|---|---|---:|---:|---:|---|"
    while read -r b f better ma mb ch verdict; do
        echo "| $b | $f | $better | $ma | $mb | $ch | $verdict |"
    done <"$work/summary"
    echo
    echo "Every run's figures (rounds in order; BASE / HEAD):"
    echo
    echo "| figure | BASE runs | HEAD runs |"
    echo "|---|---|---|"
    awk '{ key = $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key }; v[key, $1] = v[key, $1] (v[key, $1] == "" ? "" : ", ") $5 }
         END { for (i = 1; i <= n; i++) printf "| %s | %s | %s |\n", order[i], v[order[i], "a"], v[order[i], "b"] }' "$work/ratios"
    echo
    echo "Time of one run (median, s; each run loads its own data): $(awk '{ printf "%s%s %s / %s", sep, $1, $2, $3; sep = "; " }' <<<"$runtimes")."
} >"$work/section.md"

cat "$work/section.md"
if [ "$results" != - ]; then
    # Replace a comparison of the same two versions, else add at the end.
    heading=$(head -1 "$work/section.md")
    if [ -f "$results" ]; then
        awk -v h="$heading" '
            $0 == h { skip = 1; next }
            skip && /^## / { skip = 0 }
            !skip { print }' "$results" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$work/results.md"
        echo >>"$work/results.md"
    else
        : >"$work/results.md"
    fi
    cat "$work/section.md" >>"$work/results.md"
    cp "$work/results.md" "$results"
    bench_log "compare: written to $results"
fi
bench_log "compare: done in $((elapsed / 60)) min $((elapsed % 60)) s of runs; $worse figure(s) of HEAD more than 5% slower"
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$worse" != 0 ]; then
    exit 1
fi
exit 0
