-- Recurring jobs, the instances (docs/design.md sections 5 and 7): every further
-- occurrence becomes a job with the template's name, length, rolls, nodes
-- (resource, pool, alias, amount, required capabilities), description,
-- priority and properties, in the template's state (a tentative one booking
-- its resources), linked by recurrence_id, with no history; an occurrence
-- whose resources are taken is made a draft instead and shows
-- RECURRENCE_CONFLICT (mojob.job_errors, mojob.jobs.errors) until it is
-- reserved or deleted.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(48);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, capacity, capabilities) VALUES
    (1, 'studio', NULL, '{}'), (2, 'encoder', 10, '{}'), (3, 'cam-1', NULL, '{hd}'),
    (4, 'cam-2', NULL, '{hd,4k}'), (5, 'booth', NULL, '{}'), (6, 'desk', NULL, '{}'),
    (7, 'transcoder', 10, '{}');
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (1, 3), (1, 4);

-- The recurrence whose template is named label; the instance of it starting at s.
CREATE FUNCTION pg_temp.r(label text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT r.id FROM mojob.recurrence r JOIN mojob.job j ON j.id = r.template_job WHERE j.name = label
$$;
CREATE FUNCTION pg_temp.at(label text, s timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM mojob.job WHERE recurrence_id = pg_temp.r(label) AND start_at = s
$$;
CREATE FUNCTION pg_temp.template(label text) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT template_job FROM mojob.recurrence WHERE id = pg_temp.r(label) $$;

-- The nodes of a job as text, in node order, without their ids.
CREATE FUNCTION pg_temp.nodes(job bigint) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(row(resource_id, pool_id, alias, amount, required_capabilities)::text
                              ORDER BY id), '{}')
    FROM mojob.job_resource WHERE job_id = job
$$;

-- The error codes of a job, as mojob.job_errors has them.
CREATE FUNCTION pg_temp.codes(job bigint) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT code ORDER BY code), '{}') FROM mojob.job_errors WHERE job_id = job
$$;

-- ---------------------------------------------------------------------
-- A tentative template: the copies
-- ---------------------------------------------------------------------

DO $$
DECLARE
    t mojob.job;
BEGIN
    t := mojob.create_job('news', '2030-01-07 19:00Z', '2030-01-07 21:00Z',
                          pre_roll => '15 minutes', post_roll => '30 minutes',
                          description => 'evening news', priority => 'high',
                          properties => '{"channel": 1, "tags": ["live"]}');
    PERFORM mojob.add_resource(t.id, 1, 0, 'main studio');
    PERFORM mojob.add_resource(t.id, 2, 2.5);
    PERFORM mojob.add_pool_node(t.id, 1, 'cam A', '{4k}');
    PERFORM mojob.assign_node((SELECT id FROM mojob.job_resource WHERE job_id = t.id AND alias = 'cam A'), 4);
    PERFORM mojob.add_pool_node(t.id, 1, 'cam B', '{hd}');
    UPDATE mojob.job SET owner = 'olga' WHERE id = t.id;
    PERFORM mojob.reserve(t.id);
END
$$;
SET mojob.actor = 'alice';
SELECT FROM mojob.make_recurring((SELECT id FROM mojob.job WHERE name = 'news'),
                                 'FREQ=WEEKLY;COUNT=4', 'Europe/Brussels', '10 years');
RESET mojob.actor;
CREATE TEMP TABLE news_instances AS
    SELECT * FROM mojob.job WHERE recurrence_id = pg_temp.r('news') AND id <> pg_temp.template('news');

SELECT is(ARRAY(SELECT start_at FROM news_instances ORDER BY start_at),
    ARRAY['2030-01-14 19:00Z', '2030-01-21 19:00Z', '2030-01-28 19:00Z']::timestamptz[],
    'the weekly rule with COUNT=4 makes three instances after the template');
