-- Privileges (README "Roles", docs/design.md sections 1, 3 and 8): the README's
-- role setup, copied exactly, tested with SET ROLE.
--
--   * mojob_viewer reads every table and view and every read-only function,
--     and changes nothing: every writing function and every INSERT, UPDATE,
--     DELETE, TRUNCATE and nextval is refused with 42501;
--   * mojob_planner creates, reserves, confirms, cancels, edits nodes, locks,
--     makes recurring -- mojob's bookkeeping (history, bookings) runs as the
--     tables' owner, so it needs no right on mojob.booking -- but cannot
--     bypass the trigger: no job inserted running (MJ001), no write to
--     mojob.job_event or mojob.booking, no ALTER/DISABLE/DROP of a trigger,
--     no new object in schema mojob, no session_replication_role, no change
--     to a completed job's times (MJ002);
--   * mojob_operator starts and stops. The README defines no operator; the
--     GRANT proposed here is UPDATE (state) ON mojob.job on top of the viewer;
--   * mojob_writer, granted every DML right on every table (as GRANT ... ON
--     ALL TABLES does), still cannot write the tables mojob keeps itself;
--   * no function is SECURITY DEFINER; every PL/pgSQL or SQL function pins
--     its search_path (or has a body parsed at creation), the others are C.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------
-- The README's roles, copied exactly
-- ---------------------------------------------------------------------

CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;

CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;

-- Not in the README: the operator starts and stops (proposed setup).
CREATE ROLE mojob_operator NOLOGIN IN ROLE mojob_viewer;
GRANT UPDATE (state) ON mojob.job TO mojob_operator;

-- Not in the README: an application role given every DML right at once.
CREATE ROLE mojob_writer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mojob TO mojob_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_writer;

-- And one with no right on mojob at all.
CREATE ROLE mojob_nobody NOLOGIN;

-- ---------------------------------------------------------------------
-- Helpers and fixtures (as the owner)
-- ---------------------------------------------------------------------

\ir helpers/snapshot.psql

SELECT now() + interval '1 day' AS t1, now() + interval '1 day 1 hour' AS t2 \gset

INSERT INTO mojob.resource (name) VALUES ('studio') RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name) VALUES ('camera') RETURNING id AS r2 \gset
INSERT INTO mojob.resource (name) VALUES ('spare camera') RETURNING id AS r3 \gset
INSERT INTO mojob.resource (name) VALUES ('solo') RETURNING id AS solo \gset
INSERT INTO mojob.pool (name) VALUES ('cameras') RETURNING id AS pool \gset
INSERT INTO mojob.pool_member VALUES (:pool, :r2), (:pool, :r3);

SELECT id AS d FROM mojob.create_job('draft', now() + interval '2 days', now() + interval '2 days 1 hour',
                                     resources => ARRAY[:r1]) \gset
SELECT id AS node FROM mojob.add_pool_node(:d, :pool) \gset
SELECT id AS t FROM mojob.create_job('tentative', now() + interval '3 days', now() + interval '3 days 1 hour',
                                     state => 'tentative') \gset
SELECT id AS c FROM mojob.create_job('confirmed', now() + interval '4 days', now() + interval '4 days 1 hour',
                                     state => 'tentative') \gset
SELECT state FROM mojob.confirm(:c) \gset
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('running', 'running', now() - interval '1 hour', now() - interval '1 hour',
        now() + interval '1 hour', now() + interval '1 hour') RETURNING id AS run \gset
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('completed', 'completed', now() - interval '3 hours', now() - interval '3 hours',
        now() - interval '2 hours', now() - interval '2 hours') RETURNING id AS done \gset
SELECT id AS rj FROM mojob.create_job('weekly', now() + interval '5 days', now() + interval '5 days 1 hour') \gset
SELECT id AS rec FROM mojob.make_recurring(:rj, 'FREQ=WEEKLY;COUNT=3', 'UTC') \gset

