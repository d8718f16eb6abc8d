-- Time (docs/design.md section 2): manual start, stop early, confirming a job
-- whose start has passed, and mojob.advance(at).  Inside one transaction
-- now() is fixed, so every job is placed relative to now().
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(48);

-- The history rows of a job, one line each.
CREATE FUNCTION pg_temp.history(job bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(format('%s>%s %s', from_state, to_state, cause), '; ' ORDER BY id), '')
    FROM mojob.job_event WHERE job_id = job
$$;

-- A confirmed job with the given window and rolls.
CREATE FUNCTION pg_temp.confirmed(label text, s timestamptz, e timestamptz,
                                  pre interval DEFAULT '0', post interval DEFAULT '0')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    j mojob.job;
BEGIN
    SELECT * INTO j FROM mojob.create_job(label, s, e, pre, post);
    SELECT * INTO j FROM mojob.reserve(j.id);
    SELECT * INTO j FROM mojob.confirm(j.id);
    RETURN j.id;
END
$$;

-- ---------------------------------------------------------------------
-- Manual start
-- ---------------------------------------------------------------------

-- Starting 10 minutes early, with a pre-roll that began 50 minutes ago.
SELECT pg_temp.confirmed('early start', now() + interval '10 minutes', now() + interval '1 hour',
                         interval '1 hour', interval '15 minutes') AS j \gset
SELECT * FROM mojob.start(:j) \gset s_
SELECT is(:'s_start_at'::timestamptz, now(), 'a manual start before start_at moves start_at to now');
SELECT is(:'s_pre_roll_start'::timestamptz, now() - interval '50 minutes',
    'a manual start keeps a pre_roll_start that is already past');
SELECT is((:'s_end_at'::timestamptz, :'s_post_roll_end'::timestamptz),
          (now() + interval '1 hour', now() + interval '1 hour 15 minutes'),
    'a manual start leaves end_at and post_roll_end alone');

-- Starting a day early: the pre-roll is pulled to now as well.
SELECT pg_temp.confirmed('day early', now() + interval '1 day', now() + interval '1 day 1 hour',
                         interval '2 hours') AS j \gset
SELECT * FROM mojob.start(:j) \gset s_
SELECT is((:'s_pre_roll_start'::timestamptz, :'s_start_at'::timestamptz), (now(), now()),
    'a manual start before the pre-roll moves pre_roll_start and start_at to now');

-- A confirmed job whose start has already passed (restored by the owner) starts as it is.
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('late start', 'confirmed', now() - interval '20 minutes', now() - interval '10 minutes',
        now() + interval '1 hour', now() + interval '1 hour')
RETURNING id AS j \gset
SELECT * FROM mojob.start(:j) \gset s_
SELECT is((:'s_state'::mojob.job_state, :'s_pre_roll_start'::timestamptz, :'s_start_at'::timestamptz),
          ('running'::mojob.job_state, now() - interval '20 minutes', now() - interval '10 minutes'),
    'a manual start after start_at runs the job without moving its start');

-- A confirmed job whose end has also passed runs and completes at once.
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('very late start', 'confirmed', now() - interval '2 hours', now() - interval '2 hours',
        now() - interval '1 hour', now() - interval '1 hour')
RETURNING id AS j \gset
SELECT is((SELECT state FROM mojob.start(:j)), 'completed',
    'a manual start after end_at leaves the job completed');
SELECT is(pg_temp.history(:j), 'confirmed>running user; running>completed time',
    'that start writes two history rows: running by the user, completed by time');

-- ---------------------------------------------------------------------
-- Stop
-- ---------------------------------------------------------------------

INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('overrun', 'running', now() - interval '3 hours', now() - interval '2 hours',
        now() - interval '1 hour', now() - interval '30 minutes')
RETURNING id AS j \gset
SELECT * FROM mojob.stop(:j) \gset s_
SELECT is((:'s_state'::mojob.job_state, :'s_end_at'::timestamptz, :'s_post_roll_end'::timestamptz),
          ('completed'::mojob.job_state, now() - interval '1 hour', now() - interval '30 minutes'),
    'a stop after end_at completes the job without moving end_at or post_roll_end');

SELECT pg_temp.confirmed('stop early', now() - interval '1 hour', now() + interval '1 hour',
                         interval '0', interval '45 minutes') AS j \gset
SELECT * FROM mojob.stop(:j) \gset s_
SELECT is((:'s_end_at'::timestamptz, :'s_post_roll_end'::timestamptz),
          (now(), now() + interval '45 minutes'),
    'a stop before end_at ends the job now and keeps the post-roll length');
