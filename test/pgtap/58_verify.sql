-- mojob.verify() and mojob.rebuild_bookings() (README.md, "Guarantees"):
--
--   * verify() returns one row per invariant, all ok on data made by mojob's
--     functions (jobs in every state, a running job's swapped node with its
--     own held_from/held_until, a completed job past its post-roll, a job
--     created tentative, which has no history), for the README's viewer too;
--   * each kind of fault, planted by the owner with the triggers off
--     (session_replication_role = replica), is reported by its own check,
--     and only by it, with a detail naming the offender: a missing booking,
--     a wrong window, a wrong amount, a stray booking (a draft's node, a
--     canceled job's, a node that does not exist), a booking_longest that
--     no longer bounds the bookings, a resource over its concurrency, over
--     its capacity, held while disabled, a job whose last history row is not
--     its state, no settings row;
--   * rebuild_bookings() is the owner's (42501 for the viewer and the
--     planner), returns 0 when nothing is missing, adds, fixes and removes
--     (and counts) what the faults did, rebuilds booking_longest, and after
--     it verify() is clean and a conflicting reservation is refused (MJ005);
--     where the jobs would over-book it refuses (MJ005, naming the resource,
--     the jobs and the window) and changes nothing.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(56);

\ir helpers/reservations.psql

CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;

-- The checks that fail, with their details.
CREATE FUNCTION pg_temp.failing() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(check_name, ',' ORDER BY check_name), '') FROM mojob.verify() WHERE NOT ok $$;
CREATE FUNCTION pg_temp.detail(c text) RETURNS text LANGUAGE sql AS $$
    SELECT detail FROM mojob.verify() WHERE check_name = c $$;

-- ---------------------------------------------------------------------
-- Fixtures: jobs in every state, made by mojob's functions
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, concurrency, capacity) VALUES
    (1, 'studio', 1, NULL), (2, 'uplink', 3, 100), (3, 'cam-1', 1, NULL), (4, 'cam-2', 1, NULL),
    (5, 'router', 2, NULL), (6, 'spare', 1, NULL);
SELECT now() + interval '1 day' AS t1, now() + interval '1 day 2 hours' AS t2,
       now() + interval '2 days' AS t3, now() + interval '2 days 1 hour' AS t4 \gset

SELECT pg_temp.job('draft', :'t1', :'t2', '{1}') AS draft \gset
SELECT pg_temp.job('tentative', :'t1', :'t2', '{1}', 'tentative', pre => '30 minutes') AS tent \gset
SELECT pg_temp.job('confirmed', :'t3', :'t4', '{1,2}', 'confirmed', amount => 40) AS conf \gset
SELECT pg_temp.job('second uplink', :'t3', :'t4', '{2,5}', 'tentative', amount => 30) AS up2 \gset
SELECT pg_temp.job('canceled', :'t3', :'t4', '{6}', 'canceled') AS canc \gset
SELECT id AS run FROM mojob.create_job('running', now() - interval '1 hour', now() + interval '1 hour',
    state => 'tentative', resources => '{3}') \gset
SELECT state AS s FROM mojob.confirm(:run) \gset
SELECT pg_sleep(0.01) AS s \gset
SELECT state AS s FROM mojob.swap_resource(:run, 3, 4) \gset
SELECT id AS done FROM mojob.create_job('completed', now() - interval '3 hours', now() - interval '2 hours',
    state => 'tentative', resources => '{3}') \gset
SELECT state AS s FROM mojob.confirm(:done) \gset
SELECT id AS born FROM mojob.create_job('born tentative', :'t3', :'t4', state => 'tentative', resources => '{5}') \gset
SELECT id AS node_tent FROM mojob.job_resource WHERE job_id = :tent \gset
SELECT id AS node_draft FROM mojob.job_resource WHERE job_id = :draft \gset
SELECT id AS node_canc FROM mojob.job_resource WHERE job_id = :canc \gset
SELECT id AS node_up FROM mojob.job_resource WHERE job_id = :conf AND resource_id = 2 \gset
SELECT code AS tent_code FROM mojob.job WHERE id = :tent \gset
SELECT code AS conf_code FROM mojob.job WHERE id = :conf \gset
SELECT code AS up2_code FROM mojob.job WHERE id = :up2 \gset

SELECT is((SELECT string_agg(DISTINCT state::text, ',' ORDER BY state::text) FROM mojob.job),
    'canceled,completed,confirmed,draft,running,tentative', 'the fixtures have jobs in every state');