-- The functions that write (VOLATILE) and those that only read, with a
-- valid call each; the lists are checked against pg_proc below.
CREATE TEMP TABLE writer_call (fn text PRIMARY KEY, call text);
INSERT INTO writer_call VALUES
    ('create_job', format($$mojob.create_job('v', %L, %L)$$, :'t1', :'t2')),
    ('create_job_for_resource', format($$mojob.create_job_for_resource(%s, 'v', %L, %L)$$, :r2, :'t1', :'t2')),
    ('reserve', format('mojob.reserve(%s)', :d)),
    ('confirm', format('mojob.confirm(%s)', :t)),
    ('unconfirm', format('mojob.unconfirm(%s)', :c)),
    ('start', format('mojob.start(%s)', :c)),
    ('stop', format('mojob.stop(%s)', :run)),
    ('cancel', format($$mojob.cancel(%s, 'x')$$, :t)),
    ('reschedule', format('mojob.reschedule(%s, %L, %L)', :d, :'t1', :'t2')),
    ('delete_job', format('mojob.delete_job(%s)', :d)),
    ('advance', 'mojob.advance()'),
    ('add_resource', format('mojob.add_resource(%s, %s)', :d, :r3)),
    ('add_pool_node', format('mojob.add_pool_node(%s, %s)', :d, :pool)),
    ('assign_node', format('mojob.assign_node(%s, %s)', :node, :r3)),
    ('remove_resource', format('mojob.remove_resource(%s, %s)', :d, :r1)),
    ('swap_resource', format('mojob.swap_resource(%s, %s, %s)', :d, :r1, :r3)),
    ('lock_job', format('mojob.lock_job(%s)', :d)),
    ('unlock_job', format('mojob.unlock_job(%s)', :d)),
    ('duplicate', format('mojob.duplicate(%s)', :d)),
    ('make_recurring', format($$mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2', 'UTC')$$, :d)),
    ('extend_recurrences', 'mojob.extend_recurrences()'),
    ('cancel_recurrence', format('mojob.cancel_recurrence(%s)', :rec)),
    ('rebuild_bookings', 'mojob.rebuild_bookings()'),
    ('next_id', $$mojob.next_id('mojob.job_id_seq')$$);
CREATE TEMP TABLE reader_call (fn text PRIMARY KEY, call text);
INSERT INTO reader_call VALUES
    ('free_resources', format('mojob.free_resources(tstzrange(%L, %L))', :'t1', :'t2')),
    ('resource_usage', format('mojob.resource_usage(%s, tstzrange(%L, %L))', :r1, :'t1', :'t2')),
    ('timeline', format('mojob.timeline(tstzrange(%L, %L))', :'t1', :'t2')),
    ('timeline_svg', format('mojob.timeline_svg(tstzrange(%L, %L))', :'t1', :'t2')),
    ('timeline_scale', format('mojob.timeline_scale(tstzrange(%L, %L), 72)', :'t1', :'t2')),
    ('recurrence_preview', format($$mojob.recurrence_preview('FREQ=DAILY;COUNT=3', 'UTC', %L, %L)$$,
                                  :'t1', now() + interval '1 month')),
    ('job_code_preview', $$mojob.job_code_preview('JOB-{seq}')$$),
    ('state_color', $$mojob.state_color('draft')$$),
    ('state_board', $$mojob.state_board('draft')$$),
    ('board_states', $$mojob.board_states('active')$$),
    ('time_desc', format('mojob.time_desc(%L)', :'t1')),
    ('action_states', $$mojob.action_states('edit')$$),
    ('action_open', $$mojob.action_open('edit', 'draft')$$),
    ('acting_user', 'mojob.acting_user()'),
    ('guard_pending', 'mojob.guard_pending()'),
    ('state_graph', 'mojob.state_graph()'),
    ('xml_text', $$mojob.xml_text('a & b')$$),
    ('verify', 'mojob.verify()');

CREATE TEMP TABLE rel AS
SELECT c.relname::text AS rel, c.relkind::text AS kind,
       (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = 1) AS col
FROM pg_class c WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'v', 'S');
GRANT SELECT ON rel, writer_call, reader_call TO PUBLIC;

SELECT plan(101 + 26
            + (SELECT count(*)::int FROM rel WHERE kind IN ('r', 'v'))
            + (SELECT count(*)::int FROM reader_call)
            + (SELECT count(*)::int FROM writer_call)
            + 4 * (SELECT count(*)::int FROM rel WHERE kind = 'r')
            + (SELECT count(*)::int FROM rel WHERE kind = 'S'));

SELECT set_eq($$ SELECT proname::text FROM pg_proc WHERE pronamespace = 'mojob'::regnamespace
                 AND provolatile = 'v' AND prorettype <> 'trigger'::regtype $$,
    $$ SELECT fn FROM writer_call $$,
    'the writing functions tested here are every VOLATILE function of mojob (add a new one to writer_call)');
SELECT set_eq($$ SELECT proname::text FROM pg_proc WHERE pronamespace = 'mojob'::regnamespace
                 AND provolatile <> 'v' AND prorettype <> 'trigger'::regtype $$,
    $$ SELECT fn FROM reader_call $$,
    'the reading functions tested here are every STABLE or IMMUTABLE function of mojob (add a new one to reader_call)');

-- ---------------------------------------------------------------------
-- The viewer reads everything and changes nothing
-- ---------------------------------------------------------------------

SELECT pg_temp.snapshot() AS before \gset
SELECT last_value AS job_seq_before FROM mojob.job_id_seq \gset
SET ROLE mojob_viewer;

SELECT lives_ok(format('SELECT count(*) FROM mojob.%I', rel),
                format('the viewer can read mojob.%s', rel))
FROM rel WHERE kind IN ('r', 'v') ORDER BY rel;
SELECT lives_ok(format('SELECT * FROM %s', call), format('the viewer can call mojob.%s', fn))
FROM reader_call ORDER BY fn;
SELECT is((SELECT count(*)::int FROM mojob.jobs), (SELECT count(*)::int FROM mojob.job WHERE state <> 'canceled'),
    'the viewer sees every job that is not canceled in mojob.jobs');
SELECT is((SELECT count(*)::int FROM mojob.resource_schedule), (SELECT count(*)::int FROM mojob.booking),
    'the viewer sees every booking in mojob.resource_schedule');

SELECT throws_ok(format('SELECT * FROM %s', call), '42501', NULL,
                 format('the viewer cannot call mojob.%s (42501)', fn))
FROM writer_call ORDER BY fn;
SELECT throws_ok(format('INSERT INTO mojob.%I DEFAULT VALUES', rel), '42501', NULL,
                 format('the viewer cannot INSERT into mojob.%s (42501)', rel))
FROM rel WHERE kind = 'r' ORDER BY rel;
SELECT throws_ok(format('UPDATE mojob.%I SET %I = %I', rel, col, col), '42501', NULL,
                 format('the viewer cannot UPDATE mojob.%s (42501)', rel))
FROM rel WHERE kind = 'r' ORDER BY rel;
SELECT throws_ok(format('DELETE FROM mojob.%I', rel), '42501', NULL,
                 format('the viewer cannot DELETE from mojob.%s (42501)', rel))
FROM rel WHERE kind = 'r' ORDER BY rel;
SELECT throws_ok(format('TRUNCATE mojob.%I CASCADE', rel), '42501', NULL,
                 format('the viewer cannot TRUNCATE mojob.%s (42501)', rel))
FROM rel WHERE kind = 'r' ORDER BY rel;
SELECT throws_ok(format($$SELECT nextval('mojob.%I')$$, rel), '42501', NULL,
                 format('the viewer cannot take a value of mojob.%s (42501)', rel))
FROM rel WHERE kind = 'S' ORDER BY rel;
SELECT throws_ok($$UPDATE mojob.job SET state = 'canceled'$$, '42501', NULL,
    'the viewer cannot cancel jobs with a plain UPDATE (42501)');

RESET ROLE;
SELECT is(pg_temp.snapshot(), :'before', 'the viewer changed nothing mojob stores');
SELECT is((SELECT last_value FROM mojob.job_id_seq), :job_seq_before::bigint,
    'the viewer did not even take a job id');

-- ---------------------------------------------------------------------
-- The planner does the planning
-- ---------------------------------------------------------------------

SET ROLE mojob_planner;
SET mojob.actor = 'planner anna';

SELECT id AS p FROM mojob.create_job('planned', now() + interval '6 days', now() + interval '6 days 1 hour',
                                     resources => ARRAY[:r1]) \gset
SELECT is((SELECT (state, created_by) FROM mojob.job WHERE id = :p), ('draft'::mojob.job_state, 'planner anna'::text),
    'the planner creates a draft, recorded as the acting user');
SELECT id AS pnode FROM mojob.add_pool_node(:p, :pool, 'camera') \gset
SELECT is((SELECT resource_id FROM mojob.assign_node(:pnode, :r2)), :r2::bigint,
    'the planner adds a pool node and fills it');
SELECT is((SELECT amount FROM mojob.add_resource(:p, :r3, 2.5, 'spare')), 2.5,
    'the planner adds a resource node');
SELECT lives_ok(format('SELECT mojob.remove_resource(%s, %s)', :p, :r3), 'the planner removes a node');
SELECT is((SELECT state FROM mojob.reserve(:p)), 'tentative', 'the planner reserves');
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE job_id = :p), 2,
    'the reservation booked both resources, though the planner has no right on mojob.booking');