SELECT is((SELECT recurrence_id FROM mojob.job WHERE name = 'news' AND id = pg_temp.template('news')),
    pg_temp.r('news'),
    'the template gets the recurrence''s id');
SELECT is((SELECT count(*)::int FROM news_instances WHERE recurrence_id = pg_temp.r('news')), 3,
    'each instance carries the recurrence''s id');
SELECT set_eq($$ SELECT name, description, priority, properties FROM news_instances $$,
    $$ VALUES ('news', 'evening news', 'high'::mojob.job_priority, '{"channel": 1, "tags": ["live"]}'::jsonb) $$,
    'each instance has the template''s name, description, priority and properties');
SELECT set_eq($$ SELECT owner FROM news_instances $$, $$ VALUES ('olga') $$,
    'each instance has the template''s owner');
SELECT set_eq($$ SELECT end_at - start_at FROM news_instances $$, $$ VALUES (interval '2 hours') $$,
    'each instance has the template''s length');
SELECT set_eq($$ SELECT start_at - pre_roll_start AS pre_roll, post_roll_end - end_at AS post_roll FROM news_instances $$,
    $$ VALUES (interval '15 minutes', interval '30 minutes') $$,
    'each instance has the template''s pre-roll and post-roll');
SELECT is((SELECT count(*)::int FROM news_instances
           WHERE pg_temp.nodes(id) IS DISTINCT FROM pg_temp.nodes(pg_temp.template('news'))), 0,
    'each instance has the template''s nodes: resource, pool, alias, amount and required capabilities, in order');
SELECT is(pg_temp.nodes((SELECT id FROM news_instances ORDER BY start_at LIMIT 1)),
    ARRAY['(1,,"main studio",0,{})', '(2,,,2.5,{})', '(4,1,"cam A",0,{4k})', '(,1,"cam B",0,{hd})'],
    'an instance''s nodes are the studio by alias, the encoder with its amount, the assigned and the unresolved pool node');
SELECT is((SELECT count(*)::int FROM mojob.job_resource n JOIN news_instances i ON i.id = n.job_id), 12,
    'each instance has nodes of its own (four each)');
SELECT set_eq($$ SELECT state FROM news_instances $$, $$ VALUES ('tentative'::mojob.job_state) $$,
    'the instances of a tentative template are tentative');
SELECT set_eq(
    $$ SELECT s.job_id, s.resource_id, s.held, s.amount FROM mojob.resource_schedule s
       JOIN news_instances i ON i.id = s.job_id $$,
    $$ SELECT i.id, r, tstzrange(i.pre_roll_start, i.post_roll_end), CASE r WHEN 2 THEN 2.5 ELSE 0 END
       FROM news_instances i, unnest(ARRAY[1, 2, 4]::bigint[]) r $$,
    'each tentative instance books the studio, the encoder (2.5) and the assigned camera for [pre_roll_start, post_roll_end)');
SELECT is((SELECT count(DISTINCT code)::int FROM mojob.job WHERE recurrence_id = pg_temp.r('news')), 4,
    'each instance has a code of its own');
SELECT set_eq($$ SELECT created_by FROM news_instances $$, $$ VALUES ('alice') $$,
    'the instances are created by the acting user');
SELECT is((SELECT count(*)::int FROM mojob.job_event e JOIN news_instances i ON i.id = e.job_id), 0,
    'creating the instances writes no history');
SELECT is((SELECT count(*)::int FROM mojob.job_event WHERE job_id = pg_temp.template('news')), 1,
    'making the template recurring writes no history for it either (only its reservation)');
SELECT set_eq($$ SELECT version, locked_by FROM news_instances $$, $$ VALUES (1::bigint, NULL::text) $$,
    'each instance starts at version 1, without an edit lock');

-- ---------------------------------------------------------------------
-- A draft template: draft instances, which hold nothing and so meet no
-- conflict
-- ---------------------------------------------------------------------

DO $$
DECLARE
    t mojob.job;
