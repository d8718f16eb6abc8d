-- Recurring jobs, the rules (docs/design.md section 7): RFC 5545 rules expanded
-- by libical from the template's start, in the recurrence's time zone --
-- daily, weekly with BYDAY, monthly by BYMONTHDAY, COUNT (the template is
-- the first occurrence) and UNTIL (an instant in UTC, inclusive) -- as exact
-- lists of starts, both as the jobs mojob.make_recurring creates and as
-- mojob.recurrence_preview gives them; the horizon; the mojob.recurrence
-- row; and every refusal of make_recurring and recurrence_preview.
-- (Daylight-saving changes: 41_recurrence_dst.sql.)
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(81);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT id FROM mojob.job WHERE name = label ORDER BY start_at, id LIMIT 1 $$;

-- A one-hour draft named label starting at s, made recurring by rule in
-- time zone tz; returns the recurrence.
CREATE FUNCTION pg_temp.rec(label text, s timestamptz, rule text, tz text DEFAULT 'UTC',
                            horizon interval DEFAULT '10 years')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    j mojob.job;
BEGIN
    j := mojob.create_job(label, s, s + interval '1 hour');
    RETURN (mojob.make_recurring(j.id, rule, tz, horizon)).id;
END
$$;

-- The starts of every instance of recurrence rec (the template among them), in order.
CREATE FUNCTION pg_temp.starts(rec bigint) RETURNS timestamptz[]
LANGUAGE sql AS $$
    SELECT coalesce(array_agg(start_at ORDER BY start_at), '{}')
    FROM mojob.job WHERE recurrence_id = rec
$$;

-- What mojob.recurrence_preview gives, in its order; NULL if it raises
-- (so that one broken call fails its own assertion, not the whole file).
CREATE FUNCTION pg_temp.preview(rule text, tz text, dtstart timestamptz, until timestamptz)
RETURNS timestamptz[] LANGUAGE plpgsql AS $$
BEGIN
    RETURN ARRAY(SELECT p FROM mojob.recurrence_preview(rule, tz, dtstart, until)
                 WITH ORDINALITY AS x(p, n) ORDER BY n);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

-- The error a statement raises: SQLSTATE, message, detail (NULLs if none).
CREATE FUNCTION pg_temp.err(sql text, OUT state text, OUT msg text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL;
END
$$;

-- A job named label in state st from now() + s to now() + e, inserted
-- directly by the table owner (allowed in any state, docs/design.md section 1).
CREATE FUNCTION pg_temp.mk(label text, st mojob.job_state, s interval, e interval)
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, canceled_at)
    VALUES (label, st, now() + s, now() + s, now() + e, now() + e,
            CASE WHEN st = 'canceled' THEN now() END)
    RETURNING id
$$;

-- ---------------------------------------------------------------------
-- Daily
-- ---------------------------------------------------------------------

SELECT is(pg_temp.starts(pg_temp.rec('daily', '2030-01-07 19:00Z', 'FREQ=DAILY;COUNT=5')),
    ARRAY['2030-01-07 19:00Z', '2030-01-08 19:00Z', '2030-01-09 19:00Z',
          '2030-01-10 19:00Z', '2030-01-11 19:00Z']::timestamptz[],
    'FREQ=DAILY;COUNT=5 makes the template and the four following days, at the same time of day');
SELECT is(pg_temp.preview('FREQ=DAILY;COUNT=5', 'UTC', '2030-01-07 19:00Z', '2031-01-01Z'),
    ARRAY['2030-01-08 19:00Z', '2030-01-09 19:00Z', '2030-01-10 19:00Z',
          '2030-01-11 19:00Z']::timestamptz[],
    'recurrence_preview gives the same daily occurrences after dtstart, in order');
