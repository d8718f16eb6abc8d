-- Creating jobs (docs/design.md sections 1 and 3): the states a job may be
-- created in, by whom; what mojob fills in; the job codes made from
-- mojob.settings.job_code_pattern; mojob.settings.default_state.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(62);

-- A role that owns nothing of mojob but may write its tables.
CREATE ROLE mj_life_clerk;
GRANT USAGE ON SCHEMA mojob TO mj_life_clerk;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mojob TO mj_life_clerk;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA mojob TO mj_life_clerk;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mojob TO mj_life_clerk;
SELECT session_user AS me \gset

-- ---------------------------------------------------------------------
-- The first code, from the default pattern
-- ---------------------------------------------------------------------

SELECT is((SELECT job_code_pattern FROM mojob.settings), 'JOB-{seq:6}',
    'the default job code pattern is JOB-{seq:6}');
SELECT id AS first, code AS first_code, version AS first_version,
       created_by AS first_by, created_at = now() AS first_now
FROM mojob.create_job('first', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT is(:'first_code'::text, 'JOB-000001', 'the first job is coded JOB-000001');
SELECT is(:first_version::bigint, 1::bigint, 'mojob.create_job starts the version at 1');
SELECT is(:'first_by'::text, session_user::text, 'without mojob.actor, created_by is the session user');
SELECT ok(:'first_now'::boolean, 'created_at is the transaction time');
SELECT is((SELECT code FROM mojob.create_job('second', now() + interval '1 day', now() + interval '1 day 1 hour')),
    'JOB-000002', 'the second job is coded JOB-000002');
SELECT is_empty('SELECT id FROM mojob.job_event',
    'creating a job is not a transition: it writes no history');

-- ---------------------------------------------------------------------
-- A role that does not own mojob.job
-- ---------------------------------------------------------------------

SET ROLE mj_life_clerk;

SELECT throws_ok(
    $$INSERT INTO mojob.job (name, state, start_at, end_at)
      VALUES ('x', 'confirmed', now() + interval '1 hour', now() + interval '2 hours')$$,
    'MJ001', 'a job cannot be created in state confirmed',
    'a role that does not own mojob.job cannot insert a confirmed job');
SELECT throws_ok(
    $$INSERT INTO mojob.job (name, state, start_at, end_at)
      VALUES ('x', 'running', now() - interval '1 hour', now() + interval '1 hour')$$,
    'MJ001', 'a job cannot be created in state running',
    'a role that does not own mojob.job cannot insert a running job');
SELECT throws_ok(
    $$INSERT INTO mojob.job (name, state, start_at, end_at)
      VALUES ('x', 'completed', now() - interval '2 hours', now() - interval '1 hour')$$,
    'MJ001', 'a job cannot be created in state completed',
    'a role that does not own mojob.job cannot insert a completed job');
SELECT throws_ok(
    $$INSERT INTO mojob.job (name, state, start_at, end_at, canceled_at, cancel_reason)
      VALUES ('x', 'canceled', now() + interval '1 hour', now() + interval '2 hours', now(), 'why')$$,
    'MJ001', 'a job cannot be created in state canceled',
    'a role that does not own mojob.job cannot insert a canceled job');
SELECT throws_ok(
    $$SELECT * FROM mojob.create_job('x', now() + interval '1 hour', now() + interval '2 hours',
                                     state => 'confirmed')$$,
    'MJ001', 'a job cannot be created in state confirmed',
    'mojob.create_job refuses to create a confirmed job for a role that does not own mojob.job');

INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('clerk draft', 'draft', now() + interval '1 hour', now() + interval '2 hours')
RETURNING id AS d, state AS d_state \gset
SELECT is(:'d_state'::text, 'draft', 'a role that does not own mojob.job can insert a draft job');
INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('clerk tentative', 'tentative', now() + interval '1 hour', now() + interval '2 hours')
RETURNING id AS t, state AS t_state \gset
SELECT is(:'t_state'::text, 'tentative', 'a role that does not own mojob.job can insert a tentative job');
INSERT INTO mojob.job (name, start_at, end_at)
VALUES ('clerk default', now() + interval '1 hour', now() + interval '2 hours')
RETURNING state AS n_state \gset
SELECT is(:'n_state'::text, 'draft', 'an INSERT that names no state gets draft, the default state');

-- Whatever the role supplies for the columns mojob manages is replaced.
INSERT INTO mojob.job (name, start_at, end_at, code, version, created_at, created_by, updated_at,
                       cancel_reason, locked_by, locked_until)
VALUES ('clerk forged', now() + interval '1 hour', now() + interval '2 hours', 'FORGED-1', 42,
        '2001-01-01', 'mallory', '2001-01-01', 'forged', 'mallory', now() + interval '1 hour')
RETURNING id AS f, currval('mojob.job_code_seq') AS fseq \gset
RESET ROLE;
SELECT is((SELECT code FROM mojob.job WHERE id = :f), 'JOB-' || lpad(:'fseq', 6, '0'),
    'a non-owner''s insert gets its code from the pattern, not the one supplied');
SELECT is((SELECT version FROM mojob.job WHERE id = :f), 1::bigint,
    'a non-owner''s insert gets version 1, not the one supplied');
SELECT is((SELECT created_by FROM mojob.job WHERE id = :f), session_user::text,
    'a non-owner''s insert gets created_by = the acting user (session_user without mojob.actor)');
SELECT is((SELECT created_at FROM mojob.job WHERE id = :f), now(),
    'a non-owner''s insert gets created_at = now()');
SELECT is((SELECT updated_at FROM mojob.job WHERE id = :f), now(),
    'a non-owner''s insert gets updated_at = now()');
SELECT is((SELECT (cancel_reason, locked_by, locked_until) FROM mojob.job WHERE id = :f),
          (NULL::text, NULL::text, NULL::timestamptz),
    'a non-owner''s insert cannot set cancel_reason or an edit lock');

SET ROLE mj_life_clerk;
SET mojob.actor = 'alice';
INSERT INTO mojob.job (name, start_at, end_at, created_by)
VALUES ('clerk as alice', now() + interval '1 hour', now() + interval '2 hours', 'mallory')
RETURNING created_by AS a_by \gset
RESET mojob.actor;
RESET ROLE;
SELECT is(:'a_by'::text, 'alice', 'with SET mojob.actor = alice, a non-owner''s insert is created by alice');

-- ---------------------------------------------------------------------
-- The owner of mojob.job (here a superuser): a restore
-- ---------------------------------------------------------------------

INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('owner confirmed', 'confirmed', now() + interval '1 hour', now() + interval '2 hours')
RETURNING id AS oc, state AS oc_state, currval('mojob.job_code_seq') AS ocseq \gset
SELECT is(:'oc_state'::text, 'confirmed', 'the owner can insert a confirmed job');
INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('owner running', 'running', now() - interval '1 hour', now() + interval '1 hour')
RETURNING id AS orun, state AS or_state \gset
SELECT is(:'or_state'::text, 'running', 'the owner can insert a running job');
INSERT INTO mojob.job (name, state, start_at, end_at)
VALUES ('owner completed', 'completed', now() - interval '2 hours', now() - interval '1 hour')
RETURNING state AS ocomp_state \gset
SELECT is(:'ocomp_state'::text, 'completed', 'the owner can insert a completed job');
INSERT INTO mojob.job (name, state, start_at, end_at, canceled_at, cancel_reason)
VALUES ('owner canceled', 'canceled', now() + interval '1 hour', now() + interval '2 hours',
        '2020-05-01 10:00+00', 'restored')
RETURNING state AS ocan_state, canceled_at AS ocan_at, cancel_reason AS ocan_reason \gset
SELECT is(:'ocan_state'::text, 'canceled', 'the owner can insert a canceled job');
SELECT is((:'ocan_at'::timestamptz, :'ocan_reason'::text), ('2020-05-01 10:00+00'::timestamptz, 'restored'::text),
    'the owner''s insert keeps canceled_at and cancel_reason');
SELECT is_empty(format('SELECT id FROM mojob.job_event WHERE job_id = %s', :orun),
    'inserting a running job is not a transition: it writes no history');

INSERT INTO mojob.job (name, state, start_at, end_at, code, version, created_at, created_by, updated_at)
VALUES ('restored', 'completed', '2020-05-01 10:00+00', '2020-05-01 12:00+00', 'OLD-000777', 7,
        '2020-04-01 09:00+00', 'bob', '2020-05-01 12:00+00')
RETURNING id AS r \gset
SELECT is((SELECT code FROM mojob.job WHERE id = :r), 'OLD-000777', 'the owner''s insert keeps its code');
SELECT is((SELECT version FROM mojob.job WHERE id = :r), 7::bigint, 'the owner''s insert keeps its version');
SELECT is((SELECT created_at FROM mojob.job WHERE id = :r), '2020-04-01 09:00+00'::timestamptz,
    'the owner''s insert keeps its created_at');
SELECT is((SELECT created_by FROM mojob.job WHERE id = :r), 'bob', 'the owner''s insert keeps its created_by');
SELECT is((SELECT updated_at FROM mojob.job WHERE id = :r), '2020-05-01 12:00+00'::timestamptz,
    'the owner''s insert keeps its updated_at');
SELECT is((SELECT (code, version, created_by, created_at) FROM mojob.job WHERE id = :oc),
          ('JOB-' || lpad(:'ocseq', 6, '0'), 1::bigint, :'me'::text, now()),
    'the owner''s insert that supplies none of them gets code, version, created_by and created_at from mojob');

-- ---------------------------------------------------------------------
-- Job code patterns
-- ---------------------------------------------------------------------

SELECT is(mojob.job_code_preview('X-{seq:4}', 7), 'X-0007', 'job_code_preview pads {seq:4} to four digits');

-- The date placeholders use the creation date in UTC, whatever the session's time zone.
SET LOCAL TimeZone = 'Pacific/Kiritimati';
UPDATE mojob.settings SET job_code_pattern = 'MJ{YYYY}{MM}{DD}-{seq:3}';
SELECT code AS dated, currval('mojob.job_code_seq') AS n
FROM mojob.create_job('dated', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT is(:'dated'::text, 'MJ' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') || '-' || lpad(:'n', 3, '0'),
    'the pattern MJ{YYYY}{MM}{DD}-{seq:3} gives MJ, the UTC date, a dash and a three-digit counter');
SELECT is(mojob.job_code_preview('{YYYY}{MM}{DD}-{seq}', 1, '2024-03-31 23:30+00'), '20240331-1',
    'the date placeholders give the UTC date even where it is already the next day locally');
RESET TimeZone;

UPDATE mojob.settings SET job_code_pattern = 'J{seq}';
SELECT code AS plain, currval('mojob.job_code_seq') AS n
FROM mojob.create_job('plain', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT is(:'plain'::text, 'J' || :'n', 'the pattern J{seq} gives J and the counter unpadded');

SELECT throws_ok($$UPDATE mojob.settings SET job_code_pattern = 'JOB-{foo}'$$, '22023', NULL,
    'mojob.settings refuses a pattern with an unknown placeholder');
SELECT throws_ok($$UPDATE mojob.settings SET job_code_pattern = 'JOB-{YYYY}'$$, '22023', NULL,
    'mojob.settings refuses a pattern without the counter');
SELECT throws_ok($$UPDATE mojob.settings SET job_code_pattern = 'JOB-{seq:0}'$$, '22023', NULL,
    'mojob.settings refuses a counter width of 0');
SELECT throws_ok($$UPDATE mojob.settings SET job_code_pattern = 'JOB-{seq:19}'$$, '22023', NULL,
    'mojob.settings refuses a counter width above 18');
SELECT throws_ok($$UPDATE mojob.settings SET job_code_pattern = 'JOB-{seq'$$, '22023', NULL,
    'mojob.settings refuses a placeholder that is not closed');
SELECT is((SELECT job_code_pattern FROM mojob.settings), 'J{seq}',
    'a refused pattern leaves the setting as it was');
UPDATE mojob.settings SET job_code_pattern = DEFAULT;

-- ---------------------------------------------------------------------
-- The state a new job starts in
-- ---------------------------------------------------------------------

SELECT is((SELECT state FROM mojob.create_job('tentative by argument', now() + interval '1 day',
                                              now() + interval '1 day 1 hour', state => 'tentative')),
    'tentative', 'mojob.create_job with state => tentative creates a tentative job');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 hour', now() + interval '2 hours',
                                                  state => 'running')$$,
    'MJ001', 'a job cannot be created in state running',
    'mojob.create_job refuses state => running, even for the owner');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 hour', now() + interval '2 hours',
                                                  state => 'canceled')$$,
    'MJ001', 'a job cannot be created in state canceled',
    'mojob.create_job refuses state => canceled, even for the owner');