BEGIN
    t := mojob.create_job('rehearsal', '2030-02-04 10:00Z', '2030-02-04 12:00Z');
    PERFORM mojob.add_resource(t.id, 5);
    PERFORM mojob.create_job_for_resource(5, 'booth blocker', '2030-02-11 10:00Z', '2030-02-11 11:00Z');
    PERFORM mojob.make_recurring(t.id, 'FREQ=WEEKLY;COUNT=3', 'UTC', '10 years');
END
$$;
SELECT results_eq(
    $$ SELECT start_at, state FROM mojob.job WHERE recurrence_id = pg_temp.r('rehearsal') ORDER BY start_at $$,
    $$ VALUES ('2030-02-04 10:00Z'::timestamptz, 'draft'::mojob.job_state),
              ('2030-02-11 10:00Z', 'draft'), ('2030-02-18 10:00Z', 'draft') $$,
    'the instances of a draft template are drafts');
SELECT is((SELECT count(*)::int FROM mojob.resource_schedule s JOIN mojob.job j ON j.id = s.job_id
           WHERE j.recurrence_id = pg_temp.r('rehearsal')), 0,
    'draft instances book nothing');
SELECT is(pg_temp.nodes(pg_temp.at('rehearsal', '2030-02-11 10:00Z')), ARRAY['(5,,,0,{})'],
    'a draft instance gets the template''s nodes');
SELECT is((SELECT count(*)::int FROM mojob.job_errors e JOIN mojob.job j ON j.id = e.job_id
           WHERE j.recurrence_id = pg_temp.r('rehearsal') AND e.code = 'RECURRENCE_CONFLICT'), 0,
    'a draft instance whose resource is taken at its time shows no RECURRENCE_CONFLICT: it holds nothing');

-- ---------------------------------------------------------------------
-- Conflicts: occurrences whose resource is held by another job at that
-- time fall back to draft with RECURRENCE_CONFLICT
-- ---------------------------------------------------------------------

DO $$
DECLARE
    t mojob.job;
BEGIN
    t := mojob.create_job_for_resource(6, 'quiz', '2030-03-04 19:00Z', '2030-03-04 20:00Z');
    PERFORM mojob.create_job_for_resource(6, 'blocker 1', '2030-03-11 19:30Z', '2030-03-11 20:30Z');
    PERFORM mojob.confirm((mojob.create_job_for_resource(6, 'blocker 2', '2030-03-25 18:30Z', '2030-03-25 19:30Z')).id);
    PERFORM mojob.make_recurring(t.id, 'FREQ=WEEKLY;COUNT=5', 'UTC', '10 years');
END
$$;

SELECT results_eq(
    $$ SELECT start_at, state FROM mojob.job WHERE recurrence_id = pg_temp.r('quiz') ORDER BY start_at $$,
    $$ VALUES ('2030-03-04 19:00Z'::timestamptz, 'tentative'::mojob.job_state),
              ('2030-03-11 19:00Z', 'draft'), ('2030-03-18 19:00Z', 'tentative'),
              ('2030-03-25 19:00Z', 'draft'), ('2030-04-01 19:00Z', 'tentative') $$,
    'the occurrences whose resource is held by a tentative or a confirmed job are drafts; the others tentative');
SELECT set_eq($$ SELECT job_id FROM mojob.recurrence_conflict $$,
    ARRAY[pg_temp.at('quiz', '2030-03-11 19:00Z'), pg_temp.at('quiz', '2030-03-25 19:00Z')],
    'mojob.recurrence_conflict records exactly the two instances that fell back to draft');
SELECT is(pg_temp.codes(pg_temp.at('quiz', '2030-03-11 19:00Z')), ARRAY['RECURRENCE_CONFLICT'],
    'an instance that fell back to draft shows RECURRENCE_CONFLICT in mojob.job_errors');
