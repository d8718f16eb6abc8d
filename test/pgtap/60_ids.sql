-- Ids and row types under a hostile planner and a careless owner (README.md,
-- "Guarantees"):
--
--   * a column mojob does not rely on, added and dropped by the owner,
--     breaks nothing: every function returning a row of mojob.job,
--     mojob.job_resource or mojob.recurrence returns it in the table's row
--     type (the dropped column's slot null), called in a select list and in
--     FROM; a site's column added after the dropped one is returned by name.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(48);

INSERT INTO mojob.resource (name) VALUES ('studio') RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name) VALUES ('camera') RETURNING id AS r2 \gset
INSERT INTO mojob.resource (name) VALUES ('spare camera') RETURNING id AS r3 \gset
INSERT INTO mojob.resource (name) VALUES ('desk') RETURNING id AS r4 \gset
INSERT INTO mojob.pool (name) VALUES ('cameras') RETURNING id AS pool \gset
INSERT INTO mojob.pool_member VALUES (:pool, :r2), (:pool, :r3);
SELECT now() + interval '1 day' AS t1, now() + interval '1 day 1 hour' AS t2,
       now() + interval '2 days' AS t3, now() + interval '2 days 1 hour' AS t4 \gset

-- ---------------------------------------------------------------------
-- A column mojob does not rely on, added and dropped by the owner
-- ---------------------------------------------------------------------

ALTER TABLE mojob.job ADD COLUMN site_x int;
ALTER TABLE mojob.job DROP COLUMN site_x;
ALTER TABLE mojob.job ADD COLUMN site_note text DEFAULT 'noted';
ALTER TABLE mojob.job_resource ADD COLUMN site_x int;
ALTER TABLE mojob.job_resource DROP COLUMN site_x;
ALTER TABLE mojob.job_resource ADD COLUMN site_note text DEFAULT 'node noted';
ALTER TABLE mojob.recurrence ADD COLUMN site_x int;
ALTER TABLE mojob.recurrence DROP COLUMN site_x;

SELECT id AS a FROM mojob.create_job('a', :'t1', :'t2', resources => ARRAY[:r1]::bigint[]) \gset
SELECT is((SELECT (j).name || ' ' || (j).state || ' ' || (j).site_note
           FROM (SELECT mojob.create_job('b', :'t3', :'t4') AS j) s),
    'b draft noted',
    'create_job returns its row in mojob.job''s row type after a column was dropped, in a select list');
SELECT is((SELECT name || ' ' || state FROM mojob.create_job_for_resource(:r4, 'c', :'t1', :'t2')),
    'c tentative', 'create_job_for_resource too, in FROM');
SELECT id AS c FROM mojob.job WHERE name = 'c' \gset

SELECT is((SELECT site_note FROM mojob.add_resource(:a, :r3)), 'node noted',
    'add_resource returns its node in mojob.job_resource''s row type');
SELECT id AS pn FROM mojob.add_pool_node(:a, :pool) \gset
SELECT ok(:pn > 0, 'add_pool_node too');
SELECT is((SELECT resource_id FROM mojob.assign_node(:pn, :r2)), :r2::bigint, 'assign_node too');
SELECT is((SELECT state::text FROM mojob.reserve(:a)), 'tentative', 'reserve');
SELECT is((SELECT state::text FROM mojob.confirm(:a)), 'confirmed', 'confirm');
SELECT is((SELECT state::text FROM mojob.unconfirm(:a)), 'tentative', 'unconfirm');
SELECT is((SELECT start_at FROM mojob.reschedule(:a, :'t3', :'t4')), :'t3'::timestamptz, 'reschedule');
SELECT is((SELECT locked_by FROM mojob.lock_job(:a)), mojob.acting_user(), 'lock_job');
SELECT is((SELECT locked_by FROM mojob.unlock_job(:a)), NULL, 'unlock_job');
SELECT is((SELECT (j).state::text FROM (SELECT mojob.cancel(:c, 'not needed') AS j) s), 'canceled', 'cancel');
SELECT is((SELECT name FROM mojob.duplicate(:a, :'t1')), 'a', 'duplicate (PL/pgSQL, through create_job)');
SELECT id AS sj FROM mojob.create_job('to swap', :'t1', :'t2', resources => ARRAY[:r1]::bigint[]) \gset
SELECT is((SELECT name FROM mojob.swap_resource(:sj, :r1, :r3)), 'to swap', 'swap_resource');
SELECT id AS s FROM mojob.create_job('started', now() + interval '1 hour', now() + interval '2 hours',
                                     state => 'tentative') \gset
