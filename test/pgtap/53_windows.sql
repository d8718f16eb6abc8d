-- Time windows and bookings under attack (README.md, "Guarantees"):
--
--   * no window, however long or close to the limits of timestamptz, hides
--     a booking from the check (a window longer than 64 bits of
--     microseconds once overflowed the length arithmetic);
--   * no instant outside timestamptz's range is ever stored (22008), so
--     every row reads back;
--   * one long booking, once gone, does not leave its resource's checks
--     reading far back for good (mojob.booking_longest shrinks);
--   * a node's own window moves with its job, and no holding job keeps a
--     node that holds nothing;
--   * a completed job in its post-roll cannot be deleted (MJ003);
--   * under row security, MJ005 names only the jobs the caller may see.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(42);

\ir helpers/reservations.psql

INSERT INTO mojob.resource (id, name, concurrency) VALUES
    (1, 'giant-studio', 1),     -- windows at the limits of timestamptz
    (2, 'far-studio', 1),       -- a window from 4713 BC
    (3, 'start-studio', 1),     -- manual start stretching a window
    (4, 'long-studio', 1),      -- a long booking, then gone
    (5, 'post-studio', 1),      -- a completed job's post-roll
    (6, 'secret-studio', 1),    -- row security
    (7, 'node-studio', 1),      -- a node's own window
    (8, 'node-studio-2', 1);

-- The id of the job named label.
CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;

-- ---------------------------------------------------------------------
-- 1. Giant windows are checked like any other
-- ---------------------------------------------------------------------

SELECT lives_ok(
    $$SELECT mojob.create_job('giant', '1999-01-01+00', '294276-12-31+00', state => 'tentative', resources => ARRAY[1::bigint])$$,
    'a tentative job up to 294276 AD (a window longer than 64 bits of microseconds) is booked');
SELECT throws_ok(
    $$SELECT mojob.create_job('tomorrow', now() + interval '1 day', now() + interval '1 day 1 hour', state => 'tentative', resources => ARRAY[1::bigint])$$,
    'MJ005', NULL,
    'a one-hour job tomorrow on the same resource is refused: the giant booking is seen');
SELECT throws_ok(
    $$SELECT mojob.create_job('at the end', '294276-12-30+00', '294276-12-30 01:00+00', state => 'tentative', resources => ARRAY[1::bigint])$$,
    'MJ005', NULL,
    'so is one at the very end of timestamptz''s range');
SELECT lives_ok(
    $$SELECT mojob.create_job('before', '1998-12-31 23:00+00', '1999-01-01+00', state => 'tentative', resources => ARRAY[1::bigint])$$,
    'a job just before the giant window (they only touch) is booked');
SELECT cmp_ok((SELECT longest FROM mojob.booking_longest WHERE resource_id = 1), '>', interval '100000 years',
    'the resource''s longest booking counts the giant window as the longest');

SELECT lives_ok(
    $$SELECT mojob.create_job('from the first day', '4713-01-01+00 BC', '4713-01-02+00 BC', post_roll => '290000 years', state => 'tentative', resources => ARRAY[2::bigint])$$,
    'a job from 4713 BC with a post-roll of 290,000 years is booked');
SELECT throws_ok(
    $$SELECT mojob.create_job('in the middle', '2020-01-01+00', '2020-01-02+00', state => 'tentative', resources => ARRAY[2::bigint])$$,
    'MJ005', NULL,
    'and a job in its post-roll is refused');
SELECT throws_ok(
    $$SELECT mojob.create_job('infinite', '2020-01-01+00', 'infinity', state => 'tentative', resources => ARRAY[2::bigint])$$,
    '22023', NULL,
    'an infinite end is refused');
SELECT throws_ok(
    $$SELECT mojob.create_job('minus infinite', '-infinity', '2020-01-01+00', state => 'tentative', resources => ARRAY[2::bigint])$$,
    '22023', NULL,
    'an infinite start is refused');
SELECT throws_ok(
    $$SELECT mojob.create_job('past the end', '294276-12-30+00', '294276-12-31+00', post_roll => '1 year')$$,
    '22008', NULL,
    'a post-roll past 294276 AD is refused with 22008');
SELECT throws_ok(
    $$SELECT mojob.create_job('before the start', '4713-01-01+00 BC', '4713-01-02+00 BC', pre_roll => '1 year')$$,
    '22008', NULL,
    'a pre-roll before 4713 BC is refused with 22008');

-- A reschedule that makes a giant window through its rolls.
SELECT pg_temp.job('small', '2030-01-01+00', '2030-01-01 01:00+00', ARRAY[1::bigint, 2::bigint]);
SELECT lives_ok(
    format($$SELECT mojob.reschedule(%s, '4713-01-02+00 BC', '294276-12-30+00')$$, pg_temp.j('small')),
    'a draft can be moved to a window across the whole range (nearly 299,000 years)');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('small')), 'MJ005', NULL,
    'reserving it is checked: the jobs in the way are seen');