SELECT is((SELECT state FROM mojob.confirm(:p)), 'confirmed', 'the planner confirms');
SELECT is((SELECT state FROM mojob.unconfirm(:p)), 'tentative', 'the planner unconfirms');
SELECT is((SELECT locked_by FROM mojob.lock_job(:p)), 'planner anna', 'the planner takes the edit lock');
SELECT is((SELECT locked_by FROM mojob.unlock_job(:p)), NULL, 'the planner releases it');
SELECT is((SELECT start_at FROM mojob.reschedule(:p, now() + interval '7 days', now() + interval '7 days 2 hours')),
          now() + interval '7 days', 'the planner reschedules');
SELECT lives_ok(format('SELECT mojob.swap_resource(%s, %s, %s)', :p, :r1, :solo), 'the planner swaps a resource');
SELECT is((SELECT (state, cancel_reason) FROM mojob.cancel(:p, 'rain')), ('canceled'::mojob.job_state, 'rain'::text),
    'the planner cancels with a reason');
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE job_id = :p), 0, 'which releases the bookings');
SELECT results_eq(format($$SELECT from_state::text, to_state::text, by_user, reason FROM mojob.job_event
                            WHERE job_id = %s ORDER BY id$$, :p),
    $$VALUES ('draft', 'tentative', 'planner anna', NULL::text), ('tentative', 'confirmed', 'planner anna', NULL),
             ('confirmed', 'tentative', 'planner anna', NULL), ('tentative', 'canceled', 'planner anna', 'rain')$$,
    'mojob wrote the planner''s history, though the planner cannot write mojob.job_event');