SELECT is((SELECT count(*)::int FROM mojob.job_resource WHERE job_id = :run AND (held_from IS NOT NULL OR held_until IS NOT NULL)),
    2, 'the running job has a node held until the swap and one from it');
SELECT is((SELECT count(*)::int FROM mojob.job_event WHERE job_id = :born), 0, 'a job created tentative has no history');

-- ---------------------------------------------------------------------
-- verify() on what mojob made
-- ---------------------------------------------------------------------

SELECT results_eq($$ SELECT check_name FROM mojob.verify() $$,
    ARRAY['settings', 'bookings_missing', 'bookings_wrong', 'bookings_stray', 'booking_longest',
          'concurrency', 'capacity', 'disabled', 'history'],
    'verify() has one row per check, in a fixed order');
SELECT is_empty($$ SELECT * FROM mojob.verify() WHERE NOT ok OR ok IS NULL OR detail IS NOT NULL $$,
    'every check is ok, with no detail, on what mojob made');
SET ROLE mojob_viewer;
SELECT is(pg_temp.failing(), '', 'the README''s viewer can call verify(), and it is clean');
RESET ROLE;
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'mojob.verify()'::regprocedure), 's',
    'verify() is STABLE: it changes nothing');

-- ---------------------------------------------------------------------
-- Each fault, planted by the owner with the triggers off
-- ---------------------------------------------------------------------

SET session_replication_role = replica;

SAVEPOINT f;
DELETE FROM mojob.booking WHERE node_id = :node_tent;
SELECT is(pg_temp.failing(), 'bookings_missing', 'a missing booking fails bookings_missing, and nothing else');
SELECT matches(pg_temp.detail('bookings_missing'), format('^node %s of job %s \(resource id 1, ', :node_tent, :'tent_code'),
    'its detail names the node, the job and the resource');
ROLLBACK TO f;

SELECT count(*) AS nbook FROM mojob.booking \gset
UPDATE mojob.booking SET held = tstzrange(lower(held), upper(held) - interval '1 minute') WHERE node_id = :node_tent;
SELECT is(pg_temp.failing(), 'bookings_wrong', 'a booking with the wrong window fails bookings_wrong');
SELECT matches(pg_temp.detail('bookings_wrong'), format('^node %s holds resource id 1 for .* it should hold resource id 1 for .* for job %s$', :node_tent, :'tent_code'),
    'its detail names the node and the job, what it holds and what it should');
UPDATE mojob.booking SET amount = 39 WHERE node_id = :node_up;
SELECT matches(pg_temp.detail('bookings_wrong'), format('node %s holds resource id 2 for .* with amount 39 .* with amount 40 for job %s', :node_up, :'conf_code'),
    'a wrong amount too');
INSERT INTO mojob.booking VALUES (:node_draft, :draft, 1, tstzrange(:'t1', :'t2'), 0);
SELECT is(pg_temp.failing(), 'bookings_stray,bookings_wrong', 'a draft''s node booked fails bookings_stray');
SELECT matches(pg_temp.detail('bookings_stray'), format('^node %s holds resource id 1 for .* which is draft and holds nothing$', :node_draft),
    'its detail says the job is a draft');
INSERT INTO mojob.booking VALUES (:node_canc, :canc, 1, tstzrange(:'t3', :'t4'), 0),
                                 (999999, :tent, 6, tstzrange(:'t3', :'t4'), 0);
SELECT matches(pg_temp.detail('bookings_stray'), 'which is canceled and holds nothing; node 999999 holds resource id 6 .* but no such node exists$',
    'a canceled job''s node, and a node that does not exist');

-- rebuild_bookings() repairs them, and counts them.
SET ROLE mojob_viewer;
SELECT throws_ok('SELECT mojob.rebuild_bookings()', '42501', NULL, 'the viewer cannot rebuild the bookings (42501)');
RESET ROLE;
SET ROLE mojob_planner;
SELECT throws_ok('SELECT mojob.rebuild_bookings()', '42501', 'only the owner of mojob''s tables may rebuild the bookings',
    'nor can the planner (42501)');
