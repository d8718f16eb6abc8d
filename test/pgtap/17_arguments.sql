-- The SQLSTATEs of the life cycle's functions (docs/design.md section 6): MJ404
-- for an unknown job or resource, 22023 for an invalid argument (NULL where
-- a value is needed, end not after start, an infinite time, a negative roll,
-- a NULL or repeated resource).  MJ001, MJ002 and MJ003 are pinned in
-- 11_refused_transitions.sql, 13_edit.sql and 14_delete.sql.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(66);

INSERT INTO mojob.resource (name) VALUES ('Camera 1') RETURNING id AS cam \gset
SELECT id AS j FROM mojob.create_job('known', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT coalesce(max(id), 0) + 1000 AS nojob FROM mojob.job \gset
SELECT coalesce(max(id), 0) + 1000 AS nores FROM mojob.resource \gset

-- ---------------------------------------------------------------------
-- MJ404: no such job, no such resource
-- ---------------------------------------------------------------------

SELECT throws_ok(format('SELECT * FROM mojob.%s(%s)', fn, :nojob), 'MJ404',
                 format('job %s does not exist', :nojob),
                 format('mojob.%s of an unknown job raises MJ404', fn))
FROM unnest(ARRAY['reserve', 'confirm', 'unconfirm', 'start', 'stop', 'cancel', 'delete_job']) AS fn;
SELECT throws_ok(format($$SELECT * FROM mojob.cancel(%s, 'no reason')$$, :nojob), 'MJ404',
    format('job %s does not exist', :nojob), 'mojob.cancel with a reason of an unknown job raises MJ404');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, now() + interval '1 day', now() + interval '2 days')$$, :nojob),
    'MJ404', format('job %s does not exist', :nojob), 'mojob.reschedule of an unknown job raises MJ404');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', now() + interval '1 day',
                                                                      now() + interval '2 days')$$, :nores),
    'MJ404', format('resource %s does not exist', :nores),
    'mojob.create_job_for_resource of an unknown resource raises MJ404');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                         resources => ARRAY[%s, %s])$$, :cam, :nores),
    'MJ404', format('resource %s does not exist', :nores),
    'mojob.create_job with an unknown resource among its resources raises MJ404');
SELECT is((SELECT count(*)::int FROM mojob.job), 1, 'the refused creations made no job');

-- ---------------------------------------------------------------------
-- 22023: NULL where a value is needed (no function is STRICT)
-- ---------------------------------------------------------------------

SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                  WHERE p.pronamespace = 'mojob'::regnamespace AND p.proisstrict$$,
    'no function of mojob is STRICT, so none silently returns NULL');

CREATE TEMP TABLE null_call (argument text, call text);
INSERT INTO null_call VALUES
    ('name', $$mojob.create_job(NULL, now() + interval '1 day', now() + interval '2 days')$$),
    ('start_at', $$mojob.create_job('x', NULL, now() + interval '2 days')$$),
    ('end_at', $$mojob.create_job('x', now() + interval '1 day', NULL)$$),
    ('resources', $$mojob.create_job('x', now() + interval '1 day', now() + interval '2 days', resources => NULL)$$),
    ('priority', $$mojob.create_job('x', now() + interval '1 day', now() + interval '2 days', priority => NULL)$$),
    ('properties', $$mojob.create_job('x', now() + interval '1 day', now() + interval '2 days', properties => NULL)$$),
    ('resource', $$mojob.create_job_for_resource(NULL, 'x', now() + interval '1 day', now() + interval '2 days')$$),
    ('name', $$mojob.create_job_for_resource(:cam, NULL, now() + interval '1 day', now() + interval '2 days')$$),
    ('start_at', $$mojob.create_job_for_resource(:cam, 'x', NULL, now() + interval '2 days')$$),
    ('end_at', $$mojob.create_job_for_resource(:cam, 'x', now() + interval '1 day', NULL)$$),
    ('job', 'mojob.reserve(NULL)'),
    ('job', 'mojob.confirm(NULL)'),
    ('job', 'mojob.unconfirm(NULL)'),
    ('job', 'mojob.start(NULL)'),
    ('job', 'mojob.stop(NULL)'),
    ('job', $$mojob.cancel(NULL, 'reason')$$),
    ('job', 'mojob.delete_job(NULL)'),
    ('job', $$mojob.reschedule(NULL, now() + interval '1 day', now() + interval '2 days')$$),
    ('start_at', $$mojob.reschedule(:j, NULL, now() + interval '2 days')$$),
    ('end_at', $$mojob.reschedule(:j, now() + interval '1 day', NULL)$$),
    ('at', 'mojob.advance(NULL)'),
    ('state', 'mojob.state_color(NULL)'),
    ('state', 'mojob.state_board(NULL)'),
    ('pattern', 'mojob.job_code_preview(NULL)');

SELECT throws_ok(format('SELECT * FROM %s', replace(replace(call, ':cam', :'cam'), ':j', :'j')), '22023',
                 format('%s must not be null', argument),
                 format('%s with a NULL %s raises 22023', split_part(call, '(', 1), argument))
FROM null_call;