SELECT is((SELECT state FROM mojob.create_job_for_resource(:r2, 'quick', now() + interval '8 days',
                                                            now() + interval '8 days 1 hour')), 'tentative',
    'the planner creates a job for a resource');
SELECT id AS pd FROM mojob.duplicate(:t) \gset
SELECT is((SELECT (state, name) FROM mojob.job WHERE id = :pd), ('draft'::mojob.job_state, 'tentative'::text),
    'the planner duplicates a job');
SELECT lives_ok(format('SELECT mojob.delete_job(%s)', :pd), 'the planner deletes a draft');
SELECT id AS prj FROM mojob.create_job('series', now() + interval '9 days', now() + interval '9 days 1 hour') \gset
SELECT id AS prec FROM mojob.make_recurring(:prj, 'FREQ=DAILY;COUNT=3', 'UTC') \gset
SELECT is((SELECT count(*)::int FROM mojob.job WHERE recurrence_id = :prec), 3,
    'the planner makes a job recurring');
SELECT is(mojob.extend_recurrences(), 0, 'the planner extends the recurrences');
SELECT is((SELECT state FROM mojob.cancel_recurrence(:prec, 'season over')), 'canceled',
    'the planner cancels a recurrence');
SELECT is(mojob.advance(), 0, 'the planner may call advance');

-- What the planner cannot do.
SELECT throws_ok(format($$INSERT INTO mojob.job (name, state, start_at, end_at) VALUES ('forged', %L, %L, %L)$$,
                        s, :'t1', :'t2'),
                 'MJ001', NULL, format('the planner cannot insert a job as %s (MJ001)', s))
FROM unnest(ARRAY['confirmed', 'running', 'completed', 'canceled']) AS s;
INSERT INTO mojob.job (name, start_at, end_at, code, created_by, created_at, version, locked_by, locked_until)
VALUES ('forger', :'t1', :'t2', 'FORGED-1', 'the boss', '2000-01-01', 42, 'the boss', 'infinity')
RETURNING id AS forged \gset
SELECT is((SELECT (code LIKE 'JOB-%', created_by, created_at = now(), version, locked_by, locked_until)
           FROM mojob.job WHERE id = :forged),
          (true, 'planner anna'::text, true, 1::bigint, NULL::text, NULL::timestamptz),
    'a planner''s insert gets its code, creator, creation time and version from mojob, and no lock');

SELECT throws_ok(format($$INSERT INTO mojob.job_event (job_id, from_state, to_state, at, by_user, cause)
                          VALUES (%s, 'draft', 'tentative', now(), 'x', 'user')$$, :d),
    '42501', NULL, 'the planner cannot INSERT history (42501)');
SELECT throws_ok($$UPDATE mojob.job_event SET by_user = 'someone else'$$, '42501', NULL,
    'the planner cannot UPDATE history (42501)');
SELECT throws_ok($$DELETE FROM mojob.job_event$$, '42501', NULL, 'the planner cannot DELETE history (42501)');
SELECT throws_ok($$TRUNCATE mojob.job_event$$, '42501', NULL, 'the planner cannot TRUNCATE history (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.booking VALUES (-1, %s, %s, tstzrange(now(), now() + interval '1 hour'), 0)$$,
                        :d, :r1),
    '42501', NULL, 'the planner cannot INSERT a booking (42501)');
