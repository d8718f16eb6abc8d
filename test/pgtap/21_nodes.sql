-- A job's nodes (docs/design.md sections 3, 4 and 6): pool nodes and their
-- required capabilities, assign_node, confirm with unresolved nodes,
-- add_resource, remove_resource and swap_resource on jobs in each state,
-- one resource per job, the bookings that follow, the job's version (not
-- bumped by node changes), and the argument errors of the node functions.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(120);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, capabilities) VALUES
    (1, 'cam-hd', '{hd}'),
    (2, 'cam-uhd', '{hd,uhd}'),
    (3, 'cam-uhd-2', '{hd,uhd}'),
    (4, 'studio', '{}'),
    (5, 'cam-off', '{hd,uhd}'),
    (6, 'cam-busy', '{hd,uhd}'),
    (7, 'cam-spare', '{hd,uhd}'),
    (8, 'mixer', '{}'),
    (9, 'cam-hdr', '{hd,uhd,hdr}');
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras'), (2, 'empty');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES
    (1, 1), (1, 2), (1, 3), (1, 5), (1, 6), (1, 7), (1, 9);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.state(label text) RETURNS mojob.job_state
LANGUAGE sql AS $$ SELECT state FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.version(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT version FROM mojob.job WHERE name = label $$;
-- The node of job label with the given alias.
CREATE FUNCTION pg_temp.node(label text, a text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job_resource WHERE job_id = pg_temp.j(label) AND alias = a $$;
CREATE FUNCTION pg_temp.held(label text, res bigint) RETURNS tstzrange
LANGUAGE sql AS $$
    SELECT b.held FROM mojob.booking b WHERE b.job_id = pg_temp.j(label) AND b.resource_id = res
$$;
CREATE FUNCTION pg_temp.bookings(label text) RETURNS integer
LANGUAGE sql AS $$ SELECT count(*)::int FROM mojob.booking WHERE job_id = pg_temp.j(label) $$;
CREATE FUNCTION pg_temp.nodes(label text) RETURNS integer
LANGUAGE sql AS $$ SELECT count(*)::int FROM mojob.job_resource WHERE job_id = pg_temp.j(label) $$;

-- A job named label using resources res, taken to state target.
CREATE FUNCTION pg_temp.job(label text, s timestamptz, e timestamptz, res bigint[] DEFAULT '{}',
                            target mojob.job_state DEFAULT 'draft',
                            pre interval DEFAULT '0', post interval DEFAULT '0')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    j mojob.job;
    r bigint;
BEGIN
    SELECT * INTO j FROM mojob.create_job(label, s, e, pre_roll => pre, post_roll => post);
    FOREACH r IN ARRAY res LOOP
        PERFORM mojob.add_resource(j.id, r, 0, 'r' || r);
    END LOOP;
    IF target <> 'draft' THEN
        SELECT * INTO j FROM mojob.reserve(j.id);
    END IF;
    IF target IN ('confirmed', 'running', 'completed') THEN
        SELECT * INTO j FROM mojob.confirm(j.id);
    END IF;
    IF target IN ('running', 'completed') AND j.state = 'confirmed' THEN
        SELECT * INTO j FROM mojob.start(j.id);
    END IF;
    IF target = 'completed' AND j.state = 'running' THEN
        SELECT * INTO j FROM mojob.stop(j.id);
    END IF;
    IF target = 'canceled' THEN
        SELECT * INTO j FROM mojob.cancel(j.id, 'fixture');
    END IF;
    IF j.state IS DISTINCT FROM target THEN
        RAISE EXCEPTION 'fixture: wanted a % job, got %', target, j.state;
    END IF;
    RETURN j.id;
END
$$;

-- The window of the 2027 jobs, and a blocker holding cam-busy for it.
CREATE FUNCTION pg_temp.w() RETURNS tstzrange
LANGUAGE sql AS $$ SELECT tstzrange('2027-09-15 10:00Z', '2027-09-15 12:00Z') $$;
SELECT FROM pg_temp.job('blocker', '2027-09-15 10:00Z', '2027-09-15 12:00Z', '{6}', 'tentative');

-- ---------------------------------------------------------------------
-- Pool nodes and assign_node
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('pooled', '2027-09-15 10:00Z', '2027-09-15 12:00Z');
SELECT is((SELECT (resource_id, pool_id, alias, required_capabilities)::text
           FROM mojob.add_pool_node(pg_temp.j('pooled'), 1, 'main', '{uhd}')),
    '(,1,main,{uhd})', 'add_pool_node adds an unresolved node of the pool with its required capabilities');
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 4)', pg_temp.node('pooled', 'main')), 'MJ006', NULL,
    'assign_node refuses a resource that is not in the node''s pool');
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 1)', pg_temp.node('pooled', 'main')), 'MJ006', NULL,
    'assign_node refuses a resource lacking a required capability');
