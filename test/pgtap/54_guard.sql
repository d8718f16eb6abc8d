-- The guard under a careless owner and a site's own triggers (README.md,
-- "Guarantees"):
--
--   * a column mojob relies on, renamed, dropped or retyped by the owner,
--     makes mojob's calls refuse with an error naming it (42703, 42804),
--     never a crash (a crash would end this file's run);
--   * calls nest: a site's trigger calling mojob.reserve() while another
--     transition is being made leaves the outer transition's context as it
--     was (its cause, its "already in that state" check);
--   * starting and stopping a job are never refused for another user's
--     edit lock; edits still are;
--   * create_job's direct node insert honours a domain's NOT NULL on a
--     column the site added, with the SQLSTATE of the INSERT (23502);
--   * the guard judges the row as it is finally written: a change a later
--     BEFORE trigger makes (whatever its name), or a row it skips, after
--     the guard looked is refused (27000), on mojob.job and on
--     mojob.job_resource; triggers that change nothing pass;
--   * ids are mojob's: a non-owner's insert cannot choose a job's or a
--     node's id (42501); the owner's can (a restore).
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(39);

CREATE SCHEMA site;

-- Run an owner's change, then a call, in one go: throws_ok runs both in a
-- subtransaction, so the change is undone with the call's error.
CREATE FUNCTION site.after(change text, call text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE change;
    EXECUTE call;
END
$$;

INSERT INTO mojob.resource (name) VALUES ('studio') RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name) VALUES ('camera') RETURNING id AS r2 \gset
INSERT INTO mojob.resource (name) VALUES ('desk') RETURNING id AS r3 \gset
SELECT now() + interval '1 day' AS t1, now() + interval '1 day 1 hour' AS t2 \gset
SELECT id AS d1 FROM mojob.create_job('d1', :'t1', :'t2', resources => ARRAY[:r1]::bigint[]) \gset
SELECT id AS d2 FROM mojob.create_job('d2', :'t1', :'t2', state => 'tentative') \gset

-- ---------------------------------------------------------------------
-- Columns mojob relies on, changed by the owner
-- ---------------------------------------------------------------------

SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.resource RENAME COLUMN capacity TO max_amount',
                                            'SELECT mojob.reserve(%s)')$$, :d1),
    '42703', 'column "capacity" of mojob.resource does not exist',
    'a reservation after resource.capacity was renamed refuses, naming the column (42703)');
SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.resource DROP COLUMN concurrency',
                                            'SELECT mojob.reserve(%s)')$$, :d1),
    '42703', 'column "concurrency" of mojob.resource does not exist',
    'a reservation after resource.concurrency was dropped refuses, naming the column (42703)');
SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.resource ALTER COLUMN concurrency TYPE bigint',
                                            'SELECT mojob.reserve(%s)')$$, :d1),
    '42804', 'column "concurrency" of mojob.resource has type bigint, not integer',
    'a reservation after resource.concurrency became bigint refuses, naming the column and both types (42804)');
SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.resource RENAME COLUMN enabled TO on_air',
                                            'UPDATE mojob.resource SET concurrency = 2 WHERE id = %s')$$, :r1),
    '42703', 'column "enabled" of mojob.resource does not exist',
    'a change of a resource after resource.enabled was renamed refuses, naming the column (42703)');
SELECT throws_ok($$SELECT site.after('ALTER TABLE mojob.settings RENAME COLUMN job_code_pattern TO pattern',
                                     'SELECT mojob.create_job(''x'', now() + interval ''1 day'', now() + interval ''2 days'')')$$,
    '42703', 'column "job_code_pattern" of mojob.settings does not exist',
    'a new job after settings.job_code_pattern was renamed refuses, naming the column (42703)');
SELECT throws_ok($$SELECT site.after('ALTER TABLE mojob.settings DROP COLUMN lock_timeout',
                                     'SELECT mojob.create_job(''x'', now() + interval ''1 day'', now() + interval ''2 days'')')$$,
    '42703', 'column "lock_timeout" of mojob.settings does not exist',
    'a new job after settings.lock_timeout was dropped refuses, naming the column (42703)');
SELECT throws_ok($$SELECT site.after('ALTER TABLE mojob.settings ALTER COLUMN default_pre_roll DROP NOT NULL;
                                      UPDATE mojob.settings SET default_pre_roll = NULL',
                                     'SELECT mojob.create_job(''x'', now() + interval ''1 day'', now() + interval ''2 days'')')$$,
    '23502', 'mojob.settings.default_pre_roll is null',
    'a new job when settings.default_pre_roll was made NULL refuses, naming the setting (23502)');
SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.job_resource RENAME COLUMN held_until TO until',
                                            'SELECT mojob.reserve(%s)')$$, :d1),
    '42703', 'column "held_until" of mojob.job_resource does not exist',
    'a reservation after job_resource.held_until was renamed refuses, naming the column (42703)');
SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.job RENAME COLUMN locked_by TO holder',
                                            'SELECT mojob.confirm(%s)')$$, :d2),
    '42703', 'column "locked_by" of mojob.job does not exist',
    'a confirmation after job.locked_by was renamed refuses, naming the column (42703)');
SELECT throws_ok(format($$SELECT site.after('ALTER TABLE mojob.job RENAME COLUMN owner TO responsible',
                                            'UPDATE mojob.job SET name = ''y'' WHERE id = %s')$$, :d2),
    '42703', 'column "owner" of mojob.job does not exist',
    'an UPDATE after job.owner was renamed refuses, naming the column (42703)');
SELECT is((SELECT state::text FROM mojob.reserve(:d1)), 'tentative',
    'with the columns as mojob made them, the same reservation is made');

-- ---------------------------------------------------------------------
-- Nested calls: a site's trigger reserving another job mid-transition
-- ---------------------------------------------------------------------

-- Sorts before zz_mojob_guard: it runs, and reserves job site.inner, before
-- the guard judges job site.outer.
CREATE FUNCTION site.nested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = current_setting('site.outer', true)::bigint THEN
        PERFORM mojob.reserve(current_setting('site.inner')::bigint);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER a_site_nested BEFORE UPDATE ON mojob.job FOR EACH ROW EXECUTE FUNCTION site.nested();

SELECT id AS n_conf FROM mojob.create_job('n_conf', :'t1', :'t2', state => 'tentative') \gset
SELECT state FROM mojob.confirm(:n_conf) \gset
SELECT id AS n_in1 FROM mojob.create_job('n_in1', :'t1', :'t2') \gset
SELECT set_config('site.outer', :'n_conf', true), set_config('site.inner', :'n_in1', true) \gset
SELECT throws_ok(format('SELECT mojob.confirm(%s)', :n_conf), 'MJ001', NULL,
    'confirm of a confirmed job is refused (MJ001) though a site trigger made a reservation inside it');

SELECT now() + interval '20 days' AS t_due \gset
SELECT id AS n_time FROM mojob.create_job('n_time', :'t_due', (:'t_due'::timestamptz + interval '1 hour'), state => 'tentative') \gset
SELECT state FROM mojob.confirm(:n_time) \gset
SELECT id AS n_in2 FROM mojob.create_job('n_in2', :'t1', :'t2') \gset
SELECT set_config('site.outer', :'n_time', true), set_config('site.inner', :'n_in2', true) \gset
SET LOCAL mojob.actor = 'nested_actor';
SELECT lives_ok(format($$SELECT mojob.advance(%L::timestamptz + interval '1 minute')$$, :'t_due'),
    'a time transition whose site trigger reserves another job is made');
RESET mojob.actor;
SELECT is((SELECT array_agg(format('%s>%s %s %s', from_state, to_state, cause, by_user) ORDER BY id)
           FROM mojob.job_event WHERE job_id = :n_time AND to_state = 'running'),
    ARRAY['confirmed>running time nested_actor'],
    'the outer transition is recorded as caused by time');
SELECT is((SELECT array_agg(format('%s>%s %s %s', from_state, to_state, cause, by_user) ORDER BY id)
           FROM mojob.job_event WHERE job_id = :n_in2),
    ARRAY['draft>tentative user nested_actor'],
    'the reservation made inside it is recorded as the user''s');
SELECT is((SELECT state::text FROM mojob.job WHERE id = :n_time), 'running',
    'the outer job runs');
DROP TRIGGER a_site_nested ON mojob.job;

-- ---------------------------------------------------------------------
-- Edit locks do not stop a start or a stop
-- ---------------------------------------------------------------------

SELECT id AS l_start FROM mojob.create_job('l_start', :'t1', :'t2', state => 'tentative') \gset
SELECT state FROM mojob.confirm(:l_start) \gset
SELECT id AS l_stop FROM mojob.create_job('l_stop', now() - interval '1 hour', now() + interval '1 hour', state => 'tentative') \gset
SELECT state FROM mojob.confirm(:l_stop) \gset
SELECT id AS l_edit FROM mojob.create_job('l_edit', :'t1', :'t2', state => 'tentative') \gset
SELECT state FROM mojob.confirm(:l_edit) \gset
SET LOCAL mojob.actor = 'alice';
SELECT locked_by FROM mojob.lock_job(:l_start) \gset
SELECT locked_by FROM mojob.lock_job(:l_stop) \gset
SELECT locked_by FROM mojob.lock_job(:l_edit) \gset
SET LOCAL mojob.actor = 'bob';
SELECT is((SELECT state::text FROM mojob.start(:l_start)), 'running',
    'another user starts a job alice holds the edit lock of');
