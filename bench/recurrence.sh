#!/usr/bin/env bash
# bench/recurrence.sh: recurring jobs.  How long mojob.make_recurring() takes
# to make a daily show on 3 resources recurring for a year (365 instances,
# all reserved: 1,095 bookings, each checked), and how long
# mojob.extend_recurrences() takes over 1,000 active recurrences.  Prints a
# Markdown section on stdout.
#
#   BENCH_REC_ROUNDS        make_recurring rounds after a warm-up round (default 7; quick: 3)
#   BENCH_REC_COUNT         active recurrences for extend_recurrences  (default 1000; quick: 200)
. "$(dirname "$0")/lib.sh"

rounds=${BENCH_REC_ROUNDS:-$(bench_rounds 7 3)}
count=${BENCH_REC_COUNT:-$(bench_rounds 1000 200)}
db=bench_recurrence

bench_cluster_start
export PGHOST=$BENCH_CLUSTER PGPORT=$BENCH_PORT
bench_on_exit "bench_db_drop $db 2>/dev/null"
bench_db_drop $db 2>/dev/null
"$bench_bindir/createdb" $db
bench_psql $db -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION mojob CASCADE'

# 1. make_recurring: each round on 3 fresh resources, so that every
# instance is reserved; timed by the server (clock_timestamp around the call).
bench_log "recurrence: $rounds rounds (and a warm-up) of a daily show on 3 resources for a year"
times=()
for ((r = 0; r <= rounds; r++)); do
    ms=$(bench_value $db "
        INSERT INTO mojob.resource (name) SELECT 'rec r$r n' || g FROM generate_series(1, 3) g;
        SELECT 1;" >/dev/null; bench_value $db "
        DO \$\$
        DECLARE
            j bigint;
            t0 timestamptz;
        BEGIN
            SELECT id INTO j FROM mojob.create_job('Daily news $r', now() + interval '1 day',
                now() + interval '1 day 30 minutes', state => 'tentative',
                resources => ARRAY(SELECT id FROM mojob.resource WHERE name LIKE 'rec r$r n%' ORDER BY id));
            t0 := clock_timestamp();
            PERFORM mojob.make_recurring(j, 'FREQ=DAILY', 'Europe/Brussels', '1 year');
            RAISE NOTICE 'ms %', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
        END \$\$;" 2>&1 | sed -n 's/.*ms \([0-9.]*\).*/\1/p')
    [ -n "$ms" ] || bench_die "make_recurring round $r gave no time"
    [ "$r" -gt 0 ] && times+=("$ms")
done
instances=$(bench_value $db "SELECT count(*) FROM mojob.job j JOIN mojob.recurrence c ON c.id = j.recurrence_id
                             WHERE c.rule = 'FREQ=DAILY' AND c.template_job = (SELECT max(template_job) FROM mojob.recurrence)")
tentative=$(bench_value $db "SELECT count(*) FROM mojob.job j JOIN mojob.recurrence c ON c.id = j.recurrence_id
                             WHERE c.template_job = (SELECT max(template_job) FROM mojob.recurrence) AND j.state = 'tentative'")
bookings=$(bench_value $db "SELECT count(*) FROM mojob.booking b JOIN mojob.job j ON j.id = b.job_id
                            JOIN mojob.recurrence c ON c.id = j.recurrence_id
                            WHERE c.template_job = (SELECT max(template_job) FROM mojob.recurrence)")
make_p50=$(printf '%s\n' "${times[@]}" | median)

# 2. extend_recurrences over $count active recurrences, weekly shows on
# resources of their own, made with a 30-day horizon; extending 60 days on
# makes about 8 or 9 new instances each (held, each node checked).
bench_log "recurrence: $count weekly recurrences, then extend_recurrences 60 days on"
bench_psql $db -c "SET client_min_messages = warning" -c "
    INSERT INTO mojob.resource (name) SELECT 'ext ' || g FROM generate_series(1, $count) g;
    DO \$\$
    DECLARE
        r record;
    BEGIN
        FOR r IN SELECT id, name FROM mojob.resource WHERE name LIKE 'ext %' ORDER BY id LOOP
            PERFORM mojob.make_recurring(
                (mojob.create_job('Weekly ' || r.name, now() + interval '1 day', now() + interval '1 day 1 hour',
                                  state => 'tentative', resources => ARRAY[r.id])).id,
                'FREQ=WEEKLY', 'Europe/Brussels', '30 days');
        END LOOP;
    END \$\$;"
bench_psql $db -c "VACUUM ANALYZE"
before=$(bench_value $db "SELECT count(*) FROM mojob.job")
ext=$(bench_value $db "
    DO \$\$
    DECLARE
        t0 timestamptz := clock_timestamp();
        n integer;
    BEGIN
        n := mojob.extend_recurrences(now() + interval '60 days');
        RAISE NOTICE 'ext % %', n, round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
    END \$\$;" 2>&1 | sed -n 's/.*ext \([0-9]*\) \([0-9.]*\).*/\1 \2/p')
made=${ext% *}
ext_ms=${ext#* }
after=$(bench_value $db "SELECT count(*) FROM mojob.job")
[ "$((after - before))" = "$made" ] || bench_die "extend_recurrences reported $made instances, the table grew by $((after - before))"

cat <<EOF
## 6. Recurring jobs

### make_recurring: a daily show on 3 resources for a year

\`mojob.make_recurring(job, 'FREQ=DAILY', 'Europe/Brussels', '1 year')\` on a
tentative job using 3 resources of its own: $instances instances besides the
template, $tentative of them tentative (all reserved), $bookings bookings, each
checked.  Timed inside the server (clock_timestamp around the call), median of
$rounds rounds after a warm-up.

| | median (ms) | rounds (ms) |
|---|---:|---|
| make_recurring, 365-day horizon | $make_p50 | ${times[*]} |

### extend_recurrences over $count active recurrences

$count weekly recurrences (each on a resource of its own, made with a 30-day
horizon), then \`mojob.extend_recurrences(now() + interval '60 days')\`: $made
new instances (tentative, each reserved), in one call.

| | ms | instances | per instance (ms) |
|---|---:|---:|---:|
| extend_recurrences | $ext_ms | $made | $(awk -v a="$ext_ms" -v b="$made" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }') |

EOF

{
    printf '6. recurring jobs\tmake_recurring, daily for a year on 3 resources ≤ 100 ms\t%s ms\t%s\n' \
        "$make_p50" "$(goal "$make_p50" '<=' 100)"
} >>"${BENCH_GOALS:-/dev/null}"

# For compare.sh: the headline figures.
bench_ratio rec.make_recurring_ms "$make_p50" lower
bench_ratio rec.extend_ms_per_instance "$(awk -v a="$ext_ms" -v b="$made" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "nan" }')" lower