SELECT is((SELECT resource_id FROM mojob.job_resource WHERE id = pg_temp.node('pooled', 'main')), NULL,
    'a refused assignment leaves the node unresolved');
SELECT is((SELECT resource_id FROM mojob.assign_node(pg_temp.node('pooled', 'main'), 2)), 2::bigint,
    'assign_node accepts a pool member with every required capability');
SELECT is(pg_temp.bookings('pooled'), 0, 'assigning a node of a draft books nothing');
SELECT FROM mojob.reserve(pg_temp.j('pooled'));
SELECT is(pg_temp.held('pooled', 2), pg_temp.w(), 'reserving books the assigned node for the job''s window');
SELECT throws_ok(format($$UPDATE mojob.job_resource SET required_capabilities = '{uhd,hdr}' WHERE id = %s$$,
                        pg_temp.node('pooled', 'main')),
    'MJ006', NULL, 'a node cannot require a capability its resource lacks');
SELECT throws_ok(format('UPDATE mojob.job_resource SET pool_id = 2 WHERE id = %s', pg_temp.node('pooled', 'main')),
    'MJ006', NULL, 'a node cannot move to a pool its resource is not in');

-- A tentative job: unresolved nodes hold nothing and block confirm.
SELECT FROM pg_temp.job('tent', '2027-09-15 10:00Z', '2027-09-15 12:00Z', '{8}', 'tentative');
SELECT is((SELECT resource_id FROM mojob.add_pool_node(pg_temp.j('tent'), 1, 'cam', '{uhd}')), NULL,
    'a tentative job may get an unresolved pool node');
SELECT is(pg_temp.bookings('tent'), 1, 'an unresolved node books nothing');
SELECT throws_ok(format('SELECT mojob.confirm(%s)', pg_temp.j('tent')), 'MJ006', NULL,
    'confirm refuses a job with an unresolved node');
SELECT is(pg_temp.state('tent'), 'tentative', 'the refused confirm leaves the job tentative');
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 6)', pg_temp.node('tent', 'cam')), 'MJ005', NULL,
    'assigning a node of a holding job a resource booked by another is refused');
SELECT is((SELECT resource_id FROM mojob.job_resource WHERE id = pg_temp.node('tent', 'cam')), NULL,
    'the refused assignment leaves the node unresolved');
UPDATE mojob.resource SET enabled = false WHERE id = 5;
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 5)', pg_temp.node('tent', 'cam')), 'MJ006', NULL,
    'assigning a node of a holding job a disabled resource is refused');
SELECT FROM mojob.assign_node(pg_temp.node('tent', 'cam'), 3);
SELECT is(pg_temp.held('tent', 3), pg_temp.w(), 'assigning a node of a holding job books it at once');
SELECT is((SELECT state FROM mojob.confirm(pg_temp.j('tent'))), 'confirmed',
    'confirm accepts the job once every node is resolved');
SELECT throws_ok(format('SELECT mojob.add_pool_node(%s, 1)', pg_temp.j('tent')), 'MJ006', NULL,
    'a confirmed job cannot get an unresolved pool node');