SELECT pg_temp.job('stretch', '3000-01-01+00', '3000-01-01 01:00+00', ARRAY[3::bigint], 'tentative');
SELECT pg_temp.job('neighbour', '2500-01-01+00', '2500-01-01 01:00+00', ARRAY[3::bigint], 'tentative');
SELECT throws_ok(
    format($$SELECT mojob.reschedule(%s, '2000-01-01+00', '294276-12-30+00', pre_roll => '4000 years', post_roll => '1 day')$$,
           pg_temp.j('stretch')),
    'MJ005', NULL,
    'a reschedule to a window from 2000 BC to 294276 AD is checked: the neighbour in 2500 is in the way');

-- A manual start stretches the window back to now.
SELECT mojob.cancel(pg_temp.j('neighbour'));
SELECT pg_temp.job('soon', (now() + interval '1 day')::timestamptz, (now() + interval '1 day 1 hour')::timestamptz, ARRAY[3::bigint], 'tentative');
SELECT mojob.confirm(pg_temp.j('stretch'));
SELECT throws_ok(format('SELECT mojob.start(%s)', pg_temp.j('stretch')), 'MJ005', NULL,
    'a manual start that stretches the window back to now is checked against a job tomorrow');

-- ---------------------------------------------------------------------
-- 2. No instant outside timestamptz's range is stored
-- ---------------------------------------------------------------------

SELECT pg_temp.job('thousand', '2000-01-01+00', '2000-01-02+00', pre => '1000 years');
SELECT throws_ok(
    format($$SELECT mojob.reschedule(%s, '4713-11-25+00 BC', '4713-11-26+00 BC')$$, pg_temp.j('thousand')),
    '22008', NULL,
    'a reschedule to 4713 BC keeping a 1000-year pre-roll is refused with 22008');
SELECT throws_ok(
    format($$SELECT mojob.reschedule(%s, '294276-12-30+00', '294276-12-31+00', post_roll => '2 days')$$, pg_temp.j('thousand')),
    '22008', NULL,
    'a reschedule whose post-roll passes 294276 AD is refused with 22008');
SELECT lives_ok(
    format($$SELECT mojob.reschedule(%s, '4713-11-25+00 BC', '4713-11-26+00 BC', pre_roll => '0')$$, pg_temp.j('thousand')),
    'the same reschedule with no pre-roll is made');
SELECT lives_ok($$SELECT count(*) FROM (SELECT * FROM mojob.job) j$$,
    'every job can be read back');
SELECT is((SELECT pre_roll_start::text FROM mojob.job WHERE name = 'thousand'), '4713-11-25 00:00:00+00 BC',
    'and the job is where it was moved');

-- ---------------------------------------------------------------------
-- 3. A long booking, once gone, does not slow its resource for good
-- ---------------------------------------------------------------------

SELECT pg_temp.job('short', '2030-01-01+00', '2030-01-01 01:00+00', ARRAY[4::bigint], 'tentative');
SELECT pg_temp.job('seven thousand years', '3000-01-01+00', '10000-01-01+00', ARRAY[4::bigint], 'tentative');
SELECT cmp_ok((SELECT longest FROM mojob.booking_longest WHERE resource_id = 4), '>=', interval '7000 years',
    'a 7,000-year booking raises its resource''s longest booking');
SELECT throws_ok(
    $$SELECT mojob.create_job('inside', '9000-06-01+00', '9000-06-02+00', state => 'tentative', resources => ARRAY[4::bigint])$$,
    'MJ005', NULL,
    'while it holds, a job far inside it is refused');
SELECT lives_ok(
    $$SELECT mojob.create_job('after', '10000-01-01+00', '10000-01-02+00', state => 'tentative', resources => ARRAY[4::bigint])$$,
    'and a job just after it is booked');
SELECT mojob.cancel(pg_temp.j('seven thousand years'));
SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 4), interval '24 hours',
    'canceled, it no longer counts: the longest booking is the longest left (a day)');
SELECT throws_ok(
    $$SELECT mojob.create_job('short again', '2030-01-01 00:30+00', '2030-01-01 02:00+00', state => 'tentative', resources => ARRAY[4::bigint])$$,
    'MJ005', NULL,
    'and the bookings left are still seen');

-- ---------------------------------------------------------------------
-- 4. A node's own window moves with its job
-- ---------------------------------------------------------------------

SELECT pg_temp.job('partial', '2032-01-01 10:00+00', '2032-01-01 14:00+00', ARRAY[7::bigint, 8::bigint], 'tentative');
UPDATE mojob.job_resource SET held_from = '2032-01-01 11:00+00', held_until = '2032-01-01 12:00+00'
WHERE job_id = pg_temp.j('partial') AND resource_id = 7;
SELECT mojob.confirm(pg_temp.j('partial'));
SELECT lives_ok(
    format($$SELECT mojob.reschedule(%s, '2032-01-02 10:00+00', '2032-01-02 14:00+00')$$, pg_temp.j('partial')),
    'a confirmed job with a node of its own window is moved a day');
