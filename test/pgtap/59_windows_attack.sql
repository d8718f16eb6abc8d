-- Windows and bookings under attack, second round (README.md, "Guarantees"):
-- variants of the cases 53_windows.sql covers.
--
--   * a node's own window with an infinite bound moves with its job (the
--     infinity stays: it limits nothing wherever the job goes);
--   * mojob.duplicate() keeps lengths and rolls exactly, however long
--     (timestamptz - timestamptz wraps around beyond about 292,000 years,
--     and an interval times a number is a float);
--   * the bound mojob.booking_longest is lowered again when a long booking
--     goes, and says so.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(24);

\ir helpers/reservations.psql

INSERT INTO mojob.resource (id, name, concurrency) VALUES
    (1, 'infinite-node-studio', 1),
    (2, 'infinite-node-studio-2', 1),
    (3, 'long-studio', 1);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label ORDER BY id LIMIT 1 $$;

CREATE ROLE attack_planner NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO attack_planner;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO attack_planner;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO attack_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO attack_planner;

-- ---------------------------------------------------------------------
-- 1. A node's own window with an infinite bound moves with its job
-- ---------------------------------------------------------------------

SET ROLE attack_planner;
SELECT id AS inf FROM mojob.create_job('infinite node', '2030-01-01+00', '2030-01-01 01:00+00', state => 'tentative') \gset
INSERT INTO mojob.job_resource (job_id, resource_id, held_from, held_until)
    VALUES (:inf, 1, '-infinity', 'infinity');
SELECT id AS half FROM mojob.create_job('half infinite node', '2030-01-01+00', '2030-01-01 02:00+00', state => 'tentative') \gset
INSERT INTO mojob.job_resource (job_id, resource_id, held_from, held_until)
    VALUES (:half, 2, '2030-01-01 01:00+00', 'infinity');
RESET ROLE;

SELECT lives_ok(format($$SELECT mojob.reschedule(%s, '2030-01-02+00', '2030-01-02 01:00+00')$$, :inf),
    'a planner''s job whose node holds from -infinity to infinity can be rescheduled');
SELECT is((SELECT (held_from, held_until)::text FROM mojob.job_resource WHERE job_id = :inf),
    '(-infinity,infinity)', 'the node''s infinite bounds stay infinite');
SELECT is((SELECT held::text FROM mojob.booking WHERE job_id = :inf),
    '["2030-01-02 00:00:00+00","2030-01-02 01:00:00+00")', 'and its booking moved with the job');
SELECT throws_ok(
    $$SELECT mojob.create_job('in the new window', '2030-01-02 00:30+00', '2030-01-02 00:45+00', state => 'tentative', resources => ARRAY[1::bigint])$$,
    'MJ005', NULL, 'another job in the new window is refused');
SELECT lives_ok(
    $$SELECT mojob.create_job('in the old window', '2030-01-01 00:30+00', '2030-01-01 00:45+00', state => 'tentative', resources => ARRAY[1::bigint])$$,
    'and one in the old window is booked');

SELECT lives_ok(format($$SELECT mojob.reschedule(%s, '2030-01-03+00', '2030-01-03 02:00+00')$$, :half),
    'a job whose node has a finite held_from and an infinite held_until can be rescheduled');
SELECT is((SELECT (held_from, held_until)::text FROM mojob.job_resource WHERE job_id = :half),
    '("2030-01-03 01:00:00+00",infinity)', 'its held_from keeps its distance from the start, its held_until stays infinite');
SELECT is((SELECT held::text FROM mojob.booking WHERE job_id = :half),
    '["2030-01-03 01:00:00+00","2030-01-03 02:00:00+00")', 'and it holds the second hour of the new window');

-- ---------------------------------------------------------------------
-- 2. duplicate() keeps lengths and rolls exactly, however long
-- ---------------------------------------------------------------------

