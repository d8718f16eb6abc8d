-- mojob.duplicate(job, start_at) (docs/design.md section 3): a new draft with its
-- own code and the same name, length, rolls, nodes (resource, pool, alias,
-- amount, required capabilities -- not the nodes a running job has already
-- released), description, priority and properties, starting at start_at or
-- at the original's start; no lock, no history, version 1.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(42);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, capacity, capabilities) VALUES
    (1, 'studio', 10, '{}'), (2, 'cam-1', NULL, '{uhd}'), (3, 'cam-2', NULL, '{}'),
    (4, 'desk', NULL, '{}'), (5, 'van', NULL, '{}'), (6, 'truck', NULL, '{}'),
    (7, 'crew', NULL, '{}');
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (1, 2), (1, 3);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label ORDER BY id LIMIT 1 $$;

-- The nodes of a job as comparable rows, in node order.
CREATE FUNCTION pg_temp.nodes(job bigint)
RETURNS TABLE (resource_id bigint, pool_id bigint, alias text, amount numeric,
               required_capabilities text[], held_from timestamptz, held_until timestamptz)
LANGUAGE sql AS $$
    SELECT resource_id, pool_id, alias, amount, required_capabilities, held_from, held_until
    FROM mojob.job_resource WHERE job_id = job ORDER BY id
$$;

-- The original: tentative, with rolls, metadata and four kinds of node.
DO $$
DECLARE
    o mojob.job;
BEGIN
    o := mojob.create_job('match', '2027-05-01 18:00+00', '2027-05-01 20:30+00',
                          pre_roll => '45 minutes', post_roll => '20 minutes',
                          description => 'cup final', priority => 'high',
                          properties => '{"league": "cup", "round": 7}');
    PERFORM mojob.add_resource(o.id, 1, 2.5, 'main studio');
    PERFORM mojob.add_pool_node(o.id, 1, 'cam A', '{uhd}');
    PERFORM mojob.assign_node((SELECT id FROM mojob.job_resource WHERE job_id = o.id AND alias = 'cam A'), 2);
    PERFORM mojob.add_pool_node(o.id, 1, 'cam B');
    PERFORM mojob.add_resource(o.id, 4);
    PERFORM mojob.reserve(o.id);
    UPDATE mojob.job SET owner = 'olga' WHERE id = o.id;
END
$$;

CREATE TEMP TABLE orig AS SELECT * FROM mojob.job WHERE name = 'match';
SET mojob.actor = 'dana';
CREATE TEMP TABLE dup AS SELECT * FROM mojob.duplicate(pg_temp.j('match'), '2027-06-12 14:00+00');

-- ---------------------------------------------------------------------
-- The copy
-- ---------------------------------------------------------------------

SELECT isnt((SELECT id FROM dup), (SELECT id FROM orig), 'duplicate makes a new job');
SELECT is((SELECT state::text FROM dup), 'draft', 'the copy is a draft');
SELECT isnt((SELECT code FROM dup), (SELECT code FROM orig), 'the copy has its own code');
SELECT ok((SELECT code FROM dup) ~ '^JOB-[0-9]{6}$', 'the copy''s code follows the job code pattern');
SELECT is((SELECT name FROM dup), 'match', 'the copy has the same name');
SELECT is((SELECT start_at FROM dup), '2027-06-12 14:00+00'::timestamptz, 'the copy starts at start_at');
SELECT is((SELECT end_at - start_at FROM dup), interval '2 hours 30 minutes', 'the copy has the same length');
SELECT is((SELECT start_at - pre_roll_start FROM dup), interval '45 minutes', 'the copy has the same pre-roll');
SELECT is((SELECT post_roll_end - end_at FROM dup), interval '20 minutes', 'the copy has the same post-roll');
SELECT is((SELECT description FROM dup), 'cup final', 'the copy has the same description');
SELECT is((SELECT priority::text FROM dup), 'high', 'the copy has the same priority');
SELECT is((SELECT properties FROM dup), '{"league": "cup", "round": 7}'::jsonb, 'the copy has the same properties');
SELECT is((SELECT version FROM dup), 1::bigint, 'the copy''s version is 1');
SELECT results_eq($$ SELECT locked_by, locked_until FROM dup $$,
    $$ VALUES (NULL::text, NULL::timestamptz) $$, 'the copy is not locked');