INSERT INTO mojob.resource (name) VALUES ('Studio 1') RETURNING id AS studio \gset
SELECT is((SELECT state FROM mojob.create_job_for_resource(:studio, 'for a resource',
                                                           now() + interval '1 day', now() + interval '1 day 1 hour')),
    'tentative', 'mojob.create_job_for_resource creates a tentative job');
SELECT set_eq(
    format($$SELECT resource_id FROM mojob.job_resource
             WHERE job_id = (SELECT id FROM mojob.job WHERE name = 'for a resource')$$),
    format('VALUES (%s::bigint)', :studio),
    'mojob.create_job_for_resource gives the job the resource');

UPDATE mojob.settings SET default_state = 'tentative';
SELECT is((SELECT state FROM mojob.create_job('default tentative', now() + interval '1 day',
                                              now() + interval '1 day 1 hour')),
    'tentative', 'with default_state tentative, mojob.create_job creates a tentative job');
SELECT is((SELECT state FROM mojob.create_job('draft by argument', now() + interval '1 day',
                                              now() + interval '1 day 1 hour', state => 'draft')),
    'draft', 'with default_state tentative, mojob.create_job with state => draft creates a draft');
SET ROLE mj_life_clerk;
INSERT INTO mojob.job (name, start_at, end_at)
VALUES ('clerk default tentative', now() + interval '1 hour', now() + interval '2 hours')
RETURNING state AS dt_state \gset
RESET ROLE;
SELECT is(:'dt_state'::text, 'tentative', 'with default_state tentative, an INSERT that names no state gets tentative');
SELECT throws_ok($$UPDATE mojob.settings SET default_state = 'confirmed'$$, '23514', NULL,
    'mojob.settings refuses default_state confirmed');