SELECT throws_ok(format('UPDATE mojob.job_resource SET resource_id = NULL WHERE id = %s', pg_temp.node('tent', 'cam')),
    'MJ006', NULL, 'a node of a confirmed job cannot be made unresolved');
SELECT FROM mojob.assign_node(pg_temp.node('tent', 'cam'), 7);
SELECT is((pg_temp.held('tent', 7), pg_temp.held('tent', 3)), (pg_temp.w(), NULL::tstzrange),
    'reassigning a node of a confirmed job moves its booking to the new resource');

-- An unresolved node does not stop a reservation, only a confirmation.
SELECT FROM pg_temp.job('half', '2027-09-16 12:00Z', '2027-09-16 13:00Z');
SELECT FROM mojob.add_pool_node(pg_temp.j('half'), 1, 'cam');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('half'))), 'tentative',
    'a draft with an unresolved pool node can be reserved');
SELECT is(pg_temp.bookings('half'), 0, 'the reserved job books nothing for its unresolved node');
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'confirmed' WHERE id = %s$$, pg_temp.j('half')), 'MJ006', NULL,
    'a plain UPDATE confirming a job with an unresolved node is refused like confirm');

-- A draft job may use a disabled resource, but not reserve it.
SELECT FROM pg_temp.job('uses off', '2027-09-16 10:00Z', '2027-09-16 11:00Z', '{5}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('uses off')), 'MJ006', NULL,
    'reserving a disabled resource is refused with MJ006');
SELECT is((pg_temp.state('uses off'), pg_temp.bookings('uses off'))::text, '(draft,0)',
    'the refused reservation leaves the job a draft with no booking');

-- ---------------------------------------------------------------------
-- One resource serves at most one node of a job
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('two cams', '2027-09-17 10:00Z', '2027-09-17 11:00Z', '{8}');
SELECT FROM mojob.add_pool_node(pg_temp.j('two cams'), 1, 'left');
SELECT FROM mojob.add_pool_node(pg_temp.j('two cams'), 1, 'right');
SELECT FROM mojob.assign_node(pg_temp.node('two cams', 'left'), 2);
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 2)', pg_temp.node('two cams', 'right')), '22023', NULL,
    'assign_node refuses a resource that already serves another node of the job');
SELECT throws_ok(format('SELECT mojob.add_resource(%s, 8)', pg_temp.j('two cams')), '22023', NULL,
    'add_resource refuses a resource the job already uses');
SELECT throws_ok(format('INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (%s, 8)', pg_temp.j('two cams')),
    '23505', NULL, 'a plain INSERT of a second node for the same resource violates the unique constraint');
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 8, 2)', pg_temp.j('two cams')), '22023', NULL,
    'swap_resource refuses a new resource that already serves another node of the job');
SELECT is(pg_temp.nodes('two cams'), 3, 'the refusals leave the job''s three nodes');
SELECT is((SELECT resource_id FROM mojob.assign_node(pg_temp.node('two cams', 'left'), 2)), 2::bigint,
    'assigning a node the resource it already has is not a second use');

-- ---------------------------------------------------------------------
-- remove_resource and swap_resource before the job runs
-- ---------------------------------------------------------------------

SELECT FROM mojob.remove_resource(pg_temp.j('pooled'), 2);
SELECT is((pg_temp.nodes('pooled'), pg_temp.bookings('pooled'))::text, '(0,0)',
    'remove_resource on a tentative job deletes the node and its booking');
SELECT FROM mojob.remove_resource(pg_temp.j('uses off'), 5);
SELECT is(pg_temp.nodes('uses off'), 0, 'remove_resource on a draft deletes the node');

SELECT FROM pg_temp.job('swapper', '2027-09-15 10:00Z', '2027-09-15 12:00Z', '{1}', 'tentative');
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 1, 6)', pg_temp.j('swapper')), 'MJ005', NULL,
    'swapping to a resource booked by another job is refused');
SELECT is((SELECT resource_id FROM mojob.job_resource WHERE id = pg_temp.node('swapper', 'r1')), 1::bigint,
    'the refused swap leaves the node on its resource');