SELECT is((SELECT created_by FROM dup), 'dana', 'the copy is created by the acting user');
SELECT is((SELECT owner FROM dup), NULL, 'the owner is not copied (it is not in the list of what duplicate copies)');
SELECT is_empty(format('SELECT FROM mojob.job_event WHERE job_id = %s', (SELECT id FROM dup)),
    'the copy has no history');
SELECT results_eq(format('SELECT * FROM pg_temp.nodes(%s)', (SELECT id FROM dup)),
    $$ VALUES (1::bigint, NULL::bigint, 'main studio', 2.5, '{}'::text[], NULL::timestamptz, NULL::timestamptz),
              (2, 1, 'cam A', 0, '{uhd}', NULL, NULL),
              (NULL, 1, 'cam B', 0, '{}', NULL, NULL),
              (4, NULL, NULL, 0, '{}', NULL, NULL) $$,
    'the copy has the same nodes: resource, pool, alias, amount and required capabilities');
SELECT results_eq(format('SELECT * FROM pg_temp.nodes(%s)', (SELECT id FROM dup)),
    format('SELECT * FROM pg_temp.nodes(%s)', (SELECT id FROM orig)),
    'node for node, the copy''s nodes are the original''s');
SELECT is_empty(format('SELECT FROM mojob.booking WHERE job_id = %s', (SELECT id FROM dup)),
    'the copy, a draft, books nothing');
SELECT results_eq($$ SELECT to_jsonb(j) FROM mojob.job j WHERE j.id = (SELECT id FROM orig) $$,
    $$ SELECT to_jsonb(o) FROM orig o $$,
    'the original is unchanged');
SELECT is((SELECT count(*)::int FROM mojob.job_resource WHERE job_id = (SELECT id FROM orig)), 4,
    'the original keeps its nodes');

-- Without start_at: the original's start.
CREATE TEMP TABLE dup2 AS SELECT * FROM mojob.duplicate(pg_temp.j('match'));
SELECT results_eq($$ SELECT pre_roll_start, start_at, end_at, post_roll_end FROM dup2 $$,
    $$ SELECT pre_roll_start, start_at, end_at, post_roll_end FROM orig $$,
    'without start_at the copy has the original''s window');
SELECT ok((SELECT code FROM dup2) NOT IN ((SELECT code FROM orig), (SELECT code FROM dup)),
    'each copy gets a code of its own');
SELECT is((SELECT start_at FROM mojob.duplicate(pg_temp.j('match'), NULL)), (SELECT start_at FROM orig),
    'start_at => NULL also means the original''s start');

-- The settings' defaults do not replace what the original has.
UPDATE mojob.settings SET default_state = 'tentative', default_pre_roll = '2 hours', default_post_roll = '2 hours';
DO $$ BEGIN PERFORM mojob.create_job('bare', '2027-07-01 10:00+00', '2027-07-01 11:00+00', pre_roll => '0', post_roll => '0'); END $$;
CREATE TEMP TABLE dup3 AS SELECT * FROM mojob.duplicate(pg_temp.j('bare'), '2027-07-02 10:00+00');
SELECT results_eq($$ SELECT state::text, pre_roll_start, post_roll_end FROM dup3 $$,
    $$ VALUES ('draft', '2027-07-02 10:00+00'::timestamptz, '2027-07-02 11:00+00'::timestamptz) $$,
    'the copy is a draft with the original''s rolls even when the settings say tentative and give other rolls');
UPDATE mojob.settings SET default_state = 'draft', default_pre_roll = '0', default_post_roll = '0';

-- ---------------------------------------------------------------------
-- A running original that has released nodes
-- ---------------------------------------------------------------------

DO $$
DECLARE
    jid bigint;
BEGIN
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
    VALUES ('live', 'running', now() - interval '2 hours', now() - interval '1 hour',
            now() + interval '1 hour', now() + interval '90 minutes')
    RETURNING id INTO jid;
    INSERT INTO mojob.job_resource (job_id, resource_id, alias)
    VALUES (jid, 5, 'van'), (jid, 4, 'desk'), (jid, 6, 'truck');
    PERFORM mojob.remove_resource(jid, 5);
    PERFORM mojob.swap_resource(jid, 6, 7);
    -- The desk is still in use, but will be let go before the job ends.
    UPDATE mojob.job_resource SET held_until = now() + interval '30 minutes'
    WHERE job_id = jid AND resource_id = 4;
END
$$;
SELECT is((SELECT count(*)::int FROM mojob.job_resource WHERE job_id = pg_temp.j('live') AND held_until <= now()), 2,
    'the running original has two released nodes');
