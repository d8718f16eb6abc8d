-- Cancellation under attack, second round (README.md, "Guarantees": every call
-- can be canceled within a second, however hostile its rule):
--
--   * a BYSETPOS beyond the set a period can really hold (an ordinal BYDAY
--     selects one day a month; BYMONTHDAY=31 with BYDAY=MO one at most) is
--     refused before libical starts: libical searched 1.5 s in one call,
--     through statement_timeout;
--   * with the BY-part of its own unit (BYSECOND with SECONDLY, BYMINUTE
--     with MINUTELY), libical steps through every second or minute whatever
--     the INTERVAL: such a rule is bounded as if INTERVAL were 1 (one call
--     ran 17 s through statement_timeout);
--   * capability arrays are bounded before any work (at most 1,000 names):
--     each resource's @> compares every name, one uninterruptible call per
--     row (10,000,000 names: 0.4 s a resource in free_resources).
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(16);

-- Run call; its SQLSTATE ('00000' if it returned), its message and how long it took.
CREATE FUNCTION pg_temp.timed(call text, OUT state text, OUT msg text, OUT secs float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    BEGIN
        EXECUTE call;
        state := '00000';
    EXCEPTION
        WHEN query_canceled THEN state := '57014'; msg := SQLERRM;
        WHEN OTHERS THEN state := SQLSTATE; msg := SQLERRM;
    END;
    secs := extract(epoch FROM clock_timestamp() - t0);
END
$$;
CREATE TEMP TABLE runs (label text PRIMARY KEY, state text, msg text, secs float8);

CREATE FUNCTION pg_temp.preview(label text, rule text, span interval) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO runs SELECT label, t.* FROM pg_temp.timed(format(
        'SELECT count(*) FROM mojob.recurrence_preview(%L, ''UTC'', ''2026-03-01 00:00+00'', ''2026-03-01 00:00+00''::timestamptz + %L::interval)',
        rule, span)) t
$$;
-- Refused before libical started: 22023, saying why, at once.
CREATE FUNCTION pg_temp.refused(label text) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN state = '22023' AND msg LIKE '%cannot be expanded within bounds%' AND secs < 0.5
           THEN 'refused' ELSE format('%s in %s s: %s', state, round(secs::numeric, 2), msg) END
    FROM runs WHERE runs.label = refused.label
$$;

SET statement_timeout = '1s';
SELECT pg_temp.preview('monthly 2WE setpos 2', 'FREQ=MONTHLY;BYDAY=2WE;BYSETPOS=2', '1 day');
SELECT pg_temp.preview('monthly 2WE setpos -2', 'FREQ=MONTHLY;BYDAY=2WE;BYSETPOS=-2', '1 day');
SELECT pg_temp.preview('monthly 31 MO setpos 2', 'FREQ=MONTHLY;BYMONTHDAY=31;BYDAY=MO;BYSETPOS=2', '1 day');
SELECT pg_temp.preview('yearly feb 29 setpos 2', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYSETPOS=2', '1 day');
SELECT pg_temp.preview('secondly interval bysecond',
    'FREQ=SECONDLY;INTERVAL=4000;BYYEARDAY=60;BYDAY=MO;BYMONTHDAY=29;BYSECOND=1', '4 years');
SELECT pg_temp.preview('minutely interval byminute',
    'FREQ=MINUTELY;INTERVAL=400;BYYEARDAY=60;BYDAY=MO;BYMONTHDAY=29;BYHOUR=0,2;BYMINUTE=59,30,1', '100 years');
-- what still works
SELECT pg_temp.preview('monthly 2WE setpos 1', 'FREQ=MONTHLY;BYDAY=2WE;BYSETPOS=1', '1 year');
SELECT pg_temp.preview('monthly last weekday', 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', '1 year');
SELECT pg_temp.preview('weekly setpos 2', 'FREQ=WEEKLY;BYDAY=MO,FR;BYSETPOS=2', '1 year');
RESET statement_timeout;

SELECT is(pg_temp.refused('monthly 2WE setpos 2'), 'refused',
    'BYSETPOS=2 with one day a month (BYDAY=2WE) is refused at once');
SELECT is(pg_temp.refused('monthly 2WE setpos -2'), 'refused',
    'BYSETPOS=-2 with one day a month is refused at once');
SELECT is(pg_temp.refused('monthly 31 MO setpos 2'), 'refused',
    'BYSETPOS=2 with BYMONTHDAY=31;BYDAY=MO (one day at most) is refused at once');
SELECT is(pg_temp.refused('yearly feb 29 setpos 2'), 'refused',
    'BYSETPOS=2 with one day a year is refused at once');
SELECT is(pg_temp.refused('secondly interval bysecond'), 'refused',
    'FREQ=SECONDLY;INTERVAL=4000 with BYSECOND over 4 years is refused at once');
SELECT is(pg_temp.refused('minutely interval byminute'), 'refused',
    'FREQ=MINUTELY;INTERVAL=400 with BYMINUTE over 100 years is refused at once');
SELECT is((SELECT state || ' ' || (secs < 1) FROM runs WHERE label = 'monthly 2WE setpos 1'), '00000 true',
    'BYSETPOS=1 with BYDAY=2WE is still expanded');
SELECT is((SELECT count(*) FROM mojob.recurrence_preview('FREQ=MONTHLY;BYDAY=2WE;BYSETPOS=1', 'UTC',
           '2026-03-01 00:00+00', '2026-06-01 00:00+00')), 3::bigint,
    'BYSETPOS=1 with BYDAY=2WE gives the second Wednesday of each month');
SELECT is((SELECT state FROM runs WHERE label = 'monthly last weekday'), '00000',
    'the last weekday of the month (BYSETPOS=-1) is still expanded');
SELECT is((SELECT state FROM runs WHERE label = 'weekly setpos 2'), '00000',
    'BYSETPOS=2 with two days a week is still expanded');

-- ---------------------------------------------------------------------
-- Capability arrays
-- ---------------------------------------------------------------------
INSERT INTO mojob.resource (name, capabilities) VALUES ('cam', '{uhd,hdr}');
INSERT INTO mojob.pool (name) VALUES ('cameras');
SELECT throws_ok($$SELECT * FROM mojob.free_resources(tstzrange(now(), now() + '1 hour'), NULL,
                     array_fill('uhd'::text, ARRAY[1001]))$$,
    '22023', 'capabilities must not hold more than 1000 names',
    'free_resources refuses more than 1000 capabilities before any work');
SELECT is((SELECT count(*) FROM mojob.free_resources(tstzrange(now(), now() + '1 hour'), NULL,
           array_fill('uhd'::text, ARRAY[1000]))), 1::bigint,
    'free_resources takes 1000 capabilities');
SELECT throws_ok(format($$SELECT mojob.add_pool_node(%s, %s, NULL, array_fill('uhd'::text, ARRAY[1001]))$$,
                        (SELECT id FROM mojob.create_job('pooled', now() + '1 day', now() + '1 day 1 hour')),
                        (SELECT id FROM mojob.pool WHERE name = 'cameras')),
    '22023', 'required_capabilities must not hold more than 1000 names',
    'add_pool_node refuses more than 1000 required capabilities');
SELECT lives_ok(format($$SELECT mojob.add_pool_node(%s, %s, NULL, array_fill('uhd'::text, ARRAY[1000]))$$,
                        (SELECT id FROM mojob.job WHERE name = 'pooled'),
                        (SELECT id FROM mojob.pool WHERE name = 'cameras')),
    'add_pool_node takes 1000 required capabilities');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