SELECT is(pg_temp.held('swapper', 1), pg_temp.w(), 'the refused swap leaves the booking');
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 1, 1)', pg_temp.j('swapper')), '22023', NULL,
    'swapping a resource for itself is refused');
SELECT is((SELECT state FROM mojob.swap_resource(pg_temp.j('swapper'), 1, 3)), 'tentative',
    'swap_resource returns the job');
SELECT is((SELECT resource_id FROM mojob.job_resource WHERE id = pg_temp.node('swapper', 'r1')), 3::bigint,
    'a swap on a tentative job reassigns the same node');
SELECT is((pg_temp.held('swapper', 3), pg_temp.held('swapper', 1)), (pg_temp.w(), NULL::tstzrange),
    'a swap on a tentative job moves the booking to the new resource');
SELECT is(pg_temp.nodes('swapper'), 1, 'a swap on a tentative job adds no node');

SELECT FROM pg_temp.job('pool swap', '2027-09-18 10:00Z', '2027-09-18 12:00Z', '{}', 'tentative');
SELECT FROM mojob.add_pool_node(pg_temp.j('pool swap'), 1, 'cam', '{uhd}');
SELECT FROM mojob.assign_node(pg_temp.node('pool swap', 'cam'), 2);
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 2, 4)', pg_temp.j('pool swap')), 'MJ006', NULL,
    'swapping a pool node to a resource outside the pool is refused');
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 2, 1)', pg_temp.j('pool swap')), 'MJ006', NULL,
    'swapping a pool node to a resource lacking a required capability is refused');
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 2, 5)', pg_temp.j('pool swap')), 'MJ006', NULL,
    'swapping a holding job to a disabled resource is refused');
SELECT is((SELECT resource_id FROM mojob.job_resource WHERE id = pg_temp.node('pool swap', 'cam')), 2::bigint,
    'the refused swaps leave the pool node on its resource');

-- A node's booking stays inside its job's window.
SELECT FROM pg_temp.job('clamped', '2027-09-19 10:00Z', '2027-09-19 11:00Z', '{1}', 'tentative');
UPDATE mojob.job_resource SET held_from = '2027-09-19 09:00Z' WHERE job_id = pg_temp.j('clamped');
SELECT is(pg_temp.held('clamped', 1), tstzrange('2027-09-19 10:00Z', '2027-09-19 11:00Z'),
    'a node held from before the pre-roll books from the pre_roll_start');
SELECT FROM mojob.reschedule(pg_temp.j('clamped'), '2027-09-19 10:00Z', '2027-09-19 11:30Z');
SELECT is(pg_temp.held('clamped', 1), tstzrange('2027-09-19 10:00Z', '2027-09-19 11:30Z'),
    'after a reschedule, the booking of a node held from before the pre-roll still starts at the pre_roll_start');

-- ---------------------------------------------------------------------
-- The job's version does not change when only its nodes change
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('versioned', '2027-09-20 10:00Z', '2027-09-20 11:00Z', '{}', 'tentative');
CREATE TEMP TABLE v0 AS SELECT pg_temp.version('versioned') AS v;
SELECT FROM mojob.add_resource(pg_temp.j('versioned'), 1, 0, 'a');
SELECT is(pg_temp.version('versioned'), (SELECT v FROM v0), 'add_resource leaves the job''s version');
SELECT FROM mojob.add_pool_node(pg_temp.j('versioned'), 1, 'b');
SELECT is(pg_temp.version('versioned'), (SELECT v FROM v0), 'add_pool_node leaves the job''s version');
SELECT FROM mojob.assign_node(pg_temp.node('versioned', 'b'), 2);
SELECT is(pg_temp.version('versioned'), (SELECT v FROM v0), 'assign_node leaves the job''s version');
SELECT FROM mojob.swap_resource(pg_temp.j('versioned'), 2, 3);
SELECT is(pg_temp.version('versioned'), (SELECT v FROM v0), 'swap_resource leaves the job''s version');
SELECT FROM mojob.remove_resource(pg_temp.j('versioned'), 3);
SELECT is(pg_temp.version('versioned'), (SELECT v FROM v0), 'remove_resource leaves the job''s version');
SELECT is((pg_temp.nodes('versioned'), pg_temp.bookings('versioned'))::text, '(1,1)',
    'after those changes the job has one node and one booking');

