-- Changing and deleting resources (docs/design.md section 4): disabling a
-- resource, or lowering its concurrency or capacity, is refused (MJ005,
-- naming the jobs) when a window that has not ended would be over-booked;
-- drafts, canceled jobs and windows that have ended never block it; raising
-- limits is always allowed.  A resource any job uses cannot be deleted
-- (23503, with a hint to disable it); an unused one can.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(50);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, concurrency, capacity) VALUES
    (1, 'studio', 1, NULL),      -- held by a future tentative job
    (2, 'booth', 1, NULL),       -- used by a draft only
    (3, 'archive', 1, NULL),     -- held by jobs whose windows have ended
    (4, 'gallery', 1, NULL),     -- held by a completed job in its post-roll
    (5, 'camera', 1, NULL),      -- removed from a running job
    (6, 'router', 2, NULL),      -- concurrency
    (7, 'encoder', 5, 10),       -- capacity
    (8, 'link', 4, NULL),        -- capacity set from unlimited
    (9, 'spare', 1, NULL),       -- unused
    (10, 'old cam', 1, NULL),    -- used by a canceled job only
    (11, 'backup', 1, NULL);     -- swap target
INSERT INTO mojob.pool (id, name) VALUES (1, 'all');
INSERT INTO mojob.pool_member (pool_id, resource_id) SELECT 1, id FROM mojob.resource;

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.code(label text) RETURNS text
LANGUAGE sql AS $$ SELECT code FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.res(rid bigint) RETURNS text
LANGUAGE sql AS $$ SELECT (enabled, concurrency, capacity)::text FROM mojob.resource WHERE id = rid $$;

\ir helpers/reservations.psql


-- ---------------------------------------------------------------------
-- Disabling
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('show', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{1}', 'tentative');
SELECT FROM pg_temp.job('rehearsal', '2027-09-14 10:00Z', '2027-09-14 11:00Z', '{1}', 'confirmed');
CREATE TEMP TABLE disable_err AS
    SELECT * FROM pg_temp.err('UPDATE mojob.resource SET enabled = false WHERE id = 1');
SELECT is((SELECT state FROM disable_err), 'MJ005',
    'disabling a resource that future jobs hold is refused with MJ005');
SELECT ok((SELECT msg LIKE '%"studio"%' FROM disable_err), 'the refusal to disable names the resource');
SELECT ok((SELECT concat(msg, ' ', detail) LIKE '%' || pg_temp.code('show') || '%'
              AND concat(msg, ' ', detail) LIKE '%' || pg_temp.code('rehearsal') || '%' FROM disable_err),
    'the refusal lists every job that holds the resource');
SELECT ok((SELECT hint IS NOT NULL FROM disable_err), 'the refusal has a hint');
SELECT is(pg_temp.res(1), '(t,1,)', 'the refused UPDATE leaves the resource enabled');

SELECT FROM mojob.cancel(pg_temp.j('show'));
SELECT FROM mojob.cancel(pg_temp.j('rehearsal'));
UPDATE mojob.resource SET enabled = false WHERE id = 1;
SELECT is(pg_temp.res(1), '(f,1,)', 'a resource can be disabled once the jobs holding it are canceled');
UPDATE mojob.resource SET enabled = true WHERE id = 1;
SELECT is(pg_temp.res(1), '(t,1,)', 'enabling a resource is always allowed');

SELECT FROM pg_temp.job('sketch', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{2}');
UPDATE mojob.resource SET enabled = false WHERE id = 2;
SELECT is(pg_temp.res(2), '(f,1,)', 'a draft does not block disabling its resource');
SELECT is((SELECT (state, n.resource_id)::text FROM mojob.job j JOIN mojob.job_resource n ON n.job_id = j.id
           WHERE j.name = 'sketch'), '(draft,2)',
    'the draft keeps its node on the disabled resource');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('sketch')), 'MJ006', NULL,
    'the draft cannot then reserve the disabled resource');
SELECT FROM pg_temp.job('sketch 2', '2027-09-16 10:00Z', '2027-09-16 11:00Z');
SELECT is((SELECT resource_id FROM mojob.add_resource(pg_temp.j('sketch 2'), 2)), 2::bigint,
    'a disabled resource can still be added to a draft');

SELECT FROM pg_temp.job('last week', now() - interval '3 hours', now() - interval '2 hours', '{3}', 'tentative');
SELECT FROM pg_temp.job('yesterday', now() - interval '5 hours', now() - interval '4 hours', '{3}', 'completed',
                        post => '1 hour');
UPDATE mojob.resource SET enabled = false WHERE id = 3;
SELECT is(pg_temp.res(3), '(f,1,)', 'jobs whose windows have ended do not block disabling');

SELECT FROM pg_temp.job('tear-down', now() - interval '2 hours', now() - interval '1 hour', '{4}', 'completed',
                        post => '2 hours');