SET ROLE attack_planner;
SELECT id AS whole FROM mojob.create_job('the whole range', '4713-01-02+00 BC', '294276-12-30+00') \gset
SELECT id AS long FROM mojob.create_job('a long one', '2030-01-01+00', '2030-01-01+00'::timestamptz + interval '100000 years 1 microsecond') \gset
SELECT id AS longpre FROM mojob.create_job('a long pre-roll', '294000-01-01+00', '294000-01-02+00', pre_roll => '295000 years') \gset
SELECT * INTO TEMP dup_whole FROM pg_temp.err(format('SELECT mojob.duplicate(%s)', :whole));
SELECT * INTO TEMP dup_long FROM pg_temp.err(format('SELECT mojob.duplicate(%s, ''2040-06-01 12:00+00'')', :long));
SELECT * INTO TEMP dup_longpre FROM pg_temp.err(format('SELECT mojob.duplicate(%s)', :longpre));
RESET ROLE;

SELECT is((SELECT state FROM dup_whole), NULL,
    'a draft from 4713 BC to 294276 AD (a window longer than 64 bits of microseconds) can be duplicated');
SELECT is((SELECT (d.pre_roll_start, d.start_at, d.end_at, d.post_roll_end)::text FROM mojob.job d
            WHERE d.name = 'the whole range' AND d.id <> :whole),
          (SELECT (pre_roll_start, start_at, end_at, post_roll_end)::text FROM mojob.job WHERE id = :whole),
    'the copy has the same four instants');
SELECT is((SELECT state FROM dup_long), NULL, 'a job of 100,000 years and a microsecond can be duplicated to another start');
SELECT is((SELECT extract(epoch FROM d.end_at) - extract(epoch FROM d.start_at) FROM mojob.job d
            WHERE d.name = 'a long one' AND d.id <> :long),
          (SELECT extract(epoch FROM end_at) - extract(epoch FROM start_at) FROM mojob.job WHERE id = :long),
    'the copy lasts exactly as long, to the microsecond');
SELECT is((SELECT start_at FROM mojob.job WHERE name = 'a long one' AND id <> :long), '2040-06-01 12:00+00'::timestamptz,
    'and starts where it was asked to');
SELECT is((SELECT state FROM dup_longpre), NULL, 'a job with a pre-roll of 295,000 years can be duplicated');
SELECT is((SELECT pre_roll_start FROM mojob.job WHERE name = 'a long pre-roll' AND id <> :longpre),
          (SELECT pre_roll_start FROM mojob.job WHERE id = :longpre),
    'the copy keeps the pre-roll exactly');
SELECT throws_ok(format($$SELECT mojob.duplicate(%s, '2030-01-01+00')$$, :whole), '22008', NULL,
    'a copy of it that would end after 294276 AD is refused with 22008');
SELECT throws_ok(format($$SELECT mojob.duplicate(%s, '294276-12-31+00')$$, :long), '22008', NULL,
    'so is a copy starting at the end of the range');
SELECT throws_ok(format($$SELECT mojob.duplicate(%s, '-infinity')$$, :long), '22023', NULL,
    'an infinite start_at is refused (22023)');
SELECT lives_ok($$SELECT count(*) FROM (SELECT * FROM mojob.job) j$$, 'every job can be read back');

-- ---------------------------------------------------------------------
-- 3. The bound goes down when a long booking goes, and says so
-- ---------------------------------------------------------------------

SELECT pg_temp.job('an hour', '2031-01-01+00', '2031-01-01 01:00+00', ARRAY[3::bigint], 'tentative');
SELECT pg_temp.job('a month', '2032-01-01+00', '2032-02-01+00', ARRAY[3::bigint], 'tentative');
SELECT mojob.cancel(pg_temp.j('a month'));
SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 3), interval '1 hour',
    'with the resource free, a canceled month-long booking takes the bound down to the longest left');
SELECT ok(col_description('mojob.booking_longest'::regclass,
                          (SELECT attnum FROM pg_attribute WHERE attrelid = 'mojob.booking_longest'::regclass AND attname = 'longest'))
          NOT LIKE '%only grows%',
    'the comment on mojob.booking_longest.longest no longer says it only grows');
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE resource_id = 3), 1, 'one booking is left on it');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
