-- Ids and row types under a hostile planner and a careless owner (DESIGN.md
-- section 9):
--
--   * a column mojob does not rely on, added and dropped by the owner,
--     breaks nothing: every function returning a row of mojob.job,
--     mojob.job_resource or mojob.recurrence returns it in the table's row
--     type (the dropped column's slot null), called in a select list and in
--     FROM; a site's column added after the dropped one is returned by name.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SELECT plan(19);

INSERT INTO mojob.resource (name) VALUES ('studio') RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name) VALUES ('camera') RETURNING id AS r2 \gset
INSERT INTO mojob.resource (name) VALUES ('spare camera') RETURNING id AS r3 \gset
INSERT INTO mojob.resource (name) VALUES ('desk') RETURNING id AS r4 \gset
INSERT INTO mojob.pool (name) VALUES ('cameras') RETURNING id AS pool \gset
INSERT INTO mojob.pool_member VALUES (:pool, :r2), (:pool, :r3);
SELECT now() + interval '1 day' AS t1, now() + interval '1 day 1 hour' AS t2,
       now() + interval '2 days' AS t3, now() + interval '2 days 1 hour' AS t4 \gset

-- ---------------------------------------------------------------------
-- A column mojob does not rely on, added and dropped by the owner
-- ---------------------------------------------------------------------

ALTER TABLE mojob.job ADD COLUMN site_x int;
ALTER TABLE mojob.job DROP COLUMN site_x;
ALTER TABLE mojob.job ADD COLUMN site_note text DEFAULT 'noted';
ALTER TABLE mojob.job_resource ADD COLUMN site_x int;
ALTER TABLE mojob.job_resource DROP COLUMN site_x;
ALTER TABLE mojob.job_resource ADD COLUMN site_note text DEFAULT 'node noted';
ALTER TABLE mojob.recurrence ADD COLUMN site_x int;
ALTER TABLE mojob.recurrence DROP COLUMN site_x;

SELECT id AS a FROM mojob.create_job('a', :'t1', :'t2', resources => ARRAY[:r1]::bigint[]) \gset
SELECT is((SELECT (j).name || ' ' || (j).state || ' ' || (j).site_note
           FROM (SELECT mojob.create_job('b', :'t3', :'t4') AS j) s),
    'b draft noted',
    'create_job returns its row in mojob.job''s row type after a column was dropped, in a select list');
SELECT is((SELECT name || ' ' || state FROM mojob.create_job_for_resource(:r4, 'c', :'t1', :'t2')),
    'c tentative', 'create_job_for_resource too, in FROM');
SELECT id AS c FROM mojob.job WHERE name = 'c' \gset

SELECT is((SELECT site_note FROM mojob.add_resource(:a, :r3)), 'node noted',
    'add_resource returns its node in mojob.job_resource''s row type');
SELECT id AS pn FROM mojob.add_pool_node(:a, :pool) \gset
SELECT ok(:pn > 0, 'add_pool_node too');
SELECT is((SELECT resource_id FROM mojob.assign_node(:pn, :r2)), :r2::bigint, 'assign_node too');
SELECT is((SELECT state::text FROM mojob.reserve(:a)), 'tentative', 'reserve');
SELECT is((SELECT state::text FROM mojob.confirm(:a)), 'confirmed', 'confirm');
SELECT is((SELECT state::text FROM mojob.unconfirm(:a)), 'tentative', 'unconfirm');
SELECT is((SELECT start_at FROM mojob.reschedule(:a, :'t3', :'t4')), :'t3'::timestamptz, 'reschedule');
SELECT is((SELECT locked_by FROM mojob.lock_job(:a)), mojob.acting_user(), 'lock_job');
SELECT is((SELECT locked_by FROM mojob.unlock_job(:a)), NULL, 'unlock_job');
SELECT is((SELECT (j).state::text FROM (SELECT mojob.cancel(:c, 'not needed') AS j) s), 'canceled', 'cancel');
SELECT is((SELECT name FROM mojob.duplicate(:a, :'t1')), 'a', 'duplicate (PL/pgSQL, through create_job)');
SELECT id AS sj FROM mojob.create_job('to swap', :'t1', :'t2', resources => ARRAY[:r1]::bigint[]) \gset
SELECT is((SELECT name FROM mojob.swap_resource(:sj, :r1, :r3)), 'to swap', 'swap_resource');
SELECT id AS s FROM mojob.create_job('started', now() + interval '1 hour', now() + interval '2 hours',
                                     state => 'tentative') \gset
SELECT state FROM mojob.confirm(:s) \gset
SELECT is((SELECT state::text FROM mojob.start(:s)), 'running', 'start');
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('running', 'running', now() - interval '1 hour', now() - interval '1 hour',
        now() + interval '1 hour', now() + interval '1 hour') RETURNING id AS run \gset
SELECT is((SELECT state::text FROM mojob.stop(:run)), 'completed', 'stop');
SELECT id AS rec FROM mojob.create_job('weekly', :'t3', :'t4') \gset
SELECT is((SELECT rule FROM mojob.make_recurring(:rec, 'FREQ=WEEKLY;COUNT=2', 'UTC')), 'FREQ=WEEKLY;COUNT=2',
    'make_recurring returns its row in mojob.recurrence''s row type after a column was dropped');
SELECT is((SELECT state::text FROM mojob.cancel_recurrence((SELECT max(id) FROM mojob.recurrence))), 'canceled',
    'cancel_recurrence too');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE site_note = 'noted'), (SELECT count(*)::int FROM mojob.job),
    'every job has the site''s column as its default gave it');

SELECT * FROM finish();
ROLLBACK;
