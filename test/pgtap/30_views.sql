-- The operations views (docs/design.md section 3): mojob.jobs and
-- mojob.job_search (the job's own columns plus has_error, errors and the
-- resources used now), mojob.ops_board (which board each state is shown on,
-- in which order, and the action flags each job allows now, checked against
-- mojob.state_transitions), mojob.resource_schedule (one row per booking),
-- and their comments.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(82);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name) VALUES
    (1, 'cam-1'), (2, 'cam-2'), (3, 'studio-a'), (4, 'studio-b'),
    (5, 'desk'), (6, 'van'), (7, 'truck'), (8, 'edit-1');
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (1, 1), (1, 2);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.code(label text) RETURNS text
LANGUAGE sql AS $$ SELECT code FROM mojob.job WHERE name = label $$;

-- A job named label in state st from now() + s to now() + e, inserted
-- directly by the table owner (allowed in any state, docs/design.md section 1),
-- using the resources res (nodes in that order).
CREATE FUNCTION pg_temp.mk(label text, st mojob.job_state, s interval, e interval,
                           res bigint[] DEFAULT '{}', post interval DEFAULT '0')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    jid bigint;
BEGIN
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, canceled_at)
    VALUES (label, st, now() + s, now() + s, now() + e, now() + e + post,
            CASE WHEN st = 'canceled' THEN now() END)
    RETURNING id INTO jid;
    INSERT INTO mojob.job_resource (job_id, resource_id)
        SELECT jid, r FROM unnest(res) WITH ORDINALITY AS u(r, n) ORDER BY n;
    RETURN jid;
END
$$;

-- The action flags of a job on the ops board, as the list of those that are
-- true ('' when none is).
CREATE FUNCTION pg_temp.flags(label text) RETURNS text
LANGUAGE sql AS $$
    SELECT concat_ws(' ',
        CASE WHEN can_edit THEN 'edit' END, CASE WHEN can_delete THEN 'delete' END,
        CASE WHEN can_reserve THEN 'reserve' END, CASE WHEN can_confirm THEN 'confirm' END,
        CASE WHEN can_unconfirm THEN 'unconfirm' END, CASE WHEN can_start THEN 'start' END,
        CASE WHEN can_stop THEN 'stop' END, CASE WHEN can_cancel THEN 'cancel' END)
    FROM mojob.ops_board WHERE name = label
$$;

DO $$
BEGIN
    -- Inserted so that id order is never the order a board shows.
    PERFORM pg_temp.mk('run-late', 'running', '-4 hours', '4 hours', '{3}');
    PERFORM pg_temp.mk('run-early', 'running', '-1 hour', '2 hours', '{5,6}');
    PERFORM pg_temp.mk('pool-job', 'tentative', '4 days', '4 days 2 hours', '{4}');
    PERFORM mojob.add_pool_node(pg_temp.j('pool-job'), 1, 'main camera');
    PERFORM pg_temp.mk('up-tent', 'tentative', '3 days', '3 days 2 hours', '{4}');
    PERFORM pg_temp.mk('up-draft', 'draft', '2 days', '2 days 2 hours', '{3}');
    PERFORM pg_temp.mk('up-conf', 'confirmed', '1 day', '1 day 2 hours', '{7}');
    PERFORM pg_temp.mk('done-old', 'completed', '-10 hours', '-8 hours', '{8}');
    PERFORM pg_temp.mk('done-new', 'completed', '-6 hours', '-3 hours', '{8}', post => '1 hour');
    PERFORM pg_temp.mk('gone', 'canceled', '5 days', '5 days 2 hours', '{1}');
    -- A running job whose start is still ahead: advance() to a time past its start.
    PERFORM pg_temp.mk('run-ahead', 'confirmed', '1 hour', '3 hours', '{2}');
    PERFORM mojob.advance(now() + interval '90 minutes');
    -- A running job drops a resource: its hold ends now.
    PERFORM mojob.remove_resource(pg_temp.j('run-early'), 6);
END
$$;

SET mojob.actor = 'bob';

-- ---------------------------------------------------------------------
-- mojob.jobs and mojob.job_search
-- ---------------------------------------------------------------------

SELECT set_eq($$ SELECT name FROM mojob.jobs $$,
    ARRAY['run-late', 'run-early', 'run-ahead', 'pool-job', 'up-tent', 'up-draft', 'up-conf',
          'done-old', 'done-new'],
    'mojob.jobs lists every job but the canceled one');
