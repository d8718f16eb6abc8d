-- The extension installs its objects, each with a comment.
BEGIN;
CREATE EXTENSION mojob CASCADE;
SELECT plan(8);

SELECT has_schema('mojob', 'schema mojob exists');
SELECT enum_has_labels('mojob', 'job_state',
    ARRAY['draft', 'tentative', 'confirmed', 'running', 'completed', 'canceled'],
    'job_state has the six states in order');
SELECT enum_has_labels('mojob', 'job_priority', ARRAY['low', 'normal', 'high'],
    'job_priority is low, normal, high');
SELECT tables_are('mojob',
    ARRAY['settings', 'resource', 'pool', 'pool_member', 'job', 'job_resource', 'job_event', 'booking', 'booking_longest', 'recurrence', 'recurrence_conflict'],
    'mojob has its tables');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'v', 'S')
      AND obj_description(c.oid, 'pg_class') IS NULL
    UNION ALL
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'mojob'::regnamespace
      AND obj_description(p.oid, 'pg_proc') IS NULL
    UNION ALL
    SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'v')
      AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
    $$, 'every table, view, sequence, function and column has a comment');

SELECT is((SELECT count(*)::int FROM mojob.settings), 1, 'settings has one row');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
