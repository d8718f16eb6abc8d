-- mojob.free_resources(during, pool, capabilities) and
-- mojob.resource_usage(resource, during) (docs/design.md sections 3 and 4):
-- enabled resources that can take one more booking over the whole window,
-- in the pool, with every capability; and the peaks of jobs and amount.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(41);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, concurrency, capacity, capabilities, enabled) VALUES
    (1, 'cam-a', 1, NULL, '{hd}', true),
    (2, 'cam-b', 2, NULL, '{hd,uhd}', true),
    (3, 'cam-c', 3, 10, '{uhd}', true),
    (4, 'cam-off', 1, NULL, '{hd,uhd}', false),
    (5, 'deck', 1, NULL, '{}', true);
INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras'), (2, 'empty'), (3, 'decks');
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (1, 1), (1, 2), (1, 3), (1, 4), (3, 5);

CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;

-- The names free_resources lists, in its order.
CREATE FUNCTION pg_temp.free(lo timestamptz, hi timestamptz, pool bigint DEFAULT NULL,
                             caps text[] DEFAULT '{}')
RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(f.name), '{}') FROM mojob.free_resources(tstzrange(lo, hi), pool, caps) f
$$;

-- The peaks resource_usage gives, as text.
CREATE FUNCTION pg_temp.usage(res bigint, lo timestamptz, hi timestamptz) RETURNS text
LANGUAGE sql AS $$ SELECT (u.jobs, u.amount)::text FROM mojob.resource_usage(res, tstzrange(lo, hi)) u $$;

CREATE FUNCTION pg_temp.job(label text, s timestamptz, e timestamptz, res bigint[] DEFAULT '{}',
                            target mojob.job_state DEFAULT 'draft',
                            pre interval DEFAULT '0', post interval DEFAULT '0',
                            amount numeric DEFAULT 0)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    j mojob.job;
    r bigint;
BEGIN
    SELECT * INTO j FROM mojob.create_job(label, s, e, pre_roll => pre, post_roll => post);
    FOREACH r IN ARRAY res LOOP
        PERFORM mojob.add_resource(j.id, r, amount);
    END LOOP;
    IF target <> 'draft' THEN
        SELECT * INTO j FROM mojob.reserve(j.id);
    END IF;
    IF target IN ('confirmed', 'running', 'completed') THEN
        SELECT * INTO j FROM mojob.confirm(j.id);
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

-- ---------------------------------------------------------------------
-- Nothing booked
-- ---------------------------------------------------------------------

SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z'), '{cam-a,cam-b,cam-c,deck}',
    'with nothing booked every enabled resource is free, in name order');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', 1), '{cam-a,cam-b,cam-c}',
    'a pool narrows the list to its enabled members');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', 2), '{}',
    'an empty pool has nothing free');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', caps => '{uhd}'), '{cam-b,cam-c}',
    'a capability keeps the resources that have it');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', caps => '{hd,uhd}'), '{cam-b}',
    'several capabilities keep the resources that have all of them');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', 3, '{hd}'), '{}',
    'pool and capabilities must both match');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', caps => '{8k}'), '{}',
    'a capability nobody has leaves nothing');
