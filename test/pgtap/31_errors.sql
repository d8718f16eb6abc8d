-- The Error overlay (docs/design.md section 5): each code of mojob.job_errors
-- appears with its cause and goes away with it, at the moment of the query;
-- every row has a message for a person; and the errors/has_error columns of
-- mojob.job_search and mojob.jobs say the same as mojob.job_errors.
-- (RECURRENCE_CONFLICT belongs to recurring jobs, section 7: not here.)
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(51);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name) VALUES
    (1, 'cam-1'), (2, 'cam-2'), (3, 'studio'), (4, 'old-desk'), (5, 'desk'), (6, 'van');
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (1, 1), (1, 2);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;

-- The codes of job label's errors, as mojob.job_errors has them (sorted,
-- each once).
CREATE FUNCTION pg_temp.codes(label text) RETURNS text[]
LANGUAGE sql AS $$
    SELECT coalesce(array_agg(DISTINCT code ORDER BY code), '{}')
    FROM mojob.job_errors WHERE job_id = pg_temp.j(label)
$$;

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

-- ---------------------------------------------------------------------
-- RESOURCE_UNAVAILABLE: a node's resource is disabled
-- ---------------------------------------------------------------------

DO $$ BEGIN PERFORM pg_temp.mk('d-res', 'draft', '2 days', '2 days 2 hours', '{4}'); END $$;
SELECT is(pg_temp.codes('d-res'), '{}',
    'a draft using an enabled resource has no error');
UPDATE mojob.resource SET enabled = false WHERE id = 4;
SELECT is(pg_temp.codes('d-res'), ARRAY['RESOURCE_UNAVAILABLE'],
    'a draft using a resource that is then disabled shows RESOURCE_UNAVAILABLE');
SELECT is((SELECT message FROM mojob.job_errors WHERE job_id = pg_temp.j('d-res')),
    'resource "old-desk" is disabled',
    'the RESOURCE_UNAVAILABLE message names the disabled resource');
SELECT results_eq($$ SELECT has_error, errors FROM mojob.jobs WHERE name = 'd-res' $$,
    $$ VALUES (true, ARRAY['RESOURCE_UNAVAILABLE']) $$,
    'mojob.jobs shows the error on the job');
UPDATE mojob.resource SET enabled = true WHERE id = 4;
SELECT is(pg_temp.codes('d-res'), '{}',
    'enabling the resource again clears RESOURCE_UNAVAILABLE');
SELECT results_eq($$ SELECT has_error, errors FROM mojob.jobs WHERE name = 'd-res' $$,
    $$ VALUES (false, '{}'::text[]) $$,
    'mojob.jobs no longer shows an error once the resource is enabled');
-- Removing the node removes the cause.
UPDATE mojob.resource SET enabled = false WHERE id = 4;
DO $$ BEGIN PERFORM mojob.remove_resource(pg_temp.j('d-res'), 4); END $$;
SELECT is(pg_temp.codes('d-res'), '{}',
    'removing the disabled resource from the draft clears RESOURCE_UNAVAILABLE');

-- Two disabled resources: a row each in mojob.job_errors, the code once in errors.
DO $$ BEGIN PERFORM pg_temp.mk('d-two', 'draft', '2 days', '2 days 2 hours', '{1,2}'); END $$;
UPDATE mojob.resource SET enabled = false WHERE id IN (1, 2);
SELECT set_eq($$ SELECT code, message FROM mojob.job_errors WHERE job_id = pg_temp.j('d-two') $$,
    $$ VALUES ('RESOURCE_UNAVAILABLE', 'resource "cam-1" is disabled'),
              ('RESOURCE_UNAVAILABLE', 'resource "cam-2" is disabled') $$,
    'a draft using two disabled resources has a RESOURCE_UNAVAILABLE row for each');
SELECT is((SELECT errors FROM mojob.jobs WHERE name = 'd-two'), ARRAY['RESOURCE_UNAVAILABLE'],
    'errors lists each code once');
UPDATE mojob.resource SET enabled = true WHERE id IN (1, 2);

