-- The nodes mojob.create_job inserts (docs/design.md sections 3 and 4).  It
-- writes them directly while mojob.job_resource is as mojob made it, and
-- with an INSERT when a site has added something an INSERT would apply:
-- either way the rows, the refusals and everything the site added must be
-- what an INSERT gives.  Each site addition below is made after
-- create_job has already run in this session, so the change of the table
-- must be seen at once.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(42);

INSERT INTO mojob.resource (id, name)
SELECT i, 'cam-' || i FROM generate_series(1, 8) AS i;

-- Create a job on the resources, returning its id.
CREATE FUNCTION pg_temp.mk(label text, res bigint[], st mojob.job_state DEFAULT 'draft') RETURNS bigint
LANGUAGE sql AS $$
    SELECT id FROM mojob.create_job(label, now() + interval '1 day', now() + interval '1 day 1 hour',
                                    state => st, resources => res)
$$;
CREATE FUNCTION pg_temp.nodes(job bigint) RETURNS SETOF mojob.job_resource
LANGUAGE sql AS $$ SELECT * FROM mojob.job_resource WHERE job_id = job ORDER BY id $$;
CREATE FUNCTION pg_temp.counts() RETURNS text
LANGUAGE sql AS $$
    SELECT format('%s jobs, %s nodes, %s bookings', (SELECT count(*) FROM mojob.job),
                  (SELECT count(*) FROM mojob.job_resource), (SELECT count(*) FROM mojob.booking))
$$;

-- ---------------------------------------------------------------------
-- The nodes, as mojob made the table
-- ---------------------------------------------------------------------

SELECT pg_temp.mk('plain', '{3,1,2}') AS plain \gset
SELECT results_eq(format('SELECT resource_id FROM pg_temp.nodes(%s)', :plain),
                  ARRAY[1, 2, 3]::bigint[], 'the nodes are inserted in resource order (the lock order)');
SELECT results_eq(format($$SELECT amount, required_capabilities, alias, pool_id, held_from, held_until
                           FROM pg_temp.nodes(%s)$$, :plain),
                  $$VALUES (0::numeric, '{}'::text[], NULL::text, NULL::bigint, NULL::timestamptz, NULL::timestamptz),
                           (0, '{}', NULL, NULL, NULL, NULL), (0, '{}', NULL, NULL, NULL, NULL)$$,
                  'each node has the columns'' defaults');
SELECT ok((SELECT bool_and(id > 0) AND count(DISTINCT id) = 3 FROM pg_temp.nodes(:plain)),
          'each node has its own id from the sequence');
SELECT is((SELECT count(*) FROM mojob.booking b JOIN mojob.job_resource n ON n.id = b.node_id
           WHERE n.job_id = :plain), 0::bigint, 'a draft''s nodes book nothing');

SELECT pg_temp.mk('held', '{4,2}', 'tentative') AS held \gset
SELECT results_eq(format($$SELECT n.resource_id, b.resource_id, b.held
                           FROM pg_temp.nodes(%s) n JOIN mojob.booking b ON b.node_id = n.id$$, :held),
                  format($$SELECT r, r, tstzrange(j.pre_roll_start, j.post_roll_end)
                           FROM mojob.job j, unnest('{2,4}'::bigint[]) AS r WHERE j.id = %s$$, :held),
                  'a tentative job''s nodes book their resources for its window');
SELECT pg_temp.counts() AS before \gset
SELECT throws_ok($$SELECT pg_temp.mk('taken', '{1,2}', 'tentative')$$, 'MJ005', NULL,
                 'a resource in the way refuses the new tentative job');
SELECT throws_ok($$SELECT pg_temp.mk('unknown', '{1,99}')$$, 'MJ404',
                 'resource 99 does not exist', 'an unknown resource is refused (MJ404)');
SELECT is(pg_temp.counts(), :'before', 'and nothing is written');

-- ---------------------------------------------------------------------
-- What a site adds to mojob.job_resource applies to create_job's nodes
-- ---------------------------------------------------------------------

-- A default.
ALTER TABLE mojob.job_resource ALTER COLUMN alias SET DEFAULT 'main';
SELECT pg_temp.mk('default', '{1,3}') AS j \gset
SELECT results_eq(format('SELECT alias FROM pg_temp.nodes(%s)', :j), ARRAY['main', 'main'],
                  'a default the site set is applied');
