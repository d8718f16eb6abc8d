-- Edit locks (docs/design.md sections 3 and 6): lock_job gives the acting user
-- (mojob.actor, else session_user) the lock until now() + lock_timeout;
-- while it is held, another user's change to the job -- by any function,
-- a change to its nodes, or a plain UPDATE/DELETE -- is refused with MJ004
-- naming the holder; force => true takes it over; unlock_job releases it;
-- a lapsed lock blocks nobody; time transitions are never blocked.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(71);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name) VALUES
    (1, 'studio-a'), (2, 'studio-b'), (3, 'cam-1'), (4, 'cam-2'), (5, 'desk'),
    (6, 'van'), (7, 'truck'), (8, 'crew'), (9, 'booth');
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (1, 3), (1, 4);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.code(label text) RETURNS text
LANGUAGE sql AS $$ SELECT code FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.locked(label text) RETURNS text
LANGUAGE sql AS $$ SELECT locked_by FROM mojob.job WHERE name = label $$;
-- The message MJ004 gives for job label locked by holder.
CREATE FUNCTION pg_temp.msg(label text, holder text) RETURNS text
LANGUAGE sql AS $$ SELECT format('job %s is locked by %s', pg_temp.code(label), holder) $$;

-- A job named label in state st from now() + s to now() + e, inserted
-- directly by the table owner (allowed in any state, docs/design.md section 1).
CREATE FUNCTION pg_temp.mk(label text, st mojob.job_state, s interval, e interval,
                           res bigint[] DEFAULT '{}')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    jid bigint;
BEGIN
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, canceled_at)
    VALUES (label, st, now() + s, now() + s, now() + e, now() + e,
            CASE WHEN st = 'canceled' THEN now() END)
    RETURNING id INTO jid;
    INSERT INTO mojob.job_resource (job_id, resource_id)
        SELECT jid, r FROM unnest(res) WITH ORDINALITY AS u(r, n) ORDER BY n;
    RETURN jid;
END
$$;

DO $$
BEGIN
    PERFORM pg_temp.mk('ld', 'draft', '1 day', '1 day 2 hours', '{1}');
    PERFORM mojob.add_pool_node(pg_temp.j('ld'), 1, 'cam');
    PERFORM pg_temp.mk('lt', 'tentative', '2 days', '2 days 2 hours', '{2}');
    PERFORM pg_temp.mk('lc', 'confirmed', '3 days', '3 days 2 hours', '{5}');
    PERFORM pg_temp.mk('lr', 'running', '-1 hour', '1 hour', '{6}');
END
$$;

-- ---------------------------------------------------------------------
-- Taking the lock
-- ---------------------------------------------------------------------

SET mojob.actor = 'alice';
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.lock_job(pg_temp.j('ld')) $$,
    $$ VALUES ('alice', now() + interval '15 minutes') $$,
    'lock_job gives the acting user the lock until now() + lock_timeout (15 minutes)');
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.job WHERE name = 'ld' $$,
    $$ VALUES ('alice', now() + interval '15 minutes') $$,
    'the lock is recorded in mojob.job');
SELECT is((SELECT state::text FROM mojob.job WHERE name = 'ld'), 'draft',
    'taking the lock changes no state');
DO $$
BEGIN
    PERFORM mojob.lock_job(pg_temp.j('lt'));
    PERFORM mojob.lock_job(pg_temp.j('lc'));
    PERFORM mojob.lock_job(pg_temp.j('lr'));
END
$$;
SELECT is(pg_temp.locked('lr'), 'alice', 'a running job can be locked');

-- Everything as it was before bob tries anything.
CREATE TEMP TABLE before AS
    SELECT j.id, j.name, j.state, j.version, j.pre_roll_start, j.post_roll_end,
           (SELECT array_agg(n.resource_id || ':' || n.amount || ':' || coalesce(n.held_until::text, '')
                             ORDER BY n.id)
            FROM mojob.job_resource n WHERE n.job_id = j.id) AS nodes
    FROM mojob.job j;

-- ---------------------------------------------------------------------
-- Another user's changes are refused, naming the holder
-- ---------------------------------------------------------------------

SET mojob.actor = 'bob';
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot reserve a locked job (MJ004, naming the holder)');
SELECT throws_ok(format('SELECT mojob.confirm(%s)', pg_temp.j('lt')), 'MJ004', pg_temp.msg('lt', 'alice'),
    'another user cannot confirm a locked job');
SELECT throws_ok(format('SELECT mojob.cancel(%s, %L)', pg_temp.j('lt'), 'bob says no'), 'MJ004', pg_temp.msg('lt', 'alice'),
    'another user cannot cancel a locked job');