SELECT is(pg_temp.starts(pg_temp.rec('every third day', '2030-01-07 19:00Z', 'FREQ=DAILY;INTERVAL=3;COUNT=4')),
    ARRAY['2030-01-07 19:00Z', '2030-01-10 19:00Z', '2030-01-13 19:00Z',
          '2030-01-16 19:00Z']::timestamptz[],
    'FREQ=DAILY;INTERVAL=3 makes an instance every third day');

-- ---------------------------------------------------------------------
-- Weekly with BYDAY (2030-01-07 is a Monday)
-- ---------------------------------------------------------------------

SELECT is(pg_temp.starts(pg_temp.rec('mo-we-fr', '2030-01-07 19:00Z', 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6')),
    ARRAY['2030-01-07 19:00Z', '2030-01-09 19:00Z', '2030-01-11 19:00Z',
          '2030-01-14 19:00Z', '2030-01-16 19:00Z', '2030-01-18 19:00Z']::timestamptz[],
    'FREQ=WEEKLY;BYDAY=MO,WE,FR makes an instance on each of those days');
SELECT is(pg_temp.preview('FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6', 'UTC', '2030-01-07 19:00Z', '2031-01-01Z'),
    ARRAY['2030-01-09 19:00Z', '2030-01-11 19:00Z', '2030-01-14 19:00Z',
          '2030-01-16 19:00Z', '2030-01-18 19:00Z']::timestamptz[],
    'recurrence_preview gives the same weekly BYDAY occurrences');
SELECT is(pg_temp.starts(pg_temp.rec('tu-th fortnightly', '2030-01-08 19:00Z',
                                     'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=5')),
    ARRAY['2030-01-08 19:00Z', '2030-01-10 19:00Z', '2030-01-22 19:00Z',
          '2030-01-24 19:00Z', '2030-02-05 19:00Z']::timestamptz[],
    'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH skips every other week');
SELECT is(pg_temp.starts(pg_temp.rec('plain weekly', '2030-01-07 19:00Z',
                                     'FREQ=WEEKLY;UNTIL=20300201T000000Z')),
    ARRAY['2030-01-07 19:00Z', '2030-01-14 19:00Z', '2030-01-21 19:00Z',
          '2030-01-28 19:00Z']::timestamptz[],
    'FREQ=WEEKLY without BYDAY repeats on the template''s weekday');

-- The template need not match the rule: it stays the first instance and the
-- rule's own occurrences follow (RFC 5545 leaves this case undefined).
SELECT is(pg_temp.starts(pg_temp.rec('saturdays', '2030-01-07 19:00Z', 'FREQ=WEEKLY;BYDAY=SA;COUNT=2')),
    ARRAY['2030-01-07 19:00Z', '2030-01-12 19:00Z', '2030-01-19 19:00Z']::timestamptz[],
    'a template off the rule''s days stays the first instance, followed by COUNT occurrences of the rule');

-- ---------------------------------------------------------------------
-- Monthly by day of the month
-- ---------------------------------------------------------------------

SELECT is(pg_temp.starts(pg_temp.rec('the 15th', '2030-01-15 19:00Z', 'FREQ=MONTHLY;BYMONTHDAY=15;COUNT=4')),
    ARRAY['2030-01-15 19:00Z', '2030-02-15 19:00Z', '2030-03-15 19:00Z',
          '2030-04-15 19:00Z']::timestamptz[],
    'FREQ=MONTHLY;BYMONTHDAY=15 makes an instance on the 15th of each month');
SELECT is(pg_temp.preview('FREQ=MONTHLY;BYMONTHDAY=15;COUNT=4', 'UTC', '2030-01-15 19:00Z', '2031-01-01Z'),
    ARRAY['2030-02-15 19:00Z', '2030-03-15 19:00Z', '2030-04-15 19:00Z']::timestamptz[],
    'recurrence_preview gives the same monthly occurrences');
SELECT is(pg_temp.starts(pg_temp.rec('the 31st', '2030-01-31 19:00Z', 'FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4')),
    ARRAY['2030-01-31 19:00Z', '2030-03-31 19:00Z', '2030-05-31 19:00Z',
          '2030-07-31 19:00Z']::timestamptz[],
    'BYMONTHDAY=31 skips the months that have no 31st');
SELECT is(pg_temp.preview('FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4', 'UTC', '2030-01-31 19:00Z', '2031-01-01Z'),
    ARRAY['2030-03-31 19:00Z', '2030-05-31 19:00Z', '2030-07-31 19:00Z']::timestamptz[],
    'recurrence_preview skips the same months');
SELECT is(pg_temp.starts(pg_temp.rec('month end', '2030-01-31 19:00Z', 'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4')),
    ARRAY['2030-01-31 19:00Z', '2030-02-28 19:00Z', '2030-03-31 19:00Z',
          '2030-04-30 19:00Z']::timestamptz[],
    'BYMONTHDAY=-1 makes an instance on the last day of each month');
SELECT is(pg_temp.starts(pg_temp.rec('1st and 15th', '2030-01-01 08:00Z', 'FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=5')),
    ARRAY['2030-01-01 08:00Z', '2030-01-15 08:00Z', '2030-02-01 08:00Z',
          '2030-02-15 08:00Z', '2030-03-01 08:00Z']::timestamptz[],
    'BYMONTHDAY=1,15 makes two instances a month');

-- ---------------------------------------------------------------------
-- COUNT
-- ---------------------------------------------------------------------

SELECT is(pg_temp.starts(pg_temp.rec('once', '2030-01-07 19:00Z', 'FREQ=WEEKLY;COUNT=1')),
    ARRAY['2030-01-07 19:00Z']::timestamptz[],
    'COUNT=1 is the template alone: no further instance');
SELECT is((SELECT count(*)::int FROM mojob.recurrence r JOIN mojob.job j ON j.id = r.template_job
           WHERE j.name = 'once'), 1,
    'a rule that gives no further occurrence still makes the recurrence');
SELECT is(cardinality(pg_temp.starts(pg_temp.rec('count three', '2030-01-07 19:00Z', 'FREQ=WEEKLY;COUNT=3'))), 3,
    'COUNT counts the template: COUNT=3 makes three jobs in all');
SELECT is(pg_temp.preview('FREQ=WEEKLY;COUNT=3', 'UTC', '2030-01-07 19:00Z', '2031-01-01Z'),
    ARRAY['2030-01-14 19:00Z', '2030-01-21 19:00Z']::timestamptz[],
    'recurrence_preview counts dtstart too: COUNT=3 gives two occurrences after it');

-- ---------------------------------------------------------------------
-- UNTIL: an instant (UTC), inclusive
-- ---------------------------------------------------------------------

SELECT is(pg_temp.starts(pg_temp.rec('until utc', '2030-01-07 19:00Z', 'FREQ=DAILY;UNTIL=20300111T190000Z')),
    ARRAY['2030-01-07 19:00Z', '2030-01-08 19:00Z', '2030-01-09 19:00Z',
          '2030-01-10 19:00Z', '2030-01-11 19:00Z']::timestamptz[],
    'UNTIL is inclusive: an occurrence exactly at UNTIL is made');
SELECT is(pg_temp.preview('FREQ=DAILY;UNTIL=20300111T190000Z', 'UTC', '2030-01-07 19:00Z', '2031-01-01Z'),
    ARRAY['2030-01-08 19:00Z', '2030-01-09 19:00Z', '2030-01-10 19:00Z',
          '2030-01-11 19:00Z']::timestamptz[],
    'recurrence_preview includes the occurrence exactly at UNTIL');
SELECT is(pg_temp.starts(pg_temp.rec('until before', '2030-01-07 19:00Z', 'FREQ=DAILY;UNTIL=20300111T185959Z')),
    ARRAY['2030-01-07 19:00Z', '2030-01-08 19:00Z', '2030-01-09 19:00Z',
          '2030-01-10 19:00Z']::timestamptz[],
    'an occurrence after UNTIL is not made');
-- UNTIL ...Z is a UTC instant (RFC 5545 3.3.10), not a wall-clock time of the
-- recurrence's zone: 20:00 in Brussels in January is 19:00Z, so it is within
-- UNTIL=...T190000Z; 20:00 in New York is 01:00Z the next day, after UNTIL=...T000000Z.
SELECT is(pg_temp.starts(pg_temp.rec('until brussels', '2030-01-07 19:00Z', 'FREQ=DAILY;UNTIL=20300111T190000Z',
                                     'Europe/Brussels')),
    ARRAY['2030-01-07 19:00Z', '2030-01-08 19:00Z', '2030-01-09 19:00Z',
          '2030-01-10 19:00Z', '2030-01-11 19:00Z']::timestamptz[],
    'UNTIL is an instant: a Brussels 20:00 show at exactly UNTIL (19:00Z) is made');
SELECT is(pg_temp.preview('FREQ=DAILY;UNTIL=20300111T190000Z', 'Europe/Brussels', '2030-01-07 19:00Z', '2031-01-01Z'),
    ARRAY['2030-01-08 19:00Z', '2030-01-09 19:00Z', '2030-01-10 19:00Z',
          '2030-01-11 19:00Z']::timestamptz[],
    'recurrence_preview reads UNTIL as an instant in Brussels too');
SELECT is(pg_temp.starts(pg_temp.rec('until new york', '2030-01-08 01:00Z', 'FREQ=DAILY;UNTIL=20300110T000000Z',
                                     'America/New_York')),
    ARRAY['2030-01-08 01:00Z', '2030-01-09 01:00Z']::timestamptz[],
    'UNTIL is an instant: a New York 20:00 show starting after UNTIL (01:00Z the next day) is not made');
SELECT is(pg_temp.preview('FREQ=DAILY;UNTIL=20300110T000000Z', 'America/New_York', '2030-01-08 01:00Z', '2031-01-01Z'),
    ARRAY['2030-01-09 01:00Z']::timestamptz[],
    'recurrence_preview stops at UNTIL as an instant in New York too');

-- ---------------------------------------------------------------------
-- recurrence_preview: after dtstart, before until
-- ---------------------------------------------------------------------

SELECT is(pg_temp.preview('FREQ=DAILY', 'UTC', '2030-01-07 19:00Z', '2030-01-10 19:00Z'),
    ARRAY['2030-01-08 19:00Z', '2030-01-09 19:00Z']::timestamptz[],
    'recurrence_preview leaves out dtstart and stops before until');
SELECT is(pg_temp.preview('FREQ=DAILY;COUNT=3', 'UTC', '2030-01-07 19:00Z', '2030-01-07 19:30Z'),
    '{}'::timestamptz[],
    'recurrence_preview gives nothing when until comes before the next occurrence');
CREATE TEMP TABLE jobs_before AS SELECT count(*) AS n FROM mojob.job;
SELECT FROM pg_temp.preview('FREQ=DAILY;COUNT=3', 'UTC', '2030-01-07 19:00Z', '2031-01-01Z');
SELECT is((SELECT count(*) FROM mojob.job), (SELECT n FROM jobs_before),
    'recurrence_preview creates no job');

-- ---------------------------------------------------------------------
-- The horizon: occurrences that start before now() + horizon
-- ---------------------------------------------------------------------

SELECT is(pg_temp.starts(pg_temp.rec('ten days', date_trunc('day', now()) + interval '1 day 20 hours',
                                     'FREQ=WEEKLY', 'UTC', '10 days')),
    ARRAY[date_trunc('day', now()) + interval '1 day 20 hours',
          date_trunc('day', now()) + interval '8 days 20 hours'],
    'an unbounded rule makes only the occurrences that start within the horizon');

DO $$
DECLARE
    j mojob.job;
BEGIN
    j := mojob.create_job('a year', date_trunc('day', now()) + interval '1 day 20 hours',
                          date_trunc('day', now()) + interval '1 day 21 hours');
    PERFORM mojob.make_recurring(j.id, 'FREQ=WEEKLY', 'UTC');
END
$$;
SELECT is((SELECT horizon FROM mojob.recurrence WHERE template_job = pg_temp.j('a year')), '1 year'::interval,
    'the horizon is 1 year by default');
SELECT is(pg_temp.starts((SELECT recurrence_id FROM mojob.job WHERE id = pg_temp.j('a year'))),
    ARRAY(SELECT g FROM generate_series(date_trunc('day', now()) + interval '1 day 20 hours',
                                        now() + interval '1 year', interval '7 days') g
          WHERE g < now() + interval '1 year' ORDER BY g),
    'by default every weekly occurrence before now() + 1 year is made, and none after');
SELECT is((SELECT extended_until FROM mojob.recurrence WHERE template_job = pg_temp.j('a year')),
    now() + interval '1 year',
    'the recurrence records that its instances exist up to now() + horizon');

-- ---------------------------------------------------------------------
-- The mojob.recurrence row
-- ---------------------------------------------------------------------

SET mojob.actor = 'alice';
CREATE TEMP TABLE made AS
SELECT r.* FROM mojob.create_job('gala', '2030-06-01 18:00Z', '2030-06-01 21:00Z') j,
     LATERAL mojob.make_recurring(j.id, 'FREQ=MONTHLY;BYMONTHDAY=1;COUNT=3', 'Europe/Brussels', '5 years') r;
RESET mojob.actor;
SELECT results_eq(
    $$ SELECT template_job, rule, time_zone, horizon, state, canceled_at, cancel_reason FROM made $$,
    $$ VALUES (pg_temp.j('gala'), 'FREQ=MONTHLY;BYMONTHDAY=1;COUNT=3', 'Europe/Brussels',
               '5 years'::interval, 'active', NULL::timestamptz, NULL::text) $$,
    'make_recurring returns the recurrence: its template, rule, time zone, horizon, active, not canceled');
SELECT is((SELECT created_by FROM made), 'alice',
    'the recurrence records the acting user (mojob.actor) as created_by');
SELECT is((SELECT created_at FROM made), now(),
    'the recurrence''s created_at is the transaction time');
SELECT is((SELECT dtstart FROM made), '2030-06-01 18:00Z'::timestamptz,
    'the rule is expanded from the template''s start');
SELECT is((SELECT recurrence_id FROM mojob.job WHERE id = pg_temp.j('gala')), (SELECT id FROM made),
    'the template becomes an instance of the recurrence');
SELECT is(pg_temp.starts((SELECT id FROM made)),
    ARRAY['2030-06-01 18:00Z', '2030-07-01 18:00Z', '2030-08-01 18:00Z']::timestamptz[],
    'the recurrence''s instances are linked by recurrence_id');

-- The time zone defaults to the session's TimeZone setting.
SET TimeZone = 'Europe/Brussels';
DO $$
DECLARE
    j mojob.job;
BEGIN
    j := mojob.create_job('default zone', '2030-03-24 19:00Z', '2030-03-24 20:00Z');
    PERFORM mojob.make_recurring(j.id, 'FREQ=WEEKLY;COUNT=2', horizon => '10 years');
END
$$;
SET TimeZone = 'UTC';
SELECT is((SELECT time_zone FROM mojob.recurrence WHERE template_job = pg_temp.j('default zone')),
    'Europe/Brussels',
    'the time zone defaults to the session''s TimeZone');
SELECT is(pg_temp.starts((SELECT recurrence_id FROM mojob.job WHERE id = pg_temp.j('default zone'))),
    ARRAY['2030-03-24 19:00Z', '2030-03-31 18:00Z']::timestamptz[],
    'a rule in the default time zone follows that zone''s wall-clock time');

-- An "RRULE:" prefix, as iCalendar writes the property, is accepted.
SELECT is(pg_temp.starts(pg_temp.rec('prefixed', '2030-01-07 19:00Z', 'RRULE:FREQ=DAILY;COUNT=2')),
    ARRAY['2030-01-07 19:00Z', '2030-01-08 19:00Z']::timestamptz[],
    'a rule written with the RRULE: prefix is accepted');

-- ---------------------------------------------------------------------
-- Refusals: the job
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.mk('on air', 'running', '-1 hour', '1 hour');
SELECT FROM pg_temp.mk('aired', 'completed', '-3 hours', '-2 hours');
SELECT FROM pg_temp.mk('dropped', 'canceled', '2 days', '2 days 1 hour');
SELECT FROM pg_temp.mk('late draft', 'draft', '-1 hour', '1 hour');
SELECT FROM pg_temp.mk('late tentative', 'tentative', '-1 hour', '1 hour');
SELECT FROM pg_temp.mk('ready', 'draft', '2 days', '2 days 1 hour');
SELECT FROM mojob.reserve(pg_temp.j('ready'));
SELECT FROM mojob.confirm(pg_temp.j('ready'));
CREATE TEMP TABLE before_refusals AS SELECT count(*) AS n FROM mojob.recurrence;

SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('on air')),
    'MJ001', NULL, 'a running job cannot be made recurring');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('aired')),
    'MJ001', NULL, 'a completed job cannot be made recurring');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('dropped')),
    'MJ001', NULL, 'a canceled job cannot be made recurring');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('ready')),
    'MJ001', NULL, 'a confirmed job cannot be made recurring');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('late draft')),
    'MJ001', NULL, 'a draft whose start has passed cannot be made recurring');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('late tentative')),
    'MJ001', NULL, 'a tentative job whose start has passed cannot be made recurring');