RESET ROLE;
SELECT is(mojob.rebuild_bookings(), 5, 'rebuild_bookings() fixes two wrong bookings and removes three stray ones: 5');
SELECT is(pg_temp.failing(), '', 'verify() is clean after it');
SELECT is((SELECT count(*) FROM mojob.booking), :nbook::bigint, 'the bookings are as mojob made them');
SELECT is(mojob.rebuild_bookings(), 0, 'a second rebuild has nothing to do: 0');

SAVEPOINT f;
DELETE FROM mojob.booking;
SELECT is(mojob.rebuild_bookings(), :nbook::int, 'with every booking gone, it adds them all back');
SELECT is(pg_temp.failing(), '', 'verify() is clean after it');
RESET session_replication_role;
SELECT throws_ok(format($$SELECT mojob.create_job('clash', %L, %L, state => 'tentative', resources => '{1}')$$, :'t1', :'t2'),
    'MJ005', NULL, 'and a conflicting reservation is refused again (MJ005)');
ROLLBACK TO f;
SET session_replication_role = replica;

SAVEPOINT f;
DELETE FROM mojob.booking_longest WHERE resource_id = 1;
UPDATE mojob.booking_longest SET longest = '1 second' WHERE resource_id = 2;
SELECT is(pg_temp.failing(), 'booking_longest', 'a booking_longest that no longer bounds the bookings fails booking_longest');
SELECT matches(pg_temp.detail('booking_longest'),
    '^resource id 1 has a booking of .*, and mojob.booking_longest bounds it at nothing; resource id 2 has a booking of 01:00:00, and mojob.booking_longest bounds it at 00:00:01$',
    'its detail names the resources, their longest booking and the bound');
SELECT is(mojob.rebuild_bookings(), 0, 'rebuild_bookings() sets the bound (no booking to fix: 0)');
SELECT is(pg_temp.failing(), '', 'verify() is clean after it');
ROLLBACK TO f;

SAVEPOINT f;
UPDATE mojob.resource SET concurrency = 1 WHERE id = 5;
SELECT is(pg_temp.failing(), 'concurrency', 'a resource over its concurrency fails concurrency');
SELECT is(pg_temp.detail('concurrency'),
    format('resource "router" (id 5) is held by 2 jobs at once from %s to %s (%s, %s), and its concurrency is 1',
           (SELECT lower(held) FROM mojob.booking WHERE job_id = :born), (SELECT upper(held) FROM mojob.booking WHERE job_id = :born),
           least(:'up2_code', (SELECT code FROM mojob.job WHERE id = :born)), greatest(:'up2_code', (SELECT code FROM mojob.job WHERE id = :born))),
    'its detail names the resource, the window, the jobs and the limit');
SELECT throws_matching('SELECT mojob.rebuild_bookings()', 'would over-book',
    'rebuild_bookings() refuses to rebuild an over-booking');
SELECT results_eq($$ SELECT sqlstate, detail FROM pg_temp.err('SELECT mojob.rebuild_bookings()') e(sqlstate) $$,
    $$ SELECT 'MJ005', 'Rebuilt from the jobs and their nodes: ' || pg_temp.detail('concurrency') || '.' $$,
    'with MJ005, naming the resource, the window and the jobs');
ROLLBACK TO f;

SAVEPOINT f;
UPDATE mojob.resource SET capacity = 60 WHERE id = 2;
SELECT is(pg_temp.failing(), 'capacity', 'a resource over its capacity fails capacity');
SELECT matches(pg_temp.detail('capacity'),
    format('^resource "uplink" \(id 2\) is given amounts adding up to 70 from .* \(%s, %s\), and its capacity is 60$',
           least(:'conf_code', :'up2_code'), greatest(:'conf_code', :'up2_code')),
    'its detail names the resource, the sum, the jobs and the capacity');
ROLLBACK TO f;

SAVEPOINT f;
UPDATE mojob.resource SET enabled = false WHERE id = 1;
SELECT is(pg_temp.failing(), 'disabled', 'a disabled resource still held fails disabled');
SELECT matches(pg_temp.detail('disabled'), format('^resource "studio" \(id 1\) is disabled, and held from .* by %s, %s$',
           least(:'conf_code', :'tent_code'), greatest(:'conf_code', :'tent_code')),
    'its detail names the resource and the jobs holding it');
ROLLBACK TO f;

SAVEPOINT f;
UPDATE mojob.job SET state = 'confirmed' WHERE id = :tent;
SELECT is(pg_temp.failing(), 'history', 'a job whose last history row is not its state fails history');
SELECT is(pg_temp.detail('history'), format('job %s is confirmed, and its last history row says tentative', :'tent_code'),
    'its detail names the job, its state and what the history says');
