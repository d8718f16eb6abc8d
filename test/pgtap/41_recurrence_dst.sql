-- Recurring jobs across daylight-saving changes (docs/design.md section 7 and
-- the header of src/recurrence.c): a rule is expanded in wall-clock time in
-- the recurrence's time zone, so a 20:00 show stays at 20:00 local time --
-- in Europe/Brussels 19:00 UTC in winter and 18:00 UTC in summer, in
-- America/New_York 01:00 UTC (the next day) in winter and 00:00 UTC in
-- summer.  A local time in the spring gap is read with the offset before the
-- change (02:30 becomes 03:30 summer time); one in the autumn overlap is the
-- second, standard-time instant.  Checked instance by instance around the
-- 2030 change dates, through mojob.make_recurring and mojob.recurrence_preview.
--
--   Europe/Brussels   2030-03-31 02:00 CET -> 03:00 CEST (01:00Z)
--                     2030-10-27 03:00 CEST -> 02:00 CET (01:00Z)
--   America/New_York  2030-03-10 02:00 EST -> 03:00 EDT (07:00Z)
--                     2030-11-03 02:00 EDT -> 01:00 EST (06:00Z)
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(45);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

-- A draft named label from s, lasting len, made recurring by rule in tz;
-- returns the recurrence.
CREATE FUNCTION pg_temp.rec(label text, s timestamptz, rule text, tz text,
                            len interval DEFAULT '2 hours')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    j mojob.job;
BEGIN
    j := mojob.create_job(label, s, s + len);
    RETURN (mojob.make_recurring(j.id, rule, tz, '10 years')).id;
END
$$;