UPDATE mojob.settings SET default_state = DEFAULT;

-- ---------------------------------------------------------------------
-- What create_job stores
-- ---------------------------------------------------------------------

UPDATE mojob.settings SET default_pre_roll = '15 minutes', default_post_roll = '5 minutes';
SELECT * FROM mojob.create_job('rolls by default', '2031-03-01 10:00+00', '2031-03-01 11:00+00') \gset rd_
SELECT is((:'rd_pre_roll_start'::timestamptz, :'rd_post_roll_end'::timestamptz),
          ('2031-03-01 09:45+00'::timestamptz, '2031-03-01 11:05+00'::timestamptz),
    'mojob.create_job without rolls takes the default pre- and post-roll from the settings');
SELECT * FROM mojob.create_job('rolls given', '2031-03-01 10:00+00', '2031-03-01 11:00+00',
                               pre_roll => '1 hour', post_roll => '0') \gset rg_
SELECT is((:'rg_pre_roll_start'::timestamptz, :'rg_post_roll_end'::timestamptz),
          ('2031-03-01 09:00+00'::timestamptz, '2031-03-01 11:00+00'::timestamptz),
    'mojob.create_job with rolls uses them');
SELECT * FROM mojob.create_job('full', '2031-03-01 10:00+00', '2031-03-01 11:00+00',
                               description => 'the final', priority => 'high',
                               properties => '{"venue": "north"}') \gset fu_
