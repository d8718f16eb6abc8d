-- History (docs/design.md section 3): one mojob.job_event row per transition,
-- with from, to, cause, the acting user (mojob.actor, else session_user), the
-- cancel reason and the clock time; written by mojob alone.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(31);

SELECT session_user AS me \gset

-- A role that does not own mojob's tables but may write them.
CREATE ROLE mj_life_writer;
GRANT USAGE ON SCHEMA mojob TO mj_life_writer;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA mojob TO mj_life_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA mojob TO mj_life_writer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mojob TO mj_life_writer;

-- The history rows of a job, one line each.
CREATE FUNCTION pg_temp.history(job bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(format('%s>%s %s by %s%s', from_state, to_state, cause, by_user,
                                      coalesce(' (' || reason || ')', '')), '; ' ORDER BY id), '')
    FROM mojob.job_event WHERE job_id = job
$$;

-- The result of a query of one value, or its error as text.
CREATE FUNCTION pg_temp.try(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE query INTO result;
    RETURN result;
EXCEPTION WHEN OTHERS THEN
    RETURN format('ERROR %s: %s', SQLSTATE, SQLERRM);
END
$$;

-- ---------------------------------------------------------------------
-- One row per transition, with the acting user
-- ---------------------------------------------------------------------

SELECT id AS j FROM mojob.create_job('history', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT is(pg_temp.history(:j), '', 'a new job has no history');

SET mojob.actor = 'alice';
SELECT state FROM mojob.reserve(:j) \gset
SELECT is(pg_temp.history(:j), 'draft>tentative user by alice',
    'with SET mojob.actor = alice, the transition is recorded as made by alice');
SET mojob.actor = 'bob';
SELECT state FROM mojob.confirm(:j) \gset
SELECT is(pg_temp.history(:j), 'draft>tentative user by alice; tentative>confirmed user by bob',
    'changing mojob.actor within a transaction records the new actor for the next transition');
RESET mojob.actor;
SELECT state FROM mojob.unconfirm(:j) \gset
SELECT is((SELECT by_user FROM mojob.job_event WHERE job_id = :j ORDER BY id DESC LIMIT 1), :'me',
    'without mojob.actor, the transition is recorded as made by session_user');
SET mojob.actor = '';
SELECT state FROM mojob.confirm(:j) \gset
SELECT is((SELECT by_user FROM mojob.job_event WHERE job_id = :j ORDER BY id DESC LIMIT 1), :'me',
    'an empty mojob.actor counts as unset: session_user is recorded');
RESET mojob.actor;
SELECT state FROM mojob.cancel(:j, 'venue flooded') \gset
SELECT is((SELECT reason FROM mojob.job_event WHERE job_id = :j ORDER BY id DESC LIMIT 1), 'venue flooded',
    'a cancellation records its reason');
SELECT is_empty(format($$SELECT id FROM mojob.job_event WHERE job_id = %s AND to_state <> 'canceled'
                         AND reason IS NOT NULL$$, :j),
    'transitions other than cancel record no reason');
SELECT is((SELECT count(*)::int FROM mojob.job_event WHERE job_id = :j), 5,
    'five transitions wrote five history rows');
SELECT is_empty(format($$SELECT id FROM mojob.job_event WHERE job_id = %s
                         AND NOT (at BETWEEN now() AND clock_timestamp())$$, :j),
    'history rows carry the clock time of the transition, within this transaction');
SELECT is_empty(format($$SELECT id FROM (SELECT id, at, lag(at) OVER (ORDER BY id) AS prev
                                         FROM mojob.job_event WHERE job_id = %s) e
                         WHERE at < prev$$, :j),
    'history ids increase with the time of the transitions');

-- A role that does not own the tables: its transitions are recorded as its session's.
SET ROLE mj_life_writer;
SELECT id AS w FROM mojob.create_job('by writer', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT state FROM mojob.reserve(:w) \gset
UPDATE mojob.job SET state = 'confirmed' WHERE id = :w;
RESET ROLE;
SELECT is(pg_temp.history(:w),
          format('draft>tentative user by %1$s; tentative>confirmed user by %1$s', :'me'),
    'a role that does not own mojob.job moves jobs, by function or UPDATE, and the history names session_user');

-- ---------------------------------------------------------------------
-- A statement that fails leaves no history behind
-- ---------------------------------------------------------------------

SELECT id AS a FROM mojob.create_job('fails late', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT id AS b FROM mojob.create_job('after it', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'tentative', end_at = start_at WHERE id = %s$$, :a),
    '23514', NULL, 'a transition whose row breaks the window check is refused by the table');
SELECT state FROM mojob.reserve(:b) \gset
SELECT results_eq(
    format('SELECT job_id, from_state::text, to_state::text FROM mojob.job_event WHERE id > %s', :mark),
    format($$VALUES (%s::bigint, 'draft', 'tentative')$$, :b),
    'the failed transition left no history row: the next one is recorded alone');

SAVEPOINT before_reserve;
SELECT state FROM mojob.reserve(:a) \gset
ROLLBACK TO SAVEPOINT before_reserve;
SELECT is(pg_temp.history(:a), '', 'a transition rolled back to a savepoint leaves no history');

-- ---------------------------------------------------------------------
-- Only mojob writes the history
-- ---------------------------------------------------------------------

SET ROLE mj_life_writer;
SELECT throws_ok(
    format($$INSERT INTO mojob.job_event (job_id, from_state, to_state, at, by_user, cause)
             VALUES (%s, 'draft', 'tentative', now(), 'mallory', 'user')$$, :a),
    '42501', 'mojob.job_event is written by mojob only',
    'a role that does not own mojob.job_event cannot insert history');
SELECT throws_ok($$UPDATE mojob.job_event SET by_user = 'mallory'$$,
    '42501', 'mojob.job_event is written by mojob only',
    'a role that does not own mojob.job_event cannot update history');
SELECT throws_ok($$DELETE FROM mojob.job_event$$,
    '42501', 'mojob.job_event is written by mojob only',
    'a role that does not own mojob.job_event cannot delete history');
SELECT throws_ok($$TRUNCATE mojob.job_event$$,
    '42501', 'mojob.job_event is written by mojob only',
    'a role that does not own mojob.job_event cannot truncate history');
RESET ROLE;
SELECT is(pg_temp.history(:w),
          format('draft>tentative user by %1$s; tentative>confirmed user by %1$s', :'me'),
    'the refused writes left the history as it was');

-- The owner may write it: that is how a dump is restored.
INSERT INTO mojob.job_event (job_id, from_state, to_state, at, by_user, cause)
VALUES (-1, 'draft', 'tentative', '2020-01-01 00:00+00', 'restored', 'user');
SELECT is(pg_temp.history(-1), 'draft>tentative user by restored',
    'the owner of mojob.job_event can insert history, as a restore does');

-- The history is mojob's own record: a role that may only read it still
-- moves jobs, and its transitions are still recorded: mojob writes the
-- history as the owner of its tables (docs/design.md section 8, "Rights").
CREATE ROLE mj_life_reader;
GRANT USAGE ON SCHEMA mojob TO mj_life_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource TO mj_life_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mj_life_reader;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA mojob TO mj_life_reader;
SELECT id AS rd FROM mojob.create_job('by reader', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SET ROLE mj_life_reader;
SELECT is(pg_temp.try(format('SELECT state::text FROM mojob.reserve(%s)', :rd)), 'tentative',
    'a role with only SELECT on mojob.job_event can still reserve a job');
RESET ROLE;
SET ROLE mj_life_reader;
SELECT throws_ok($$DELETE FROM mojob.job_event$$, '42501', NULL,
    'a role with only SELECT on mojob.job_event cannot delete history');
RESET ROLE;

-- ---------------------------------------------------------------------
-- Several transitions in one statement
-- ---------------------------------------------------------------------

SELECT id AS p FROM mojob.create_job('past', now() - interval '2 hours', now() - interval '1 hour') \gset
SELECT state FROM mojob.reserve(:p) \gset
SET mojob.actor = 'carol';
SELECT state FROM mojob.confirm(:p) \gset
RESET mojob.actor;
SELECT results_eq(
    format($$SELECT from_state::text, to_state::text, cause, by_user FROM mojob.job_event
             WHERE job_id = %s AND to_state <> 'tentative' ORDER BY id$$, :p),
    $$VALUES ('tentative', 'confirmed', 'user', 'carol'), ('confirmed', 'running', 'time', 'carol'),
             ('running', 'completed', 'time', 'carol')$$,
    'a confirm that also runs and completes the job writes three rows in order, all by the acting user');
SELECT is((SELECT count(DISTINCT id)::int FROM mojob.job_event WHERE job_id = :p), 4,
    'each of those rows has its own id');

-- ---------------------------------------------------------------------
-- A site's own trigger on the history fires (mojob then writes the rows
-- with an INSERT rather than directly)
-- ---------------------------------------------------------------------

CREATE TABLE pg_temp.audit (job_id bigint, to_state text, cause text);
CREATE FUNCTION pg_temp.audit_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.audit VALUES (NEW.job_id, NEW.to_state, NEW.cause);
    RETURN NEW;
END
$$;
CREATE TRIGGER site_audit AFTER INSERT ON mojob.job_event
    FOR EACH ROW EXECUTE FUNCTION pg_temp.audit_event();
SELECT id AS au FROM mojob.create_job('audited', now() + interval '2 days', now() + interval '2 days 1 hour') \gset
SELECT state FROM mojob.reserve(:au) \gset
SELECT state FROM mojob.confirm(:au) \gset
SELECT results_eq(format($$SELECT to_state, cause FROM pg_temp.audit WHERE job_id = %s$$, :au),
    $$VALUES ('tentative', 'user'), ('confirmed', 'user')$$,
    'a trigger the site put on mojob.job_event sees every history row mojob writes');
SELECT results_eq(format($$SELECT to_state::text FROM mojob.job_event WHERE job_id = %s ORDER BY id$$, :au),
    $$VALUES ('tentative'), ('confirmed')$$,
    'and the history is written as without it');
DROP TRIGGER site_audit ON mojob.job_event;

-- A CHECK the site adds to the history is enforced on mojob's rows too.
ALTER TABLE mojob.job_event ADD CONSTRAINT site_no_cancel CHECK (to_state <> 'canceled') NOT VALID;
SELECT throws_ok(format('SELECT mojob.cancel(%s, %L)', :au, 'site rule'), '23514', NULL,
    'a CHECK the site put on mojob.job_event applies to the rows mojob writes');
ALTER TABLE mojob.job_event DROP CONSTRAINT site_no_cancel;
SELECT state FROM mojob.cancel(:au, 'allowed again') \gset
SELECT is(:'state'::text, 'canceled', 'without it, the cancel goes through');

-- A site that replaces mojob's CHECK on the history with its own has it
-- enforced too (the rows are then written with an INSERT).
ALTER TABLE mojob.job_event DROP CONSTRAINT job_event_cause_check,
    ADD CONSTRAINT site_cause CHECK (cause = 'user') NOT VALID;
SELECT id AS tm FROM mojob.create_job('timed', now() - interval '2 hours', now() - interval '1 hour') \gset
SELECT state FROM mojob.reserve(:tm) \gset
SELECT throws_ok(format('SELECT mojob.confirm(%s)', :tm), '23514', NULL,
    'a CHECK replacing mojob''s on mojob.job_event applies to the rows mojob writes (a confirm that also makes time transitions)');
ALTER TABLE mojob.job_event DROP CONSTRAINT site_cause,
    ADD CONSTRAINT job_event_cause_check CHECK (cause IN ('user', 'time'));

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