-- ---------------------------------------------------------------------
-- NODE_UNRESOLVED: a pool node has no resource
-- ---------------------------------------------------------------------

DO $$ BEGIN PERFORM pg_temp.mk('d-pool', 'draft', '2 days', '2 days 2 hours', '{3}'); END $$;
SELECT is(pg_temp.codes('d-pool'), '{}',
    'a draft with only resolved nodes has no error');
DO $$ BEGIN PERFORM mojob.add_pool_node(pg_temp.j('d-pool'), 1, 'main camera'); END $$;
SELECT is(pg_temp.codes('d-pool'), ARRAY['NODE_UNRESOLVED'],
    'adding a pool node without a resource shows NODE_UNRESOLVED');
SELECT is((SELECT message FROM mojob.job_errors WHERE job_id = pg_temp.j('d-pool')),
    'pool node "main camera" of pool "cameras" has no resource',
    'the NODE_UNRESOLVED message names the node by its alias and its pool');
DO $$ BEGIN PERFORM mojob.add_pool_node(pg_temp.j('d-pool'), 1); END $$;
SELECT is((SELECT count(*)::int FROM mojob.job_errors WHERE job_id = pg_temp.j('d-pool')), 2,
    'each unresolved pool node has its own NODE_UNRESOLVED row');
SELECT set_eq($$ SELECT message FROM mojob.job_errors WHERE job_id = pg_temp.j('d-pool') $$,
    $$ SELECT 'pool node "main camera" of pool "cameras" has no resource'
       UNION ALL
       SELECT format('pool node %s of pool "cameras" has no resource', n.id) FROM mojob.job_resource n
       WHERE n.job_id = pg_temp.j('d-pool') AND n.pool_id = 1 AND n.alias IS NULL $$,
    'a pool node without an alias is named by its id');
DO $$
BEGIN
    PERFORM mojob.assign_node(n.id, 1) FROM mojob.job_resource n
    WHERE n.job_id = pg_temp.j('d-pool') AND n.alias = 'main camera';
END
$$;
SELECT is((SELECT count(*)::int FROM mojob.job_errors WHERE job_id = pg_temp.j('d-pool')), 1,
    'assign_node clears the NODE_UNRESOLVED row of that node only');
DO $$
BEGIN
    PERFORM mojob.assign_node(n.id, 2) FROM mojob.job_resource n
    WHERE n.job_id = pg_temp.j('d-pool') AND n.resource_id IS NULL;
END
$$;
SELECT is(pg_temp.codes('d-pool'), '{}',
    'once every pool node has a resource, NODE_UNRESOLVED is gone');

-- A tentative job too (it holds what it has, and cannot be confirmed yet).
DO $$ BEGIN PERFORM pg_temp.mk('t-pool', 'tentative', '3 days', '3 days 2 hours'); END $$;
DO $$ BEGIN PERFORM mojob.add_pool_node(pg_temp.j('t-pool'), 1, 'cam'); END $$;
SELECT is(pg_temp.codes('t-pool'), ARRAY['NODE_UNRESOLVED'],
    'a tentative job with an unresolved pool node shows NODE_UNRESOLVED');
SELECT throws_ok(format('SELECT mojob.confirm(%s)', pg_temp.j('t-pool')), 'MJ006',
    NULL, 'which is what keeps it from being confirmed (MJ006)');

-- ---------------------------------------------------------------------
-- NOT_CONFIRMED: starting within validation_horizon, still draft or tentative
-- ---------------------------------------------------------------------

DO $$
BEGIN
    PERFORM mojob.create_job('nc-draft', now() + interval '30 minutes', now() + interval '2 hours');
    PERFORM mojob.create_job('nc-tent', now() + interval '20 minutes', now() + interval '2 hours',
                             state => 'tentative', resources => '{5}');
    PERFORM mojob.create_job('nc-edge', now() + interval '60 minutes', now() + interval '2 hours');
    PERFORM mojob.create_job('nc-later', now() + interval '61 minutes', now() + interval '3 hours');
    PERFORM mojob.create_job('nc-far', now() + interval '2 hours 30 minutes', now() + interval '3 hours');
