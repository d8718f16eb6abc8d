-- Recurrences and arguments under attack (README.md, "Guarantees"):
--
--   * every call can be canceled: a rule libical would search without end
--     (BY-parts that never match, a frequency too fine for its window) is
--     refused with 22023 before libical starts, or ends within the
--     statement_timeout; an array of ids too long is refused before any
--     work, after the privilege check, and duplicates are found by sorting;
--   * extend_recurrences(at) more than a day ahead of now() is the owner's
--     (42501 for a planner);
--   * a recurrence's horizon is at least a day (22023 from make_recurring;
--     the table's CHECK refuses the owner's own UPDATE, 23514);
--   * one series that fails does not stop extend_recurrences for the others:
--     it is left as it was, with a WARNING.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(39);

CREATE ROLE recur_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO recur_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO recur_viewer;
CREATE ROLE recur_planner NOLOGIN IN ROLE recur_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO recur_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO recur_planner;

-- Run call; its SQLSTATE ('00000' if it returned) and how long it took.
CREATE FUNCTION pg_temp.timed(call text, OUT state text, OUT secs float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    BEGIN
        EXECUTE call;
        state := '00000';
    EXCEPTION
        WHEN query_canceled THEN state := '57014';
        WHEN OTHERS THEN state := SQLSTATE;
    END;
    secs := extract(epoch FROM clock_timestamp() - t0);
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.timed(text) TO PUBLIC;
CREATE TEMP TABLE runs (label text PRIMARY KEY, state text, secs float8);
GRANT ALL ON runs TO PUBLIC;

-- Preview rule over [now, now + span) under statement_timeout = 1s: one
-- top-level statement each (the timeout is armed per statement).
CREATE FUNCTION pg_temp.preview(label text, rule text, span interval) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO runs SELECT label, t.* FROM pg_temp.timed(format(
        'SELECT count(*) FROM mojob.recurrence_preview(%L, ''UTC'', now(), now() + %L::interval)',
        rule, span)) t
$$;

-- A check that each run ended quickly, refused (22023) or canceled (57014)
-- or done.
CREATE FUNCTION pg_temp.bounded(label text) RETURNS text
LANGUAGE sql AS $$
    SELECT format('%s in %s s', state, round(secs::numeric, 2)) FROM runs WHERE runs.label = bounded.label
$$;
CREATE FUNCTION pg_temp.quick(label text) RETURNS boolean
LANGUAGE sql AS $$
    SELECT state IN ('00000', '22023', '57014') AND secs < 2 FROM runs WHERE runs.label = quick.label
$$;

-- ---------------------------------------------------------------------
-- Rules libical would search without end
-- ---------------------------------------------------------------------

SET statement_timeout = '1s';
SELECT pg_temp.preview('hourly feb 30', 'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30', '1 day');
SELECT pg_temp.preview('minutely feb 30', 'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30', '1 day');
SELECT pg_temp.preview('secondly apr 31', 'FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31', '1 day');
SELECT pg_temp.preview('daily feb -30', 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30', '1 year');
SELECT pg_temp.preview('monthly feb 30', 'FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30', '1 day');
SELECT pg_temp.preview('yearday 59 in march', 'FREQ=YEARLY;BYMONTH=3;BYYEARDAY=59', '1 year');
SELECT pg_temp.preview('secondly a year', 'FREQ=SECONDLY', '1 year');
SELECT pg_temp.preview('minutely at 9', 'FREQ=MINUTELY;BYHOUR=9;BYMINUTE=0', '1 year');
SELECT pg_temp.preview('hourly feb 29', 'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29', '20 years');
SELECT pg_temp.preview('daily setpos 2', 'FREQ=DAILY;BYSETPOS=2', '1 year');
SELECT pg_temp.preview('secondly feb 29 until', 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=24000101T000000Z', '1 day');
SELECT pg_temp.preview('hourly 5th monday of feb', 'FREQ=HOURLY;BYMONTH=2;BYDAY=MO;BYMONTHDAY=29', '1 year');
RESET statement_timeout;

SELECT ok(pg_temp.quick('hourly feb 30'), 'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30 ends within 2 s: ' || pg_temp.bounded('hourly feb 30'));
SELECT ok(pg_temp.quick('minutely feb 30'), 'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30 ends within 2 s: ' || pg_temp.bounded('minutely feb 30'));
SELECT ok(pg_temp.quick('secondly apr 31'), 'FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31 ends within 2 s: ' || pg_temp.bounded('secondly apr 31'));
SELECT ok(pg_temp.quick('daily feb -30'), 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30 ends within 2 s: ' || pg_temp.bounded('daily feb -30'));
SELECT ok(pg_temp.quick('monthly feb 30'), 'FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30 ends within 2 s: ' || pg_temp.bounded('monthly feb 30'));
SELECT ok(pg_temp.quick('yearday 59 in march'), 'FREQ=YEARLY;BYMONTH=3;BYYEARDAY=59 ends within 2 s: ' || pg_temp.bounded('yearday 59 in march'));
SELECT ok(pg_temp.quick('secondly a year'), 'FREQ=SECONDLY over a year ends within 2 s: ' || pg_temp.bounded('secondly a year'));
SELECT ok(pg_temp.quick('minutely at 9'), 'FREQ=MINUTELY;BYHOUR=9;BYMINUTE=0 over a year ends within 2 s: ' || pg_temp.bounded('minutely at 9'));
SELECT ok(pg_temp.quick('hourly feb 29'), 'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29 over 20 years ends within 2 s: ' || pg_temp.bounded('hourly feb 29'));
SELECT ok(pg_temp.quick('daily setpos 2'), 'FREQ=DAILY;BYSETPOS=2 ends within 2 s: ' || pg_temp.bounded('daily setpos 2'));
SELECT ok(pg_temp.quick('secondly feb 29 until'), 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29 with a far UNTIL ends within 2 s: ' || pg_temp.bounded('secondly feb 29 until'));
SELECT ok(pg_temp.quick('hourly 5th monday of feb'), 'FREQ=HOURLY;BYMONTH=2;BYDAY=MO;BYMONTHDAY=29 over a year ends within 2 s: ' || pg_temp.bounded('hourly 5th monday of feb'));

-- Those that can never match are refused, saying why.
SELECT throws_like($$ SELECT * FROM mojob.recurrence_preview('FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30', 'UTC', now(), now() + interval '1 day') $$,
    '%cannot be expanded within bounds: its BY-parts select no day%',
    'a rule whose BY-parts select no day (February 30th) is refused, saying why');
SELECT is((SELECT state FROM runs WHERE label = 'yearday 59 in march'), '22023',
    'BYYEARDAY=59 (February) with BYMONTH=3 is refused with 22023');
SELECT is((SELECT state FROM runs WHERE label = 'daily setpos 2'), '22023',
    'a BYSETPOS beyond the set of each period is refused with 22023');
SELECT throws_like($$ SELECT * FROM mojob.recurrence_preview('FREQ=SECONDLY;BYHOUR=9', 'UTC', now(), now() + interval '1 year') $$,
    '%FREQ=SECONDLY is too fine for the window%',
    'a frequency too fine for its window (SECONDLY at 9 over a year) is refused, saying why');
-- Rules that do match are not refused: leap days, week 53, fifth Fridays.
SELECT is((SELECT count(*)::int FROM mojob.recurrence_preview('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', 'UTC',
                                                           '2030-01-01Z', '2041-01-01Z')), 3,
    'February 29th yearly is accepted (2032, 2036, 2040)');
SELECT is((SELECT count(*)::int FROM mojob.recurrence_preview('FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH', 'UTC',
                                                           '2030-01-01Z', '2041-01-01Z')), 2,
    'Thursday of week 53 is accepted (2032, 2037)');
SELECT is((SELECT count(*)::int FROM mojob.recurrence_preview('FREQ=MONTHLY;BYDAY=5FR', 'UTC',
                                                           '2030-01-01Z', '2031-01-01Z')), 4,
    'the fifth Friday of each month is accepted (four in 2030)');

-- ---------------------------------------------------------------------
-- Arrays of ids
-- ---------------------------------------------------------------------

SET ROLE recur_viewer;
SET statement_timeout = '5s';
INSERT INTO runs SELECT 'viewer 300k', t.* FROM pg_temp.timed(
    $$ SELECT mojob.create_job('x', now() + interval '1 day', now() + interval '1 day 1 hour',
                               resources => (SELECT array_agg(g) FROM generate_series(1::bigint, 300000) g)) $$) t;
RESET ROLE;
SET ROLE recur_planner;
INSERT INTO runs SELECT 'planner 300k', t.* FROM pg_temp.timed(
    $$ SELECT mojob.create_job('x', now() + interval '1 day', now() + interval '1 day 1 hour',
                               resources => (SELECT array_agg(g) FROM generate_series(1::bigint, 300000) g)) $$) t;
INSERT INTO runs SELECT 'planner 100k twice', t.* FROM pg_temp.timed(
    $$ SELECT mojob.create_job('x', now() + interval '1 day', now() + interval '1 day 1 hour',
                               resources => (SELECT array_agg(g) FROM generate_series(1::bigint, 99999) g) || 7::bigint) $$) t;
RESET ROLE;
RESET statement_timeout;
SELECT is(pg_temp.bounded('viewer 300k') ~ '^42501', true,
    'a viewer''s create_job with 300,000 ids is refused for want of rights first (42501): ' || pg_temp.bounded('viewer 300k'));
SELECT ok((SELECT secs < 1 FROM runs WHERE label = 'viewer 300k'), 'and at once');
SELECT is(pg_temp.bounded('planner 300k') ~ '^22023', true,
    'a planner''s create_job with 300,000 ids is refused (22023): ' || pg_temp.bounded('planner 300k'));
SELECT throws_like($$ SELECT mojob.create_job('x', now() + interval '1 day', now() + interval '1 day 1 hour',
                             resources => (SELECT array_agg(g) FROM generate_series(1::bigint, 100001) g)) $$,
    '%must not hold more than 100000 ids%', 'the refusal says the limit');
SELECT ok((SELECT state = '22023' AND secs < 1 FROM runs WHERE label = 'planner 100k twice'),
    'a duplicate among 100,000 ids is found at once (22023): ' || pg_temp.bounded('planner 100k twice'));
SELECT throws_like($$ SELECT mojob.create_job('x', now() + interval '1 day', now() + interval '1 day 1 hour',
                             resources => ARRAY[1, 2, 2, 1]::bigint[]) $$,
    '%must not name a resource twice%', 'a duplicate id is refused');

-- ---------------------------------------------------------------------
-- Horizons and far extensions
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name) VALUES (1, 'studio');
CREATE FUNCTION pg_temp.job(label text, days int) RETURNS bigint
LANGUAGE sql AS $$
    SELECT id FROM mojob.create_job(label, date_trunc('hour', now()) + days * interval '1 day' + interval '2 hours',
                                    date_trunc('hour', now()) + days * interval '1 day' + interval '3 hours')
$$;

SELECT throws_ok(format($$ SELECT mojob.make_recurring(%s, 'FREQ=DAILY', 'UTC', '23 hours') $$, pg_temp.job('short', 1)),
    '22023', 'horizon must be at least a day', 'a horizon under a day is refused with 22023');
SELECT lives_ok(format($$ SELECT mojob.make_recurring(%s, 'FREQ=DAILY', 'UTC', '24 hours') $$, pg_temp.job('day', 1)),
    'a horizon of 24 hours is accepted');
SELECT throws_ok($$ UPDATE mojob.recurrence SET horizon = '1 hour' $$, '23514', NULL,
    'the owner''s own UPDATE to a horizon under a day is refused by the table (23514)');

SELECT mojob.make_recurring(pg_temp.job('daily', 1), 'FREQ=DAILY', 'UTC', '1 year') IS NOT NULL AS made \gset
SET ROLE recur_planner;
SELECT throws_ok($$ SELECT mojob.extend_recurrences(now() + interval '20 years') $$, '42501', NULL,
    'a planner cannot extend recurrences 20 years ahead (42501)');
SELECT lives_ok($$ SELECT mojob.extend_recurrences(now() + interval '23 hours') $$,
    'a planner may extend up to a day ahead');
RESET ROLE;
SELECT cmp_ok((SELECT count(*)::int FROM mojob.job j JOIN mojob.recurrence r ON r.id = j.recurrence_id
               WHERE r.rule = 'FREQ=DAILY' AND r.horizon = '1 year'), '<=', 368,
    'so the daily series has at most a year and two days of instances');

-- ---------------------------------------------------------------------
-- One failing series does not stop the others
-- ---------------------------------------------------------------------

-- Written by hand, as only the owner can: a rule libical rejects.
INSERT INTO mojob.recurrence (template_job, rule, time_zone, horizon, dtstart, extended_until, created_by)
SELECT pg_temp.job('broken', 2), 'FREQ=NEVER', 'UTC', '1 year',
       date_trunc('hour', now()) + interval '2 days 2 hours', now() + interval '1 day', 'test';
SELECT mojob.make_recurring(pg_temp.job('weekly', 3), 'FREQ=WEEKLY', 'UTC', '10 days') IS NOT NULL AS made \gset
SELECT is((SELECT count(*)::int FROM mojob.job j JOIN mojob.recurrence r ON r.id = j.recurrence_id
           WHERE r.rule = 'FREQ=WEEKLY'), 1, 'the weekly series has one instance in a 10-day horizon');
SELECT lives_ok($$ SELECT mojob.extend_recurrences(now() + interval '1 day') $$,
    'extend_recurrences goes on past a series that fails');
SELECT is((SELECT count(*)::int FROM mojob.job j JOIN mojob.recurrence r ON r.id = j.recurrence_id
           WHERE r.rule = 'FREQ=WEEKLY'), 2, 'the weekly series was extended');
SELECT is((SELECT extended_until < now() + interval '1 day 1 year' FROM mojob.recurrence
           WHERE rule = 'FREQ=NEVER'), true,
    'the failing series was left as it was');

-- The cap counts from now for an extension up to a day ahead: a planner's
-- series of 4,000-odd instances in a one-day horizon, extended to now + 1
-- day, would otherwise hold twice the cap (the day before at uncounted).
SET ROLE recur_planner;
SELECT mojob.make_recurring(pg_temp.job('every 20 s', 0), 'FREQ=SECONDLY;INTERVAL=20', 'UTC', '1 day') IS NOT NULL AS made \gset
SELECT lives_ok($$ SELECT mojob.extend_recurrences(now() + interval '1 day') $$,
    'a planner''s extension a day ahead runs (the series over the cap is left as it was)');
RESET ROLE;
SELECT cmp_ok((SELECT count(*)::int FROM mojob.job j JOIN mojob.recurrence r ON r.id = j.recurrence_id
               WHERE r.rule = 'FREQ=SECONDLY;INTERVAL=20'), '<=', 5000,
    'so no series holds more than 5,000 instances');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