SELECT is((SELECT count(*)::int FROM mojob.free_resources(tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'))
           WHERE NOT enabled), 0, 'a disabled resource is never free');
SELECT is((SELECT (id, concurrency, capacity, capabilities)::text
           FROM mojob.free_resources(tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'), 1, '{uhd}') WHERE name = 'cam-c'),
    '(3,3,10,{uhd})', 'free_resources returns whole mojob.resource rows');
SELECT is(pg_temp.usage(1, '2027-09-15 00:00Z', '2027-09-16 00:00Z'), '(0,0)',
    'resource_usage of a resource nothing holds is (0, 0)');

-- ---------------------------------------------------------------------
-- Bookings
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('a-show', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{1}', 'tentative');
SELECT is(pg_temp.free('2027-09-15 10:30Z', '2027-09-15 11:30Z', 1), '{cam-b,cam-c}',
    'a resource of concurrency 1 held for part of the window is not free');
SELECT is(pg_temp.free('2027-09-15 11:00Z', '2027-09-15 12:00Z', 1), '{cam-a,cam-b,cam-c}',
    'a resource is free from the end of a booking on (half-open windows)');
SELECT is(pg_temp.free('2027-09-15 09:00Z', '2027-09-15 10:00Z', 1), '{cam-a,cam-b,cam-c}',
    'a resource is free up to the start of a booking');
SELECT is(pg_temp.free('2027-09-15 06:00Z', '2027-09-15 18:00Z', 1), '{cam-b,cam-c}',
    'a resource busy for one hour of a long window is not free over the whole window');

SELECT FROM pg_temp.job('b-one', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{2}', 'confirmed');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 11:00Z', 1), '{cam-b,cam-c}',
    'a resource of concurrency 2 holding one job is still free');
SELECT FROM pg_temp.job('b-two', '2027-09-15 10:30Z', '2027-09-15 11:30Z', '{2}', 'tentative');
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 12:00Z', 1), '{cam-c}',
    'a resource of concurrency 2 holding two jobs at once is not free');
SELECT is(pg_temp.free('2027-09-15 11:00Z', '2027-09-15 12:00Z', 1), '{cam-a,cam-b,cam-c}',
    'a resource of concurrency 2 is free where only one job holds it');

SELECT FROM pg_temp.job('b-draft', '2027-09-15 11:00Z', '2027-09-15 12:00Z', '{2}');
SELECT FROM pg_temp.job('b-canceled', '2027-09-15 11:00Z', '2027-09-15 12:00Z', '{2}', 'canceled');
SELECT is(pg_temp.free('2027-09-15 11:00Z', '2027-09-15 12:00Z', 1), '{cam-a,cam-b,cam-c}',
    'draft and canceled jobs do not make a resource busy');

SELECT FROM pg_temp.job('c-four', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{3}', 'tentative', amount => 4);
SELECT FROM pg_temp.job('c-three', '2027-09-15 10:30Z', '2027-09-15 11:30Z', '{3}', 'tentative', amount => 3);
SELECT is(pg_temp.free('2027-09-15 10:00Z', '2027-09-15 12:00Z', 1), '{cam-c}',
    'a resource with capacity left and a free slot is free');
SELECT FROM pg_temp.job('c-all', '2027-09-15 12:00Z', '2027-09-15 13:00Z', '{3}', 'tentative', amount => 10);
SELECT FROM pg_temp.job('c-small', '2027-09-15 12:30Z', '2027-09-15 13:00Z', '{3}', 'tentative', amount => 0);
SELECT is(pg_temp.free('2027-09-15 11:00Z', '2027-09-15 11:30Z', 1), '{cam-a,cam-b,cam-c}',
    'a resource is free where the amounts held leave capacity');

-- resource_usage: peaks, not sums
SELECT is(pg_temp.usage(3, '2027-09-15 00:00Z', '2027-09-16 00:00Z'), '(2,10)',
    'resource_usage gives the most jobs and the largest summed amount at any instant');
SELECT is(pg_temp.usage(3, '2027-09-15 10:00Z', '2027-09-15 12:00Z'), '(2,7)',
    'two overlapping jobs of amounts 4 and 3 peak at 2 jobs and 7');
SELECT is(pg_temp.usage(3, '2027-09-15 10:00Z', '2027-09-15 10:30Z'), '(1,4)',
    'resource_usage looks only inside the window');
SELECT is(pg_temp.usage(3, '2027-09-15 11:30Z', '2027-09-15 12:00Z'), '(0,0)',
    'a window touching bookings on both sides has no usage');
SELECT is(pg_temp.usage(2, '2027-09-15 11:00Z', '2027-09-15 12:00Z'), '(1,0)',
    'resource_usage counts neither drafts nor canceled jobs');
SELECT is((SELECT (u.jobs, u.amount)::text FROM mojob.resource_usage(2, 'empty'::tstzrange) u), '(0,0)',
    'resource_usage over an empty window is (0, 0)');

-- completed jobs
SELECT FROM pg_temp.job('tear-down', now() - interval '2 hours', now() - interval '1 hour', '{5}', 'completed',
                        post => '2 hours');
SELECT is(pg_temp.free(now(), now() + interval '2 hours', 3), '{}',
    'a completed job in its post-roll keeps its resource busy');
SELECT is(pg_temp.free(now() + interval '1 hour', now() + interval '2 hours', 3), '{deck}',
    'the resource is free from the completed job''s post_roll_end');
SELECT is(pg_temp.usage(5, now(), now() + interval '2 hours'), '(1,0)',
    'resource_usage counts a completed job in its post-roll');

-- ---------------------------------------------------------------------
-- Arguments
-- ---------------------------------------------------------------------

SELECT throws_ok(c.sql, '22023', NULL, c.description)
FROM (VALUES
    ('SELECT mojob.free_resources(NULL)', 'free_resources refuses a NULL window'),
    ($$SELECT mojob.free_resources('empty')$$, 'free_resources refuses an empty window'),
    ($$SELECT mojob.free_resources(tstzrange('2027-09-15 10:00Z', NULL))$$, 'free_resources refuses an unbounded window'),
    ($$SELECT mojob.free_resources(tstzrange('-infinity', '2027-09-15 10:00Z'))$$, 'free_resources refuses an infinite window'),
    ($$SELECT mojob.free_resources(tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'), capabilities => NULL)$$,
        'free_resources refuses NULL capabilities'),
    ($$SELECT mojob.free_resources(tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'), capabilities => '{hd,NULL}')$$,
        'free_resources refuses capabilities containing NULL'),
    ($$SELECT mojob.resource_usage(NULL, tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'))$$,
        'resource_usage refuses a NULL resource'),
    ('SELECT mojob.resource_usage(1, NULL)', 'resource_usage refuses a NULL window')
) AS c(sql, description);
SELECT throws_ok($$SELECT mojob.free_resources(tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'), 999999)$$,
    'MJ404', NULL, 'free_resources of an unknown pool is MJ404');
SELECT throws_ok($$SELECT mojob.resource_usage(999999, tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'))$$,
    'MJ404', NULL, 'resource_usage of an unknown resource is MJ404');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
