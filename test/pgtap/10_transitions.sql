-- The state graph (docs/design.md section 1): mojob.state_transitions, the state
-- colours, and every allowed edge made both by its function and by a plain
-- UPDATE of mojob.job, with its side effects and its history row.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(62);

\ir helpers/job_in.psql

-- The history rows of a job written after event id "after", one line each.
CREATE FUNCTION pg_temp.history(job bigint, after bigint DEFAULT 0) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(format('%s>%s %s by %s%s', from_state, to_state, cause, by_user,
                                      coalesce(' (' || reason || ')', '')), '; ' ORDER BY id), '')
    FROM mojob.job_event WHERE job_id = job AND id > after
$$;

-- ---------------------------------------------------------------------
-- The graph and the colours
-- ---------------------------------------------------------------------

SELECT set_eq(
    'SELECT from_state::text, to_state::text, cause, function FROM mojob.state_transitions',
    $$VALUES ('draft', 'tentative', 'user', 'mojob.reserve(job)'),
             ('tentative', 'confirmed', 'user', 'mojob.confirm(job)'),
             ('confirmed', 'tentative', 'user', 'mojob.unconfirm(job)'),
             ('confirmed', 'running', 'time', 'mojob.advance()'),
             ('confirmed', 'running', 'user', 'mojob.start(job)'),
             ('running', 'completed', 'time', 'mojob.advance()'),
             ('running', 'completed', 'user', 'mojob.stop(job)'),
             ('tentative', 'canceled', 'user', 'mojob.cancel(job, reason)'),
             ('confirmed', 'canceled', 'user', 'mojob.cancel(job, reason)')$$,
    'mojob.state_transitions lists the transitions of the design');
SELECT is((SELECT count(*)::int FROM mojob.state_transitions), 9,
    'mojob.state_transitions has exactly nine rows, none twice');
SELECT is_empty(
    $$SELECT from_state FROM mojob.state_transitions
      WHERE from_state IN ('completed', 'canceled') OR from_state = to_state$$,
    'no transition leaves completed or canceled, and none stays in its state');

SELECT is(mojob.state_color('draft'), '#9140D9', 'draft is drawn #9140D9');
SELECT is(mojob.state_color('tentative'), '#F7EC15', 'tentative is drawn #F7EC15');
SELECT is(mojob.state_color('confirmed'), '#348D42', 'confirmed is drawn #348D42');
SELECT is(mojob.state_color('running'), '#4CEF8E', 'running is drawn #4CEF8E');
SELECT is(mojob.state_color('completed'), '#4A41E6', 'completed is drawn #4A41E6');
SELECT is(mojob.state_color('canceled'), '#FC7D76', 'canceled is drawn #FC7D76');

-- ---------------------------------------------------------------------
-- Each allowed edge by its function
-- ---------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset

-- draft -> tentative: mojob.reserve
SELECT id AS j, version AS v FROM pg_temp.job_in('draft') \gset
SELECT is((SELECT state FROM mojob.reserve(:j)), 'tentative',
    'mojob.reserve returns a draft job as tentative');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'tentative',
    'mojob.reserve stores the draft job as tentative');
SELECT is((SELECT version FROM mojob.job WHERE id = :j), :v + 1::bigint,
    'mojob.reserve bumps the version by one');
SELECT is(pg_temp.history(:j, :mark), format('draft>tentative user by %s', session_user),
    'mojob.reserve writes one history row draft -> tentative by the user');

-- tentative -> confirmed: mojob.confirm
SELECT id AS j FROM pg_temp.job_in('tentative') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT is((SELECT state FROM mojob.confirm(:j)), 'confirmed',
    'mojob.confirm returns a tentative job as confirmed');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'confirmed',
    'mojob.confirm stores the tentative job as confirmed');
SELECT is(pg_temp.history(:j, :mark), format('tentative>confirmed user by %s', session_user),
    'mojob.confirm of a job starting later writes one history row tentative -> confirmed');

-- confirmed -> tentative: mojob.unconfirm
SELECT id AS j FROM pg_temp.job_in('confirmed') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT is((SELECT state FROM mojob.unconfirm(:j)), 'tentative',
    'mojob.unconfirm returns a confirmed job as tentative');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'tentative',
    'mojob.unconfirm stores the confirmed job as tentative');
SELECT is(pg_temp.history(:j, :mark), format('confirmed>tentative user by %s', session_user),
    'mojob.unconfirm writes one history row confirmed -> tentative');

-- confirmed -> running: mojob.start, an hour early
SELECT id AS j FROM mojob.create_job('start me', now() + interval '1 hour', now() + interval '2 hours',
                                     interval '30 minutes', interval '15 minutes') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT state FROM mojob.confirm(:j) \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT is((SELECT state FROM mojob.start(:j)), 'running',
    'mojob.start returns a confirmed job as running');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'running',
    'mojob.start stores the confirmed job as running');
