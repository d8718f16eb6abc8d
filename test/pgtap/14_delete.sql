-- Deleting jobs (docs/design.md sections 1 and 3): draft, completed and canceled
-- jobs may be deleted, by DELETE or mojob.delete_job; tentative, confirmed
-- and running ones are refused with MJ003.  History outlives the job.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(20);

\ir helpers/job_in.psql

CREATE TEMP TABLE fx AS
    SELECT s AS state, j.id AS by_delete, k.id AS by_function, k.code AS function_code, j.code AS delete_code
    FROM unnest(enum_range(NULL::mojob.job_state)) AS s,
         LATERAL pg_temp.job_in(s, 'delete ' || s) AS j,
         LATERAL pg_temp.job_in(s, 'delete_job ' || s) AS k;
CREATE TEMP TABLE history_before AS
    SELECT job_id, count(*) AS n FROM mojob.job_event GROUP BY job_id;

-- Deletable: the row goes.
SELECT lives_ok(format('DELETE FROM mojob.job WHERE id = %s', by_delete),
                format('DELETE of a %s job is allowed', state))
FROM fx WHERE state IN ('draft', 'completed', 'canceled') ORDER BY state;
SELECT lives_ok(format('SELECT mojob.delete_job(%s)', by_function),
                format('mojob.delete_job of a %s job is allowed', state))
FROM fx WHERE state IN ('draft', 'completed', 'canceled') ORDER BY state;
SELECT is_empty(
    $$SELECT j.id FROM mojob.job j JOIN fx ON j.id IN (fx.by_delete, fx.by_function)
      WHERE fx.state IN ('draft', 'completed', 'canceled')$$,
    'the deleted draft, completed and canceled jobs are gone');

-- Not deletable: MJ003, and the row stays.
SELECT throws_ok(format('DELETE FROM mojob.job WHERE id = %s', by_delete), 'MJ003',
                 format('%s job %s cannot be deleted', state, delete_code),
                 format('DELETE of a %s job is refused', state))
FROM fx WHERE state IN ('tentative', 'confirmed', 'running') ORDER BY state;
SELECT throws_ok(format('SELECT mojob.delete_job(%s)', by_function), 'MJ003',
                 format('%s job %s cannot be deleted', state, function_code),
                 format('mojob.delete_job of a %s job is refused', state))
FROM fx WHERE state IN ('tentative', 'confirmed', 'running') ORDER BY state;
SELECT set_eq(
    $$SELECT j.id, j.state::text FROM mojob.job j JOIN fx ON j.id IN (fx.by_delete, fx.by_function)$$,
    $$SELECT id, state::text FROM fx, unnest(ARRAY[by_delete, by_function]) AS id
      WHERE state IN ('tentative', 'confirmed', 'running')$$,
    'the tentative, confirmed and running jobs are still there, in their states');

-- One DELETE of a deletable and an undeletable job deletes neither.
SELECT id AS a FROM pg_temp.job_in('draft', 'mixed a') \gset
SELECT id AS b FROM pg_temp.job_in('tentative', 'mixed b') \gset
SELECT throws_ok(format('DELETE FROM mojob.job WHERE id IN (%s, %s)', :a, :b), 'MJ003', NULL,
    'a DELETE of a draft and a tentative job is refused');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE id IN (:a, :b)), 2,
    'the refused DELETE kept the draft job too');

-- History outlives the job.
SELECT set_eq(
    $$SELECT job_id, count(*) FROM mojob.job_event
      WHERE job_id IN (SELECT by_delete FROM fx UNION ALL SELECT by_function FROM fx) GROUP BY job_id$$,
    'SELECT job_id, n FROM history_before',
    'deleting jobs keeps every history row they had');
SELECT results_eq(
    $$SELECT from_state::text, to_state::text FROM mojob.job_event
      WHERE job_id = (SELECT by_function FROM fx WHERE state = 'canceled') ORDER BY id$$,
    $$VALUES ('draft', 'tentative'), ('tentative', 'canceled')$$,
    'the history of a canceled job deleted by mojob.delete_job is still there');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