SELECT state FROM mojob.confirm(:s) \gset
SELECT is((SELECT state::text FROM mojob.start(:s)), 'running', 'start');
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('running', 'running', now() - interval '1 hour', now() - interval '1 hour',
        now() + interval '1 hour', now() + interval '1 hour') RETURNING id AS run \gset
SELECT is((SELECT state::text FROM mojob.stop(:run)), 'completed', 'stop');
SELECT id AS rec FROM mojob.create_job('weekly', :'t3', :'t4') \gset
SELECT is((SELECT rule FROM mojob.make_recurring(:rec, 'FREQ=WEEKLY;COUNT=2', 'UTC')), 'FREQ=WEEKLY;COUNT=2',
    'make_recurring returns its row in mojob.recurrence''s row type after a column was dropped');
SELECT is((SELECT state::text FROM mojob.cancel_recurrence((SELECT max(id) FROM mojob.recurrence))), 'canceled',
    'cancel_recurrence too');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE site_note = 'noted'), (SELECT count(*)::int FROM mojob.job),
    'every job has the site''s column as its default gave it');

-- ---------------------------------------------------------------------
-- Ids are mojob's
-- ---------------------------------------------------------------------

-- The README's roles.
CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;

-- A call's SQLSTATE, message and detail, or 'ok'.
CREATE SCHEMA ids_test;
GRANT USAGE ON SCHEMA ids_test TO PUBLIC;
CREATE FUNCTION ids_test.outcome(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || ' / ' || det;
END
$$;

SELECT id AS job1 FROM mojob.create_job('existing', :'t1', :'t2') \gset
SELECT id AS node1 FROM mojob.add_resource(:job1, :r1) \gset
SELECT last_value + 100000 AS planted FROM mojob.job_id_seq \gset
SELECT last_value + 100000 AS planted_node FROM mojob.job_resource_id_seq \gset

SET ROLE mojob_planner;
SET mojob.actor = 'planner anna';

SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (%s, 'planted', %L, %L)$$,
                        :planted, :'t1', :'t2'),
    '42501', 'only the owner of mojob.job can choose the id of a new row',
    'a planner cannot give a new job an id above the sequence (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at)
                          SELECT %s + g, 'planted', %L, %L FROM generate_series(1, 3) g$$,
                        :planted, :'t1', :'t2'),
    '42501', 'only the owner of mojob.job can choose the id of a new row',
    'nor by INSERT ... SELECT (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at)
                          VALUES (%s, 'planted', %L, %L) ON CONFLICT DO NOTHING$$,
                        :planted, :'t1', :'t2'),
    '42501', 'only the owner of mojob.job can choose the id of a new row',
    'nor by INSERT ... ON CONFLICT DO NOTHING with an id no job has (42501)');
CREATE TEMP SEQUENCE my_ids START 900000000;
SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at)
                          VALUES (mojob.next_id('my_ids'), 'planted', %L, %L)$$, :'t1', :'t2'),
    '42501', 'only the owner of mojob.job can choose the id of a new row',
    'nor with an id mojob.next_id() issued from a sequence of its own (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.job_resource (id, job_id, resource_id) VALUES (%s, %s, %s)$$,
                        :planted_node, :job1, :r2),
    '42501', 'only the owner of mojob.job_resource can choose the id of a new row',
    'a planner cannot give a new node an id above the sequence (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (%s, 'again', %L, %L)$$,
                        :job1, :'t1', :'t2'),
    '23505', NULL, 'the id of a job that exists is the insert''s own conflict (23505)');
WITH i AS (INSERT INTO mojob.job_resource (id, job_id, resource_id) VALUES (:node1, :job1, :r2)
           ON CONFLICT (id) DO NOTHING RETURNING id)
SELECT is((SELECT count(*)::int FROM i), 0,
    'an INSERT ... ON CONFLICT DO NOTHING of a node that exists does nothing');
SELECT throws_ok(format($$INSERT INTO mojob.job_resource (id, job_id, resource_id) VALUES (%s, %s, %s)$$,
                        :node1, :job1, :r2),
    '23505', NULL, 'the id of a node that exists is the insert''s own conflict (23505)');

-- The ids the default gives, however the rows come.
WITH i AS (INSERT INTO mojob.job (name, start_at, end_at)
           SELECT 'batch ' || g, :'t3', :'t4' FROM generate_series(1, 5) g ORDER BY g DESC RETURNING id)
SELECT is((SELECT count(DISTINCT id)::int FROM i), 5,
    'a planner''s INSERT ... SELECT ... ORDER BY without ids inserts every row, each with its own id');
WITH i AS (INSERT INTO mojob.job (name, start_at, end_at) VALUES ('v1', :'t3', :'t4'), ('v2', :'t3', :'t4')
           RETURNING id)