SELECT set_eq($$ SELECT name FROM mojob.job_search $$,
    ARRAY['run-late', 'run-early', 'run-ahead', 'pool-job', 'up-tent', 'up-draft', 'up-conf',
          'done-old', 'done-new', 'gone'],
    'mojob.job_search lists every job, the canceled one too');
SELECT bag_eq($$ SELECT id, state FROM mojob.job_search $$,
    $$ SELECT id, state FROM mojob.job $$,
    'mojob.job_search has each job once, in every state (its parts by state neither miss nor repeat one)');
SELECT is((SELECT array_agg(DISTINCT state ORDER BY state) FROM mojob.job)::text,
    '{draft,tentative,confirmed,running,completed,canceled}',
    'and the jobs above are in every state');
SELECT results_eq($$ SELECT * FROM mojob.jobs ORDER BY id $$,
    $$ SELECT * FROM mojob.job_search WHERE state <> 'canceled' ORDER BY id $$,
    'a row of mojob.jobs is the row of mojob.job_search for the same job');

SELECT is_empty($$
    SELECT a.attname, a.atttypid FROM pg_attribute a
    WHERE a.attrelid = 'mojob.job'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    EXCEPT
    SELECT a.attname, a.atttypid FROM pg_attribute a
    WHERE a.attrelid = 'mojob.job_search'::regclass AND a.attnum > 0 $$,
    'mojob.job_search has every column of mojob.job, with its type');
SELECT is_empty($$
    SELECT a.attname, a.atttypid FROM pg_attribute a
    WHERE a.attrelid = 'mojob.job'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    EXCEPT
    SELECT a.attname, a.atttypid FROM pg_attribute a
    WHERE a.attrelid = 'mojob.jobs'::regclass AND a.attnum > 0 $$,
    'mojob.jobs has every column of mojob.job, with its type');
SELECT is_empty($$
    SELECT a.attname, a.atttypid FROM pg_attribute a
    WHERE a.attrelid = 'mojob.job'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    EXCEPT
    SELECT a.attname, a.atttypid FROM pg_attribute a
    WHERE a.attrelid = 'mojob.ops_board'::regclass AND a.attnum > 0 $$,
    'mojob.ops_board has every column of mojob.job, with its type');
SELECT set_eq($$ SELECT to_jsonb(s) - '{has_error,errors,resources}'::text[] FROM mojob.job_search s $$,
    $$ SELECT to_jsonb(j) FROM mojob.job j $$,
    'the job columns of mojob.job_search hold the values of mojob.job');
SELECT set_eq($$ SELECT to_jsonb(b) - '{board,can_edit,can_delete,can_reserve,can_confirm,can_unconfirm,can_start,can_stop,can_cancel}'::text[]
                 FROM mojob.ops_board b $$,
    $$ SELECT to_jsonb(j) FROM mojob.job j WHERE state <> 'canceled' $$,
    'the job columns of mojob.ops_board hold the values of mojob.job');
SELECT col_type_is('mojob', 'job_search', 'has_error', 'boolean', 'has_error is a boolean');
SELECT col_type_is('mojob', 'job_search', 'errors', 'text[]', 'errors is an array of codes (text[])');
SELECT col_type_is('mojob', 'job_search', 'resources', 'text[]', 'resources is an array of names (text[])');

SELECT results_eq($$ SELECT has_error, errors FROM mojob.jobs WHERE name = 'pool-job' $$,
    $$ VALUES (true, ARRAY['NODE_UNRESOLVED']) $$,
    'a job with an unresolved pool node has an error, NODE_UNRESOLVED');
SELECT results_eq($$ SELECT has_error, errors FROM mojob.jobs WHERE name = 'up-draft' $$,
    $$ VALUES (false, '{}'::text[]) $$,
    'a job without a problem has no error and an empty errors array');
SELECT is((SELECT resources FROM mojob.jobs WHERE name = 'pool-job'), ARRAY['studio-b', '(cameras)'],
    'resources names each node''s resource in node order; an unresolved pool node shows as (pool name)');
SELECT is((SELECT resources FROM mojob.jobs WHERE name = 'run-early'), ARRAY['desk'],
    'resources leaves out a resource a running job no longer uses');