ALTER TABLE mojob.job_resource ALTER COLUMN alias DROP DEFAULT;
SELECT pg_temp.mk('no default', '{1}') AS j \gset
SELECT is((SELECT alias FROM pg_temp.nodes(:j)), NULL, 'and no longer once dropped');

-- A column of its own, with a default that is evaluated for each row.
CREATE SEQUENCE pg_temp.site_seq;
ALTER TABLE mojob.job_resource ADD COLUMN site_ref text NOT NULL DEFAULT 'r';
ALTER TABLE mojob.job_resource ALTER COLUMN site_ref SET DEFAULT 'r' || nextval('pg_temp.site_seq');
SELECT pg_temp.mk('column', '{2,3}') AS j \gset
SELECT results_eq(format('SELECT site_ref FROM pg_temp.nodes(%s)', :j), ARRAY['r1', 'r2'],
                  'a site''s column gets its volatile default, once per node');
-- Its NOT NULL, once it has no default.
ALTER TABLE mojob.job_resource ALTER COLUMN site_ref DROP DEFAULT;
SELECT pg_temp.counts() AS before \gset
SELECT throws_ok($$SELECT pg_temp.mk('null', '{1}')$$, '23502', NULL,
                 'a site''s NOT NULL column without a default refuses the node (23502)');
SELECT is(pg_temp.counts(), :'before', 'and nothing is written');
ALTER TABLE mojob.job_resource DROP COLUMN site_ref;
SELECT pg_temp.mk('dropped column', '{1,2}') AS j \gset
SELECT is((SELECT count(*) FROM pg_temp.nodes(:j)), 2::bigint, 'nodes are inserted again once the column is dropped');

-- A CHECK.
ALTER TABLE mojob.job_resource ADD CONSTRAINT site_not_2 CHECK (resource_id <> 2) NOT VALID;
SELECT pg_temp.counts() AS before \gset
SELECT throws_ok($$SELECT pg_temp.mk('check', '{1,2}')$$, '23514',
                 'new row for relation "job_resource" violates check constraint "site_not_2"',
                 'a site''s CHECK refuses the node (23514), NOT VALID as it is');
SELECT is(pg_temp.counts(), :'before', 'and nothing is written');
SELECT lives_ok($$SELECT pg_temp.mk('check ok', '{1,3}')$$, 'a node it allows is inserted');
ALTER TABLE mojob.job_resource DROP CONSTRAINT site_not_2;
-- mojob's own CHECK still applies: an amount is not NaN, whatever the path.
ALTER TABLE mojob.job_resource ALTER COLUMN amount SET DEFAULT 'NaN';
SELECT throws_ok($$SELECT pg_temp.mk('nan', '{1}')$$, '23514',
                 'new row for relation "job_resource" violates check constraint "job_resource_amount_check"',
                 'mojob''s own CHECK applies to the defaults');
ALTER TABLE mojob.job_resource ALTER COLUMN amount SET DEFAULT 0;

