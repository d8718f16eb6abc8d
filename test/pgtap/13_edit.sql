-- What may change in a job in each state (docs/design.md sections 1 and 2):
-- MJ002 for anything else.  Canceled jobs are read-only; running jobs change
-- only end_at and post_roll_end (to future instants) and metadata; completed
-- jobs metadata only; a job's identity never changes; the cancel fields are
-- written by cancel alone; every UPDATE bumps the version and sets updated_at.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(76);

\ir helpers/job_in.psql

-- ---------------------------------------------------------------------
-- Identity: id, code, created_at, created_by never change, in any state
-- ---------------------------------------------------------------------

CREATE TEMP TABLE identity_edit (col text, expr text);
INSERT INTO identity_edit VALUES
    ('id', 'id + 1000000'),
    ('code', $$'OTHER-1'$$),
    ('created_at', $$created_at - interval '1 day'$$),
    ('created_by', $$'mallory'$$);
CREATE TEMP TABLE identity_job AS
    SELECT s AS state, j.id, j.code
    FROM unnest(enum_range(NULL::mojob.job_state)) AS s, LATERAL pg_temp.job_in(s, 'identity ' || s) j;

SELECT throws_ok(
    format('UPDATE mojob.job SET %I = %s WHERE id = %s', e.col, e.expr, j.id),
    'MJ002',
    format('column %s of %s job %s cannot be changed', e.col, j.state, j.code),
    format('the %s of a %s job cannot change', e.col, j.state))
FROM identity_job j, identity_edit e ORDER BY j.state, e.col;

-- ---------------------------------------------------------------------
-- Draft, tentative, confirmed: everything else may change
-- ---------------------------------------------------------------------

SELECT id AS j FROM pg_temp.job_in('draft') \gset
UPDATE mojob.job SET name = 'renamed', pre_roll_start = '2031-01-01 09:00+00', start_at = '2031-01-01 10:00+00',
                     end_at = '2031-01-01 12:00+00', post_roll_end = '2031-01-01 12:30+00', owner = 'ops'
WHERE id = :j;
SELECT is((SELECT (name, pre_roll_start, start_at, end_at, post_roll_end, owner) FROM mojob.job WHERE id = :j),
          ('renamed'::text, '2031-01-01 09:00+00'::timestamptz, '2031-01-01 10:00+00'::timestamptz,
           '2031-01-01 12:00+00'::timestamptz, '2031-01-01 12:30+00'::timestamptz, 'ops'::text),
    'a draft job''s name, window and owner may change');

SELECT id AS j FROM pg_temp.job_in('tentative') \gset
UPDATE mojob.job SET start_at = start_at + interval '1 hour', end_at = end_at + interval '1 hour',
                     pre_roll_start = pre_roll_start + interval '1 hour',
                     post_roll_end = post_roll_end + interval '1 hour', priority = 'low'
WHERE id = :j;
SELECT is((SELECT (start_at, end_at, priority) FROM mojob.job WHERE id = :j),
          (now() + interval '1 day 1 hour', now() + interval '1 day 3 hours', 'low'::mojob.job_priority),
    'a tentative job''s window and priority may change');

SELECT id AS j FROM pg_temp.job_in('confirmed') \gset
UPDATE mojob.job SET end_at = end_at + interval '1 hour', post_roll_end = post_roll_end + interval '2 hours',
                     description = 'longer'
WHERE id = :j;
SELECT is((SELECT (end_at, post_roll_end, description, state) FROM mojob.job WHERE id = :j),
          (now() + interval '1 day 3 hours', now() + interval '1 day 4 hours', 'longer'::text,
           'confirmed'::mojob.job_state),
    'a confirmed job''s end, post-roll and description may change, and it stays confirmed');

-- ---------------------------------------------------------------------
-- Canceled: read-only
-- ---------------------------------------------------------------------