SELECT is((SELECT resources FROM mojob.jobs WHERE name = 'up-draft'), ARRAY['studio-a'],
    'a draft shows the resources assigned to it');

-- ---------------------------------------------------------------------
-- mojob.ops_board: boards and order
-- ---------------------------------------------------------------------

SELECT results_eq($$ SELECT board, name FROM mojob.ops_board $$,
    $$ VALUES ('active'::mojob.board, 'run-early'), ('active', 'run-ahead'), ('active', 'run-late'),
              ('upcoming', 'up-conf'), ('upcoming', 'up-draft'), ('upcoming', 'up-tent'),
              ('upcoming', 'pool-job'),
              ('completed', 'done-new'), ('completed', 'done-old') $$,
    'the ops board shows running jobs as active by end, not-started ones as upcoming by start, completed ones newest end first');
SELECT is_empty($$ SELECT FROM mojob.ops_board WHERE state = 'canceled' $$,
    'a canceled job is not on the ops board');
SELECT is((SELECT array_agg(DISTINCT state::text ORDER BY state::text) FROM mojob.ops_board WHERE board = 'upcoming'),
    ARRAY['confirmed', 'draft', 'tentative'],
    'draft, tentative and confirmed jobs are upcoming');

-- ---------------------------------------------------------------------
-- mojob.ops_board: the actions each state allows now
-- ---------------------------------------------------------------------

SELECT is(pg_temp.flags('up-draft'), 'edit delete reserve',
    'a draft may be edited, deleted and reserved');
SELECT is(pg_temp.flags('up-tent'), 'edit confirm cancel',
    'a tentative job may be edited, confirmed and canceled');
SELECT is(pg_temp.flags('up-conf'), 'edit unconfirm start cancel',
    'a confirmed job may be edited, unconfirmed, started and canceled');
SELECT is(pg_temp.flags('run-early'), 'edit stop',
    'a running job whose start has passed may be edited (its end and metadata) and stopped');
SELECT is(pg_temp.flags('done-new'), 'edit delete',
    'a completed job may be edited (its metadata) and deleted');
SELECT is((SELECT array_agg(a ORDER BY a) FROM unnest(ARRAY['edit', 'delete', 'reserve', 'confirm', 'unconfirm',
                                                          'start', 'stop', 'cancel']) a
           WHERE 'canceled' = ANY (mojob.action_states(a))), ARRAY['delete'],
    'a canceled job (never on the board) may only be deleted');

SELECT is(pg_temp.flags('pool-job'), 'edit cancel',
    'a tentative job with an unresolved pool node cannot be confirmed');
SELECT ok((SELECT start_at > now() FROM mojob.job WHERE name = 'run-ahead')
          AND (SELECT state = 'running' FROM mojob.job WHERE name = 'run-ahead'),
    'advance() to a later time made a running job whose start is still ahead');
SELECT is(pg_temp.flags('run-ahead'), 'edit',
    'a running job whose start is still ahead cannot be stopped');

-- Each flag is true exactly where mojob.state_transitions has the user's
-- edge out of the job's state, for every state (canceled too, through the
-- function the board's flags read), when nothing else stands in the way.
CREATE FUNCTION pg_temp.flag_mismatch(flag text, fn text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT s::text FROM unnest(enum_range(NULL::mojob.job_state)) s
        WHERE mojob.action_open(%L, s) IS DISTINCT FROM
              EXISTS (SELECT FROM mojob.state_transitions t
                      WHERE t.from_state = s AND t.cause = 'user' AND t.function = %L)
        UNION ALL
        SELECT b.name FROM mojob.ops_board b
        WHERE b.name NOT IN ('pool-job', 'run-ahead')
          AND b.%I IS DISTINCT FROM EXISTS (SELECT FROM mojob.state_transitions t
                                            WHERE t.from_state = b.state AND t.cause = 'user'
                                              AND t.function = %L) $q$, substr(flag, 5), fn, flag, fn);
END
$$;
SELECT is_empty($$ SELECT pg_temp.flag_mismatch('can_reserve', 'mojob.reserve(job)') $$,
    'can_reserve is true exactly in the states mojob.reserve() leaves (draft)');