SELECT is((pg_temp.err(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY')$$, pg_temp.j('on air')))).msg,
    format('job %s cannot be made recurring', (SELECT code FROM mojob.job WHERE id = pg_temp.j('on air'))),
    'the refusal names the job by its code');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=DAILY')$$, pg_temp.j('gala')),
    'MJ001', NULL, 'a job that is already the template of a recurrence cannot be made recurring again');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=DAILY')$$,
                        (SELECT id FROM mojob.job WHERE name = 'gala' AND start_at = '2030-07-01 18:00Z')),
    'MJ001', NULL, 'an instance of a recurrence cannot be made recurring');
SELECT throws_ok($$SELECT mojob.make_recurring(999999, 'FREQ=WEEKLY')$$,
    'MJ404', NULL, 'make_recurring of an unknown job is refused with MJ404');

-- ---------------------------------------------------------------------
-- Refusals: the rule, the time zone, the horizon, NULLs
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.mk('candidate', 'draft', '2 days', '2 days 1 hour');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=FORTNIGHTLY')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a rule libical rejects (an unknown FREQ) is refused with 22023');
SELECT is((pg_temp.err(format($$SELECT mojob.make_recurring(%s, 'FREQ=FORTNIGHTLY')$$, pg_temp.j('candidate')))).msg,
    'invalid recurrence rule "FREQ=FORTNIGHTLY"',
    'the refusal of a rule names the rule');