SELECT throws_ok('UPDATE mojob.resource SET enabled = false WHERE id = 4', 'MJ005', NULL,
    'a completed job still in its post-roll blocks disabling');

SELECT FROM pg_temp.job('on air', now() - interval '1 hour', now() + interval '1 hour', '{5}', 'running');
SELECT throws_ok('UPDATE mojob.resource SET enabled = false WHERE id = 5', 'MJ005', NULL,
    'a running job blocks disabling its resource');
SELECT FROM mojob.remove_resource(pg_temp.j('on air'), 5);
UPDATE mojob.resource SET enabled = false WHERE id = 5;
SELECT is(pg_temp.res(5), '(f,1,)', 'a resource removed from a running job can be disabled from now');

SELECT FROM pg_temp.job('swapped', now() - interval '1 hour', now() + interval '1 hour', '{1}', 'running');
SELECT FROM mojob.swap_resource(pg_temp.j('swapped'), 1, 11);
UPDATE mojob.resource SET enabled = false WHERE id = 1;
SELECT is(pg_temp.res(1), '(f,1,)', 'a resource swapped out of a running job can be disabled from now');
SELECT throws_ok('UPDATE mojob.resource SET enabled = false WHERE id = 11', 'MJ005', NULL,
    'the resource swapped into a running job blocks disabling');

-- ---------------------------------------------------------------------
-- Lowering concurrency
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('r-a', '2027-09-17 10:00Z', '2027-09-17 11:00Z', '{6}', 'tentative');
SELECT FROM pg_temp.job('r-b', '2027-09-17 10:30Z', '2027-09-17 11:30Z', '{6}', 'confirmed');
SELECT FROM pg_temp.job('r-c', '2027-09-17 12:00Z', '2027-09-17 13:00Z', '{6}', 'tentative');
CREATE TEMP TABLE conc_err AS
    SELECT * FROM pg_temp.err('UPDATE mojob.resource SET concurrency = 1 WHERE id = 6');
SELECT is((SELECT state FROM conc_err), 'MJ005',
    'lowering concurrency below the jobs holding a resource at once is refused');
SELECT ok((SELECT msg LIKE '%"router"%' FROM conc_err), 'the refusal to lower concurrency names the resource');
SELECT ok((SELECT concat(msg, ' ', detail) LIKE '%' || pg_temp.code('r-a') || '%'
              AND concat(msg, ' ', detail) LIKE '%' || pg_temp.code('r-b') || '%' FROM conc_err),
    'the refusal lists the jobs that overlap');
SELECT ok((SELECT concat(msg, ' ', detail) NOT LIKE '%' || pg_temp.code('r-c') || '%' FROM conc_err),
    'the refusal does not list a job that overlaps none');
SELECT is(pg_temp.res(6), '(t,2,)', 'the refused UPDATE leaves the concurrency');
UPDATE mojob.resource SET concurrency = 3 WHERE id = 6;
SELECT is(pg_temp.res(6), '(t,3,)', 'raising concurrency is always allowed');
SELECT FROM pg_temp.job('r-d', '2027-09-17 10:00Z', '2027-09-17 11:30Z', '{6}');
SELECT FROM pg_temp.job('r-e', '2027-09-17 10:15Z', '2027-09-17 10:45Z', '{6}', 'canceled');
UPDATE mojob.resource SET concurrency = 2 WHERE id = 6;
SELECT is(pg_temp.res(6), '(t,2,)', 'lowering concurrency to the peak is allowed (drafts and canceled jobs do not count)');
SELECT throws_ok('UPDATE mojob.resource SET concurrency = 1 WHERE id = 6', 'MJ005', NULL,
    'lowering concurrency below two overlapping jobs is still refused');
SELECT FROM mojob.cancel(pg_temp.j('r-b'));
UPDATE mojob.resource SET concurrency = 1 WHERE id = 6;
SELECT is(pg_temp.res(6), '(t,1,)', 'once one of the overlapping jobs is canceled, concurrency 1 is allowed');

SELECT FROM pg_temp.job('past-a', now() - interval '4 hours', now() - interval '2 hours', '{8}', 'tentative');
SELECT FROM pg_temp.job('past-b', now() - interval '3 hours', now() - interval '1 hour', '{8}', 'tentative');
SELECT FROM pg_temp.job('now-c', now() - interval '30 minutes', now() + interval '1 hour', '{8}', 'tentative');
SELECT FROM pg_temp.job('later-d', now() + interval '2 hours', now() + interval '3 hours', '{8}', 'tentative');
UPDATE mojob.resource SET concurrency = 1 WHERE id = 8;
SELECT is(pg_temp.res(8), '(t,1,)', 'an overlap in a window that has ended does not block lowering concurrency');