-- ---------------------------------------------------------------------
-- 22023: the window
-- ---------------------------------------------------------------------

SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '1 day')$$,
    '22023', 'end_at must be after start_at', 'mojob.create_job with end_at = start_at raises 22023');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '23 hours')$$,
    '22023', 'end_at must be after start_at', 'mojob.create_job with end_at before start_at raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', now() + interval '1 day', now())$$, :cam),
    '22023', 'end_at must be after start_at', 'mojob.create_job_for_resource with end_at before start_at raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, now() + interval '2 days', now() + interval '2 days')$$, :j),
    '22023', 'end_at must be after start_at', 'mojob.reschedule with end_at = start_at raises 22023');

SELECT throws_ok($$SELECT * FROM mojob.create_job('x', 'infinity', 'infinity')$$,
    '22023', 'start_at must be a finite timestamp', 'mojob.create_job starting at infinity raises 22023');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', '-infinity', now() + interval '1 day')$$,
    '22023', 'start_at must be a finite timestamp', 'mojob.create_job starting at -infinity raises 22023');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', 'infinity')$$,
    '22023', 'end_at must be a finite timestamp', 'mojob.create_job ending at infinity raises 22023');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', '-infinity')$$,
    '22023', 'end_at must be a finite timestamp', 'mojob.create_job ending at -infinity raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', '-infinity', now())$$, :cam),
    '22023', 'start_at must be a finite timestamp', 'mojob.create_job_for_resource starting at -infinity raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', now(), 'infinity')$$, :cam),
    '22023', 'end_at must be a finite timestamp', 'mojob.create_job_for_resource ending at infinity raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, '-infinity', now() + interval '1 day')$$, :j),
    '22023', 'start_at must be a finite timestamp', 'mojob.reschedule starting at -infinity raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, now() + interval '1 day', 'infinity')$$, :j),
    '22023', 'end_at must be a finite timestamp', 'mojob.reschedule ending at infinity raises 22023');
SELECT throws_ok($$SELECT mojob.advance('infinity')$$,
    '22023', 'at must be a finite timestamp', 'mojob.advance to infinity raises 22023');
SELECT throws_ok($$SELECT mojob.advance('-infinity')$$,
    '22023', 'at must be a finite timestamp', 'mojob.advance to -infinity raises 22023');

SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                  pre_roll => '-1 hour')$$,
    '22023', 'pre_roll must not be negative', 'mojob.create_job with a negative pre_roll raises 22023');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                  post_roll => '-1 minute')$$,
    '22023', 'post_roll must not be negative', 'mojob.create_job with a negative post_roll raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', now() + interval '1 day',
                                                                      now() + interval '2 days', '-1 day')$$, :cam),
    '22023', 'pre_roll must not be negative', 'mojob.create_job_for_resource with a negative pre_roll raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', now() + interval '1 day',
                                                                      now() + interval '2 days', NULL, '-1 second')$$, :cam),
    '22023', 'post_roll must not be negative', 'mojob.create_job_for_resource with a negative post_roll raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, now() + interval '1 day', now() + interval '2 days',
                                                         '-1 hour')$$, :j),
    '22023', 'pre_roll must not be negative', 'mojob.reschedule with a negative pre_roll raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, now() + interval '1 day', now() + interval '2 days',
                                                         NULL, '-1 hour')$$, :j),
    '22023', 'post_roll must not be negative', 'mojob.reschedule with a negative post_roll raises 22023');

SELECT throws_ok($$SELECT * FROM mojob.create_job('', now() + interval '1 day', now() + interval '2 days')$$,
    '22023', 'name must not be empty', 'mojob.create_job with an empty name raises 22023');

-- ---------------------------------------------------------------------
-- 22023: the resources of create_job
-- ---------------------------------------------------------------------

SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                         resources => ARRAY[%s, NULL])$$, :cam),
    '22023', 'resources must not contain NULL', 'mojob.create_job with a NULL among its resources raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                         resources => ARRAY[%1$s, %1$s])$$, :cam),
    '22023', 'resources must not name a resource twice',
    'mojob.create_job naming a resource twice raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                         resources => ARRAY[[%1$s], [%1$s]])$$, :cam),
    '22023', NULL, 'mojob.create_job with a two-dimensional array of resources raises 22023');
SELECT is((SELECT count(*)::int FROM mojob.job), 1, 'the refused calls made no job');

-- The arguments that may be NULL: the defaults are used.
SELECT is((SELECT (description, cancel_reason) FROM mojob.create_job('nulls', now() + interval '1 day',
                                                                     now() + interval '2 days', NULL, NULL, NULL,
                                                                     '{}', NULL)),
          (NULL::text, NULL::text),
    'mojob.create_job accepts NULL rolls, state and description');
SELECT id AS c FROM mojob.create_job('cancel null', now() + interval '1 day', now() + interval '2 days') \gset
SELECT state FROM mojob.reserve(:c) \gset
SELECT is((SELECT (state, cancel_reason) FROM mojob.cancel(:c, NULL)),
          ('canceled'::mojob.job_state, NULL::text),
    'mojob.cancel accepts a NULL reason');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
