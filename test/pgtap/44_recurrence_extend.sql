-- Extending recurrences (docs/design.md section 7):
-- mojob.extend_recurrences(at) creates, for every active recurrence, the
-- instances that have come within its horizon as of "at" -- exactly the
-- occurrences between the old end of the horizon and at + horizon, no
-- more, no fewer, none twice -- and returns how many; canceled recurrences
-- and exhausted rules get none.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(31);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name) VALUES (1, 'studio'), (2, 'desk');

-- Tomorrow at 20:00 UTC: every template starts then (or near).
CREATE FUNCTION pg_temp.s() RETURNS timestamptz
LANGUAGE sql STABLE AS $$ SELECT date_trunc('day', now()) + interval '1 day 20 hours' $$;

CREATE TEMP TABLE recs (label text PRIMARY KEY, id bigint);
CREATE FUNCTION pg_temp.r(label text) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT id FROM recs WHERE recs.label = r.label $$;

-- Make job j recurring as label.
CREATE FUNCTION pg_temp.rec(label text, j mojob.job, rule text, tz text, horizon interval)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO recs VALUES (label, (mojob.make_recurring(j.id, rule, tz, horizon)).id)
$$;

-- The starts of recurrence label's instances, in order.
CREATE FUNCTION pg_temp.starts(label text) RETURNS timestamptz[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(start_at ORDER BY start_at), '{}') FROM mojob.job WHERE recurrence_id = pg_temp.r(label)
$$;
CREATE FUNCTION pg_temp.n(label text) RETURNS int
LANGUAGE sql STABLE AS $$ SELECT count(*)::int FROM mojob.job WHERE recurrence_id = pg_temp.r(label) $$;