-- ---------------------------------------------------------------------
-- Lowering capacity
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('e-6', '2027-09-18 10:00Z', '2027-09-18 11:00Z', '{7}', 'tentative', amount => 6);
SELECT FROM pg_temp.job('e-3', '2027-09-18 10:30Z', '2027-09-18 11:30Z', '{7}', 'tentative', amount => 3);
SELECT FROM pg_temp.job('e-8', '2027-09-18 12:00Z', '2027-09-18 13:00Z', '{7}', 'tentative', amount => 8);
SELECT FROM pg_temp.job('e-draft', '2027-09-18 10:00Z', '2027-09-18 13:00Z', '{7}', amount => 10);
CREATE TEMP TABLE cap_err AS
    SELECT * FROM pg_temp.err('UPDATE mojob.resource SET capacity = 8 WHERE id = 7');
SELECT is((SELECT state FROM cap_err), 'MJ005', 'lowering capacity below the peak summed amount is refused');
SELECT ok((SELECT msg LIKE '%"encoder"%' FROM cap_err), 'the refusal to lower capacity names the resource');
SELECT ok((SELECT concat(msg, ' ', detail) LIKE '%' || pg_temp.code('e-6') || '%'
              AND concat(msg, ' ', detail) LIKE '%' || pg_temp.code('e-3') || '%' FROM cap_err),
    'the refusal lists the jobs whose amounts add up beyond it');
SELECT is(pg_temp.res(7), '(t,5,10)', 'the refused UPDATE leaves the capacity');
UPDATE mojob.resource SET capacity = 9 WHERE id = 7;
SELECT is(pg_temp.res(7), '(t,5,9)', 'lowering capacity to the peak summed amount is allowed');
SELECT throws_ok('UPDATE mojob.resource SET capacity = 7 WHERE id = 7', 'MJ005', NULL,
    'lowering capacity further below the peak summed amount is refused');
UPDATE mojob.resource SET capacity = 100 WHERE id = 7;
SELECT is(pg_temp.res(7), '(t,5,100)', 'raising capacity is always allowed');
UPDATE mojob.resource SET capacity = NULL WHERE id = 7;
SELECT is(pg_temp.res(7), '(t,5,)', 'making capacity unlimited is always allowed');
SELECT throws_ok('UPDATE mojob.resource SET capacity = 8 WHERE id = 7', 'MJ005', NULL,
    'giving an unlimited resource a capacity below the peak summed amount is refused');
UPDATE mojob.resource SET capacity = 9 WHERE id = 7;
SELECT is(pg_temp.res(7), '(t,5,9)', 'giving an unlimited resource a capacity at the peak is allowed');
UPDATE mojob.resource SET concurrency = 2, capacity = 9, name = 'encoder-1', properties = '{"rack": 3}' WHERE id = 7;
SELECT is((SELECT (name, concurrency, capacity)::text FROM mojob.resource WHERE id = 7), '(encoder-1,2,9)',
    'renaming a held resource and lowering its concurrency to the peak is allowed');

-- ---------------------------------------------------------------------
-- Deleting
-- ---------------------------------------------------------------------

DELETE FROM mojob.resource WHERE id = 9;
SELECT is((SELECT count(*)::int FROM mojob.resource WHERE id = 9), 0, 'an unused resource can be deleted');
SELECT is((SELECT count(*)::int FROM mojob.pool_member WHERE resource_id = 9), 0,
    'deleting a resource takes it out of its pools');

CREATE TEMP TABLE delete_err AS SELECT * FROM pg_temp.err('DELETE FROM mojob.resource WHERE id = 2');
SELECT is((SELECT state FROM delete_err), '23503', 'a resource a draft uses cannot be deleted');
SELECT ok((SELECT msg LIKE '%"booth"%' FROM delete_err), 'the refusal to delete names the resource');
SELECT ok((SELECT hint ILIKE '%disable%' OR hint LIKE '%enabled = false%' FROM delete_err),
    'the refusal hints at disabling the resource instead');
SELECT is((SELECT count(*)::int FROM mojob.resource WHERE id = 2), 1, 'the refused DELETE leaves the resource');
SELECT throws_ok('DELETE FROM mojob.resource WHERE id = 6', '23503', NULL,
    'a resource holding jobs use cannot be deleted');
SELECT FROM pg_temp.job('retired', '2027-09-19 10:00Z', '2027-09-19 11:00Z', '{10}', 'canceled');
SELECT throws_ok('DELETE FROM mojob.resource WHERE id = 10', '23503', NULL,
    'a resource only a canceled job uses cannot be deleted');
SELECT throws_ok('DELETE FROM mojob.resource WHERE id = 3', '23503', NULL,
    'a resource only past jobs use cannot be deleted');
SELECT FROM mojob.delete_job(pg_temp.j('retired'));
DELETE FROM mojob.resource WHERE id = 10;
SELECT is((SELECT count(*)::int FROM mojob.resource WHERE id = 10), 0,
    'once the job using it is deleted, the resource can be deleted');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