SELECT id AS c, code AS c_code, version AS c_version FROM pg_temp.job_in('canceled') \gset
CREATE TEMP TABLE canceled_edit (col text, assignment text);
INSERT INTO canceled_edit VALUES
    ('name', $$name = 'renamed'$$),
    ('description', $$description = 'more'$$),
    ('priority', $$priority = 'high'$$),
    ('owner', $$owner = 'ops'$$),
    ('properties', $$properties = '{"a": 1}'$$),
    ('pre_roll_start', $$pre_roll_start = pre_roll_start - interval '1 hour'$$),
    ('start_at', $$start_at = start_at - interval '1 minute'$$),
    ('end_at', $$end_at = end_at + interval '1 hour'$$),
    ('post_roll_end', $$post_roll_end = post_roll_end + interval '1 hour'$$),
    ('cancel_reason', $$cancel_reason = 'another reason'$$),
    ('canceled_at', $$canceled_at = canceled_at - interval '1 day'$$),
    ('locked_by', $$locked_by = 'ops', locked_until = now() + interval '1 hour'$$);

SELECT throws_ok(
    format('UPDATE mojob.job SET %s WHERE id = %s', assignment, :c),
    'MJ002',
    format('column %s of canceled job %s cannot be changed', col, :'c_code'),
    format('the %s of a canceled job cannot change', col))
FROM canceled_edit ORDER BY col;
SELECT is((SELECT (version, name, cancel_reason) FROM mojob.job WHERE id = :c),
          (:c_version::bigint, 'fixture'::text, 'fixture'::text),
    'the refused edits left the canceled job as it was');
SELECT throws_ok(format('SELECT * FROM mojob.reschedule(%s, now() + interval ''2 days'', now() + interval ''2 days 1 hour'')', :c),
    'MJ002', NULL, 'mojob.reschedule cannot move a canceled job');

-- ---------------------------------------------------------------------
-- Running: end_at and post_roll_end to future instants, and metadata
-- ---------------------------------------------------------------------

SELECT id AS r, code AS r_code FROM pg_temp.job_in('running') \gset

UPDATE mojob.job SET end_at = now() + interval '2 hours', post_roll_end = now() + interval '2 hours 30 minutes'
WHERE id = :r;
SELECT is((SELECT (end_at, post_roll_end) FROM mojob.job WHERE id = :r),
          (now() + interval '2 hours', now() + interval '2 hours 30 minutes'),
    'a running job''s end_at and post_roll_end may move later');
UPDATE mojob.job SET end_at = now() + interval '10 minutes', post_roll_end = now() + interval '20 minutes'
WHERE id = :r;
SELECT is((SELECT (end_at, post_roll_end) FROM mojob.job WHERE id = :r),
          (now() + interval '10 minutes', now() + interval '20 minutes'),
    'a running job''s end_at and post_roll_end may move earlier while still in the future');
UPDATE mojob.job SET post_roll_end = now() + interval '1 hour' WHERE id = :r;
SELECT is((SELECT post_roll_end FROM mojob.job WHERE id = :r), now() + interval '1 hour',
    'a running job''s post_roll_end may change alone');
UPDATE mojob.job SET name = 'live', description = 'on air', priority = 'high', owner = 'gallery 2',
                     properties = '{"feed": "A"}'
WHERE id = :r;
SELECT is((SELECT (name, description, priority, owner, properties, state) FROM mojob.job WHERE id = :r),
          ('live'::text, 'on air'::text, 'high'::mojob.job_priority, 'gallery 2'::text, '{"feed": "A"}'::jsonb,
           'running'::mojob.job_state),
    'a running job''s name, description, priority, owner and properties may change, and it keeps running');

SELECT throws_ok(format($$UPDATE mojob.job SET end_at = now() - interval '1 minute' WHERE id = %s$$, :r),
    'MJ002', format('end_at of running job %s must be in the future', :'r_code'),
    'a running job''s end_at cannot move into the past');
SELECT throws_ok(format('UPDATE mojob.job SET end_at = now() WHERE id = %s', :r),
    'MJ002', format('end_at of running job %s must be in the future', :'r_code'),
    'a running job''s end_at cannot move to now: that is what mojob.stop is for');