SELECT is((SELECT start_at FROM mojob.job WHERE id = :j), now(),
    'mojob.start before start_at moves start_at to now');
SELECT is((SELECT pre_roll_start FROM mojob.job WHERE id = :j), now(),
    'mojob.start before the pre-roll moves pre_roll_start to now');
SELECT is((SELECT (end_at, post_roll_end) FROM mojob.job WHERE id = :j),
          (now() + interval '2 hours', now() + interval '2 hours 15 minutes'),
    'mojob.start leaves end_at and post_roll_end as they were');
SELECT is(pg_temp.history(:j, :mark), format('confirmed>running user by %s', session_user),
    'mojob.start writes one history row confirmed -> running by the user');

-- running -> completed: mojob.stop, an hour early
SELECT id AS j FROM mojob.create_job('stop me', now() - interval '1 hour', now() + interval '1 hour',
                                     interval '10 minutes', interval '30 minutes') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT state FROM mojob.confirm(:j) \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT is((SELECT state FROM mojob.stop(:j)), 'completed',
    'mojob.stop returns a running job as completed');
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'completed',
    'mojob.stop stores the running job as completed');
SELECT is((SELECT end_at FROM mojob.job WHERE id = :j), now(),
    'mojob.stop before end_at moves end_at to now');
SELECT is((SELECT post_roll_end FROM mojob.job WHERE id = :j), now() + interval '30 minutes',
    'mojob.stop keeps the length of the post-roll');
SELECT is((SELECT (pre_roll_start, start_at) FROM mojob.job WHERE id = :j),
          (now() - interval '1 hour 10 minutes', now() - interval '1 hour'),
    'mojob.stop leaves pre_roll_start and start_at as they were');
SELECT is(pg_temp.history(:j, :mark), format('running>completed user by %s', session_user),
    'mojob.stop writes one history row running -> completed by the user');

-- tentative -> canceled: mojob.cancel
SELECT id AS j FROM pg_temp.job_in('tentative') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT is((SELECT state FROM mojob.cancel(:j, 'rain')), 'canceled',
    'mojob.cancel returns a tentative job as canceled');
SELECT is((SELECT (state, canceled_at, cancel_reason) FROM mojob.job WHERE id = :j),
          ('canceled'::mojob.job_state, now(), 'rain'::text),
    'mojob.cancel of a tentative job stores canceled, canceled_at = now and the reason');
SELECT is(pg_temp.history(:j, :mark), format('tentative>canceled user by %s (rain)', session_user),
    'mojob.cancel writes one history row tentative -> canceled with the reason');

-- confirmed -> canceled: mojob.cancel, without a reason
SELECT id AS j FROM pg_temp.job_in('confirmed') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT is((SELECT state FROM mojob.cancel(:j)), 'canceled',
    'mojob.cancel returns a confirmed job as canceled');
SELECT is((SELECT (state, canceled_at, cancel_reason) FROM mojob.job WHERE id = :j),
          ('canceled'::mojob.job_state, now(), NULL::text),
    'mojob.cancel of a confirmed job without a reason stores canceled, canceled_at = now and no reason');
SELECT is(pg_temp.history(:j, :mark), format('confirmed>canceled user by %s', session_user),
    'mojob.cancel writes one history row confirmed -> canceled without a reason');

-- ---------------------------------------------------------------------
-- Each allowed edge by a plain UPDATE, which the trigger treats the same
-- ---------------------------------------------------------------------

-- draft -> tentative
SELECT id AS j, version AS v FROM pg_temp.job_in('draft') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'tentative' WHERE id = :j;
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'tentative',
    'UPDATE ... SET state = tentative moves a draft job to tentative');
SELECT is((SELECT (version, updated_at) FROM mojob.job WHERE id = :j), (:v + 1::bigint, now()),
    'the UPDATE to tentative bumps the version and sets updated_at');
SELECT is(pg_temp.history(:j, :mark), format('draft>tentative user by %s', session_user),
    'the UPDATE to tentative writes one history row draft -> tentative');

-- tentative -> confirmed
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'confirmed' WHERE id = :j;
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'confirmed',
    'UPDATE ... SET state = confirmed moves a tentative job to confirmed');
SELECT is(pg_temp.history(:j, :mark), format('tentative>confirmed user by %s', session_user),
    'the UPDATE to confirmed writes one history row tentative -> confirmed');

-- confirmed -> tentative
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'tentative' WHERE id = :j;
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'tentative',
    'UPDATE ... SET state = tentative moves a confirmed job back to tentative');