SELECT is((SELECT message FROM mojob.job_errors
           WHERE job_id = pg_temp.at('quiz', '2030-03-11 19:00Z') AND code = 'RECURRENCE_CONFLICT'),
    format('an instance of recurrence %s whose resources were taken: it was created as a draft', pg_temp.r('quiz')),
    'the RECURRENCE_CONFLICT message names the recurrence');
SELECT results_eq(
    $$ SELECT has_error, errors FROM mojob.jobs WHERE id = pg_temp.at('quiz', '2030-03-25 19:00Z') $$,
    $$ VALUES (true, ARRAY['RECURRENCE_CONFLICT']) $$,
    'mojob.jobs shows RECURRENCE_CONFLICT on the draft instance');
SELECT set_eq(
    $$ SELECT has_error, errors FROM mojob.jobs WHERE recurrence_id = pg_temp.r('quiz') AND state = 'tentative' $$,
    $$ VALUES (false, '{}'::text[]) $$,
    'the tentative instances of the same recurrence have no error');
SELECT results_eq(
    $$ SELECT j.start_at, count(s.job_id)::int FROM mojob.job j
       LEFT JOIN mojob.resource_schedule s ON s.job_id = j.id
       WHERE j.recurrence_id = pg_temp.r('quiz') GROUP BY j.start_at ORDER BY j.start_at $$,
    $$ VALUES ('2030-03-04 19:00Z'::timestamptz, 1), ('2030-03-11 19:00Z', 0), ('2030-03-18 19:00Z', 1),
              ('2030-03-25 19:00Z', 0), ('2030-04-01 19:00Z', 1) $$,
    'the tentative instances hold the desk; the drafts hold nothing');
SELECT is(pg_temp.nodes(pg_temp.at('quiz', '2030-03-11 19:00Z')), ARRAY['(6,,,0,{})'],
    'an instance that fell back to draft still has the template''s nodes');
SELECT is((SELECT count(*)::int FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id
           WHERE j.recurrence_id = pg_temp.r('quiz')), 0,
    'falling back to draft writes no history');
SELECT results_eq(
    $$ SELECT name, state FROM mojob.job WHERE name LIKE 'blocker _' ORDER BY name $$,
    $$ VALUES ('blocker 1', 'tentative'::mojob.job_state), ('blocker 2', 'confirmed') $$,
    'the jobs in the way keep their state and bookings');

-- Reserving again while the resource is still taken is refused, and the error stays.
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.at('quiz', '2030-03-11 19:00Z')), 'MJ005', NULL,
    'the draft instance cannot be reserved while the blocking job holds the resource');
SELECT is(pg_temp.codes(pg_temp.at('quiz', '2030-03-11 19:00Z')), ARRAY['RECURRENCE_CONFLICT'],
    'after a refused reservation the instance still shows RECURRENCE_CONFLICT');

-- The blocking job goes: the error stays until the instance is reserved.
SELECT FROM mojob.cancel((SELECT id FROM mojob.job WHERE name = 'blocker 1'), 'moved');
SELECT is(pg_temp.codes(pg_temp.at('quiz', '2030-03-11 19:00Z')), ARRAY['RECURRENCE_CONFLICT'],
    'once the blocking job is canceled the instance still shows RECURRENCE_CONFLICT until it is reserved');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.at('quiz', '2030-03-11 19:00Z'))), 'tentative'::mojob.job_state,
    'once the blocking job is canceled, mojob.reserve of the draft instance works');
SELECT is(pg_temp.codes(pg_temp.at('quiz', '2030-03-11 19:00Z')), '{}'::text[],
    'a reserved instance no longer shows RECURRENCE_CONFLICT');
SELECT results_eq(
    $$ SELECT has_error, errors FROM mojob.jobs WHERE id = pg_temp.at('quiz', '2030-03-11 19:00Z') $$,
    $$ VALUES (false, '{}'::text[]) $$,
    'mojob.jobs no longer shows an error on the reserved instance');