SELECT is(:'s_start_at'::timestamptz, now() - interval '1 hour', 'a stop leaves start_at alone');

-- A job running ahead of time: advance(at) with at after its start, which lies ahead of now.
SELECT pg_temp.confirmed('ahead of time', now() + interval '1 hour', now() + interval '3 hours') AS j \gset
SELECT code AS j_code FROM mojob.job WHERE id = :j \gset
SELECT mojob.advance(now() + interval '2 hours') AS made \gset
SELECT is((SELECT (state, start_at) FROM mojob.job WHERE id = :j),
          ('running'::mojob.job_state, now() + interval '1 hour'),
    'advance to 2 hours ahead runs a job due in an hour, its start still an hour ahead');
SELECT throws_ok(format('SELECT * FROM mojob.stop(%s)', :j), 'MJ002',
    format('running job %s cannot be stopped before its start', :'j_code'),
    'mojob.stop of a running job whose start is still ahead is refused');
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'completed' WHERE id = %s$$, :j), 'MJ002',
    format('running job %s cannot be stopped before its start', :'j_code'),
    'an UPDATE to completed of a running job whose start is still ahead is refused');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'running', 'the refused stops left the job running');

-- Started now and stopped now: t = start_at is refused too.
SELECT pg_temp.confirmed('start and stop', now() + interval '1 hour', now() + interval '2 hours') AS j \gset
SELECT code AS j_code FROM mojob.start(:j) \gset
SELECT throws_ok(format('SELECT * FROM mojob.stop(%s)', :j), 'MJ002',
    format('running job %s cannot be stopped before its start', :'j_code'),
    'mojob.stop at the very instant the job was started is refused');

-- ---------------------------------------------------------------------
-- Confirming a job whose start has passed
-- ---------------------------------------------------------------------

SELECT id AS j FROM mojob.create_job('confirm late', now() - interval '10 minutes', now() + interval '1 hour',
                                     interval '5 minutes') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT * FROM mojob.confirm(:j) \gset c_
SELECT is(:'c_state'::mojob.job_state, 'running', 'confirming a job whose start has passed returns it running');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'running', 'that job is stored as running');
SELECT is(pg_temp.history(:j), 'draft>tentative user; tentative>confirmed user; confirmed>running time',
    'confirming it writes two rows: confirmed by the user, then running by time');
SELECT is((:'c_pre_roll_start'::timestamptz, :'c_start_at'::timestamptz),
          (now() - interval '15 minutes', now() - interval '10 minutes'),
    'a job that runs on being confirmed keeps its start and pre-roll');

SELECT id AS j FROM mojob.create_job('confirm at start', now(), now() + interval '1 hour') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT is((SELECT state FROM mojob.confirm(:j)), 'running',
    'confirming a job whose start is exactly now makes it running');

SELECT id AS j FROM mojob.create_job('confirm after end', now() - interval '2 hours', now() - interval '1 hour') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT is((SELECT state FROM mojob.confirm(:j)), 'completed',
    'confirming a job whose end has passed makes it completed');
SELECT is(pg_temp.history(:j),
          'draft>tentative user; tentative>confirmed user; confirmed>running time; running>completed time',
    'confirming it writes three rows: confirmed by the user, running and completed by time');
SELECT is((SELECT (start_at, end_at) FROM mojob.job WHERE id = :j),
          (now() - interval '2 hours', now() - interval '1 hour'),
    'a job that completes on being confirmed keeps its start and end');

SELECT id AS j FROM mojob.create_job('unconfirmed late', now() - interval '10 minutes', now() + interval '1 hour') \gset
SELECT is((SELECT state FROM mojob.reserve(:j)), 'tentative',
    'reserving a job whose start has passed leaves it tentative: only confirmed jobs run');

-- ---------------------------------------------------------------------
-- mojob.advance(at)
-- ---------------------------------------------------------------------

-- Only the jobs made below exist from here on.
SET session_replication_role = replica;
DELETE FROM mojob.job;
DELETE FROM mojob.job_event;
RESET session_replication_role;

SELECT is(mojob.advance(), 0, 'mojob.advance() with nothing due makes no transition');

SELECT pg_temp.confirmed('starts in 1h', now() + interval '1 hour', now() + interval '3 hours',
                         interval '30 minutes', interval '30 minutes') AS a1 \gset
SELECT pg_temp.confirmed('whole show in 30m-90m', now() + interval '30 minutes', now() + interval '90 minutes',
                         interval '10 minutes', interval '10 minutes') AS a2 \gset
