-- The careless owner, third round (README.md, "Guarantees"): a backend never
-- crashes; when an owner renames or drops a column mojob relies on, or
-- drops its NOT NULL, mojob's functions refuse with an error naming it.
--
--   * the owner drops NOT NULL on a column mojob's C code reads as a value
--     and stores a NULL there (with its triggers disabled, as a data-only restore does): each of
--     these crashed the backend before (a crash aborts this file, so it
--     fails); now every mojob function refuses (42P16), naming the column
--     and saying how to restore the constraint;
--   * with SET NOT NULL given back, everything works again;
--   * a resource's name, which mojob names "(no name)" when the owner made
--     it NULL, no longer crashes assign_node() or create_job_for_resource().
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(27);

INSERT INTO mojob.resource (name, capabilities) VALUES ('studio', '{uhd}') RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name, capabilities) VALUES ('camera', '{uhd}') RETURNING id AS r2 \gset
INSERT INTO mojob.pool (name) VALUES ('cams') RETURNING id AS p1 \gset
INSERT INTO mojob.pool_member (pool_id, resource_id) VALUES (:p1, :r2);
SELECT id AS a FROM mojob.create_job('a', now() + interval '1 day', now() + interval '1 day 1 hour',
                                     state => 'tentative', resources => ARRAY[:r1]::bigint[]) \gset
SELECT id AS b FROM mojob.create_job('b', now() + interval '2 days', now() + interval '2 days 1 hour',
                                     state => 'tentative') \gset
SELECT FROM mojob.add_pool_node(:b, :p1, 'cam', '{uhd}');
SELECT id AS nb FROM mojob.job_resource WHERE job_id = :b \gset
SELECT id AS e FROM mojob.create_job('e', now() + interval '3 days', now() + interval '3 days 1 hour',
                                     state => 'tentative') \gset
SELECT id AS rc FROM mojob.make_recurring(:e, 'FREQ=DAILY', 'UTC', '7 days') \gset
SELECT FROM mojob.confirm(:a);