-- Weekly starts from s up to (not including) until, as wall-clock time in tz.
CREATE FUNCTION pg_temp.weekly(s timestamptz, until timestamptz, tz text) RETURNS timestamptz[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY(SELECT g AT TIME ZONE tz
                 FROM generate_series(s AT TIME ZONE tz, until AT TIME ZONE tz, interval '7 days') g
                 WHERE g AT TIME ZONE tz < until ORDER BY g)
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

SELECT FROM pg_temp.rec('weekly', mojob.create_job('weekly', pg_temp.s(), pg_temp.s() + interval '1 hour'),
                        'FREQ=WEEKLY', 'UTC', '1 year');
SELECT FROM pg_temp.rec('brussels', mojob.create_job_for_resource(1, 'brussels', pg_temp.s(), pg_temp.s() + interval '1 hour'),
                        'FREQ=WEEKLY', 'Europe/Brussels', '6 months');
SELECT FROM pg_temp.rec('counted', mojob.create_job('counted', pg_temp.s(), pg_temp.s() + interval '1 hour'),
                        'FREQ=WEEKLY;COUNT=3', 'UTC', '1 year');
SELECT FROM pg_temp.rec('dropped', mojob.create_job('dropped', pg_temp.s(), pg_temp.s() + interval '1 hour'),
                        'FREQ=DAILY', 'UTC', '1 month');
SELECT FROM mojob.cancel_recurrence(pg_temp.r('dropped'), 'not renewed');
SELECT FROM pg_temp.rec('orphan', mojob.create_job('orphan', pg_temp.s() + interval '2 hours',
                                                   pg_temp.s() + interval '3 hours', description => 'first'),
                        'FREQ=WEEKLY', 'UTC', '1 month');

-- The orphan's template is deleted and its latest instance edited: later
-- instances copy that latest instance.
SELECT FROM mojob.delete_job((SELECT template_job FROM mojob.recurrence WHERE id = pg_temp.r('orphan')));
UPDATE mojob.job SET description = 'latest'
WHERE id = (SELECT id FROM mojob.job WHERE recurrence_id = pg_temp.r('orphan') ORDER BY start_at DESC LIMIT 1);
-- The Brussels template is confirmed: later instances are still made tentative.
SELECT FROM mojob.confirm((SELECT template_job FROM mojob.recurrence WHERE id = pg_temp.r('brussels')));

CREATE TEMP TABLE before_extension AS
    SELECT r.label, r.id, (SELECT count(*)::int FROM mojob.job j WHERE j.recurrence_id = r.id) AS n,
           x.extended_until
    FROM recs r JOIN mojob.recurrence x ON x.id = r.id;
CREATE FUNCTION pg_temp.was(label text) RETURNS int
LANGUAGE sql STABLE AS $$ SELECT n FROM before_extension b WHERE b.label = was.label $$;

-- Another job holds the studio at the first Brussels occurrence past the
-- old horizon: that instance will fall back to draft.
CREATE TEMP TABLE blocked AS
    SELECT (pg_temp.weekly(pg_temp.s(), (now() + interval '1 year') + interval '6 months', 'Europe/Brussels'))
           [pg_temp.was('brussels') + 1] AS start_at;
SELECT FROM mojob.create_job_for_resource(1, 'studio hire', (SELECT start_at FROM blocked) - interval '30 minutes',
                                          (SELECT start_at FROM blocked) + interval '30 minutes');

-- ---------------------------------------------------------------------
-- Nothing new yet
-- ---------------------------------------------------------------------

CREATE TEMP TABLE jobs_before AS SELECT count(*) AS n FROM mojob.job;
SELECT is(mojob.extend_recurrences(), 0,
    'extend_recurrences() right after make_recurring returns 0');
SELECT is((SELECT count(*) FROM mojob.job), (SELECT n FROM jobs_before),
    'extend_recurrences() right after make_recurring creates no job');
SELECT throws_ok('SELECT mojob.extend_recurrences(NULL)', '22023', NULL,
    'extend_recurrences(NULL) is refused with 22023');

-- ---------------------------------------------------------------------
-- A year later
-- ---------------------------------------------------------------------

CREATE TEMP TABLE extension AS SELECT mojob.extend_recurrences(now() + interval '1 year') AS made;

SELECT is(pg_temp.starts('weekly'), pg_temp.weekly(pg_temp.s(), now() + interval '2 years', 'UTC'),
    'a year later the weekly recurrence has every occurrence before at + horizon (2 years from now), none twice');
SELECT is(ARRAY(SELECT start_at FROM mojob.job WHERE recurrence_id = pg_temp.r('weekly')
                AND start_at >= now() + interval '1 year' ORDER BY start_at),
    ARRAY(SELECT g FROM unnest(pg_temp.weekly(pg_temp.s(), now() + interval '2 years', 'UTC')) g
          WHERE g >= now() + interval '1 year' ORDER BY g),
    'the new instances are exactly the occurrences that came within the horizon: from now() + 1 year to now() + 2 years');
SELECT is(pg_temp.n('weekly') - pg_temp.was('weekly'),
    (SELECT count(*)::int FROM generate_series(pg_temp.s(), now() + interval '2 years', interval '7 days') g
     WHERE g >= now() + interval '1 year' AND g < now() + interval '2 years'),
    'the weekly recurrence gains a year of weekly instances, about 52');
SELECT is((pg_temp.starts('weekly'))[2:],
    pg_temp.preview('FREQ=WEEKLY', 'UTC', pg_temp.s(), now() + interval '2 years'),
    'the instances after the template are what recurrence_preview gives up to the new end of the horizon');
SELECT is(pg_temp.starts('brussels'), pg_temp.weekly(pg_temp.s(), (now() + interval '1 year') + interval '6 months', 'Europe/Brussels'),
    'the Brussels recurrence (horizon 6 months) has every weekly occurrence before at + 6 months, at the same local time');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE recurrence_id = pg_temp.r('brussels')
           AND (start_at AT TIME ZONE 'Europe/Brussels')::time <> (pg_temp.s() AT TIME ZONE 'Europe/Brussels')::time), 0,
    'the extended Brussels instances keep the template''s local time across daylight-saving changes');
SELECT is((SELECT made FROM extension),
    (SELECT sum(pg_temp.n(label) - n)::int FROM before_extension),
    'extend_recurrences returns how many instances it created, over all recurrences');
SELECT is(pg_temp.n('counted'), 3,
    'a rule with COUNT that is used up gets no new instance');
SELECT is(pg_temp.n('dropped'), 0,
    'a canceled recurrence is not extended');
SELECT is((SELECT extended_until FROM mojob.recurrence WHERE id = pg_temp.r('dropped')),
    (SELECT extended_until FROM before_extension WHERE label = 'dropped'),
    'a canceled recurrence''s horizon does not move');
SELECT results_eq(
    $$ SELECT r.label, x.extended_until FROM recs r JOIN mojob.recurrence x ON x.id = r.id
       WHERE r.label IN ('weekly', 'brussels') ORDER BY r.label $$,
    $$ VALUES ('brussels', (now() + interval '1 year') + interval '6 months'), ('weekly', now() + interval '2 years') $$,
    'each active recurrence records at + its horizon as how far it is extended');

-- The new instances' state and fields.
SELECT set_eq(
    $$ SELECT state FROM mojob.job WHERE recurrence_id = pg_temp.r('brussels')
       AND start_at > (SELECT extended_until FROM before_extension WHERE label = 'brussels')
       AND start_at <> (SELECT start_at FROM blocked) $$,
    $$ VALUES ('tentative'::mojob.job_state) $$,
    'the new instances of a recurrence whose template is now confirmed are tentative');