SELECT is((SELECT held FROM mojob.resource_schedule WHERE job_id = pg_temp.at('quiz', '2030-03-11 19:00Z')),
    tstzrange('2030-03-11 19:00Z', '2030-03-11 20:00Z'),
    'the reserved instance holds the desk for its window');

-- Deleting the other draft removes its conflict row.
CREATE TEMP TABLE gone AS SELECT pg_temp.at('quiz', '2030-03-25 19:00Z') AS id;
SELECT lives_ok(format('SELECT mojob.delete_job(%s)', (SELECT id FROM gone)),
    'a draft instance that fell back can be deleted');
SELECT is((SELECT count(*)::int FROM mojob.recurrence_conflict WHERE job_id = (SELECT id FROM gone)), 0,
    'deleting the draft instance removes its row from mojob.recurrence_conflict');
SELECT is((SELECT count(*)::int FROM mojob.job_errors WHERE code = 'RECURRENCE_CONFLICT'), 0,
    'no RECURRENCE_CONFLICT is left once one instance is reserved and the other deleted');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE recurrence_id = pg_temp.r('quiz')), 4,
    'the other instances of the recurrence stay');

-- ---------------------------------------------------------------------
-- Capacity: an occurrence whose summed amount would exceed the resource's
-- capacity falls back too
-- ---------------------------------------------------------------------

DO $$
DECLARE
    t mojob.job;
    b mojob.job;
BEGIN
    t := mojob.create_job('transcode', '2030-05-06 10:00Z', '2030-05-06 11:00Z');
    PERFORM mojob.add_resource(t.id, 7, 6);
    PERFORM mojob.reserve(t.id);
    b := mojob.create_job('big transcode', '2030-05-13 10:30Z', '2030-05-13 11:30Z');
    PERFORM mojob.add_resource(b.id, 7, 5);
    PERFORM mojob.reserve(b.id);
    PERFORM mojob.make_recurring(t.id, 'FREQ=WEEKLY;COUNT=3', 'UTC', '10 years');
END
$$;
SELECT results_eq(
    $$ SELECT start_at, state FROM mojob.job WHERE recurrence_id = pg_temp.r('transcode') ORDER BY start_at $$,
    $$ VALUES ('2030-05-06 10:00Z'::timestamptz, 'tentative'::mojob.job_state),
              ('2030-05-13 10:00Z', 'draft'), ('2030-05-20 10:00Z', 'tentative') $$,
    'an occurrence that would exceed the resource''s capacity falls back to draft');
SELECT is(pg_temp.codes(pg_temp.at('transcode', '2030-05-13 10:00Z')), ARRAY['RECURRENCE_CONFLICT'],
    'the occurrence over capacity shows RECURRENCE_CONFLICT');

-- ---------------------------------------------------------------------
-- Every occurrence taken: all but the template fall back
-- ---------------------------------------------------------------------

DO $$
DECLARE
    t mojob.job;
BEGIN
    t := mojob.create_job_for_resource(3, 'camera test', '2030-06-03 08:00Z', '2030-06-03 09:00Z');
    PERFORM mojob.create_job_for_resource(3, 'camera hire', '2030-06-04 00:00Z', '2030-06-30 00:00Z');
    PERFORM mojob.make_recurring(t.id, 'FREQ=WEEKLY;COUNT=4', 'UTC', '10 years');
END
$$;
SELECT results_eq(
    $$ SELECT state, count(*)::int FROM mojob.job WHERE recurrence_id = pg_temp.r('camera test')
       GROUP BY state ORDER BY state $$,
    $$ VALUES ('draft'::mojob.job_state, 3), ('tentative', 1) $$,
    'when every further occurrence is taken, each falls back to draft and the template stays tentative');
SELECT is((SELECT count(*)::int FROM mojob.recurrence_conflict c JOIN mojob.job j ON j.id = c.job_id
           WHERE j.recurrence_id = pg_temp.r('camera test')), 3,
    'each of them is recorded in mojob.recurrence_conflict');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
