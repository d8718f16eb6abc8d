-- The guard, identity and the careless owner, second round (README.md,
-- "Guarantees"):
--
--   * a NULL written into a column a guard reads never crashes the
--     backend: the guard lets NOT NULL refuse it (23502), as a planner
--     setting a node's required_capabilities to NULL, and as the owner
--     setting a resource's name to NULL (both segfaulted before);
--   * with NOT NULL dropped by the owner, a resource without a name is
--     still judged, and named "(no name)";
--   * the resource guard judges the row as it is finally written: a site's
--     BEFORE UPDATE trigger on mojob.resource whose name sorts after
--     zz_mojob_resource_guard and lowers the concurrency is refused (27000)
--     rather than over-booking the resource; one that changes nothing the
--     guard judges (an audit column) passes.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(13);

-- The README's roles.
CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;

INSERT INTO mojob.resource (name, concurrency) VALUES ('studio', 2) RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name) VALUES ('camera') RETURNING id AS r2 \gset
SELECT now() + interval '1 day' AS t1, now() + interval '1 day 1 hour' AS t2 \gset

SET ROLE mojob_planner;
SELECT id AS a FROM mojob.create_job('a', :'t1', :'t2', state => 'tentative', resources => ARRAY[:r1]::bigint[]) \gset
SELECT id AS b FROM mojob.create_job('b', :'t1', :'t2', state => 'tentative', resources => ARRAY[:r1]::bigint[]) \gset
SELECT id AS n FROM mojob.job_resource WHERE job_id = :a \gset

-- ---------------------------------------------------------------------
-- NULLs the guards read
-- ---------------------------------------------------------------------

SELECT throws_ok(format('UPDATE mojob.job_resource SET required_capabilities = NULL WHERE id = %s', :n),
    '23502', NULL,
    'a planner setting a node''s required_capabilities to NULL is refused by NOT NULL (the node guard crashed)');
RESET ROLE;
SELECT throws_ok(format('UPDATE mojob.resource SET name = NULL WHERE id = %s', :r2),
    '23502', NULL,
    'the owner setting a resource''s name to NULL is refused by NOT NULL (the resource guard crashed)');
ALTER TABLE mojob.resource ALTER COLUMN name DROP NOT NULL;
SELECT lives_ok(format('UPDATE mojob.resource SET name = NULL WHERE id = %s', :r2),
    'with NOT NULL dropped by the owner, a resource loses its name');
SELECT lives_ok(format('UPDATE mojob.resource SET concurrency = 2 WHERE id = %s', :r2),
    'and a nameless resource is still judged');
UPDATE mojob.resource SET name = 'camera' WHERE id = :r2;
ALTER TABLE mojob.resource ALTER COLUMN name SET NOT NULL;

-- ---------------------------------------------------------------------
-- A trigger of the site's named after the resource guard
-- ---------------------------------------------------------------------

CREATE FUNCTION pg_temp.shrink() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN NEW.concurrency := 1; RETURN NEW; END$$;
CREATE TRIGGER zzz_shrink BEFORE UPDATE ON mojob.resource
    FOR EACH ROW EXECUTE FUNCTION pg_temp.shrink();
SELECT throws_ok(format('UPDATE mojob.resource SET name = ''studio A'' WHERE id = %s', :r1),
    '27000', 'resource ' || :r1 || ' was changed after zz_mojob_resource_guard judged it',
    'a trigger named after the resource guard that lowers the concurrency is refused');
SELECT is((SELECT concurrency FROM mojob.resource WHERE id = :r1), 2, 'the concurrency stays 2');
SELECT is((SELECT count(*) FROM mojob.job_resource WHERE resource_id = :r1), 2::bigint, 'both jobs still hold it');
DROP TRIGGER zzz_shrink ON mojob.resource;
CREATE TRIGGER überprüfung BEFORE UPDATE ON mojob.resource
    FOR EACH ROW EXECUTE FUNCTION pg_temp.shrink();
SELECT throws_ok(format('UPDATE mojob.resource SET properties = ''{"x": 1}'' WHERE id = %s', :r1),
    '27000', NULL, 'a trigger named überprüfung too');
DROP TRIGGER überprüfung ON mojob.resource;

ALTER TABLE mojob.resource ADD COLUMN site_touched int DEFAULT 0;
CREATE FUNCTION pg_temp.audit() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN RETURN NEW; END$$;
CREATE TRIGGER zzz_audit BEFORE UPDATE ON mojob.resource
    FOR EACH ROW EXECUTE FUNCTION pg_temp.audit();
SELECT lives_ok(format('UPDATE mojob.resource SET name = ''studio A'' WHERE id = %s', :r1),
    'a trigger named after the guard that leaves the row as approved passes');
SELECT is((SELECT name FROM mojob.resource WHERE id = :r1), 'studio A', 'and the update is made');
DROP TRIGGER zzz_audit ON mojob.resource;
SELECT is((SELECT count(*) FROM mojob.booking WHERE resource_id = :r1), 2::bigint, 'the bookings are all there');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