SELECT throws_ok($$UPDATE mojob.booking SET held = tstzrange('2000-01-01', '2000-01-02')$$, '42501', NULL,
    'the planner cannot UPDATE bookings (42501)');
SELECT throws_ok($$DELETE FROM mojob.booking$$, '42501', NULL, 'the planner cannot DELETE bookings (42501)');
SELECT throws_ok($$TRUNCATE mojob.booking$$, '42501', NULL, 'the planner cannot TRUNCATE bookings (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.booking_longest VALUES (%s, '1000 years')$$, :r1),
    '42501', NULL, 'the planner cannot INSERT into mojob.booking_longest (42501)');

SELECT throws_ok($$ALTER TABLE mojob.job DISABLE TRIGGER zz_mojob_guard$$, '42501', NULL,
    'the planner cannot disable the job trigger (42501, not the owner)');
SELECT throws_ok($$ALTER TABLE mojob.job DISABLE TRIGGER ALL$$, '42501', NULL,
    'the planner cannot disable every trigger of mojob.job (42501)');
SELECT throws_ok($$DROP TRIGGER zz_mojob_guard ON mojob.job$$, '42501', NULL,
    'the planner cannot drop the job trigger (42501)');
SELECT throws_ok($$ALTER TABLE mojob.job_resource DISABLE TRIGGER zz_mojob_node_guard$$, '42501', NULL,
    'the planner cannot disable the node trigger (42501)');
SELECT throws_ok($$ALTER TABLE mojob.job_event DISABLE TRIGGER mojob_event_guard$$, '42501', NULL,
    'the planner cannot disable the history trigger (42501)');
SELECT throws_ok($$ALTER TABLE mojob.resource DISABLE TRIGGER zz_mojob_resource_guard$$, '42501', NULL,
    'the planner cannot disable the resource trigger (42501)');
SELECT throws_ok($$ALTER TABLE mojob.job DROP CONSTRAINT job_window_order$$, '42501', NULL,
    'the planner cannot drop a check of mojob.job (42501)');
SELECT throws_ok($$CREATE TRIGGER a_first BEFORE UPDATE ON mojob.job FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$,
    '42501', NULL, 'the planner cannot add a trigger to mojob.job (42501)');
SELECT throws_ok($$SET session_replication_role = replica$$, '42501', NULL,
    'the planner cannot switch triggers off with session_replication_role (42501)');
SELECT throws_ok($$CREATE FUNCTION mojob.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT ''2000-01-01''::timestamptz'$$,
    '42501', NULL, 'the planner cannot create a function in schema mojob (42501)');
SELECT throws_ok($$CREATE TABLE mojob.settings2 (x int)$$, '42501', NULL,
    'the planner cannot create a table in schema mojob (42501)');
SELECT throws_ok($$CREATE OR REPLACE FUNCTION mojob.reserve(job bigint) RETURNS mojob.job LANGUAGE sql
                   AS 'SELECT * FROM mojob.job WHERE id = job'$$, '42501', NULL,
    'the planner cannot replace a function of mojob (42501)');
SELECT throws_ok($$ALTER FUNCTION mojob.advance(timestamptz) SECURITY DEFINER$$, '42501', NULL,
    'the planner cannot make a function of mojob SECURITY DEFINER (42501)');

SELECT throws_ok(format($$UPDATE mojob.job SET %I = %I - interval '1 minute' WHERE id = %s$$, col, col, :done),
                 'MJ002', NULL, format('the planner cannot change a completed job''s %s (MJ002)', col))
FROM unnest(ARRAY['pre_roll_start', 'start_at', 'end_at', 'post_roll_end']) AS col;
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'confirmed' WHERE id = %s$$, :done), 'MJ001', NULL,
    'the planner cannot move a completed job back (MJ001)');
WITH u AS (UPDATE mojob.job SET name = 'renamed' WHERE id = :done RETURNING name)
SELECT is((SELECT name FROM u), 'renamed',
    'the planner may still rename a completed job (metadata)');
SELECT throws_ok(format($$UPDATE mojob.job SET code = 'MINE' WHERE id = %s$$, :t), 'MJ002', NULL,
    'the planner cannot change a job''s code (MJ002)');
SELECT throws_ok(format($$UPDATE mojob.job SET created_by = 'the boss' WHERE id = %s$$, :t), 'MJ002', NULL,
    'the planner cannot change who created a job (MJ002)');