-- A NULL in a column mojob reads as a value.
CREATE FUNCTION pg_temp.null_in(tab text, col text, cond text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE mojob.%I ALTER COLUMN %I DROP NOT NULL', tab, col);
    EXECUTE format('ALTER TABLE mojob.%I DISABLE TRIGGER ALL', tab);
    EXECUTE format('UPDATE mojob.%I SET %I = NULL WHERE %s', tab, col, cond);
    EXECUTE format('ALTER TABLE mojob.%I ENABLE TRIGGER ALL', tab);
END $$;

SELECT amount AS amount FROM mojob.booking WHERE job_id = :a \gset
SELECT pg_temp.null_in('booking', 'amount', 'job_id = ' || :a);
SELECT throws_ok(format('SELECT mojob.start(%s)', :a), '42P16',
    'column "amount" of mojob.booking is no longer NOT NULL',
    'a NULL booking amount: start() refuses, naming the column (it crashed)');
SELECT throws_ok(format('SELECT mojob.unconfirm(%s)', :a), '42P16', NULL, 'and so does unconfirm()');
SELECT lives_ok('SELECT * FROM mojob.verify()', 'verify() (SQL) reads the NULL without harm');
ALTER TABLE mojob.booking DISABLE TRIGGER ALL;
UPDATE mojob.booking SET amount = :'amount' WHERE job_id = :a;
ALTER TABLE mojob.booking ENABLE TRIGGER ALL;
ALTER TABLE mojob.booking ALTER COLUMN amount SET NOT NULL;
SELECT lives_ok(format('SELECT mojob.unconfirm(%s)', :a), 'with NOT NULL given back, unconfirm() works again');
SELECT lives_ok(format('SELECT mojob.confirm(%s)', :a), 'and confirm()');

SELECT held AS held FROM mojob.booking WHERE job_id = :a \gset
SELECT pg_temp.null_in('booking', 'held', 'job_id = ' || :a);
SELECT throws_ok(format('SELECT mojob.start(%s)', :a), '42P16',
    'column "held" of mojob.booking is no longer NOT NULL',
    'a NULL booking window: start() refuses, naming the column (it crashed)');
ALTER TABLE mojob.booking DISABLE TRIGGER ALL;
UPDATE mojob.booking SET held = :'held' WHERE job_id = :a;
ALTER TABLE mojob.booking ENABLE TRIGGER ALL;
ALTER TABLE mojob.booking ALTER COLUMN held SET NOT NULL;

SELECT pg_temp.null_in('job', 'code', 'id = ' || :b);
SELECT throws_ok(format('SELECT mojob.reserve(%s)', :b), '42P16',
    'column "code" of mojob.job is no longer NOT NULL',
    'a NULL job code: reserve() refuses, naming the column (it crashed)');
SELECT throws_ok(format('UPDATE mojob.job SET name = ''x'' WHERE id = %s', :b), '42P16', NULL,
    'and so does a plain UPDATE of the job');
SELECT throws_ok('SELECT count(*) FROM mojob.advance(now() + interval ''3 days'')', '42P16', NULL, 'and advance()');
ALTER TABLE mojob.job DISABLE TRIGGER ALL;
UPDATE mojob.job SET code = 'B' WHERE id = :b;
ALTER TABLE mojob.job ENABLE TRIGGER ALL;
ALTER TABLE mojob.job ALTER COLUMN code SET NOT NULL;

SELECT pg_temp.null_in('recurrence', 'rule', 'true');
SELECT throws_ok('SELECT mojob.extend_recurrences(now() + interval ''10 days'')', '42P16',
    'column "rule" of mojob.recurrence is no longer NOT NULL',
    'a NULL recurrence rule: extend_recurrences() refuses, naming the column (it crashed)');
ALTER TABLE mojob.recurrence DISABLE TRIGGER ALL;
UPDATE mojob.recurrence SET rule = 'FREQ=DAILY';
ALTER TABLE mojob.recurrence ENABLE TRIGGER ALL;
ALTER TABLE mojob.recurrence ALTER COLUMN rule SET NOT NULL;

SELECT pg_temp.null_in('recurrence', 'time_zone', 'true');
SELECT throws_ok('SELECT mojob.extend_recurrences(now() + interval ''10 days'')', '42P16',
    'column "time_zone" of mojob.recurrence is no longer NOT NULL',
    'a NULL recurrence time zone: extend_recurrences() refuses, naming the column (it crashed)');
ALTER TABLE mojob.recurrence DISABLE TRIGGER ALL;
UPDATE mojob.recurrence SET time_zone = 'UTC';
ALTER TABLE mojob.recurrence ENABLE TRIGGER ALL;
ALTER TABLE mojob.recurrence ALTER COLUMN time_zone SET NOT NULL;

SELECT state AS rstate FROM mojob.recurrence WHERE id = :rc \gset
SELECT pg_temp.null_in('recurrence', 'state', 'true');
SELECT throws_ok(format('SELECT mojob.cancel_recurrence(%s, ''x'')', :rc), '42P16',
    'column "state" of mojob.recurrence is no longer NOT NULL',
    'a NULL recurrence state: cancel_recurrence() refuses, naming the column (it crashed)');
SELECT throws_ok(format('SELECT mojob.cancel(%s, ''x'')', :a), '42P16', NULL,
    'and so does every other mojob function');
ALTER TABLE mojob.recurrence DISABLE TRIGGER ALL;
UPDATE mojob.recurrence SET state = :'rstate';
ALTER TABLE mojob.recurrence ENABLE TRIGGER ALL;
ALTER TABLE mojob.recurrence ALTER COLUMN state SET NOT NULL;

-- The hint says how to give the constraint back.
ALTER TABLE mojob.resource ALTER COLUMN concurrency DROP NOT NULL;
CREATE FUNCTION pg_temp.hint(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $$;
SELECT is(pg_temp.hint(format('SELECT mojob.reserve(%s)', :b)),
    'Give it back its constraint: ALTER TABLE mojob.resource ALTER COLUMN concurrency SET NOT NULL.',
    'the refusal''s hint gives the statement that restores the constraint');
SELECT throws_ok(format('UPDATE mojob.resource SET enabled = true WHERE id = %s', :r1), '42P16', NULL,
    'a plain UPDATE of a resource is refused too, even without a NULL stored');
ALTER TABLE mojob.resource ALTER COLUMN concurrency SET NOT NULL;
SELECT lives_ok(format('UPDATE mojob.resource SET enabled = true WHERE id = %s', :r1),
    'and works once the constraint is back');

-- A resource's name, made NULL by the owner (its NOT NULL is not needed).
ALTER TABLE mojob.resource ALTER COLUMN name DROP NOT NULL;
UPDATE mojob.resource SET name = NULL WHERE id IN (:r1, :r2);
SELECT throws_ok(format('SELECT mojob.assign_node(%s, %s)', :nb, :r1), 'MJ006',
    'resource "(no name)" is not in pool "cams"',
    'assign_node() names a nameless resource "(no name)" (it crashed)');
SELECT lives_ok(format('SELECT mojob.assign_node(%s, %s)', :nb, :r2), 'and assigns a nameless member');
SELECT lives_ok(format('SELECT mojob.create_job_for_resource(%s, ''x'', now() + interval ''5 days'', now() + interval ''5 days 1 hour'')', :r1),
    'create_job_for_resource() books a nameless resource (it crashed)');
SELECT throws_ok(format('SELECT mojob.create_job(''y'', now() + interval ''1 day'', now() + interval ''1 day 1 hour'', state => ''tentative'', resources => ARRAY[%s]::bigint[])', :r1),
    'MJ005', NULL, 'and a nameless resource is still checked for over-booking');
SELECT is((SELECT count(*) FROM mojob.booking WHERE resource_id = :r1), 2::bigint, 'its bookings are all there');
UPDATE mojob.resource SET name = 'r' || id;
ALTER TABLE mojob.resource ALTER COLUMN name SET NOT NULL;

-- A site's BEFORE DELETE trigger on mojob.job_resource named after the node
-- guard, that skips the delete: the guard had released the node's booking,
-- so the node stayed, holding nothing, and another job took its resource.
-- The delete is now refused (27000), the booking kept.
INSERT INTO mojob.resource (name) VALUES ('skip desk') RETURNING id AS rs \gset
SELECT id AS js FROM mojob.create_job('held', now() + interval '6 days', now() + interval '6 days 1 hour',
                                      state => 'tentative', resources => ARRAY[:rs]::bigint[]) \gset
CREATE FUNCTION pg_temp.skip_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER zzz_skip BEFORE DELETE ON mojob.job_resource FOR EACH ROW EXECUTE FUNCTION pg_temp.skip_row();
SELECT throws_ok(format('DELETE FROM mojob.job_resource WHERE job_id = %s', :js), '27000', NULL,
    'a node delete skipped by a site trigger that fires after the node guard is refused');
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE job_id = :js), 1, 'the node keeps its booking');
SELECT throws_ok(format('SELECT mojob.create_job(''rival'', now() + interval ''6 days'', now() + interval ''6 days 1 hour'', state => ''tentative'', resources => ARRAY[%s]::bigint[])', :rs),
    'MJ005', NULL, 'and another job still cannot take its resource');
DROP TRIGGER zzz_skip ON mojob.job_resource;
SELECT lives_ok(format('DELETE FROM mojob.job_resource WHERE job_id = %s', :js),
    'without that trigger the node is deleted');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