SELECT is_empty($$ SELECT pg_temp.flag_mismatch('can_confirm', 'mojob.confirm(job)') $$,
    'can_confirm is true exactly in the states mojob.confirm() leaves (tentative)');
SELECT is_empty($$ SELECT pg_temp.flag_mismatch('can_unconfirm', 'mojob.unconfirm(job)') $$,
    'can_unconfirm is true exactly in the states mojob.unconfirm() leaves (confirmed)');
SELECT is_empty($$ SELECT pg_temp.flag_mismatch('can_start', 'mojob.start(job)') $$,
    'can_start is true exactly in the states mojob.start() leaves (confirmed)');
SELECT is_empty($$ SELECT pg_temp.flag_mismatch('can_stop', 'mojob.stop(job)') $$,
    'can_stop is true exactly in the states mojob.stop() leaves (running)');
SELECT is_empty($$ SELECT pg_temp.flag_mismatch('can_cancel', 'mojob.cancel(job, reason)') $$,
    'can_cancel is true exactly in the states mojob.cancel() leaves (tentative, confirmed)');

-- And each flag says what the call would do now: true exactly when it
-- succeeds (tried in a subtransaction, then undone).
CREATE FUNCTION pg_temp.works(stmt text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
        RAISE EXCEPTION 'undo' USING ERRCODE = 'ZZ999';
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
        RETURN true;
    WHEN OTHERS THEN
        RETURN false;
    END;
END
$$;
CREATE FUNCTION pg_temp.flags_vs_calls() RETURNS TABLE (name text, action text, flag boolean)
LANGUAGE sql AS $$
    SELECT b.name, a.action, a.flag
    FROM mojob.ops_board b
    CROSS JOIN LATERAL (VALUES
        ('edit', b.can_edit, format('UPDATE mojob.job SET description = %L WHERE id = %s', 'edited', b.id)),
        ('delete', b.can_delete, format('SELECT mojob.delete_job(%s)', b.id)),
        ('reserve', b.can_reserve, format('SELECT mojob.reserve(%s)', b.id)),
        ('confirm', b.can_confirm, format('SELECT mojob.confirm(%s)', b.id)),
        ('unconfirm', b.can_unconfirm, format('SELECT mojob.unconfirm(%s)', b.id)),
        ('start', b.can_start, format('SELECT mojob.start(%s)', b.id)),
        ('stop', b.can_stop, format('SELECT mojob.stop(%s)', b.id)),
        ('cancel', b.can_cancel, format('SELECT mojob.cancel(%s)', b.id))) AS a(action, flag, stmt)
    WHERE a.flag IS DISTINCT FROM pg_temp.works(a.stmt)
$$;
SELECT is_empty($$ SELECT * FROM pg_temp.flags_vs_calls() $$,
    'on every job of the board, each action flag is true exactly when the call succeeds now');

-- Another user's lock: nothing is allowed but starting and stopping (1.1);
-- the holder keeps every action.
SET mojob.actor = 'alice';
DO $$ BEGIN PERFORM mojob.lock_job(pg_temp.j('up-draft')); PERFORM mojob.lock_job(pg_temp.j('up-conf')); END $$;
SET mojob.actor = 'bob';
SELECT is(pg_temp.flags('up-draft'), '',
    'every flag is false on a draft while another user holds its lock');
SELECT is(pg_temp.flags('up-conf'), 'start',
    'every flag but can_start is false on a confirmed job while another user holds its lock');
SELECT is_empty($$ SELECT * FROM pg_temp.flags_vs_calls() $$,
    'with the locks held by another user, each flag is still true exactly when the call succeeds');
SET mojob.actor = 'alice';
SELECT is(pg_temp.flags('up-conf'), 'edit unconfirm start cancel',
    'the lock holder sees every action the state allows');
-- The lock lapses: it stands in nobody's way.
UPDATE mojob.job SET locked_until = now() - interval '1 second' WHERE name = 'up-conf';
SET mojob.actor = 'bob';
SELECT is(pg_temp.flags('up-conf'), 'edit unconfirm start cancel',
    'a lapsed lock blocks no action');

-- ---------------------------------------------------------------------
-- mojob.resource_schedule
-- ---------------------------------------------------------------------

SELECT results_eq($$ SELECT resource, code, held, state::text FROM mojob.resource_schedule
                     ORDER BY resource, lower(held) $$,
    $$ VALUES
        ('cam-2', pg_temp.code('run-ahead'), tstzrange(now() + interval '1 hour', now() + interval '3 hours'), 'running'),
        ('desk', pg_temp.code('run-early'), tstzrange(now() - interval '1 hour', now() + interval '2 hours'), 'running'),
        ('edit-1', pg_temp.code('done-old'), tstzrange(now() - interval '10 hours', now() - interval '8 hours'), 'completed'),
        ('edit-1', pg_temp.code('done-new'), tstzrange(now() - interval '6 hours', now() - interval '2 hours'), 'completed'),
        ('studio-a', pg_temp.code('run-late'), tstzrange(now() - interval '4 hours', now() + interval '4 hours'), 'running'),
        ('studio-b', pg_temp.code('up-tent'), tstzrange(now() + interval '3 days', now() + interval '3 days 2 hours'), 'tentative'),
        ('studio-b', pg_temp.code('pool-job'), tstzrange(now() + interval '4 days', now() + interval '4 days 2 hours'), 'tentative'),
        ('truck', pg_temp.code('up-conf'), tstzrange(now() + interval '1 day', now() + interval '1 day 2 hours'), 'confirmed'),
        ('van', pg_temp.code('run-early'), tstzrange(now() - interval '1 hour', now()), 'running') $$,
    'mojob.resource_schedule has one row per booking: resource, job code, window held and state');
SELECT is_empty($$ SELECT FROM mojob.resource_schedule s JOIN mojob.job j ON j.id = s.job_id
                   WHERE j.state IN ('draft', 'canceled') $$,
    'drafts and canceled jobs hold nothing, so have no row in mojob.resource_schedule');
SELECT is_empty($$ SELECT FROM mojob.resource_schedule s
                   WHERE s.resource_id IS DISTINCT FROM (SELECT id FROM mojob.resource r WHERE r.name = s.resource)
                      OR s.job_id IS DISTINCT FROM (SELECT id FROM mojob.job j WHERE j.code = s.code) $$,
    'resource_id and job_id in mojob.resource_schedule match its resource name and job code');

-- Resolving the pool node: the board, the job's resources and the schedule follow.
DO $$ BEGIN PERFORM mojob.assign_node((SELECT id FROM mojob.job_resource WHERE job_id = pg_temp.j('pool-job') AND resource_id IS NULL), 1); END $$;
SELECT is(pg_temp.flags('pool-job'), 'edit confirm cancel',
    'once its pool node is resolved, a tentative job may be confirmed');
SELECT is((SELECT resources FROM mojob.jobs WHERE name = 'pool-job'), ARRAY['studio-b', 'cam-1'],
    'once resolved, the pool node shows its resource''s name');
SELECT results_eq($$ SELECT held, state::text FROM mojob.resource_schedule
                     WHERE resource = 'cam-1' AND code = pg_temp.code('pool-job') $$,
    $$ VALUES (tstzrange(now() + interval '4 days', now() + interval '4 days 2 hours'), 'tentative') $$,
    'once resolved, the pool node''s booking appears in mojob.resource_schedule');
SELECT results_eq($$ SELECT has_error, errors FROM mojob.jobs WHERE name = 'pool-job' $$,
    $$ VALUES (false, '{}'::text[]) $$,
    'once resolved, the job has no error');

-- ---------------------------------------------------------------------
-- Comments
-- ---------------------------------------------------------------------

SELECT is_empty($$
    SELECT v FROM unnest(ARRAY['mojob.jobs', 'mojob.job_search', 'mojob.ops_board',
                               'mojob.job_errors', 'mojob.resource_schedule']) v
    WHERE coalesce(obj_description(v::regclass, 'pg_class'), '') = '' $$,
    'every operations view has a comment');
SELECT is_empty($$
    SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.oid IN ('mojob.jobs'::regclass, 'mojob.job_search'::regclass, 'mojob.ops_board'::regclass,
                    'mojob.job_errors'::regclass, 'mojob.resource_schedule'::regclass)
      AND a.attnum > 0 AND coalesce(col_description(c.oid, a.attnum), '') = '' $$,
    'every column of the operations views has a comment');
SELECT is_empty($$
    SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.oid IN ('mojob.jobs'::regclass, 'mojob.job_search'::regclass, 'mojob.ops_board'::regclass)
      AND a.attnum > 0
      AND col_description(c.oid, a.attnum) IS DISTINCT FROM
          (SELECT col_description('mojob.job'::regclass, b.attnum) FROM pg_attribute b
           WHERE b.attrelid = 'mojob.job'::regclass AND b.attname = a.attname AND NOT b.attisdropped)
      AND EXISTS (SELECT FROM pg_attribute b WHERE b.attrelid = 'mojob.job'::regclass
                  AND b.attname = a.attname AND NOT b.attisdropped) $$,
    'a job column in a view carries the comment of that column of mojob.job');

-- A draft using a disabled resource cannot be reserved (MJ006): the board says so.
INSERT INTO mojob.resource (id, name, enabled) VALUES (9999, 'retired desk', false);
SELECT id AS retired_job FROM mojob.create_job('uses the retired desk', now() + interval '5 days',
    now() + interval '5 days 1 hour', resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'retired desk')]) \gset