SELECT is((SELECT state::text FROM mojob.stop(:l_stop)), 'completed',
    'and stops one');
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'running', name = 'renamed' WHERE id = %s$$, :l_edit),
    'MJ004', NULL, 'a start that also edits the job is still refused to him (MJ004)');
SELECT throws_ok(format($$UPDATE mojob.job SET name = 'renamed' WHERE id = %s$$, :l_edit),
    'MJ004', NULL, 'and so is an edit (MJ004)');
SELECT is((SELECT state::text FROM mojob.job WHERE id = :l_edit), 'confirmed', 'the job stays confirmed');
RESET mojob.actor;

-- ---------------------------------------------------------------------
-- A domain on a column the site added to mojob.job_resource
-- ---------------------------------------------------------------------

CREATE DOMAIN site.ref AS text NOT NULL;
ALTER TABLE mojob.job_resource ADD COLUMN site_ref site.ref DEFAULT 'old';
ALTER TABLE mojob.job_resource ALTER COLUMN site_ref DROP DEFAULT;
SELECT throws_ok(format($$SELECT mojob.create_job('dom', %L, %L, resources => ARRAY[%s]::bigint[])$$, :'t1', :'t2', :r3),
    '23502', 'domain site.ref does not allow null values',
    'create_job''s direct node insert refuses a NULL for a NOT NULL domain (23502)');
CREATE FUNCTION site.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER a_site_noop BEFORE INSERT ON mojob.job_resource FOR EACH ROW EXECUTE FUNCTION site.noop();
SELECT throws_ok(format($$SELECT mojob.create_job('dom', %L, %L, resources => ARRAY[%s]::bigint[])$$, :'t1', :'t2', :r3),
    '23502', 'domain site.ref does not allow null values',
    'the INSERT it takes when a site trigger is there refuses it the same way (23502)');
DROP TRIGGER a_site_noop ON mojob.job_resource;
ALTER TABLE mojob.job_resource ALTER COLUMN site_ref SET DEFAULT 'new';
SELECT id AS dom FROM mojob.create_job('dom', :'t1', :'t2', resources => ARRAY[:r3]::bigint[]) \gset
SELECT is((SELECT site_ref::text FROM mojob.job_resource WHERE job_id = :dom),
    'new', 'with a default, the node gets it');
-- (kept: a dropped column breaks the functions returning mojob.job_resource, a separate matter)

-- ---------------------------------------------------------------------
-- Triggers of the site's that fire after the guard
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (name) VALUES ('booth') RETURNING id AS r4 \gset
INSERT INTO mojob.pool (name) VALUES ('cams') RETURNING id AS p1 \gset
SELECT now() + interval '30 days 10:20' AS s1, now() + interval '30 days 11:20' AS e1 \gset
SELECT id AS g_hold, version AS g_hold_v FROM mojob.create_job('g_hold', :'s1', :'e1', state => 'tentative', resources => ARRAY[:r4]::bigint[]) \gset
SELECT id AS g_pool FROM mojob.create_job('g_pool', :'s1', :'e1', state => 'tentative') \gset
SELECT id AS g_pool_node FROM mojob.add_pool_node(:g_pool, :p1) \gset

-- One that rounds the tear-down up to the next full hour.
CREATE FUNCTION site.round_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.post_roll_end := date_trunc('hour', NEW.post_roll_end) + interval '1 hour';
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_site_round BEFORE UPDATE ON mojob.job FOR EACH ROW EXECUTE FUNCTION site.round_up();
SELECT throws_ok(format($$UPDATE mojob.job SET name = 'renamed' WHERE id = %s$$, :g_hold),
    '27000', format('job %s was changed after zz_mojob_guard judged it', :g_hold),
    'a trigger named zz_site_... that moves the tear-down after the guard looked is refused (27000)');
SELECT throws_ok(format($$SELECT mojob.reschedule(%s, %L::timestamptz + interval '1 minute', %L::timestamptz + interval '1 minute')$$, :g_hold, :'s1', :'e1'),
    '27000', NULL, 'and so is a reschedule through it');
DROP TRIGGER zz_site_round ON mojob.job;
SELECT results_eq(format($$SELECT version, post_roll_end, (SELECT upper(held) FROM mojob.booking WHERE job_id = %s)
                           FROM mojob.job WHERE id = %s$$, :g_hold, :g_hold),
    format($$VALUES (%s::bigint, %L::timestamptz, %L::timestamptz)$$, :g_hold_v, :'e1', :'e1'),
    'the job and its booking are as they were');