END
$$;
SELECT is(pg_temp.codes('nc-draft'), ARRAY['NOT_CONFIRMED'],
    'a draft starting within the validation horizon (60 minutes) shows NOT_CONFIRMED');
SELECT is(pg_temp.codes('nc-tent'), ARRAY['NOT_CONFIRMED'],
    'a tentative job starting within the validation horizon shows NOT_CONFIRMED');
SELECT is(pg_temp.codes('nc-edge'), ARRAY['NOT_CONFIRMED'],
    'a job starting exactly at the end of the horizon is within it');
SELECT is(pg_temp.codes('nc-later'), '{}',
    'a draft starting after the validation horizon has no error');
SELECT ok((SELECT message FROM mojob.job_errors WHERE job_id = pg_temp.j('nc-tent'))
          ~ '^it starts at .*within the validation horizon of 01:00:00, but is still tentative$',
    'the NOT_CONFIRMED message gives the horizon and the state the job is still in');
DO $$ BEGIN PERFORM mojob.confirm(pg_temp.j('nc-tent')); END $$;
SELECT is(pg_temp.codes('nc-tent'), '{}',
    'confirming the tentative job clears NOT_CONFIRMED');
UPDATE mojob.settings SET validation_horizon = '3 hours';
SELECT is(pg_temp.codes('nc-far'), ARRAY['NOT_CONFIRMED'],
    'a longer validation_horizon brings a later draft within it');
SELECT is(pg_temp.codes('nc-later'), ARRAY['NOT_CONFIRMED'],
    'and the one starting after 61 minutes too');
UPDATE mojob.settings SET validation_horizon = '10 minutes';
SELECT is(pg_temp.codes('nc-draft'), '{}',
    'a shorter validation_horizon leaves a draft starting after it without an error');
SELECT is(pg_temp.codes('nc-far'), '{}',
    'and clears NOT_CONFIRMED from the later draft');
UPDATE mojob.settings SET validation_horizon = '0';
SELECT is_empty($$ SELECT FROM mojob.job_errors WHERE code = 'NOT_CONFIRMED' $$,
    'a validation_horizon of 0 shows NOT_CONFIRMED for no job');
UPDATE mojob.settings SET validation_horizon = '60 minutes';
SELECT is(pg_temp.codes('nc-draft'), ARRAY['NOT_CONFIRMED'],
    'back to 60 minutes, the draft starting in 30 minutes shows NOT_CONFIRMED again');
DO $$ BEGIN PERFORM mojob.reschedule(pg_temp.j('nc-draft'), now() + interval '1 day', now() + interval '1 day 1 hour'); END $$;
SELECT is(pg_temp.codes('nc-draft'), '{}',
    'moving the draft out of the horizon clears NOT_CONFIRMED');

-- ---------------------------------------------------------------------
-- START_MISSED: the start has passed, still draft, tentative or confirmed
-- ---------------------------------------------------------------------

DO $$
BEGIN
    PERFORM pg_temp.mk('sm-draft', 'draft', '-1 hour', '1 hour');
    PERFORM pg_temp.mk('sm-tent', 'tentative', '-2 hours', '1 hour', '{6}');
    PERFORM pg_temp.mk('sm-conf', 'confirmed', '-30 minutes', '2 hours', '{3}');
    PERFORM pg_temp.mk('sm-now', 'confirmed', '0', '2 hours', '{1}');
    PERFORM pg_temp.mk('sm-run', 'running', '-1 hour', '1 hour', '{2}');
    PERFORM pg_temp.mk('sm-done', 'completed', '-3 hours', '-1 hour');
    PERFORM pg_temp.mk('sm-gone', 'canceled', '-3 hours', '1 hour');
END
$$;
SELECT is(pg_temp.codes('sm-draft'), ARRAY['START_MISSED'],
    'a draft whose start has passed shows START_MISSED');
SELECT is(pg_temp.codes('sm-tent'), ARRAY['START_MISSED'],
    'a tentative job whose start has passed shows START_MISSED');
SELECT is(pg_temp.codes('sm-conf'), ARRAY['START_MISSED'],
    'a confirmed job whose start has passed shows START_MISSED');