SELECT is((SELECT can_reserve FROM mojob.ops_board WHERE id = :retired_job), false,
    'can_reserve is false for a draft whose resource is disabled');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', :retired_job), 'MJ006', NULL,
    'and reserve refuses it, as the flag said');
SELECT id AS beside_job FROM mojob.create_job('beside the retired desk', now() + interval '5 days',
    now() + interval '5 days 1 hour', resources => ARRAY[3]) \gset
SELECT is((SELECT can_reserve FROM mojob.ops_board WHERE id = :beside_job), true,
    'a draft that does not use the disabled resource may still be reserved');
SELECT is_empty($$ SELECT * FROM pg_temp.flags_vs_calls() $$,
    'with a disabled resource and a resolved pool node, each flag is still true exactly when the call succeeds');

-- mojob.action_states: the states the C tables open each action in.
SELECT is(mojob.action_states('edit')::text, '{draft,tentative,confirmed,running,completed}',
    'action_states(edit): every state but canceled allows some edit');
SELECT is(mojob.action_states('delete')::text, '{draft,completed,canceled}',
    'action_states(delete): draft, completed and canceled jobs may be deleted');
SELECT is_empty($$
    SELECT a FROM unnest(ARRAY['reserve', 'confirm', 'unconfirm', 'start', 'stop', 'cancel']) a
    WHERE mojob.action_states(a)::text[] IS DISTINCT FROM
          (SELECT array_agg(DISTINCT t.from_state ORDER BY t.from_state)::text[]
           FROM mojob.state_transitions t
           WHERE t.cause = 'user' AND t.function LIKE 'mojob.' || a || '(%') $$,
    'action_states of each function is the from-states of its user edges in mojob.state_transitions');