SELECT is((SELECT tstzrange(held_from, held_until) FROM mojob.job_resource WHERE job_id = pg_temp.j('partial') AND resource_id = 7),
    tstzrange('2032-01-02 11:00+00', '2032-01-02 12:00+00'),
    'the node''s own window moved with it');
SELECT is((SELECT held FROM mojob.booking WHERE job_id = pg_temp.j('partial') AND resource_id = 7),
    tstzrange('2032-01-02 11:00+00', '2032-01-02 12:00+00'),
    'and so did its booking');
SELECT throws_ok(
    $$SELECT mojob.create_job('in the new place', '2032-01-02 11:15+00', '2032-01-02 11:45+00', state => 'tentative', resources => ARRAY[7::bigint])$$,
    'MJ005', NULL,
    'another job cannot book the studio in the node''s new window');
SELECT lives_ok(
    $$SELECT mojob.create_job('in the old place', '2032-01-01 11:00+00', '2032-01-01 12:00+00', state => 'tentative', resources => ARRAY[7::bigint])$$,
    'and the old window is free');
SELECT throws_ok(
    format($$SELECT mojob.reschedule(%s, '2032-01-03 10:00+00', '2032-01-03 11:00+00')$$, pg_temp.j('partial')),
    '22023', NULL,
    'a move that would close the node''s window (its start keeps its distance from start_at, its end from end_at) is refused');
SELECT throws_ok(
    format($$UPDATE mojob.job_resource SET held_from = '2040-01-01+00', held_until = '2040-01-02+00' WHERE job_id = %s AND resource_id = 8$$,
           pg_temp.j('partial')),
    'MJ006', NULL,
    'a confirmed job''s node cannot be given a window outside the job''s: it would hold nothing');
SELECT is((SELECT count(*) FROM mojob.booking WHERE job_id = pg_temp.j('partial')), 2::bigint,
    'both nodes of the confirmed job still hold');

-- ---------------------------------------------------------------------
-- 5. A completed job in its post-roll cannot be deleted
-- ---------------------------------------------------------------------

SELECT pg_temp.job('tear-down', (now() - interval '2 hours')::timestamptz, (now() - interval '1 hour')::timestamptz,
                   ARRAY[5::bigint], 'completed', post => '2 hours');
SELECT is((SELECT state FROM mojob.job WHERE name = 'tear-down'), 'completed'::mojob.job_state,
    'a job whose end has passed is completed, its post-roll still ahead');
SELECT throws_ok(format('SELECT mojob.delete_job(%s)', pg_temp.j('tear-down')), 'MJ003', NULL,
    'it cannot be deleted while its tear-down holds its resources');
SELECT throws_ok(format('DELETE FROM mojob.job WHERE id = %s', pg_temp.j('tear-down')), 'MJ003', NULL,
    'nor by a plain DELETE');
SELECT throws_ok(
    $$SELECT mojob.create_job('during tear-down', now(), now() + interval '30 minutes', state => 'tentative', resources => ARRAY[5::bigint])$$,
    'MJ005', NULL,
    'and another job cannot book its resource during the post-roll');

-- ---------------------------------------------------------------------
-- 6. Under row security, MJ005 names only the jobs the caller may see
-- ---------------------------------------------------------------------

CREATE ROLE windows_planner NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO windows_planner;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO windows_planner;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource TO windows_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO windows_planner;
ALTER TABLE mojob.job ENABLE ROW LEVEL SECURITY;
CREATE POLICY windows_not_secret ON mojob.job USING (name NOT LIKE 'secret%');

SELECT pg_temp.job('secret show', '2031-01-01+00', '2031-01-01 02:00+00', ARRAY[6::bigint], 'tentative');
SELECT pg_temp.job('open show', '2031-01-01 02:00+00', '2031-01-01 04:00+00', ARRAY[6::bigint], 'tentative');
SELECT code AS secret_code FROM mojob.job WHERE name = 'secret show' \gset
SELECT code AS open_code FROM mojob.job WHERE name = 'open show' \gset

SET ROLE windows_planner;
SELECT * INTO TEMP planner_err FROM pg_temp.err(
    $$SELECT mojob.create_job('overlap', '2031-01-01 01:00+00', '2031-01-01 03:00+00', state => 'tentative', resources => ARRAY[6::bigint])$$);
RESET ROLE;
SELECT is((SELECT state FROM planner_err), 'MJ005', 'the planner''s overlapping job is refused (the check sees every booking)');
SELECT ok((SELECT detail NOT LIKE '%' || :'secret_code' || '%' FROM planner_err),
    'the refusal does not name the job the planner may not see');
SELECT ok((SELECT detail LIKE '%' || :'open_code' || '%' AND detail LIKE '%1 job you may not see%' FROM planner_err),
    'it names the one it may see, and counts the other');
\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