SELECT matches((pg_temp.err(format($$SELECT mojob.make_recurring(%s, 'FREQ=FORTNIGHTLY')$$, pg_temp.j('candidate')))).detail,
    '^libical: .+',
    'the refusal of a rule carries libical''s complaint in its detail');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY;BYDAY=XX')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a rule with an unknown weekday is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'BYDAY=SA')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a rule without FREQ is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, '')$$, pg_temp.j('candidate')),
    '22023', NULL, 'an empty rule is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY;INTERVAL=0')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a rule with INTERVAL=0 is refused with 22023');

SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=HOURLY')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a rule making more than 5,000 instances within the horizon (hourly for a year) is refused with 22023');
SELECT matches((pg_temp.err(format($$SELECT mojob.make_recurring(%s, 'FREQ=HOURLY')$$, pg_temp.j('candidate')))).msg,
    '5000',
    'the refusal of too many instances says how many are allowed');
SELECT lives_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=MINUTELY;COUNT=5001', 'UTC', '10 years')$$,
                       (mojob.create_job('five thousand', '2030-01-07 00:00Z', '2030-01-07 00:01Z')).id),
    'a rule making exactly 5,000 instances besides the template is accepted');
SELECT is(cardinality(pg_temp.starts((SELECT recurrence_id FROM mojob.job WHERE id = pg_temp.j('five thousand')))),
    5001, 'the template and its 5,000 further instances are made');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=MINUTELY;COUNT=5002', 'UTC', '10 years')$$,
                        pg_temp.j('candidate')),
    '22023', NULL, 'a rule making 5,001 instances besides the template is refused with 22023');

SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY', 'Mars/Olympus_Mons')$$, pg_temp.j('candidate')),
    '22023', NULL, 'an unknown time zone is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY', 'UTC', '0')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a zero horizon is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY', 'UTC', '-1 day')$$, pg_temp.j('candidate')),
    '22023', NULL, 'a negative horizon is refused with 22023');
SELECT throws_ok($$SELECT mojob.make_recurring(NULL, 'FREQ=WEEKLY')$$,
    '22023', NULL, 'make_recurring with a NULL job is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, NULL)$$, pg_temp.j('candidate')),
    '22023', NULL, 'make_recurring with a NULL rule is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY', NULL)$$, pg_temp.j('candidate')),
    '22023', NULL, 'make_recurring with a NULL time zone is refused with 22023');
SELECT throws_ok(format($$SELECT mojob.make_recurring(%s, 'FREQ=WEEKLY', 'UTC', NULL)$$, pg_temp.j('candidate')),
    '22023', NULL, 'make_recurring with a NULL horizon is refused with 22023');

SELECT is((SELECT count(*) FROM mojob.recurrence) - (SELECT n FROM before_refusals), 1::bigint,
    'the refused calls made no recurrence (only the accepted 5,000-instance one)');
SELECT ok((SELECT recurrence_id IS NULL FROM mojob.job WHERE id = pg_temp.j('candidate'))
          AND (SELECT count(*) = 1 FROM mojob.job WHERE name = 'candidate'),
    'a refused make_recurring leaves the job as it was, and makes no instance');