SELECT pg_temp.confirmed('running, ends in 45m', now() - interval '1 hour', now() + interval '45 minutes') AS a3 \gset
SELECT pg_temp.confirmed('starts in 5h', now() + interval '5 hours', now() + interval '6 hours') AS a4 \gset
SELECT id AS a5 FROM mojob.create_job('tentative, starts in 10m', now() + interval '10 minutes', now() + interval '1 hour') \gset
SELECT state FROM mojob.reserve(:a5) \gset
SELECT id AS a6 FROM mojob.create_job('draft, starts in 10m', now() + interval '10 minutes', now() + interval '1 hour') \gset
CREATE TEMP TABLE windows AS SELECT id, pre_roll_start, start_at, end_at, post_roll_end FROM mojob.job;
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset

SELECT is(mojob.advance(now() + interval '2 hours'), 4,
    'advance to 2 hours ahead makes four transitions: one start, one start and end, one end');
SELECT is((SELECT state FROM mojob.job WHERE id = :a1), 'running',
    'a confirmed job whose start has come is running');
SELECT is((SELECT state FROM mojob.job WHERE id = :a2), 'completed',
    'a confirmed job whose start and end have both come is completed');
SELECT results_eq(
    format('SELECT from_state::text, to_state::text, cause FROM mojob.job_event WHERE job_id = %s AND id > %s ORDER BY id', :a2, :mark),
    $$VALUES ('confirmed', 'running', 'time'), ('running', 'completed', 'time')$$,
    'that job has two history rows by time: to running, then to completed');
SELECT is((SELECT state FROM mojob.job WHERE id = :a3), 'completed',
    'a running job whose end has come is completed');
SELECT is((SELECT state FROM mojob.job WHERE id = :a4), 'confirmed',
    'a confirmed job whose start has not come stays confirmed');
SELECT is((SELECT state FROM mojob.job WHERE id = :a5), 'tentative',
    'a tentative job whose start has come stays tentative');
SELECT is((SELECT state FROM mojob.job WHERE id = :a6), 'draft',
    'a draft job whose start has come stays draft');
SELECT set_eq('SELECT id, pre_roll_start, start_at, end_at, post_roll_end FROM mojob.job',
              'SELECT * FROM windows',
    'advance moves no job''s pre_roll_start, start_at, end_at or post_roll_end');
SELECT is((SELECT count(*)::int FROM mojob.job_event WHERE id > :mark), 4,
    'advance writes one history row per transition it made');
SELECT is_empty(format($$SELECT id FROM mojob.job_event WHERE id > %s AND cause <> 'time'$$, :mark),
    'advance''s history rows are all caused by time');
SELECT is_empty(format($$SELECT id FROM mojob.job_event WHERE id > %s
                         AND NOT (at BETWEEN now() AND clock_timestamp())$$, :mark),
    'advance''s history rows carry the clock time they were made at, not the due time');
SELECT is_empty(format($$SELECT id FROM mojob.job_event WHERE id > %s AND by_user <> session_user$$, :mark),
    'advance''s history rows carry the acting user');

SELECT is(mojob.advance(now() + interval '2 hours'), 0, 'advancing to the same instant again makes no transition');
SELECT is(mojob.advance(now() + interval '1 hour'), 0, 'advancing to an earlier instant makes no transition');
SELECT is(mojob.advance(now() + interval '4 hours'), 1, 'advancing to 4 hours ahead completes the job started before');
SELECT is((SELECT (state, start_at, end_at) FROM mojob.job WHERE id = :a1),
          ('completed'::mojob.job_state, now() + interval '1 hour', now() + interval '3 hours'),
    'that job is completed with its start and end as they were');

-- The default instant is now(): a job due exactly now moves, one due a microsecond later does not.
INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('due now', 'confirmed', now(), now() + interval '1 hour') RETURNING id AS n1 \gset
INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('due just after now', 'confirmed', now() + interval '1 microsecond', now() + interval '1 hour')
RETURNING id AS n2 \gset
SELECT is(mojob.advance(), 1, 'mojob.advance() makes the one transition due at now()');
SELECT is((SELECT state FROM mojob.job WHERE id = :n1), 'running', 'the job due exactly now is running');
SELECT is((SELECT state FROM mojob.job WHERE id = :n2), 'confirmed', 'the job due just after now is still confirmed');
SELECT is(pg_typeof(mojob.advance())::text, 'integer', 'mojob.advance returns an integer');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