-- One that confirms high-priority jobs.
CREATE FUNCTION site.confirm_high() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.priority = 'high' AND NEW.state = 'tentative' THEN
        NEW.state := 'confirmed';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER zzz BEFORE UPDATE ON mojob.job FOR EACH ROW EXECUTE FUNCTION site.confirm_high();
SELECT throws_ok(format($$UPDATE mojob.job SET priority = 'high' WHERE id = %s$$, :g_pool),
    '27000', format('job %s was changed after zz_mojob_guard judged it', :g_pool),
    'a trigger named zzz that confirms a job after the guard looked is refused (27000)');
SELECT results_eq(format($$SELECT state::text, (SELECT count(*) FROM mojob.job_event WHERE job_id = %s)
                           FROM mojob.job WHERE id = %s$$, :g_pool, :g_pool),
    $$VALUES ('tentative', 0::bigint)$$,
    'the job with an unresolved pool node stays tentative');
DROP TRIGGER zzz ON mojob.job;

-- Named with a letter that sorts after every ASCII one; on INSERT.
CREATE FUNCTION site.forge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_by := 'somebody else';
    RETURN NEW;
END
$$;
CREATE TRIGGER "überprüfung" BEFORE INSERT ON mojob.job FOR EACH ROW EXECUTE FUNCTION site.forge();
SELECT throws_like(format($$SELECT mojob.create_job('forged', %L, %L)$$, :'s1', :'e1'),
    'job % was changed after zz_mojob_guard judged it',
    'a trigger named überprüfung that changes a new job after the guard looked is refused');
DROP TRIGGER "überprüfung" ON mojob.job;

-- One that skips the row the guard approved (a cancellation: its bookings
-- were released when the guard approved it).
CREATE FUNCTION site.skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER zz_site_skip BEFORE UPDATE ON mojob.job FOR EACH ROW EXECUTE FUNCTION site.skip();
SELECT throws_ok(format($$SELECT mojob.cancel(%s, 'gone')$$, :g_hold),
    '27000', format('job %s was not written as zz_mojob_guard approved it', :g_hold),
    'a trigger after the guard that skips the row it approved is refused (27000)');
DROP TRIGGER zz_site_skip ON mojob.job;
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE job_id = :g_hold), 1,
    'the job keeps its booking');

-- One that changes nothing passes.
CREATE FUNCTION site.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO site.seen VALUES (TG_TABLE_NAME, NEW.id);
    RETURN NEW;
END
$$;
CREATE TABLE site.seen (tab text, id bigint);
CREATE TRIGGER zz_site_audit BEFORE INSERT OR UPDATE ON mojob.job FOR EACH ROW EXECUTE FUNCTION site.audit();
CREATE TRIGGER zz_site_audit BEFORE INSERT OR UPDATE ON mojob.job_resource FOR EACH ROW EXECUTE FUNCTION site.audit();
SELECT is((SELECT state::text FROM mojob.confirm(
              (SELECT id FROM mojob.create_job('audited', :'s1', :'e1', state => 'tentative', resources => ARRAY[:r2]::bigint[])))),
    'confirmed', 'a trigger after the guard that changes nothing lets jobs be created, given nodes and confirmed');
SELECT ok((SELECT count(*) FROM site.seen) >= 3, 'and it ran');
DROP TRIGGER zz_site_audit ON mojob.job;
DROP TRIGGER zz_site_audit ON mojob.job_resource;

-- On mojob.job_resource: one that doubles the amount a node uses.
UPDATE mojob.resource SET capacity = 10, concurrency = 5 WHERE id = :r4;
CREATE FUNCTION site.more() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.amount := NEW.amount * 2;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_site_more BEFORE INSERT OR UPDATE ON mojob.job_resource FOR EACH ROW EXECUTE FUNCTION site.more();
SELECT id AS g_node_job FROM mojob.create_job('g_node', :'s1', :'e1', state => 'tentative') \gset
SELECT throws_like(format($$SELECT mojob.add_resource(%s, %s, 6)$$, :g_node_job, :r4),
    'node % was changed after zz_mojob_node_guard judged it',
    'a trigger after the node guard that raises a node''s amount past the capacity it checked is refused');
SELECT throws_like(format($$UPDATE mojob.job_resource SET amount = 6 WHERE id = (SELECT id FROM mojob.job_resource WHERE job_id = %s)$$, :g_hold),
    'node % was changed after zz_mojob_node_guard judged it',
    'and so is its change of an existing node');
DROP TRIGGER zz_site_more ON mojob.job_resource;
SELECT is((SELECT sum(amount)::int FROM mojob.booking WHERE resource_id = :r4), 0,
    'the booth''s bookings use what they did');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