SELECT throws_ok(format($$UPDATE mojob.job SET end_at = now() - interval '5 minutes',
                                                post_roll_end = now() - interval '1 minute' WHERE id = %s$$, :r),
    'MJ002', NULL,
    'a running job''s end_at and post_roll_end cannot both move into the past');
SELECT throws_ok(format($$UPDATE mojob.job SET start_at = start_at + interval '1 minute' WHERE id = %s$$, :r),
    'MJ002', format('column start_at of running job %s cannot be changed', :'r_code'),
    'a running job''s start_at cannot change');
SELECT throws_ok(format($$UPDATE mojob.job SET pre_roll_start = pre_roll_start - interval '1 minute' WHERE id = %s$$, :r),
    'MJ002', format('column pre_roll_start of running job %s cannot be changed', :'r_code'),
    'a running job''s pre_roll_start cannot change');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, now() + interval '1 hour', now() + interval '2 hours')$$, :r),
    'MJ002', NULL, 'mojob.reschedule cannot move the start of a running job');

-- ---------------------------------------------------------------------
-- Completed: metadata only
-- ---------------------------------------------------------------------

SELECT id AS d, code AS d_code FROM pg_temp.job_in('completed') \gset
UPDATE mojob.job SET name = 'replayed', description = 'archived', priority = 'low', owner = 'archive',
                     properties = '{"tape": 7}'
WHERE id = :d;
SELECT is((SELECT (name, description, priority, owner, properties) FROM mojob.job WHERE id = :d),
          ('replayed'::text, 'archived'::text, 'low'::mojob.job_priority, 'archive'::text, '{"tape": 7}'::jsonb),
    'a completed job''s name, description, priority, owner and properties may change');
SELECT throws_ok(format($$UPDATE mojob.job SET end_at = end_at + interval '1 minute' WHERE id = %s$$, :d),
    'MJ002', format('column end_at of completed job %s cannot be changed', :'d_code'),
    'a completed job''s end_at cannot change');
SELECT throws_ok(format($$UPDATE mojob.job SET post_roll_end = now() + interval '1 hour' WHERE id = %s$$, :d),
    'MJ002', format('column post_roll_end of completed job %s cannot be changed', :'d_code'),
    'a completed job''s post_roll_end cannot change, even to the future');
SELECT throws_ok(format($$UPDATE mojob.job SET start_at = start_at + interval '1 minute' WHERE id = %s$$, :d),
    'MJ002', format('column start_at of completed job %s cannot be changed', :'d_code'),
    'a completed job''s start_at cannot change');
SELECT throws_ok(format($$UPDATE mojob.job SET pre_roll_start = pre_roll_start - interval '1 minute' WHERE id = %s$$, :d),
    'MJ002', format('column pre_roll_start of completed job %s cannot be changed', :'d_code'),
    'a completed job''s pre_roll_start cannot change');

-- ---------------------------------------------------------------------
-- cancel_reason and canceled_at are written by the cancel transition alone
-- ---------------------------------------------------------------------

SELECT throws_ok(
    format($$UPDATE mojob.job SET cancel_reason = 'why not' WHERE id = %s$$, id), 'MJ002',
    format('column cancel_reason of %s job %s cannot be changed', state, code),
    format('the cancel_reason of a %s job cannot be set by an UPDATE', state))
FROM unnest(ARRAY['draft', 'tentative', 'confirmed', 'running', 'completed']::mojob.job_state[]) AS s,
     LATERAL pg_temp.job_in(s, 'cancel fields ' || s) AS j
ORDER BY s;
SELECT id AS t, code AS t_code FROM pg_temp.job_in('tentative') \gset
SELECT throws_ok(format('UPDATE mojob.job SET canceled_at = now() WHERE id = %s', :t), 'MJ002',
    format('column canceled_at of tentative job %s cannot be changed', :'t_code'),
    'the canceled_at of a tentative job cannot be set by an UPDATE');
UPDATE mojob.job SET state = 'canceled', canceled_at = '2000-01-01 00:00+00', cancel_reason = 'weather'
WHERE id = :t;
SELECT is((SELECT (canceled_at, cancel_reason) FROM mojob.job WHERE id = :t),
          (now(), 'weather'::text),
    'cancelling by UPDATE keeps the reason given but sets canceled_at to now');