SELECT throws_ok(format($$DELETE FROM mojob.job WHERE id = %s$$, :t), 'MJ003', NULL,
    'the planner cannot delete a tentative job (MJ003)');
SELECT lives_ok(format($$DELETE FROM mojob.job WHERE id = %s$$, :done), 'the planner deletes a completed job');
SELECT isnt((SELECT count(*)::int FROM mojob.job_event WHERE job_id = :p), 0,
    'history outlives jobs whatever the planner deletes');
SELECT throws_ok(format($$UPDATE mojob.job SET locked_by = 'the boss', locked_until = now() + interval '1 minute' WHERE id = %s$$, :t),
    'MJ002', NULL, 'the planner cannot give a job''s edit lock to another user with a plain UPDATE (MJ002)');
SELECT throws_ok(format($$UPDATE mojob.job SET locked_by = 'planner anna', locked_until = now() + interval '100 years' WHERE id = %s$$, :t),
    'MJ002', NULL, 'nor hold it longer than settings.lock_timeout (MJ002)');
SELECT throws_ok(format($$UPDATE mojob.job SET locked_by = 'planner anna' WHERE id = %s$$, :t),
    'MJ002', NULL, 'nor set a holder without an end (MJ002)');
WITH u AS (UPDATE mojob.job SET locked_by = 'planner anna', locked_until = now() + (SELECT lock_timeout FROM mojob.settings)
           WHERE id = :t RETURNING locked_by)
SELECT is((SELECT locked_by FROM u), 'planner anna',
    'a plain UPDATE may take the lock as mojob.lock_job does: the acting user, for lock_timeout');
WITH u AS (UPDATE mojob.job SET locked_by = NULL, locked_until = NULL WHERE id = :t RETURNING locked_by)
SELECT is((SELECT locked_by FROM u), NULL, 'and release it');
SELECT throws_ok(format($$UPDATE mojob.recurrence SET state = 'canceled' WHERE id = %s$$, :prec), '42501', NULL,
    'the planner cannot change a recurrence by hand, though granted UPDATE on it (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.recurrence (template_job, rule, time_zone, dtstart, extended_until, created_by)
                          VALUES (%s, 'FREQ=DAILY', 'Nowhere/Else', now(), now(), 'the boss')$$, :t), '42501', NULL,
    'the planner cannot insert a recurrence by hand (42501)');
SELECT throws_ok(format($$DELETE FROM mojob.recurrence WHERE id = %s$$, :prec), '42501', NULL,
    'the planner cannot delete a recurrence by hand (42501)');
CREATE TEMP TABLE my_jobs (LIKE mojob.job);
SELECT throws_ok($$CREATE TRIGGER g BEFORE UPDATE ON my_jobs FOR EACH ROW EXECUTE FUNCTION mojob.job_guard()$$,
    '42501', NULL, 'the planner cannot attach mojob''s job guard to a table of its own (42501)');
SELECT throws_ok(format($$CREATE TRIGGER g BEFORE DELETE ON my_jobs FOR EACH ROW EXECUTE FUNCTION mojob.%s()$$, f),
                 '42501', NULL, format('nor mojob.%s() (42501)', f))
FROM unnest(ARRAY['node_guard', 'resource_guard', 'internal_guard', 'settings_guard']) AS f;
DROP TABLE my_jobs;
SELECT id AS gone FROM mojob.create_job('short-lived', now() + interval '13 days', now() + interval '13 days 1 hour') \gset
SELECT state FROM mojob.reserve(:gone) \gset
SELECT state FROM mojob.cancel(:gone, 'no') \gset
SELECT mojob.delete_job(:gone) IS NULL AS deleted \gset
SELECT throws_ok(format($$INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (%s, 'new', %L, %L)$$, :gone, :'t1', :'t2'),
    '23505', format('job id %s was used by a deleted job', :gone),
    'the planner cannot give a new job the id of a deleted one, whose history would read as its own (23505)');
WITH i AS (INSERT INTO mojob.job (id, name, start_at, end_at) VALUES (:p, 'again', :'t1', :'t2')
           ON CONFLICT (id) DO NOTHING RETURNING id)
SELECT is((SELECT count(*)::int FROM i), 0,
    'an INSERT ... ON CONFLICT DO NOTHING of a job that exists, with its history, still does nothing');
SELECT throws_ok($$UPDATE mojob.settings SET default_state = 'tentative'$$, '42501', NULL,
    'the README''s planner cannot change the settings (42501)');
SELECT throws_ok($$INSERT INTO mojob.resource (name) VALUES ('mine')$$, '42501', NULL,
    'the README''s planner cannot add resources (42501)');