CREATE FUNCTION pg_temp.r(label text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT r.id FROM mojob.recurrence r JOIN mojob.job j ON j.id = r.template_job WHERE j.name = label
$$;

-- The starts (UTC instants) of recurrence label's instances whose local
-- date in the recurrence's time zone is d: one element for a single instance.
CREATE FUNCTION pg_temp.on_day(label text, d date) RETURNS timestamptz[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(j.start_at ORDER BY j.start_at), '{}')
    FROM mojob.job j JOIN mojob.recurrence r ON r.id = j.recurrence_id
    WHERE r.id = pg_temp.r(label) AND (j.start_at AT TIME ZONE r.time_zone)::date = d
$$;

-- Every instance start of recurrence label, in order.
CREATE FUNCTION pg_temp.starts(label text) RETURNS timestamptz[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(start_at ORDER BY start_at), '{}')
    FROM mojob.job WHERE recurrence_id = pg_temp.r(label)
$$;

-- What mojob.recurrence_preview gives, in its order; NULL if it raises.
CREATE FUNCTION pg_temp.preview(rule text, tz text, dtstart timestamptz, until timestamptz)
RETURNS timestamptz[] LANGUAGE plpgsql AS $$
BEGIN
    RETURN ARRAY(SELECT p FROM mojob.recurrence_preview(rule, tz, dtstart, until)
                 WITH ORDINALITY AS x(p, n) ORDER BY n);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

-- ---------------------------------------------------------------------
-- Europe/Brussels: a weekly 20:00 show, Sunday 17 March to Sunday 10
-- November 2030
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.rec('brussels 20:00', '2030-03-17 19:00Z', 'FREQ=WEEKLY;UNTIL=20301111T000000Z', 'Europe/Brussels');

SELECT is(pg_temp.on_day('brussels 20:00', '2030-03-24'), ARRAY['2030-03-24 19:00Z']::timestamptz[],
    'Brussels: the Sunday before the spring change the 20:00 show is at 19:00 UTC (CET)');
SELECT is(pg_temp.on_day('brussels 20:00', '2030-03-31'), ARRAY['2030-03-31 18:00Z']::timestamptz[],
    'Brussels: on the spring-forward Sunday the 20:00 show is at 18:00 UTC (CEST)');
SELECT is(pg_temp.on_day('brussels 20:00', '2030-04-07'), ARRAY['2030-04-07 18:00Z']::timestamptz[],
    'Brussels: the Sunday after the spring change the show stays at 18:00 UTC');
SELECT is(pg_temp.on_day('brussels 20:00', '2030-10-20'), ARRAY['2030-10-20 18:00Z']::timestamptz[],
    'Brussels: the Sunday before the autumn change the show is at 18:00 UTC (CEST)');
SELECT is(pg_temp.on_day('brussels 20:00', '2030-10-27'), ARRAY['2030-10-27 19:00Z']::timestamptz[],
    'Brussels: on the fall-back Sunday the 20:00 show is at 19:00 UTC (CET)');
SELECT is(pg_temp.on_day('brussels 20:00', '2030-11-03'), ARRAY['2030-11-03 19:00Z']::timestamptz[],
    'Brussels: the Sunday after the autumn change the show stays at 19:00 UTC');
SELECT is(cardinality(pg_temp.starts('brussels 20:00')), 35,
    'Brussels: one instance a week from 17 March to 10 November, 35 in all');
SELECT is((SELECT count(*)::int FROM mojob.job
           WHERE recurrence_id = pg_temp.r('brussels 20:00')
             AND ((start_at AT TIME ZONE 'Europe/Brussels')::time <> '20:00'
                  OR extract(isodow FROM start_at AT TIME ZONE 'Europe/Brussels') <> 7)), 0,
    'Brussels: every instance starts on a Sunday at 20:00 local time');
SELECT is((SELECT count(*)::int FROM mojob.job
           WHERE recurrence_id = pg_temp.r('brussels 20:00') AND end_at - start_at <> interval '2 hours'), 0,
    'Brussels: every instance lasts two hours, whatever the offset');
SELECT is(pg_temp.preview('FREQ=WEEKLY', 'Europe/Brussels', '2030-03-17 19:00Z', '2030-04-08Z'),
    ARRAY['2030-03-24 19:00Z', '2030-03-31 18:00Z', '2030-04-07 18:00Z']::timestamptz[],
    'Brussels: recurrence_preview moves the 20:00 show from 19:00 to 18:00 UTC at the spring change');
SELECT is(pg_temp.preview('FREQ=WEEKLY', 'Europe/Brussels', '2030-10-13 18:00Z', '2030-11-04Z'),
    ARRAY['2030-10-20 18:00Z', '2030-10-27 19:00Z', '2030-11-03 19:00Z']::timestamptz[],
    'Brussels: recurrence_preview moves the 20:00 show from 18:00 to 19:00 UTC at the autumn change');
SELECT is(pg_temp.preview('FREQ=DAILY', 'Europe/Brussels', '2030-03-29 19:00Z', '2030-04-02Z'),
    ARRAY['2030-03-30 19:00Z', '2030-03-31 18:00Z', '2030-04-01 18:00Z']::timestamptz[],
    'Brussels: a daily 20:00 rule moves to 18:00 UTC on the day of the change');

-- ---------------------------------------------------------------------
-- America/New_York: a weekly 20:00 show, Sunday 3 March to Sunday 10
-- November 2030 (20:00 local is the next day in UTC)
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.rec('new york 20:00', '2030-03-04 01:00Z', 'FREQ=WEEKLY;UNTIL=20301112T000000Z', 'America/New_York');

SELECT is(pg_temp.on_day('new york 20:00', '2030-03-03'), ARRAY['2030-03-04 01:00Z']::timestamptz[],
    'New York: the Sunday before the spring change the 20:00 show is at 01:00 UTC the next day (EST)');
SELECT is(pg_temp.on_day('new york 20:00', '2030-03-10'), ARRAY['2030-03-11 00:00Z']::timestamptz[],
    'New York: on the spring-forward Sunday the 20:00 show is at 00:00 UTC the next day (EDT)');
SELECT is(pg_temp.on_day('new york 20:00', '2030-03-17'), ARRAY['2030-03-18 00:00Z']::timestamptz[],
    'New York: the Sunday after the spring change the show stays at 00:00 UTC');
SELECT is(pg_temp.on_day('new york 20:00', '2030-10-27'), ARRAY['2030-10-28 00:00Z']::timestamptz[],
    'New York: the Sunday before the autumn change the show is at 00:00 UTC (EDT)');
SELECT is(pg_temp.on_day('new york 20:00', '2030-11-03'), ARRAY['2030-11-04 01:00Z']::timestamptz[],
    'New York: on the fall-back Sunday the 20:00 show is at 01:00 UTC the next day (EST)');
SELECT is(pg_temp.on_day('new york 20:00', '2030-11-10'), ARRAY['2030-11-11 01:00Z']::timestamptz[],
    'New York: the Sunday after the autumn change the show stays at 01:00 UTC');
SELECT is(cardinality(pg_temp.starts('new york 20:00')), 37,
    'New York: one instance a week from 3 March to 10 November, 37 in all');
SELECT is((SELECT count(*)::int FROM mojob.job
           WHERE recurrence_id = pg_temp.r('new york 20:00')
             AND ((start_at AT TIME ZONE 'America/New_York')::time <> '20:00'
                  OR extract(isodow FROM start_at AT TIME ZONE 'America/New_York') <> 7)), 0,
    'New York: every instance starts on a Sunday at 20:00 local time');
SELECT is(pg_temp.preview('FREQ=WEEKLY', 'America/New_York', '2030-03-04 01:00Z', '2030-03-19Z'),
    ARRAY['2030-03-11 00:00Z', '2030-03-18 00:00Z']::timestamptz[],
    'New York: recurrence_preview moves the 20:00 show from 01:00 to 00:00 UTC at the spring change');
SELECT is(pg_temp.preview('FREQ=WEEKLY', 'America/New_York', '2030-10-28 00:00Z', '2030-11-12Z'),
    ARRAY['2030-11-04 01:00Z', '2030-11-11 01:00Z']::timestamptz[],
    'New York: recurrence_preview moves the 20:00 show from 00:00 to 01:00 UTC at the autumn change');

-- ---------------------------------------------------------------------
-- The spring gap: 02:30 does not exist on the change day; it is read with
-- the offset before the change, so it becomes 03:30 summer time
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.rec('brussels 02:30 spring', '2030-03-24 01:30Z', 'FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '1 hour');
SELECT is(pg_temp.starts('brussels 02:30 spring'),
    ARRAY['2030-03-24 01:30Z', '2030-03-31 01:30Z', '2030-04-07 00:30Z']::timestamptz[],
    'Brussels: a 02:30 show falls in the gap on the spring-forward Sunday and is made at 01:30 UTC');
SELECT is((SELECT (start_at AT TIME ZONE 'Europe/Brussels')::time FROM mojob.job
           WHERE recurrence_id = pg_temp.r('brussels 02:30 spring') AND start_at::date = '2030-03-31'),
    '03:30'::time,
    'Brussels: the 02:30 show in the gap starts at 03:30 summer time');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '2030-03-24 01:30Z', '2031-01-01Z'),
    ARRAY['2030-03-31 01:30Z', '2030-04-07 00:30Z']::timestamptz[],
    'Brussels: recurrence_preview reads the 02:30 in the gap as 03:30 summer time too');