SELECT throws_ok(format('SELECT mojob.unconfirm(%s)', pg_temp.j('lc')), 'MJ004', pg_temp.msg('lc', 'alice'),
    'another user cannot unconfirm a locked job');
-- (1.1) Starting and stopping are not edits: another user may (each is
-- undone at once by the error raised after it, so the job stays as it was).
SELECT throws_ok(format($$DO 'BEGIN RAISE EXCEPTION ''now %%'', (SELECT state FROM mojob.start(%s)); END'$$, pg_temp.j('lc')),
    'P0001', 'now running',
    'another user may start a locked job (1.1: a live show is always startable)');
SELECT throws_ok(format($$DO 'BEGIN RAISE EXCEPTION ''now %%'', (SELECT state FROM mojob.stop(%s)); END'$$, pg_temp.j('lr')),
    'P0001', 'now completed',
    'another user may stop a locked job (1.1: and always stoppable)');
SELECT throws_ok(format('SELECT mojob.reschedule(%s, now() + interval ''5 days'', now() + interval ''6 days'')', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot reschedule a locked job');
SELECT throws_ok(format('SELECT mojob.add_resource(%s, 7)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot add a resource to a locked job (a node change is a change to the job)');
SELECT throws_ok(format('SELECT mojob.add_pool_node(%s, 1)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot add a pool node to a locked job');
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 3)',
                        (SELECT id FROM mojob.job_resource WHERE job_id = pg_temp.j('ld') AND resource_id IS NULL)),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot assign a locked job''s pool node');
SELECT throws_ok(format('SELECT mojob.remove_resource(%s, 1)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot remove a resource from a locked job');
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 2, 8)', pg_temp.j('lt')), 'MJ004', pg_temp.msg('lt', 'alice'),
    'another user cannot swap a resource of a locked job');
SELECT throws_ok(format('UPDATE mojob.job SET name = %L WHERE id = %s', 'renamed by bob', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot change a locked job with a plain UPDATE');
SELECT throws_ok(format('UPDATE mojob.job SET end_at = end_at + interval ''1 hour'', post_roll_end = post_roll_end + interval ''1 hour'' WHERE id = %s', pg_temp.j('lr')),
    'MJ004', pg_temp.msg('lr', 'alice'),
    'another user cannot move the end of a locked running job');
SELECT throws_ok(format('UPDATE mojob.job SET state = ''tentative'' WHERE id = %s', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot move a locked job with a plain UPDATE of its state');
SELECT throws_ok(format('DELETE FROM mojob.job WHERE id = %s', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot delete a locked job with a plain DELETE');
SELECT throws_ok(format('SELECT mojob.delete_job(%s)', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot delete a locked job with delete_job');
SELECT throws_ok(format('INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (%s, 9)', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot add a node to a locked job with a plain INSERT');
SELECT throws_ok(format('UPDATE mojob.job_resource SET amount = 1 WHERE job_id = %s', pg_temp.j('lt')),
    'MJ004', pg_temp.msg('lt', 'alice'),
    'another user cannot change a locked job''s node with a plain UPDATE');
SELECT throws_ok(format('DELETE FROM mojob.job_resource WHERE job_id = %s', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot delete a locked job''s node with a plain DELETE');
SELECT throws_ok(format('UPDATE mojob.job SET locked_by = NULL, locked_until = NULL WHERE id = %s', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot clear the lock with a plain UPDATE');
SELECT throws_ok(format('UPDATE mojob.job SET locked_by = %L, name = %L WHERE id = %s', 'bob', 'mine now', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot take the lock and change the job in the same UPDATE');
SELECT throws_ok(format('SELECT mojob.lock_job(%s)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot take the lock without force');
SELECT throws_ok(format('SELECT mojob.unlock_job(%s)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'alice'),
    'another user cannot release the lock');
SELECT is_empty($$
    SELECT j.id, j.name, j.state, j.version, j.pre_roll_start, j.post_roll_end,
           (SELECT array_agg(n.resource_id || ':' || n.amount || ':' || coalesce(n.held_until::text, '')
                             ORDER BY n.id)
            FROM mojob.job_resource n WHERE n.job_id = j.id)
    FROM mojob.job j
    EXCEPT SELECT * FROM before $$,
    'the refused changes changed nothing: jobs, versions and nodes are as they were');
SELECT is((SELECT count(*)::int FROM mojob.job_event), 0,
    'the refused transitions wrote no history');

-- ---------------------------------------------------------------------
-- The holder may change the job
-- ---------------------------------------------------------------------

SET mojob.actor = 'alice';
SELECT lives_ok(format('UPDATE mojob.job SET name = %L WHERE id = %s', 'ld', pg_temp.j('ld')),
    'the holder may change her locked job with a plain UPDATE');
SELECT is((SELECT state::text FROM mojob.add_resource(pg_temp.j('ld'), 7) n JOIN mojob.job j ON j.id = n.job_id),
    'draft', 'the holder may add a resource to her locked job');
SELECT is((SELECT state::text FROM mojob.reserve(pg_temp.j('ld'))), 'tentative',
    'the holder may reserve her locked job');
SELECT is((SELECT by_user FROM mojob.job_event WHERE job_id = pg_temp.j('ld') AND to_state = 'tentative'), 'alice',
    'the history names the holder as the user who reserved it');
SELECT is((SELECT state::text FROM mojob.confirm(pg_temp.j('lt'))), 'confirmed',
    'the holder may confirm her locked job');
SELECT is(pg_temp.locked('ld'), 'alice', 'the lock stays through the holder''s changes');
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.lock_job(pg_temp.j('ld')) $$,
    $$ VALUES ('alice', now() + interval '15 minutes') $$,
    'the holder may take her lock again without force');

-- ---------------------------------------------------------------------
-- Force: a takeover; the former holder is then refused
-- ---------------------------------------------------------------------

SET mojob.actor = 'bob';
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.lock_job(pg_temp.j('ld'), force => true) $$,
    $$ VALUES ('bob', now() + interval '15 minutes') $$,
    'lock_job with force => true takes the lock over from another user');
SELECT is((SELECT state::text FROM mojob.job WHERE name = 'ld'), 'tentative',
    'a takeover changes nothing but the lock');
SET mojob.actor = 'alice';
SELECT throws_ok(format('UPDATE mojob.job SET name = %L WHERE id = %s', 'alice again', pg_temp.j('ld')),
    'MJ004', pg_temp.msg('ld', 'bob'),
    'after a takeover the former holder''s next change is refused, naming the new holder');
SELECT throws_ok(format('SELECT mojob.cancel(%s)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'bob'),
    'after a takeover the former holder cannot cancel the job');
SELECT throws_ok(format('SELECT mojob.lock_job(%s)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'bob'),
    'after a takeover the former holder cannot take the lock back without force');
SELECT throws_ok(format('SELECT mojob.unlock_job(%s)', pg_temp.j('ld')), 'MJ004', pg_temp.msg('ld', 'bob'),
    'after a takeover the former holder cannot release the lock');
SET mojob.actor = 'bob';
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.unlock_job(pg_temp.j('ld')) $$,
    $$ VALUES (NULL::text, NULL::timestamptz) $$,
    'unlock_job by the holder releases the lock');
SET mojob.actor = 'alice';
SELECT lives_ok(format('UPDATE mojob.job SET name = %L WHERE id = %s', 'free again', pg_temp.j('ld')),
    'once released, anyone may change the job');

-- A plain UPDATE of the lock columns alone, to oneself, is a takeover too.
SET mojob.actor = 'carol';
SELECT lives_ok(format('UPDATE mojob.job SET locked_by = %L, locked_until = now() + interval ''1 hour'' WHERE id = %s',
                       'carol', pg_temp.j('lt')),
    'a plain UPDATE taking another user''s lock (locked_by and locked_until alone, to oneself) is a takeover');
SELECT is(pg_temp.locked('lt'), 'carol', 'after which the updating user holds the lock');

-- ---------------------------------------------------------------------
-- lock_timeout, and lapsed locks
-- ---------------------------------------------------------------------

UPDATE mojob.settings SET lock_timeout = '5 minutes';
SET mojob.actor = 'alice';
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.lock_job(pg_temp.j('lc')) $$,
    $$ VALUES ('alice', now() + interval '5 minutes') $$,
    'lock_job uses the current settings.lock_timeout');
UPDATE mojob.settings SET lock_timeout = '15 minutes';

-- The lock lapses (locked_until passes: set here by the holder).
UPDATE mojob.job SET locked_until = now() - interval '1 second' WHERE id = pg_temp.j('lc');
SET mojob.actor = 'bob';
SELECT is((SELECT state::text FROM mojob.unconfirm(pg_temp.j('lc'))), 'tentative',
    'a lapsed lock does not block another user''s transition');
SELECT lives_ok(format('UPDATE mojob.job SET description = %L WHERE id = %s', 'bob was here', pg_temp.j('lc')),
    'a lapsed lock does not block another user''s plain UPDATE');
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.lock_job(pg_temp.j('lc')) $$,
    $$ VALUES ('bob', now() + interval '15 minutes') $$,
    'another user may take a lapsed lock without force');

-- A lapsed lock written directly by the table owner.
DO $$
BEGIN
    PERFORM pg_temp.mk('lapsed', 'draft', '4 days', '4 days 1 hour');
    UPDATE mojob.job SET locked_by = 'carol', locked_until = now() - interval '1 minute'
    WHERE name = 'lapsed';
END
$$;
SELECT lives_ok(format('DELETE FROM mojob.job WHERE id = %s', pg_temp.j('lapsed')),
    'a lapsed lock does not block another user''s DELETE');
DO $$
BEGIN
    PERFORM pg_temp.mk('lapsed-2', 'draft', '4 days', '4 days 1 hour');
    UPDATE mojob.job SET locked_by = 'carol', locked_until = now() - interval '1 minute'
    WHERE name = 'lapsed-2';
END
$$;
SELECT results_eq($$ SELECT locked_by, locked_until FROM mojob.unlock_job(pg_temp.j('lapsed-2')) $$,
    $$ VALUES (NULL::text, NULL::timestamptz) $$,
    'another user may clear a lapsed lock with unlock_job');

-- ---------------------------------------------------------------------
-- Time is never blocked
-- ---------------------------------------------------------------------

DO $$
BEGIN
    PERFORM pg_temp.mk('due', 'confirmed', '-10 minutes', '50 minutes', '{9}');
    UPDATE mojob.job SET locked_by = 'alice', locked_until = now() + interval '10 minutes'
    WHERE name = 'due';
END
$$;
SET mojob.actor = 'bob';
SELECT is(mojob.advance(), 1, 'advance() makes the transition due now');
SELECT results_eq($$ SELECT state::text, locked_by FROM mojob.job WHERE name = 'due' $$,
    $$ VALUES ('running', 'alice') $$,
    'advance() moves a job locked by another user, and leaves the lock as it is');
SELECT results_eq($$ SELECT cause, by_user FROM mojob.job_event WHERE job_id = pg_temp.j('due') $$,
    $$ VALUES ('time', 'bob') $$,
    'the transition is recorded as made by time');
SELECT is(mojob.advance(now() + interval '2 hours'), 2,
    'advance() to a later time completes the locked running jobs whose end comes before it');
SELECT results_eq($$ SELECT name, state::text, locked_by FROM mojob.job WHERE name IN ('due', 'lr') ORDER BY name $$,
    $$ VALUES ('due', 'completed', 'alice'), ('lr', 'completed', 'alice') $$,
    'both locked running jobs completed, still locked by alice');
SET mojob.actor = 'alice';
SELECT results_eq($$ SELECT locked_by FROM mojob.lock_job(pg_temp.j('due')) $$,
    $$ VALUES ('alice') $$,
    'a completed job can be locked (its metadata may still change)');

-- ---------------------------------------------------------------------
-- Canceled jobs, the acting user, arguments
-- ---------------------------------------------------------------------

DO $$ BEGIN PERFORM pg_temp.mk('gone', 'canceled', '5 days', '5 days 1 hour'); END $$;
SELECT throws_ok(format('SELECT mojob.lock_job(%s)', pg_temp.j('gone')), 'MJ002', NULL,
    'a canceled job cannot be locked (MJ002: it is read-only)');
SELECT throws_ok(format('SELECT mojob.lock_job(%s, force => true)', pg_temp.j('gone')), 'MJ002', NULL,
    'nor with force');

-- The holder cancels her locked job: she may still release the lock.
DO $$
BEGIN
    PERFORM pg_temp.mk('cx', 'tentative', '6 days', '6 days 1 hour');
    PERFORM mojob.lock_job(pg_temp.j('cx'));
    PERFORM mojob.cancel(pg_temp.j('cx'), 'no longer needed');
END
$$;
SELECT lives_ok(format('SELECT mojob.unlock_job(%s)', pg_temp.j('cx')),
    'the holder may release her lock on a job she has canceled');
SELECT is(pg_temp.locked('cx'), NULL, 'which leaves the canceled job unlocked');

RESET mojob.actor;
SELECT is((SELECT locked_by FROM mojob.lock_job(pg_temp.j('lt'), force => true)), session_user::text,
    'without mojob.actor the acting user is session_user');

SELECT throws_ok('SELECT mojob.lock_job(NULL)', '22023', NULL, 'lock_job(NULL) is refused (22023)');
SELECT throws_ok(format('SELECT mojob.lock_job(%s, NULL)', pg_temp.j('lt')), '22023', NULL,
    'lock_job with force => NULL is refused (22023)');
SELECT throws_ok('SELECT mojob.lock_job(987654)', 'MJ404', NULL, 'lock_job of an unknown job is MJ404');
SELECT throws_ok('SELECT mojob.unlock_job(NULL)', '22023', NULL, 'unlock_job(NULL) is refused (22023)');
SELECT throws_ok('SELECT mojob.unlock_job(987654)', 'MJ404', NULL, 'unlock_job of an unknown job is MJ404');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