SELECT throws_ok($$ SELECT mojob.action_states('launch') $$, '22023',
    'there is no ops board action "launch"', 'action_states refuses an unknown action (22023)');
SELECT throws_ok($$ SELECT mojob.action_states('advance') $$, '22023',
    'there is no ops board action "advance"',
    'action_states refuses advance: the actions are edit, delete and the user edges of the C table, not the time edges');
SELECT throws_ok($$ SELECT mojob.action_states(NULL) $$, '22023',
    'action must not be null', 'action_states refuses NULL (22023)');

-- mojob.action_open: the same answers, one call per job and action (the
-- board's flags).  Called here with the action changing from row to row, so
-- that what a call site keeps between calls is seen to follow it.
SELECT is_empty($$
    SELECT a, s FROM unnest(ARRAY['edit', 'delete', 'reserve', 'confirm', 'unconfirm', 'start', 'stop',
                                  'cancel', 'edit']) WITH ORDINALITY AS x(a, i),
                     unnest(enum_range(NULL::mojob.job_state)) s
    WHERE mojob.action_open(a, s) IS DISTINCT FROM (s = ANY (mojob.action_states(a))) $$,
    'action_open(action, state) says what state = ANY (action_states(action)) says, for every action and state');
SELECT throws_ok($$ SELECT mojob.action_open('stop', NULL) $$, '22023',
    'state must not be null', 'action_open refuses a NULL state (22023)');
SELECT throws_ok($$ SELECT mojob.action_open('launch', 'draft') $$, '22023',
    'there is no ops board action "launch"', 'action_open refuses an unknown action (22023)');
SELECT throws_ok($$ SELECT mojob.action_open(NULL, 'draft') $$, '22023',
    'action must not be null', 'action_open refuses a NULL action (22023)');
SELECT throws_ok($$ SELECT mojob.action_open(NULL, NULL) $$, '22023',
    'action must not be null', 'action_open refuses a NULL action, whatever the state (22023)');

-- mojob.acting_user: mojob.actor, else session_user.
SET mojob.actor = 'carol';
SELECT is(mojob.acting_user(), 'carol', 'acting_user() is mojob.actor when it is set');
RESET mojob.actor;
SELECT is(mojob.acting_user(), session_user::text, 'acting_user() is session_user otherwise');

-- The board column is an enum in board order: a misspelt board is an error,
-- not an empty board.
SELECT col_type_is('mojob', 'ops_board', 'board', 'mojob.board', 'board is a mojob.board');
SELECT enum_has_labels('mojob', 'board', ARRAY['active', 'upcoming', 'completed'],
    'mojob.board has the three columns, in board order');
SELECT throws_ok($$ SELECT FROM mojob.ops_board WHERE board = 'upcomming' $$, '22P02', NULL,
    'a misspelt board is an error (22P02), not an empty board');
SELECT is(mojob.state_board('running'), 'active'::mojob.board, 'state_board returns a mojob.board');
SELECT set_eq($$ SELECT mojob.state_board(s) FROM unnest(enum_range(NULL::mojob.job_state)) s WHERE s <> 'canceled' $$,
    $$ SELECT unnest(enum_range(NULL::mojob.board)) $$,
    'the labels of mojob.board are the boards of the C state table, each the board of some state');

-- Ties: jobs that start together are upcoming in id order, jobs that ended
-- together are completed in id order (each created here in the reverse order
-- of its name).
SELECT pg_temp.mk('tie-up-2', 'draft', '40 days', '41 days');
SELECT pg_temp.mk('tie-up-1', 'draft', '40 days', '41 days');
SELECT pg_temp.mk('tie-done-2', 'completed', '-41 days', '-40 days');
SELECT pg_temp.mk('tie-done-1', 'completed', '-41 days', '-40 days');
SELECT results_eq($$ SELECT board::text, name FROM mojob.ops_board WHERE name LIKE 'tie-%' $$,
    $$ VALUES ('upcoming', 'tie-up-2'), ('upcoming', 'tie-up-1'),
              ('completed', 'tie-done-2'), ('completed', 'tie-done-1') $$,
    'jobs level on the board are in id order');
SELECT ok(mojob.time_desc(now()) < mojob.time_desc(now() - interval '1 microsecond')
          AND mojob.time_desc(now()) > mojob.time_desc(now() + interval '1 microsecond'),
    'time_desc sorts in the reverse order of its argument (the completed board''s key)');
SELECT is(ARRAY[mojob.time_desc('4714-11-24 00:00:00+00 BC'), mojob.time_desc('294276-12-31 23:59:59.999999+00'),
                mojob.time_desc(mojob.time_desc('9000-01-02 12:00:00+00'))],
          ARRAY['294276-12-31 23:59:59.999999+00', '4714-11-24 00:00:00+00 BC', '9000-01-02 12:00:00+00']::timestamptz[],
    'time_desc maps the range of timestamptz onto itself: its ends swap, and it is its own inverse');
SELECT is(mojob.board_states(mojob.state_board('draft')), ARRAY['draft', 'tentative', 'confirmed']::mojob.job_state[],
    'board_states takes what state_board returns');

-- The upcoming board's usual query, "upcoming, starting before t", reads the
-- index job_upcoming in the board's order: with sorting made prohibitively
-- expensive, the plan still has no Sort.
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
ANALYZE mojob.job;
SET LOCAL enable_sort = off;
SELECT matches(pg_temp.plan_of($$ SELECT * FROM mojob.ops_board
                                  WHERE board = 'upcoming' AND start_at < now() + interval '24 hours' $$),
    'Index Scan using job_upcoming', 'the upcoming board before a time reads the index job_upcoming');
SELECT doesnt_match(pg_temp.plan_of($$ SELECT * FROM mojob.ops_board
                                       WHERE board = 'upcoming' AND start_at < now() + interval '24 hours' $$),
    'Sort', 'and needs no sort');
RESET enable_sort;

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