-- A CHECK calling a function, which changes: the new body applies at once.
CREATE FUNCTION pg_temp.site_ok(r bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
ALTER TABLE mojob.job_resource ADD CONSTRAINT site_ok CHECK (pg_temp.site_ok(resource_id)) NOT VALID;
SELECT lives_ok($$SELECT pg_temp.mk('function', '{3}')$$, 'a CHECK calling a function: allowed');
CREATE OR REPLACE FUNCTION pg_temp.site_ok(r bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT r <> 3 $$;
SELECT throws_ok($$SELECT pg_temp.mk('function changed', '{3}')$$, '23514', NULL,
                 'once the function is replaced, its new body refuses the node');
ALTER TABLE mojob.job_resource DROP CONSTRAINT site_ok;

-- A column of a domain with a default, whose constraint changes.
CREATE DOMAIN pg_temp.site_tag AS text DEFAULT 'x';
ALTER TABLE mojob.job_resource ADD COLUMN tag pg_temp.site_tag;
SELECT pg_temp.mk('domain', '{1}') AS j \gset
SELECT is((SELECT tag::text FROM pg_temp.nodes(:j)), 'x', 'a domain''s default is applied');
ALTER DOMAIN pg_temp.site_tag ADD CONSTRAINT not_x CHECK (VALUE <> 'x') NOT VALID;
SELECT throws_ok($$SELECT pg_temp.mk('domain changed', '{1}')$$, '23514', NULL,
                 'once the domain refuses it, the default is refused');
ALTER DOMAIN pg_temp.site_tag DROP CONSTRAINT not_x;
ALTER DOMAIN pg_temp.site_tag SET DEFAULT 'y';
SELECT pg_temp.mk('domain default', '{1}') AS j \gset
SELECT is((SELECT tag::text FROM pg_temp.nodes(:j)), 'y', 'and its new default is applied');
ALTER TABLE mojob.job_resource DROP COLUMN tag;

-- The nodes see what the statement calling create_job wrote before it, as
-- an INSERT run by it would.
SELECT lives_ok($$WITH r AS (INSERT INTO mojob.resource (id, name) VALUES (50, 'new') RETURNING id)
                  SELECT mojob.create_job('same statement', now() + interval '1 day',
                                          now() + interval '1 day 1 hour', resources => ARRAY(SELECT id FROM r))$$,
                'a resource inserted earlier in the calling statement is found');

-- A unique index of the site's.
CREATE UNIQUE INDEX site_one_4 ON mojob.job_resource (resource_id) WHERE resource_id = 4;
SELECT throws_ok($$SELECT pg_temp.mk('unique', '{4}')$$, '23505', NULL,
                 'a site''s unique index refuses a second node on resource 4 (23505)');
DROP INDEX mojob.site_one_4;

-- A trigger: the nodes take the INSERT, which fires it.
CREATE TABLE pg_temp.audit (node bigint, alias text);
CREATE FUNCTION pg_temp.audit_node() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.alias := 'audited';
    INSERT INTO pg_temp.audit VALUES (NEW.id, NEW.alias);
    RETURN NEW;
END
$$;
CREATE TRIGGER site_audit BEFORE INSERT ON mojob.job_resource
    FOR EACH ROW EXECUTE FUNCTION pg_temp.audit_node();
SELECT pg_temp.mk('trigger', '{1,3}', 'tentative') AS j \gset
SELECT results_eq(format('SELECT id, alias FROM pg_temp.nodes(%s)', :j), 'SELECT node, alias FROM pg_temp.audit ORDER BY node',
                  'a site''s trigger fires for each node, and what it changes is kept');
SELECT is((SELECT count(*) FROM mojob.booking b JOIN pg_temp.nodes(:j) n ON n.id = b.node_id), 2::bigint,
          'and the guard still books them');
ALTER TABLE mojob.job_resource DISABLE TRIGGER site_audit;
DELETE FROM pg_temp.audit;
SELECT pg_temp.mk('trigger off', '{1}') AS j \gset
SELECT is((SELECT count(*) FROM pg_temp.audit), 0::bigint, 'a disabled trigger does not fire');
DROP TRIGGER site_audit ON mojob.job_resource;

-- session_replication_role = replica: an INSERT fires no ordinary trigger,
-- mojob's guard included (as for mojob.job itself: the job gets its code
-- and creator from defaults here, and its rolls from the call, as the guard does
-- not run); create_job's nodes do
-- the same.
ALTER TABLE mojob.job ALTER COLUMN code SET DEFAULT 'REPLICA-1',
                      ALTER COLUMN created_by SET DEFAULT 'replica';
SET LOCAL session_replication_role = replica;
SELECT id AS j FROM mojob.create_job('replica', now() + interval '1 day', now() + interval '1 day 1 hour',
                                     pre_roll => '0', post_roll => '0', state => 'tentative',
                                     resources => '{3}') \gset
SELECT is((SELECT count(*) FROM mojob.booking b JOIN pg_temp.nodes(:j) n ON n.id = b.node_id), 0::bigint,
          'under session_replication_role = replica the node trigger does not fire, as for an INSERT');
DELETE FROM mojob.job_resource WHERE job_id = :j;
DELETE FROM mojob.job WHERE id = :j;
SET LOCAL session_replication_role = origin;
ALTER TABLE mojob.job ALTER COLUMN code DROP DEFAULT, ALTER COLUMN created_by DROP DEFAULT;

-- ---------------------------------------------------------------------
-- Privileges and row security
-- ---------------------------------------------------------------------

CREATE ROLE mojob_t_app NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_t_app;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_t_app;
GRANT INSERT, UPDATE ON mojob.job TO mojob_t_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_t_app;
GRANT INSERT (job_id, resource_id) ON mojob.job_resource TO mojob_t_app;

SET ROLE mojob_t_app;
SELECT pg_temp.mk('columns', '{2,4}') AS j \gset
SELECT is((SELECT count(*) FROM pg_temp.nodes(:j)), 2::bigint,
          'INSERT on job_id and resource_id is enough, as for an INSERT naming them');
RESET ROLE;
REVOKE INSERT (resource_id) ON mojob.job_resource FROM mojob_t_app;
SET ROLE mojob_t_app;
SELECT pg_temp.counts() AS before \gset
SELECT throws_ok($$SELECT pg_temp.mk('no right', '{1}')$$, '42501', NULL,
                 'without INSERT on resource_id the nodes are refused (42501)');
SELECT is(pg_temp.counts(), :'before', 'and nothing is written');
RESET ROLE;
GRANT INSERT ON mojob.job_resource TO mojob_t_app;
REVOKE USAGE ON SEQUENCE mojob.job_resource_id_seq FROM mojob_t_app;
SET ROLE mojob_t_app;
SELECT throws_ok($$SELECT pg_temp.mk('no sequence', '{1}')$$, '42501', NULL,
                 'without USAGE on the nodes'' sequence the nodes are refused (42501)');
RESET ROLE;
GRANT USAGE ON SEQUENCE mojob.job_resource_id_seq TO mojob_t_app;

-- Row security.
ALTER TABLE mojob.job_resource ENABLE ROW LEVEL SECURITY;
CREATE POLICY site_read ON mojob.job_resource FOR SELECT USING (true);
CREATE POLICY site_not_4 ON mojob.job_resource FOR INSERT WITH CHECK (resource_id <> 4);
CREATE POLICY site_touch ON mojob.job_resource FOR UPDATE USING (true);
SET ROLE mojob_t_app;
SELECT throws_ok($$SELECT pg_temp.mk('policy', '{3,4}')$$, '42501',
                 'new row violates row-level security policy for table "job_resource"',
                 'a row security policy refuses the node (42501)');
SELECT lives_ok($$SELECT pg_temp.mk('policy ok', '{1,3}')$$, 'a node it allows is inserted');
RESET ROLE;
ALTER TABLE mojob.job_resource DISABLE ROW LEVEL SECURITY;
DROP POLICY site_read ON mojob.job_resource;
DROP POLICY site_not_4 ON mojob.job_resource;
DROP POLICY site_touch ON mojob.job_resource;

-- A rule.
CREATE TABLE pg_temp.ruled (resource bigint);
CREATE RULE site_rule AS ON INSERT TO mojob.job_resource DO ALSO INSERT INTO pg_temp.ruled VALUES (NEW.resource_id);
SELECT pg_temp.mk('rule', '{2,3}') AS j \gset
SELECT results_eq('SELECT resource FROM pg_temp.ruled ORDER BY 1', ARRAY[2, 3]::bigint[],
                  'a site''s rule applies to each node');
DROP RULE site_rule ON mojob.job_resource;

-- And back as mojob made it, in the same session.
SELECT pg_temp.mk('again', '{8,7}', 'tentative') AS j \gset
SELECT results_eq(format('SELECT resource_id, alias FROM pg_temp.nodes(%s)', :j),
                  $$VALUES (7::bigint, NULL::text), (8, NULL)$$, 'nodes are as before once the site''s additions are gone');
SELECT is((SELECT count(*) FROM mojob.booking b JOIN pg_temp.nodes(:j) n ON n.id = b.node_id), 2::bigint,
          'and booked');

-- ---------------------------------------------------------------------
-- The foreign keys: a draft's resource is locked as the key check locks it
-- ---------------------------------------------------------------------

SELECT pg_temp.mk('locks', '{5}') AS j \gset
SELECT is((SELECT xmax::text FROM mojob.resource WHERE id = 5), pg_current_xact_id()::xid::text,
          'a draft''s resource is locked by this transaction (so it cannot be deleted under the node)');
SELECT is((SELECT xmax::text FROM mojob.resource WHERE id = 6), '0', 'another resource is not');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