-- ---------------------------------------------------------------------
-- A running job: nodes end or begin now
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('live', now() - interval '1 hour', now() + interval '2 hours', '{2,4}', 'running',
                        post => '30 minutes');
SELECT FROM pg_temp.job('next', now() + interval '1 hour', now() + interval '4 hours', '{3}', 'tentative');
CREATE TEMP TABLE v1 AS SELECT pg_temp.version('live') AS v;
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 2, 3)', pg_temp.j('live')), 'MJ005', NULL,
    'swapping a running job to a resource booked later by another job is refused');
SELECT is((pg_temp.nodes('live'), pg_temp.held('live', 2))::text,
          (SELECT (2, tstzrange(now() - interval '1 hour', now() + interval '150 minutes'))::text),
    'the refused swap leaves the running job''s nodes and booking');
SELECT FROM mojob.swap_resource(pg_temp.j('live'), 2, 7);
SELECT is((SELECT (held_from, held_until)::text FROM mojob.job_resource
           WHERE job_id = pg_temp.j('live') AND resource_id = 2),
          (SELECT (NULL::timestamptz, now())::text),
    'a swap on a running job ends the old node''s hold now');
SELECT is((SELECT (held_from, held_until, alias, amount)::text FROM mojob.job_resource
           WHERE job_id = pg_temp.j('live') AND resource_id = 7),
          (SELECT (now(), NULL::timestamptz, 'r2', 0::numeric)::text),
    'a swap on a running job adds a node for the new resource held from now, with the old node''s alias and amount');
SELECT is(pg_temp.held('live', 2), tstzrange(now() - interval '1 hour', now()),
    'the old resource''s booking ends now');
SELECT is(pg_temp.held('live', 7), tstzrange(now(), now() + interval '150 minutes'),
    'the new resource is booked from now to the post_roll_end');
SELECT is(pg_temp.version('live'), (SELECT v FROM v1), 'a swap on a running job leaves its version');
SELECT FROM pg_temp.job('after swap', now(), now() + interval '1 hour', '{2}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('after swap'))), 'tentative',
    'the resource swapped out of a running job is free from now');

SELECT lives_ok(format('SELECT mojob.swap_resource(%s, 7, 1)', pg_temp.j('live')),
    'a resource swapped into a running job can be swapped out again in the same transaction');
SELECT is(pg_temp.held('live', 1), tstzrange(now(), now() + interval '150 minutes'),
    'the second swap books the newest resource from now to the post_roll_end');
SELECT is(pg_temp.held('live', 7), NULL::tstzrange,
    'a resource swapped in and out at the same instant holds nothing');

SELECT FROM mojob.remove_resource(pg_temp.j('live'), 4);
SELECT is((SELECT held_until FROM mojob.job_resource WHERE job_id = pg_temp.j('live') AND resource_id = 4), now(),
    'remove_resource on a running job keeps the node with its hold ended now');
SELECT is(pg_temp.held('live', 4), tstzrange(now() - interval '1 hour', now()),
    'the removed resource''s booking ends now');
SELECT FROM pg_temp.job('studio after', now(), now() + interval '1 hour', '{4}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('studio after'))), 'tentative',
    'the resource removed from a running job is free from now');
SELECT throws_ok(format('SELECT mojob.add_pool_node(%s, 1)', pg_temp.j('live')), 'MJ006', NULL,
    'a running job cannot get an unresolved pool node');
SELECT throws_ok(format('DELETE FROM mojob.job_resource WHERE job_id = %s AND resource_id = 2', pg_temp.j('live')),
    'MJ002', NULL, 'a node a running job has used cannot be deleted');