SELECT throws_ok(format($$UPDATE mojob.resource SET enabled = false WHERE id = %s$$, :r1), '42501', NULL,
    'the README''s planner cannot disable resources (42501)');
RESET mojob.actor;
RESET ROLE;

-- ---------------------------------------------------------------------
-- The operator starts and stops (proposed: UPDATE (state) ON mojob.job)
-- ---------------------------------------------------------------------

SELECT id AS oc FROM mojob.create_job('to start', now() + interval '10 days', now() + interval '10 days 1 hour',
                                      state => 'tentative') \gset
SELECT state FROM mojob.confirm(:oc) \gset
SET ROLE mojob_operator;
SELECT is((SELECT (state, start_at) FROM mojob.start(:oc)), ('running'::mojob.job_state, now()),
    'the operator starts a confirmed job');
SELECT is((SELECT (state, end_at) FROM mojob.stop(:run)), ('completed'::mojob.job_state, now()),
    'the operator stops a running job');
SELECT is(mojob.advance(), 0, 'the operator may call advance');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', %L, %L)$$, :'t1', :'t2'), '42501', NULL,
    'the operator cannot create jobs (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, %L, %L)$$, :t, :'t1', :'t2'), '42501', NULL,
    'the operator cannot reschedule (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.add_resource(%s, %s)$$, :d, :r3), '42501', NULL,
    'the operator cannot add nodes (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.delete_job(%s)$$, :d), '42501', NULL,
    'the operator cannot delete jobs (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.cancel(%s, 'no')$$, :t), '42501', NULL,
    'the operator cannot cancel with a reason (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.lock_job(%s)$$, :t), '42501', NULL,
    'the operator cannot take edit locks (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2', 'UTC')$$, :d), '42501', NULL,
    'the operator cannot make jobs recurring (42501)');
SELECT throws_ok(format($$UPDATE mojob.job SET end_at = end_at + interval '1 hour' WHERE id = %s$$, :oc), '42501', NULL,
    'the operator cannot move a running job''s end with a plain UPDATE (42501)');
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'canceled' WHERE id = %s$$, :t), '42501', NULL,
    'the operator cannot cancel by setting the state either: a cancellation writes cancel_reason (42501)');
SELECT throws_ok($$SELECT mojob.advance(now() + interval '30 days')$$, '42501', NULL,
    'the operator cannot advance to an instant ahead of now, moving jobs before their time (42501)');
SELECT is(mojob.advance(now() - interval '1 hour'), 0, 'the operator may advance to an instant already past');
SELECT lives_ok($$SELECT mojob.advance(clock_timestamp())$$,
    'and to the clock''s time, later than the transaction''s now() but not ahead of the clock');
RESET ROLE;
SELECT is((SELECT state FROM mojob.job WHERE id = :t), 'tentative', 'the job the operator tried to cancel is as it was');

-- ---------------------------------------------------------------------
-- Every DML right on every table still does not open mojob's own tables
-- ---------------------------------------------------------------------

SET ROLE mojob_writer;
SELECT id AS wa FROM mojob.create_job_for_resource(:solo, 'first', now() + interval '11 days',
                                                   now() + interval '11 days 1 hour') \gset
SELECT throws_ok(format($$INSERT INTO mojob.job (name, state, start_at, end_at) VALUES ('x', 'running', %L, %L)$$,
                        :'t1', :'t2'),
    'MJ001', NULL, 'a role with every right on mojob.job still cannot insert a running job (MJ001)');
SELECT throws_ok(format($$INSERT INTO mojob.job_event (job_id, from_state, to_state, at, by_user, cause)
                          VALUES (%s, 'draft', 'tentative', now(), 'x', 'user')$$, :wa),
    '42501', NULL, 'a role with every right on mojob.job_event still cannot INSERT history (42501)');
SELECT throws_ok($$UPDATE mojob.job_event SET reason = 'rewritten'$$, '42501', NULL,
    'a role with every right on mojob.job_event still cannot UPDATE history (42501)');
SELECT throws_ok($$DELETE FROM mojob.job_event$$, '42501', NULL,
    'a role with every right on mojob.job_event still cannot DELETE history (42501)');
SELECT throws_ok(format($$INSERT INTO mojob.booking VALUES (-1, %s, %s, tstzrange(now(), now() + interval '1 hour'), 0)$$,
                        :wa, :r1),
    '42501', NULL, 'a role with every right on mojob.booking still cannot INSERT a booking (42501)');