-- ---------------------------------------------------------------------
-- Refusals: recurrence_preview
-- ---------------------------------------------------------------------

SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview('FREQ=FORTNIGHTLY', 'UTC', '2030-01-07Z', '2031-01-01Z')$$,
    '22023', NULL, 'recurrence_preview of a rule libical rejects is refused with 22023');
SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview('FREQ=WEEKLY', 'Mars/Olympus_Mons', '2030-01-07Z', '2031-01-01Z')$$,
    '22023', NULL, 'recurrence_preview in an unknown time zone is refused with 22023');
SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview('FREQ=MINUTELY', 'UTC', '2030-01-07Z', '2031-01-01Z')$$,
    '22023', NULL, 'recurrence_preview of more than 5,000 occurrences is refused with 22023');
SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview(NULL, 'UTC', '2030-01-07Z', '2031-01-01Z')$$,
    '22023', NULL, 'recurrence_preview with a NULL rule is refused with 22023');
SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview('FREQ=WEEKLY', NULL, '2030-01-07Z', '2031-01-01Z')$$,
    '22023', NULL, 'recurrence_preview with a NULL time zone is refused with 22023');
SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview('FREQ=WEEKLY', 'UTC', NULL, '2031-01-01Z')$$,
    '22023', NULL, 'recurrence_preview with a NULL dtstart is refused with 22023');
SELECT throws_ok($$SELECT * FROM mojob.recurrence_preview('FREQ=WEEKLY', 'UTC', '2030-01-07Z', NULL)$$,
    '22023', NULL, 'recurrence_preview with a NULL until is refused with 22023');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