SELECT is((SELECT count(*)::int FROM mojob.resource_schedule s JOIN mojob.job j ON j.id = s.job_id
           WHERE j.recurrence_id = pg_temp.r('brussels')
             AND j.start_at > (SELECT extended_until FROM before_extension WHERE label = 'brussels')),
    pg_temp.n('brussels') - pg_temp.was('brussels') - 1,
    'each new tentative instance books the studio');
SELECT results_eq(
    $$ SELECT j.state, e.code FROM mojob.job j LEFT JOIN mojob.job_errors e ON e.job_id = j.id
       WHERE j.recurrence_id = pg_temp.r('brussels') AND j.start_at = (SELECT start_at FROM blocked) $$,
    $$ VALUES ('draft'::mojob.job_state, 'RECURRENCE_CONFLICT') $$,
    'a new occurrence whose studio is taken is made a draft showing RECURRENCE_CONFLICT');
SELECT set_eq(
    $$ SELECT state FROM mojob.job WHERE recurrence_id = pg_temp.r('weekly') $$,
    $$ VALUES ('draft'::mojob.job_state) $$,
    'the instances of a draft template stay drafts when extended');
SELECT is((SELECT count(*)::int FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id
           WHERE j.recurrence_id IN (pg_temp.r('weekly'), pg_temp.r('orphan'))), 0,
    'extending writes no history');

-- A deleted template: the latest instance is copied.
SELECT set_eq(
    $$ SELECT description FROM mojob.job WHERE recurrence_id = pg_temp.r('orphan')
       AND start_at > (SELECT extended_until FROM before_extension WHERE label = 'orphan') $$,
    $$ VALUES ('latest') $$,
    'once the template is deleted, new instances copy the latest instance');
SELECT is(pg_temp.starts('orphan'),
    (pg_temp.weekly(pg_temp.s() + interval '2 hours', (now() + interval '1 year') + interval '1 month', 'UTC'))[2:],
    'once the template is deleted, the rule still runs from the template''s start');

-- ---------------------------------------------------------------------
-- A second call creates none
-- ---------------------------------------------------------------------

CREATE TEMP TABLE jobs_after AS SELECT count(*) AS n FROM mojob.job;
SELECT is(mojob.extend_recurrences(now() + interval '1 year'), 0,
    'extending again to the same instant creates nothing and returns 0');
SELECT is(mojob.extend_recurrences(now() + interval '6 months'), 0,
    'extending to an earlier instant creates nothing');
SELECT is((SELECT count(*) FROM mojob.job), (SELECT n FROM jobs_after),
    'no job was created by the repeated calls');

-- ---------------------------------------------------------------------
-- The edge of the horizon: an occurrence exactly at the old end of the
-- horizon was not made (it is not before it); the next extension makes it
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.rec('edge', mojob.create_job('edge', pg_temp.s() + interval '1 hour', pg_temp.s() + interval '2 hours'),
                        'FREQ=DAILY', 'UTC', pg_temp.s() + interval '1 hour' + interval '2 days' - now());
SELECT is(pg_temp.starts('edge'),
    ARRAY[pg_temp.s() + interval '1 hour', pg_temp.s() + interval '1 day 1 hour'],
    'an occurrence exactly at now() + horizon is not made by make_recurring');
SELECT FROM mojob.extend_recurrences(now() + interval '1 day');
SELECT is(pg_temp.starts('edge'),
    ARRAY[pg_temp.s() + interval '1 hour', pg_temp.s() + interval '1 day 1 hour', pg_temp.s() + interval '2 days 1 hour'],
    'the occurrence exactly at the old end of the horizon is made by the next extension');

-- ---------------------------------------------------------------------
-- The 5,000 limit applies within the horizon, not to every occurrence
-- since the template
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.rec('hourly', mojob.create_job('hourly', pg_temp.s(), pg_temp.s() + interval '30 minutes'),
                        'FREQ=HOURLY', 'UTC', '200 days');
SELECT is(pg_temp.n('hourly'),
    (SELECT count(*)::int FROM generate_series(pg_temp.s(), now() + interval '200 days', interval '1 hour') g
     WHERE g < now() + interval '200 days'),
    'an hourly rule with a 200-day horizon makes fewer than 5,000 instances and is accepted');
SELECT lives_ok($$ SELECT mojob.extend_recurrences(now() + interval '20 days') $$,
    'extending it by 20 days (480 more, over 5,000 since the template) is not refused');
SELECT is(pg_temp.n('hourly'),
    (SELECT count(*)::int FROM generate_series(pg_temp.s(), now() + interval '220 days', interval '1 hour') g
     WHERE g < now() + interval '220 days'),
    'the hourly recurrence then has every occurrence before at + horizon');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