SELECT is((SELECT resources FROM mojob.jobs WHERE name = 'live'), ARRAY['desk', 'crew'],
    'and uses two resources now (as mojob.jobs shows)');
CREATE TEMP TABLE dup4 AS SELECT * FROM mojob.duplicate(pg_temp.j('live'), now() + interval '1 day');
SELECT results_eq(format('SELECT * FROM pg_temp.nodes(%s)', (SELECT id FROM dup4)),
    $$ VALUES (4::bigint, NULL::bigint, 'desk', 0::numeric, '{}'::text[], NULL::timestamptz, NULL::timestamptz),
              (7, NULL, 'truck', 0, '{}', NULL, NULL) $$,
    'a copy of a running job has the nodes still in use (not the released ones), with no hold window of their own');
SELECT results_eq($$ SELECT state::text, start_at - pre_roll_start, end_at - start_at, post_roll_end - end_at FROM dup4 $$,
    $$ VALUES ('draft', interval '1 hour', interval '2 hours', interval '30 minutes') $$,
    'a copy of a running job is a draft with its length and rolls');

-- ---------------------------------------------------------------------
-- Other originals
-- ---------------------------------------------------------------------

-- Locked by someone else: duplicate only reads it.
SET mojob.actor = 'alice';
DO $$ BEGIN PERFORM mojob.lock_job(pg_temp.j('match')); END $$;
SET mojob.actor = 'bob';
CREATE TEMP TABLE dup5 AS SELECT * FROM mojob.duplicate(pg_temp.j('match'), '2027-08-01 18:00+00');
SELECT results_eq($$ SELECT state::text, locked_by, created_by FROM dup5 $$,
    $$ VALUES ('draft', NULL::text, 'bob') $$,
    'another user may duplicate a locked job; the copy is bob''s, unlocked');
SELECT is((SELECT locked_by FROM mojob.job WHERE id = (SELECT id FROM orig)), 'alice',
    'the original keeps its lock');

DO $$
DECLARE
    jid bigint;
BEGIN
    jid := (mojob.create_job('called off', '2027-09-01 10:00+00', '2027-09-01 12:00+00',
                             state => 'tentative', resources => '{3}')).id;
    PERFORM mojob.cancel(jid, 'rain');
END
$$;
CREATE TEMP TABLE dup6 AS SELECT * FROM mojob.duplicate(pg_temp.j('called off'));
SELECT results_eq($$ SELECT state::text, canceled_at, cancel_reason, start_at FROM dup6 $$,
    $$ VALUES ('draft', NULL::timestamptz, NULL::text, '2027-09-01 10:00+00'::timestamptz) $$,
    'a canceled job can be duplicated: the copy is a draft without the cancellation');
SELECT results_eq(format('SELECT resource_id FROM mojob.job_resource WHERE job_id = %s', (SELECT id FROM dup6)),
    $$ VALUES (3::bigint) $$,
    'the copy of a canceled job has its nodes');

DO $$
BEGIN
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
    VALUES ('last week', 'completed', now() - interval '8 days', now() - interval '8 days',
            now() - interval '7 days 22 hours', now() - interval '7 days 22 hours');
END
$$;
SELECT is((SELECT state::text FROM mojob.duplicate(pg_temp.j('last week'), now() + interval '7 days')), 'draft',
    'a completed job can be duplicated to run it again');

-- The length is kept in elapsed time, across a daylight-saving change.
SET TimeZone = 'Europe/Brussels';
DO $$ BEGIN PERFORM mojob.create_job('over dst', '2027-03-27 12:00', '2027-03-28 12:00'); END $$;
SELECT results_eq($$ SELECT end_at - start_at, end_at
                     FROM mojob.duplicate(pg_temp.j('over dst'), '2027-04-03 12:00') $$,
    $$ VALUES (interval '23 hours', '2027-04-04 11:00'::timestamptz) $$,
    'the copy lasts as long in elapsed time (23 hours across the change to summer time)');
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------
-- Arguments
-- ---------------------------------------------------------------------

SELECT throws_ok('SELECT mojob.duplicate(987654)', 'MJ404', NULL, 'duplicating an unknown job is MJ404');
SELECT throws_ok('SELECT mojob.duplicate(NULL)', '22023', NULL, 'duplicate(NULL) is refused (22023)');
SELECT throws_ok(format('SELECT mojob.duplicate(%s, ''infinity'')', pg_temp.j('match')), '22023', NULL,
    'an infinite start_at is refused (22023)');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE name = 'match'), 5,
    'the refused calls made no job (the original and its four copies)');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