-- ---------------------------------------------------------------------
-- version and updated_at
-- ---------------------------------------------------------------------

INSERT INTO mojob.job (name, start_at, end_at, updated_at)
VALUES ('versions', now() + interval '1 day', now() + interval '1 day 1 hour', '2020-01-01 00:00+00')
RETURNING id AS v \gset
UPDATE mojob.job SET name = 'versions 2' WHERE id = :v;
SELECT is((SELECT (version, updated_at) FROM mojob.job WHERE id = :v), (2::bigint, now()),
    'an UPDATE of a draft bumps the version from 1 to 2 and sets updated_at to now');
UPDATE mojob.job SET name = 'versions 3' WHERE id = :v;
UPDATE mojob.job SET description = 'versions 4' WHERE id = :v;
SELECT is((SELECT version FROM mojob.job WHERE id = :v), 4::bigint,
    'each further UPDATE bumps the version by one');
UPDATE mojob.job SET version = 100 WHERE id = :v;
SELECT is((SELECT version FROM mojob.job WHERE id = :v), 5::bigint,
    'an UPDATE that sets version itself still gets the old version plus one');
UPDATE mojob.job SET updated_at = '2000-01-01 00:00+00' WHERE id = :v;
SELECT is((SELECT updated_at FROM mojob.job WHERE id = :v), now(),
    'an UPDATE that sets updated_at itself still gets now');
SELECT id AS r2, version AS r2v FROM pg_temp.job_in('running', 'running versions') \gset
UPDATE mojob.job SET name = 'renamed live' WHERE id = :r2;
SELECT is((SELECT version FROM mojob.job WHERE id = :r2), :r2v::bigint + 1,
    'an edit of a running job bumps its version by one');
SELECT id AS d2, version AS d2v FROM pg_temp.job_in('completed', 'completed versions') \gset
UPDATE mojob.job SET owner = 'archive' WHERE id = :d2;
SELECT is((SELECT version FROM mojob.job WHERE id = :d2), :d2v::bigint + 1,
    'an edit of a completed job bumps its version by one');

-- ---------------------------------------------------------------------
-- The table's own rules
-- ---------------------------------------------------------------------

SELECT id AS j FROM pg_temp.job_in('draft') \gset
SELECT throws_ok(format('UPDATE mojob.job SET state = NULL WHERE id = %s', :j), '23502', NULL,
    'a job''s state cannot be set to NULL');
SELECT throws_ok(format('UPDATE mojob.job SET end_at = start_at WHERE id = %s', :j), '23514', NULL,
    'a draft job''s end cannot be moved onto its start: the table''s check refuses it');
SELECT throws_ok(format('UPDATE mojob.job SET name = NULL WHERE id = %s', :j), '23502', NULL,
    'a draft job''s name cannot be set to NULL');

-- mojob.reschedule moves a draft; a NULL roll keeps its length.
SELECT id AS j FROM mojob.create_job('reschedule me', now() + interval '1 day', now() + interval '1 day 1 hour',
                                     interval '10 minutes', interval '20 minutes') \gset
SELECT is((SELECT (pre_roll_start, start_at, end_at, post_roll_end)
           FROM mojob.reschedule(:j, now() + interval '2 days', now() + interval '2 days 2 hours')),
          (now() + interval '2 days' - interval '10 minutes', now() + interval '2 days',
           now() + interval '2 days 2 hours', now() + interval '2 days 2 hours 20 minutes'),
    'mojob.reschedule moves a draft job''s window and keeps its roll lengths');
SELECT is((SELECT (pre_roll_start, post_roll_end)
           FROM mojob.reschedule(:j, now() + interval '3 days', now() + interval '3 days 1 hour',
                                 interval '0', interval '1 hour')),
          (now() + interval '3 days', now() + interval '3 days 2 hours'),
    'mojob.reschedule with rolls uses the rolls given');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