SELECT throws_ok(format($$UPDATE mojob.booking SET held = tstzrange('2000-01-01', '2000-01-02') WHERE job_id = %s$$, :wa),
    '42501', NULL, 'a role with every right on mojob.booking still cannot UPDATE a booking (42501)');
SELECT throws_ok(format($$DELETE FROM mojob.booking WHERE job_id = %s$$, :wa),
    '42501', NULL, 'a role with every right on mojob.booking still cannot DELETE a booking (42501)');
SELECT throws_ok($$UPDATE mojob.booking_longest SET longest = '0'$$,
    '42501', NULL, 'a role with every right on mojob.booking_longest still cannot UPDATE it (42501)');
RESET ROLE;
GRANT TRUNCATE ON mojob.job, mojob.job_resource, mojob.resource TO mojob_writer;
SET ROLE mojob_writer;
SELECT throws_ok(format('TRUNCATE mojob.%I CASCADE', t), '42501', NULL,
                 format('a role granted TRUNCATE on mojob.%s still cannot truncate it: its bookings would stay (42501)', t))
FROM unnest(ARRAY['job', 'job_resource', 'resource']) AS t;
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'second', %L, %L)$$,
                        :solo, now() + interval '11 days', now() + interval '11 days 1 hour'),
    'MJ005', NULL, 'so a second job still cannot take the resource the first holds (MJ005)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM mojob.job j JOIN mojob.job_resource n ON n.job_id = j.id
           WHERE n.resource_id = :solo AND j.state IN ('tentative', 'confirmed', 'running')), 1,
    'the resource of concurrency 1 is held by one job, not over-booked');

-- ---------------------------------------------------------------------
-- No right at all
-- ---------------------------------------------------------------------

SET ROLE mojob_nobody;
SELECT throws_ok($$SELECT * FROM mojob.jobs$$, '42501', NULL, 'a role without rights cannot read mojob.jobs (42501)');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', %L, %L)$$, :'t1', :'t2'), '42501', NULL,
    'a role without rights cannot create jobs (42501)');
RESET ROLE;

-- ---------------------------------------------------------------------
-- The functions themselves
-- ---------------------------------------------------------------------

SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'mojob'::regnamespace AND p.prosecdef $$,
    'no function in schema mojob is SECURITY DEFINER');
SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                   WHERE p.pronamespace = 'mojob'::regnamespace AND l.lanname <> 'c'
                     AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
                     AND p.prosqlbody IS NULL $$,
    'every function of mojob is C, or pins its search_path, or has an SQL body parsed when it was created');
SELECT is_empty($$ SELECT p.oid::regprocedure, c FROM pg_proc p, unnest(p.proconfig) c
                   WHERE p.pronamespace = 'mojob'::regnamespace AND c LIKE 'search_path=%'
                     AND c NOT LIKE 'search\_path=pg\_catalog,%pg\_temp' $$,
    'every pinned search_path starts with pg_catalog and ends with pg_temp');
SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc p
                   JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                   JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'mojob'
                   WHERE p.pronamespace <> 'mojob'::regnamespace $$,
    'the extension puts no function outside schema mojob');
SELECT is_empty($$ SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
                   WHERE c.relnamespace = 'mojob'::regnamespace AND a.grantee = 0
                     AND a.privilege_type <> 'SELECT' $$,
    'the extension grants PUBLIC no right to write any table of mojob');
SELECT is_empty($$ SELECT n.nspname, a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a
                   WHERE n.nspname = 'mojob' AND a.grantee = 0 AND a.privilege_type = 'CREATE' $$,
    'PUBLIC may not create objects in schema mojob');

CREATE TEMP TABLE other_jobs (LIKE mojob.job);
CREATE TRIGGER g BEFORE INSERT ON other_jobs FOR EACH ROW EXECUTE FUNCTION mojob.job_guard();
SELECT throws_ok($$INSERT INTO other_jobs SELECT * FROM mojob.job LIMIT 1$$, '39P01',
    'mojob.job_guard() fires only on mojob''s own tables',
    'even attached by the owner to another table, the job guard refuses to run there (39P01)');
CREATE TEMP TABLE other_log (x int);
CREATE TRIGGER g BEFORE INSERT ON other_log FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
SELECT throws_ok($$INSERT INTO other_log VALUES (1)$$, '39P01', NULL,
    'and so does the internal guard (39P01)');
SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                   WHERE p.pronamespace = 'mojob'::regnamespace AND p.prorettype = 'trigger'::regtype
                     AND a.grantee = 0 AND a.privilege_type = 'EXECUTE' $$,
    'PUBLIC may not execute (attach) mojob''s trigger functions');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