-- ---------------------------------------------------------------------
-- Completed and canceled jobs keep their nodes (MJ002)
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('done', now() - interval '3 hours', now() - interval '2 hours', '{8}', 'completed');
SELECT FROM pg_temp.job('dropped', '2027-09-21 10:00Z', '2027-09-21 11:00Z', '{8}', 'canceled');

SELECT throws_ok(format('SELECT mojob.add_resource(%s, 1)', pg_temp.j(s)), 'MJ002', NULL,
                 format('add_resource on a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT throws_ok(format('SELECT mojob.add_pool_node(%s, 1)', pg_temp.j(s)), 'MJ002', NULL,
                 format('add_pool_node on a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT throws_ok(format('SELECT mojob.assign_node(%s, 4)', pg_temp.node(s, 'r8')), 'MJ002', NULL,
                 format('assign_node on a node of a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT throws_ok(format('SELECT mojob.remove_resource(%s, 8)', pg_temp.j(s)), 'MJ002', NULL,
                 format('remove_resource on a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT throws_ok(format('SELECT mojob.swap_resource(%s, 8, 4)', pg_temp.j(s)), 'MJ002', NULL,
                 format('swap_resource on a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT throws_ok(format('UPDATE mojob.job_resource SET amount = 1 WHERE job_id = %s', pg_temp.j(s)), 'MJ002', NULL,
                 format('a plain UPDATE of a node of a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT throws_ok(format('DELETE FROM mojob.job_resource WHERE job_id = %s', pg_temp.j(s)), 'MJ002', NULL,
                 format('a plain DELETE of a node of a %s job is refused', pg_temp.state(s)))
FROM unnest(ARRAY['done', 'dropped']) s;
SELECT is((pg_temp.nodes('done'), pg_temp.nodes('dropped'))::text, '(1,1)',
    'completed and canceled jobs keep their one node');

-- ---------------------------------------------------------------------
-- Unknown ids (MJ404), NULL and invalid arguments (22023)
-- ---------------------------------------------------------------------

SELECT throws_ok(c.sql, 'MJ404', NULL, c.description)
FROM (VALUES
    ('SELECT mojob.add_resource(999999, 1)', 'add_resource of an unknown job is MJ404'),
    (format('SELECT mojob.add_resource(%s, 999999)', pg_temp.j('two cams')),
        'add_resource of an unknown resource is MJ404'),
    ('SELECT mojob.add_pool_node(999999, 1)', 'add_pool_node to an unknown job is MJ404'),
    (format('SELECT mojob.add_pool_node(%s, 999999)', pg_temp.j('two cams')),
        'add_pool_node of an unknown pool is MJ404'),
    ('SELECT mojob.assign_node(999999, 1)', 'assign_node of an unknown node is MJ404'),
    (format('SELECT mojob.assign_node(%s, 999999)', pg_temp.node('two cams', 'right')),
        'assign_node of an unknown resource is MJ404'),
    ('SELECT mojob.remove_resource(999999, 1)', 'remove_resource from an unknown job is MJ404'),
    (format('SELECT mojob.remove_resource(%s, 999999)', pg_temp.j('two cams')),
        'remove_resource of an unknown resource is MJ404'),
    (format('SELECT mojob.remove_resource(%s, 1)', pg_temp.j('two cams')),
        'remove_resource of a resource the job does not use is MJ404'),
    ('SELECT mojob.swap_resource(999999, 1, 2)', 'swap_resource on an unknown job is MJ404'),
    (format('SELECT mojob.swap_resource(%s, 1, 3)', pg_temp.j('two cams')),
        'swap_resource of a resource the job does not use is MJ404'),
    (format('SELECT mojob.swap_resource(%s, 8, 999999)', pg_temp.j('two cams')),
        'swap_resource to an unknown resource is MJ404')
) AS c(sql, description);

SELECT throws_ok(c.sql, '22023', NULL, c.description)
FROM (VALUES
    ('SELECT mojob.add_resource(NULL, 1)', 'add_resource refuses a NULL job'),
    (format('SELECT mojob.add_resource(%s, NULL)', pg_temp.j('two cams')), 'add_resource refuses a NULL resource'),
    (format('SELECT mojob.add_resource(%s, 1, NULL)', pg_temp.j('two cams')), 'add_resource refuses a NULL amount'),
    (format('SELECT mojob.add_resource(%s, 1, -1)', pg_temp.j('two cams')), 'add_resource refuses a negative amount'),
    (format($$SELECT mojob.add_resource(%s, 1, 'NaN')$$, pg_temp.j('two cams')), 'add_resource refuses a NaN amount'),
    (format($$SELECT mojob.add_resource(%s, 1, 'Infinity')$$, pg_temp.j('two cams')), 'add_resource refuses an infinite amount'),
    ('SELECT mojob.add_pool_node(NULL, 1)', 'add_pool_node refuses a NULL job'),
    (format('SELECT mojob.add_pool_node(%s, NULL)', pg_temp.j('two cams')), 'add_pool_node refuses a NULL pool'),
    (format('SELECT mojob.add_pool_node(%s, 1, NULL, NULL)', pg_temp.j('two cams')),
        'add_pool_node refuses NULL required_capabilities'),
    (format($$SELECT mojob.add_pool_node(%s, 1, NULL, '{uhd,NULL}')$$, pg_temp.j('two cams')),
        'add_pool_node refuses required_capabilities containing NULL'),
    ('SELECT mojob.assign_node(NULL, 1)', 'assign_node refuses a NULL node'),
    (format('SELECT mojob.assign_node(%s, NULL)', pg_temp.node('two cams', 'right')), 'assign_node refuses a NULL resource'),
    ('SELECT mojob.remove_resource(NULL, 1)', 'remove_resource refuses a NULL job'),
    (format('SELECT mojob.remove_resource(%s, NULL)', pg_temp.j('two cams')), 'remove_resource refuses a NULL resource'),
    ('SELECT mojob.swap_resource(NULL, 8, 1)', 'swap_resource refuses a NULL job'),
    (format('SELECT mojob.swap_resource(%s, NULL, 1)', pg_temp.j('two cams')), 'swap_resource refuses a NULL old_resource'),
    (format('SELECT mojob.swap_resource(%s, 8, NULL)', pg_temp.j('two cams')), 'swap_resource refuses a NULL new_resource')
) AS c(sql, description);
SELECT throws_ok(format('INSERT INTO mojob.job_resource (job_id, resource_id, amount) VALUES (%s, 1, -1)', pg_temp.j('two cams')),
    '23514', NULL, 'a plain INSERT of a node with a negative amount violates the check constraint');
SELECT is(pg_temp.nodes('two cams'), 3, 'the refused calls leave the job''s nodes as they were');

-- ---------------------------------------------------------------------
-- mojob.booking as a whole
-- ---------------------------------------------------------------------

SELECT is_empty($$
    SELECT n.id FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
    WHERE n.resource_id IS NOT NULL
      AND (j.state IN ('tentative', 'confirmed', 'running')
           OR (j.state = 'completed' AND j.post_roll_end > now()))
    EXCEPT SELECT node_id FROM mojob.booking
    $$, 'every resolved node of a holding job has a booking');
SELECT is_empty($$
    SELECT b.node_id FROM mojob.booking b
    LEFT JOIN mojob.job_resource n ON n.id = b.node_id
    LEFT JOIN mojob.job j ON j.id = n.job_id
    WHERE n.id IS NULL OR n.job_id <> b.job_id OR n.resource_id IS DISTINCT FROM b.resource_id
       OR n.amount <> b.amount
       OR j.state NOT IN ('tentative', 'confirmed', 'running', 'completed')
       OR b.held <> tstzrange(greatest(j.pre_roll_start, n.held_from), least(j.post_roll_end, n.held_until))
    $$, 'every booking is that of a holding job''s node: its resource, amount and window');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