SELECT is((SELECT count(*)::int FROM i), 2, 'and a multi-row VALUES');
SELECT mojob.next_id('mojob.job_id_seq') AS issued \gset
SELECT lives_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (%s, 'issued', %L, %L)$$,
                       :issued, :'t3', :'t4'),
    'an id mojob.next_id(''mojob.job_id_seq'') has just issued may be given');
SELECT lives_ok(format('SELECT mojob.delete_job(%s)', :issued), 'and the draft deleted');
SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (%s, 'issued', %L, %L)$$,
                        :issued, :'t3', :'t4'),
    '42501', 'only the owner of mojob.job can choose the id of a new row',
    'but only once: given again, it is an id chosen by hand (42501)');
SELECT throws_ok($$SELECT mojob.next_id('mojob.job')$$, '22023', 'seq must be a sequence',
    'mojob.next_id() of a table is refused (22023)');
SELECT throws_ok($$SELECT mojob.next_id(0)$$, '22023', 'seq must be a sequence',
    'and of no relation at all');
SELECT is((SELECT name FROM mojob.create_job('after the attempts', :'t3', :'t4')), 'after the attempts',
    'create_job works for the planner after every attempt');
SELECT is((SELECT alias FROM mojob.add_resource(:job1, :r2, 0, 'cam')), 'cam',
    'and add_resource');

-- COPY, as a restore by a non-owner would write (from a program, which
-- the planner is allowed to run here: it leaves no file behind).
RESET ROLE;
GRANT pg_execute_server_program TO mojob_planner;
SET ROLE mojob_planner;
SELECT lives_ok($c$COPY mojob.job (name, start_at, end_at)
                   FROM PROGRAM 'printf ''copied 1\t2100-01-01 10:00+00\t2100-01-01 11:00+00\ncopied 2\t2100-01-01 10:00+00\t2100-01-01 11:00+00\n'''$c$,
    'a planner''s COPY without ids inserts its rows');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE name LIKE 'copied %'), 2, 'both of them');
SELECT throws_ok($c$COPY mojob.job (id, name, start_at, end_at)
                    FROM PROGRAM 'printf ''999999999\tcopied 3\t2100-01-01 10:00+00\t2100-01-01 11:00+00\n'''$c$,
    '42501', 'only the owner of mojob.job can choose the id of a new row',
    'a planner''s COPY with ids is refused (42501)');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE id = 999999999), 0, 'and writes nothing');

RESET mojob.actor;
RESET ROLE;

-- The owner keeps the ids it gives (a restore).
WITH i AS (INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (:planted, 'restored', :'t1', :'t2') RETURNING id)
SELECT is((SELECT id FROM i), :planted::bigint, 'the owner''s insert keeps the id it gives');
WITH i AS (INSERT INTO mojob.job_resource (id, job_id, resource_id) VALUES (:planted_node, :planted, :r1) RETURNING id)
SELECT is((SELECT id FROM i), :planted_node::bigint, 'and the node''s');

-- A default the owner changed.
ALTER TABLE mojob.job ALTER COLUMN id SET DEFAULT nextval('mojob.job_id_seq');
SELECT last_value + 1 AS next_job FROM mojob.job_id_seq \gset
SET ROLE mojob_planner;
SELECT is(ids_test.outcome(format($$SELECT mojob.create_job('x', %L, %L)$$, :'t3', :'t4')),
    '42501: only the owner of mojob.job can choose the id of a new row / '
    'The default of mojob.job.id is not mojob.next_id(''mojob.job_id_seq''), so the id '
    || :next_job || ' cannot be told from one chosen by hand.',
    'with another default for mojob.job.id, a planner''s create_job is refused, naming the default (42501)');
RESET ROLE;
ALTER TABLE mojob.job ALTER COLUMN id SET DEFAULT mojob.next_id('mojob.job_id_seq');
SET ROLE mojob_planner;
SELECT is(ids_test.outcome(format($$SELECT mojob.create_job('x', %L, %L)$$, :'t3', :'t4')), 'ok',
    'restored, it works again');
RESET ROLE;
SELECT is(pg_get_expr(d.adbin, d.adrelid), v.def, format('the default of %s.id is %s', v.rel, v.def))
FROM (VALUES ('mojob.job', 'mojob.next_id(''mojob.job_id_seq''::regclass)'),
             ('mojob.job_resource', 'mojob.next_id(''mojob.job_resource_id_seq''::regclass)')) v(rel, def)
JOIN pg_attrdef d ON d.adrelid = v.rel::regclass AND d.adnum = 1
ORDER BY v.rel;

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