ROLLBACK TO f;
SAVEPOINT f;
UPDATE mojob.job SET state = 'confirmed' WHERE id = :born;
SELECT is(pg_temp.failing(), '', 'a job with no history is not judged by it');
ROLLBACK TO f;

SAVEPOINT f;
DELETE FROM mojob.settings;
SELECT is(pg_temp.failing(), 'settings', 'no settings row fails settings');
SELECT is(pg_temp.detail('settings'), 'mojob.settings has 0 rows, not one', 'and says so');
ROLLBACK TO f;

-- The jobs' windows moved behind mojob's back make the bookings clash.
SAVEPOINT f;
UPDATE mojob.job SET pre_roll_start = pre_roll_start + interval '1 day', start_at = start_at + interval '1 day',
       end_at = end_at + interval '1 day', post_roll_end = post_roll_end + interval '1 day' WHERE id = :tent;
SELECT is(pg_temp.failing(), 'bookings_wrong', 'a job moved with the triggers off fails bookings_wrong');
CREATE TEMP TABLE refusal AS SELECT * FROM pg_temp.err('SELECT mojob.rebuild_bookings()');
SELECT is((SELECT state FROM refusal), 'MJ005', 'rebuild_bookings() refuses the over-booking it would make (MJ005)');
SELECT is((SELECT msg FROM refusal), 'the bookings of the jobs would over-book their resources', 'saying so');
SELECT matches((SELECT detail FROM refusal),
    format('^Rebuilt from the jobs and their nodes: resource "studio" \(id 1\) is held by 2 jobs at once from .* to .* \(%s, %s\), and its concurrency is 1\.$',
           least(:'conf_code', :'tent_code'), greatest(:'conf_code', :'tent_code')),
    'naming the resource, the window and the jobs');
SELECT is(pg_temp.failing(), 'bookings_wrong', 'and changes nothing');
ROLLBACK TO f;

RESET session_replication_role;

-- A past over-booking is history: lowering a limit is checked from now on.
SAVEPOINT f;
UPDATE mojob.resource SET concurrency = 2 WHERE id = 6;
SELECT pg_temp.job('old one', now() - interval '3 days', now() - interval '2 days', '{6}', 'tentative') AS old1 \gset
SELECT pg_temp.job('old two', now() - interval '3 days', now() - interval '2 days', '{6}', 'tentative') AS old2 \gset
UPDATE mojob.resource SET concurrency = 1 WHERE id = 6;
SELECT is(pg_temp.failing(), '', 'two stale tentative jobs in the past on a resource whose concurrency was lowered since: clean');
ROLLBACK TO f;

-- ---------------------------------------------------------------------
-- Functions and their comments
-- ---------------------------------------------------------------------

SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'mojob.verify()'::regprocedure),
    ARRAY['search_path=pg_catalog, pg_temp'], 'verify() pins its search_path');
SELECT isnt(obj_description('mojob.verify()'::regprocedure, 'pg_proc'), NULL, 'verify() has a comment');
SELECT isnt(obj_description('mojob.rebuild_bookings()'::regprocedure, 'pg_proc'), NULL, 'rebuild_bookings() has a comment');
SELECT is(pg_temp.failing(), '', 'verify() is clean at the end');

-- Under a site's row security the viewer would check only what it sees
-- (hidden jobs' bookings reported as stray, over-bookings between hidden
-- jobs missed): verify() refuses (42501) instead; the owner still checks.
ALTER TABLE mojob.job ENABLE ROW LEVEL SECURITY;
CREATE POLICY verify_hides ON mojob.job USING (name NOT LIKE 'secret%');
SET ROLE mojob_viewer;
SELECT throws_ok('SELECT * FROM mojob.verify()', '42501', NULL,
    'under row security on mojob.job, verify() refuses the viewer (42501)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM mojob.verify() WHERE ok), (SELECT count(*)::int FROM mojob.verify()),
    'the owner, whom row security does not filter, still gets every check');
DROP POLICY verify_hides ON mojob.job;
ALTER TABLE mojob.job DISABLE ROW LEVEL SECURITY;
SET ROLE mojob_viewer;
SELECT lives_ok('SELECT * FROM mojob.verify()', 'without row security the viewer may call it again');
RESET ROLE;

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