SELECT is((:'fu_name'::text, :'fu_description'::text, :'fu_priority'::mojob.job_priority, :'fu_properties'::jsonb),
          ('full'::text, 'the final'::text, 'high'::mojob.job_priority, '{"venue": "north"}'::jsonb),
    'mojob.create_job stores name, description, priority and properties');
SELECT is((:'fu_start_at'::timestamptz, :'fu_end_at'::timestamptz, :'fu_state'::mojob.job_state),
          ('2031-03-01 10:00+00'::timestamptz, '2031-03-01 11:00+00'::timestamptz, 'draft'::mojob.job_state),
    'mojob.create_job stores start_at and end_at and creates a draft by default');

SET mojob.actor = 'alice';
SELECT is((SELECT created_by FROM mojob.create_job('by alice', now() + interval '1 day',
                                                   now() + interval '1 day 1 hour')),
    'alice', 'with SET mojob.actor = alice, mojob.create_job records alice as created_by');
RESET mojob.actor;

-- Without its settings row, mojob cannot make a job (and says why).  Its
-- trigger keeps the row; a superuser can still remove it with triggers off.
SAVEPOINT no_settings;
SET LOCAL session_replication_role = replica;
DELETE FROM mojob.settings;
SET LOCAL session_replication_role = origin;
SELECT throws_ok($$ SELECT mojob.create_job('no settings', now() + interval '1 day', now() + interval '1 day 1 hour') $$,
    '55000', 'mojob.settings must have exactly one row',
    'a job cannot be created while mojob.settings has no row (55000)');
ROLLBACK TO SAVEPOINT no_settings;
SELECT lives_ok($$ SELECT mojob.create_job('settings back', now() + interval '1 day', now() + interval '1 day 1 hour') $$,
    'with the row back, jobs are created again');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