SELECT FROM pg_temp.rec('new york 02:30 spring', '2030-03-03 07:30Z', 'FREQ=WEEKLY;COUNT=3', 'America/New_York', '1 hour');
SELECT is(pg_temp.starts('new york 02:30 spring'),
    ARRAY['2030-03-03 07:30Z', '2030-03-10 07:30Z', '2030-03-17 06:30Z']::timestamptz[],
    'New York: a 02:30 show falls in the gap on the spring-forward Sunday and is made at 07:30 UTC');
SELECT is((SELECT (start_at AT TIME ZONE 'America/New_York')::time FROM mojob.job
           WHERE recurrence_id = pg_temp.r('new york 02:30 spring') AND start_at::date = '2030-03-10'),
    '03:30'::time,
    'New York: the 02:30 show in the gap starts at 03:30 summer time');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'America/New_York', '2030-03-03 07:30Z', '2031-01-01Z'),
    ARRAY['2030-03-10 07:30Z', '2030-03-17 06:30Z']::timestamptz[],
    'New York: recurrence_preview reads the 02:30 in the gap as 03:30 summer time too');

-- A daily rule through the gap keeps one instance a day.
SELECT FROM pg_temp.rec('brussels 02:30 daily', '2030-03-30 01:30Z', 'FREQ=DAILY;COUNT=3', 'Europe/Brussels', '1 hour');
SELECT is(pg_temp.starts('brussels 02:30 daily'),
    ARRAY['2030-03-30 01:30Z', '2030-03-31 01:30Z', '2030-04-01 00:30Z']::timestamptz[],
    'Brussels: a daily 02:30 rule keeps one instance on the spring-forward day');

-- ---------------------------------------------------------------------
-- The autumn overlap: 02:30 (Brussels) and 01:30 (New York) happen twice
-- on the change day; the instance is the second, standard-time one
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.rec('brussels 02:30 autumn', '2030-10-20 00:30Z', 'FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '1 hour');
SELECT is(pg_temp.on_day('brussels 02:30 autumn', '2030-10-27'), ARRAY['2030-10-27 01:30Z']::timestamptz[],
    'Brussels: a 02:30 show on the fall-back Sunday is one instance, at the second 02:30 (01:30 UTC, CET)');
SELECT is(pg_temp.starts('brussels 02:30 autumn'),
    ARRAY['2030-10-20 00:30Z', '2030-10-27 01:30Z', '2030-11-03 01:30Z']::timestamptz[],
    'Brussels: the 02:30 show is at 00:30 UTC before the change and 01:30 UTC from the change on');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '2030-10-20 00:30Z', '2031-01-01Z'),
    ARRAY['2030-10-27 01:30Z', '2030-11-03 01:30Z']::timestamptz[],
    'Brussels: recurrence_preview takes the second 02:30 of the fall-back Sunday too');

SELECT FROM pg_temp.rec('new york 01:30 autumn', '2030-10-27 05:30Z', 'FREQ=WEEKLY;COUNT=3', 'America/New_York', '1 hour');
SELECT is(pg_temp.on_day('new york 01:30 autumn', '2030-11-03'), ARRAY['2030-11-03 06:30Z']::timestamptz[],
    'New York: a 01:30 show on the fall-back Sunday is one instance, at the second 01:30 (06:30 UTC, EST)');