SELECT is(pg_temp.history(:j, :mark), format('confirmed>tentative user by %s', session_user),
    'the UPDATE back to tentative writes one history row confirmed -> tentative');

-- tentative -> canceled, with the reason in the same UPDATE
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'canceled', cancel_reason = 'no crew' WHERE id = :j;
SELECT is((SELECT (state, canceled_at, cancel_reason) FROM mojob.job WHERE id = :j),
          ('canceled'::mojob.job_state, now(), 'no crew'::text),
    'UPDATE ... SET state = canceled, cancel_reason = ... cancels a tentative job with canceled_at = now');
SELECT is(pg_temp.history(:j, :mark), format('tentative>canceled user by %s (no crew)', session_user),
    'the UPDATE to canceled writes one history row tentative -> canceled with the reason');

-- confirmed -> canceled
SELECT id AS j FROM pg_temp.job_in('confirmed') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'canceled' WHERE id = :j;
SELECT is((SELECT (state, canceled_at) FROM mojob.job WHERE id = :j),
          ('canceled'::mojob.job_state, now()),
    'UPDATE ... SET state = canceled cancels a confirmed job with canceled_at = now');
SELECT is(pg_temp.history(:j, :mark), format('confirmed>canceled user by %s', session_user),
    'the UPDATE to canceled writes one history row confirmed -> canceled');

-- confirmed -> running: a manual start, two hours early, pre-roll already begun
SELECT id AS j FROM mojob.create_job('start by update', now() + interval '2 hours', now() + interval '3 hours',
                                     interval '3 hours') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT state FROM mojob.confirm(:j) \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'running' WHERE id = :j;
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'running',
    'UPDATE ... SET state = running starts a confirmed job');
SELECT is((SELECT start_at FROM mojob.job WHERE id = :j), now(),
    'the UPDATE to running before start_at moves start_at to now');
SELECT is((SELECT pre_roll_start FROM mojob.job WHERE id = :j), now() - interval '1 hour',
    'the UPDATE to running keeps a pre_roll_start that is already past');
SELECT is(pg_temp.history(:j, :mark), format('confirmed>running user by %s', session_user),
    'the UPDATE to running writes one history row confirmed -> running by the user');

-- running -> completed: stop early by UPDATE
SELECT id AS j FROM mojob.create_job('stop by update', now() - interval '1 hour', now() + interval '1 hour',
                                     interval '0', interval '20 minutes') \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT state FROM mojob.confirm(:j) \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'completed' WHERE id = :j;
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'completed',
    'UPDATE ... SET state = completed stops a running job');
SELECT is((SELECT (end_at, post_roll_end) FROM mojob.job WHERE id = :j),
          (now(), now() + interval '20 minutes'),
    'the UPDATE to completed ends the job now and keeps the post-roll length');
SELECT is(pg_temp.history(:j, :mark), format('running>completed user by %s', session_user),
    'the UPDATE to completed writes one history row running -> completed by the user');

-- An UPDATE through the graph returns the row as the trigger left it.
SELECT id AS j FROM pg_temp.job_in('confirmed') \gset
CREATE TEMP TABLE returned AS
    WITH u AS (UPDATE mojob.job SET state = 'running' WHERE id = :j RETURNING state, start_at)
    SELECT * FROM u;
SELECT is((SELECT (state, start_at) FROM returned), ('running'::mojob.job_state, now()),
    'UPDATE ... RETURNING shows the started job with start_at = now');

-- A statement that moves several jobs writes one history row per job.
SELECT id AS a FROM pg_temp.job_in('draft', 'bulk a') \gset
SELECT id AS b FROM pg_temp.job_in('draft', 'bulk b') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
UPDATE mojob.job SET state = 'tentative' WHERE id IN (:a, :b);
SELECT is((SELECT count(*)::int FROM mojob.job WHERE id IN (:a, :b) AND state = 'tentative'), 2,
    'one UPDATE reserves two draft jobs');
SELECT set_eq(
    format('SELECT job_id, from_state::text, to_state::text FROM mojob.job_event WHERE id > %s', :mark),
    format($$VALUES (%s::bigint, 'draft', 'tentative'), (%s, 'draft', 'tentative')$$, :a, :b),
    'a bulk UPDATE writes one history row for each job it moves');

-- The fixture helper reaches running and completed through confirm alone.
SELECT id AS j FROM pg_temp.job_in('running') \gset
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'running',
    'confirming a job whose start passed an hour ago leaves it running');
SELECT id AS j FROM pg_temp.job_in('completed') \gset
SELECT is((SELECT state FROM mojob.job WHERE id = :j), 'completed',
    'confirming a job whose end passed an hour ago leaves it completed');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