SELECT is(pg_temp.codes('sm-now'), ARRAY['START_MISSED'],
    'a confirmed job starting exactly now shows START_MISSED (its start is due)');
SELECT ok((SELECT message FROM mojob.job_errors WHERE job_id = pg_temp.j('sm-tent'))
          ~ '^its start at .* has passed, but it is still tentative$',
    'the START_MISSED message gives the state the job is still in');
SELECT is(pg_temp.codes('sm-run'), '{}',
    'a running job has no START_MISSED');
SELECT is(pg_temp.codes('sm-done'), '{}',
    'a completed job has no error');
SELECT is(pg_temp.codes('sm-gone'), '{}',
    'a canceled job has no error');

-- The whole overlay at this moment, as mojob.job_search shows it.
SELECT set_eq($$ SELECT DISTINCT job_id, code FROM mojob.job_errors $$,
    $$ SELECT id, unnest(errors) FROM mojob.job_search $$,
    'mojob.job_errors has exactly the codes of errors in mojob.job_search, job by job');
SELECT is_empty($$ SELECT id FROM mojob.job_search s
                   WHERE s.has_error IS DISTINCT FROM EXISTS (SELECT FROM mojob.job_errors e WHERE e.job_id = s.id)
                      OR s.errors IS NULL $$,
    'has_error is true exactly for the jobs with a row in mojob.job_errors');
SELECT is_empty($$ SELECT * FROM mojob.job_errors
                   WHERE message IS NULL OR message = '' OR message !~ '^[a-z]' OR message ~ '\.$' $$,
    'every error row has a message in PostgreSQL''s style (lower case, no final period)');
SELECT is(ARRAY(SELECT DISTINCT code FROM mojob.job_errors ORDER BY code),
    ARRAY['NODE_UNRESOLVED', 'NOT_CONFIRMED', 'START_MISSED'],
    'at this moment the overlay shows NODE_UNRESOLVED, NOT_CONFIRMED and START_MISSED');

DO $$ BEGIN PERFORM mojob.advance(); END $$;
SELECT results_eq($$ SELECT state::text, pg_temp.codes(name) FROM mojob.job WHERE name IN ('sm-conf', 'sm-now') ORDER BY name $$,
    $$ VALUES ('running', '{}'::text[]), ('running', '{}'::text[]) $$,
    'advance() runs the confirmed jobs whose start has passed, clearing START_MISSED');
SELECT is(pg_temp.codes('sm-tent'), ARRAY['START_MISSED'],
    'advance() does not move a tentative job: it still shows START_MISSED');
DO $$ BEGIN PERFORM mojob.confirm(pg_temp.j('sm-tent')); END $$;
SELECT results_eq($$ SELECT state::text, pg_temp.codes(name) FROM mojob.job WHERE name = 'sm-tent' $$,
    $$ VALUES ('running', '{}'::text[]) $$,
    'confirming a tentative job whose start has passed runs it at once, clearing START_MISSED');
DO $$ BEGIN PERFORM mojob.delete_job(pg_temp.j('sm-draft')); END $$;
SELECT is_empty($$ SELECT FROM mojob.job_errors e WHERE NOT EXISTS (SELECT FROM mojob.job j WHERE j.id = e.job_id) $$,
    'a deleted job leaves no error behind');

-- Several causes at once.
DO $$
BEGIN
    PERFORM mojob.create_job('many', now() + interval '10 minutes', now() + interval '1 hour', resources => '{4}');
    PERFORM mojob.add_pool_node(pg_temp.j('many'), 1);
END
$$;
SELECT is((SELECT errors FROM mojob.jobs WHERE name = 'many'),
    ARRAY['NODE_UNRESOLVED', 'NOT_CONFIRMED', 'RESOURCE_UNAVAILABLE'],
    'a job with several causes lists every code, sorted');
SELECT set_eq($$ SELECT DISTINCT job_id, code FROM mojob.job_errors $$,
    $$ SELECT id, unnest(errors) FROM mojob.job_search $$,
    'mojob.job_errors and the errors of mojob.job_search still agree, job by job');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