SELECT is(pg_temp.starts('new york 01:30 autumn'),
    ARRAY['2030-10-27 05:30Z', '2030-11-03 06:30Z', '2030-11-10 06:30Z']::timestamptz[],
    'New York: the 01:30 show is at 05:30 UTC before the change and 06:30 UTC from the change on');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'America/New_York', '2030-10-27 05:30Z', '2031-01-01Z'),
    ARRAY['2030-11-03 06:30Z', '2030-11-10 06:30Z']::timestamptz[],
    'New York: recurrence_preview takes the second 01:30 of the fall-back Sunday too');

-- A template at the first (summer-time) 02:30 of the fall-back day is that
-- day's occurrence: the second 02:30 is not another instance.
SELECT FROM pg_temp.rec('brussels first 02:30', '2030-10-27 00:30Z', 'FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '20 minutes');
SELECT is(pg_temp.starts('brussels first 02:30'),
    ARRAY['2030-10-27 00:30Z', '2030-11-03 01:30Z', '2030-11-10 01:30Z']::timestamptz[],
    'Brussels: a template at the first 02:30 of the fall-back Sunday gets no twin one hour later; COUNT=3 makes three jobs');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '2030-10-27 00:30Z', '2031-01-01Z'),
    ARRAY['2030-11-03 01:30Z', '2030-11-10 01:30Z']::timestamptz[],
    'Brussels: recurrence_preview from the first 02:30 of the fall-back Sunday does not repeat that day');
SELECT FROM pg_temp.rec('new york first 01:30', '2030-11-03 05:30Z', 'FREQ=WEEKLY;COUNT=3', 'America/New_York', '20 minutes');
SELECT is(pg_temp.starts('new york first 01:30'),
    ARRAY['2030-11-03 05:30Z', '2030-11-10 06:30Z', '2030-11-17 06:30Z']::timestamptz[],
    'New York: a template at the first 01:30 of the fall-back Sunday gets no twin one hour later; COUNT=3 makes three jobs');

-- A daily rule through the overlap keeps one instance a day.
SELECT FROM pg_temp.rec('brussels 02:30 nightly', '2030-10-26 00:30Z', 'FREQ=DAILY;COUNT=3', 'Europe/Brussels', '20 minutes');
SELECT is(pg_temp.starts('brussels 02:30 nightly'),
    ARRAY['2030-10-26 00:30Z', '2030-10-27 01:30Z', '2030-10-28 01:30Z']::timestamptz[],
    'Brussels: a daily 02:30 rule keeps one instance on the fall-back day, the second 02:30');

-- ---------------------------------------------------------------------
-- The session's TimeZone plays no part
-- ---------------------------------------------------------------------

SET TimeZone = 'Asia/Tokyo';
SELECT FROM pg_temp.rec('brussels from tokyo', '2030-03-24 19:00Z', 'FREQ=WEEKLY;COUNT=3', 'Europe/Brussels');
SET TimeZone = 'America/Los_Angeles';
SELECT is(pg_temp.starts('brussels from tokyo'),
    ARRAY['2030-03-24 19:00Z', '2030-03-31 18:00Z', '2030-04-07 18:00Z']::timestamptz[],
    'the expansion follows the recurrence''s time zone, not the session''s TimeZone');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'Europe/Brussels', '2030-03-24 19:00Z', '2031-01-01Z'),
    ARRAY['2030-03-31 18:00Z', '2030-04-07 18:00Z']::timestamptz[],
    'recurrence_preview follows its time zone argument, not the session''s TimeZone');
SET TimeZone = 'UTC';

-- Both zones through a whole year: a Brussels 20:00 show never drifts.
SELECT FROM pg_temp.rec('brussels all year', '2030-01-06 19:00Z', 'FREQ=WEEKLY;COUNT=52', 'Europe/Brussels', '1 hour');
SELECT is((SELECT count(*)::int FROM mojob.job
           WHERE recurrence_id = pg_temp.r('brussels all year')
             AND (start_at AT TIME ZONE 'Europe/Brussels')::time = '20:00'), 52,
    'Brussels: 52 weekly instances over a year all start at 20:00 local time');
SELECT results_eq(
    $$ SELECT (start_at AT TIME ZONE 'UTC')::time AS utc, count(*)::int FROM mojob.job
       WHERE recurrence_id = pg_temp.r('brussels all year') GROUP BY 1 ORDER BY 1 $$,
    $$ VALUES ('18:00'::time, 30), ('19:00'::time, 22) $$,
    'Brussels: over 2030, 30 weekly shows are at 18:00 UTC (summer) and 22 at 19:00 UTC (winter)');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
