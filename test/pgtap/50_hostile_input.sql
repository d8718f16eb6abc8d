-- Hostile input (docs/design.md sections 2 and 6, README "Reference"): every
-- argument of every function of schema mojob is checked.
--
--   * NULL in each argument of each function that takes arguments, the list
--     read from pg_proc so that a new function is covered without editing
--     this file: 22023 naming the argument, unless the signature says
--     DEFAULT NULL or the documentation gives NULL a meaning (the table
--     null_ok below lists those, and why; their meaning is checked by hand);
--   * 'infinity' and '-infinity' in each timestamp argument, infinite bounds
--     in each window argument: 22023;
--   * far past (0001) and far future (9999, and the edge of timestamptz):
--     a correct result or a clear error, never a silent wrong value;
--   * windows that end before or when they start; a 100-year job;
--   * negative, mixed-sign and huge rolls; negative, NaN, infinite and huge
--     amounts;
--   * names, descriptions, reasons, aliases, actors with quotes,
--     backslashes, newlines, tabs, control characters and multi-byte
--     characters: stored and returned unchanged, escaped in timeline_svg,
--     one line per resource in timeline;
--   * 10,000 nodes on one job;
--   * refusals change nothing, and leave nothing behind for the next
--     statement.
--
-- NOTIFY payloads are covered by test/t/001_notify.pl (LISTEN is not
-- possible from pgTAP). Arguments already pinned in 17_arguments.sql are
-- covered again here only as part of the generated lists.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';

-- ---------------------------------------------------------------------
-- Helpers: run a statement and undo it whatever happens
-- ---------------------------------------------------------------------

-- The SQLSTATE a statement raises, '00000' if it succeeds; its effects are
-- always rolled back, so a call that wrongly succeeds harms no later test.
-- If arg is given (and is a name, not $n), a refusal whose message does not
-- name the argument is reported as such.
CREATE FUNCTION pg_temp.refusal(call text, arg text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text;
BEGIN
    BEGIN
        EXECUTE call;
        RAISE EXCEPTION 'succeeded' USING ERRCODE = 'TSTOK';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'TSTOK' THEN
            RETURN '00000';
        END IF;
        msg := SQLERRM;
        IF arg IS NOT NULL AND arg NOT LIKE '$%' AND position(arg IN msg) = 0 THEN
            RETURN SQLSTATE || ' without naming ' || arg || ': ' || msg;
        END IF;
        RETURN SQLSTATE;
    END;
END
$$;

-- The first column of the first row a statement returns, as text, or
-- 'ERROR <SQLSTATE>'; always rolled back.
CREATE FUNCTION pg_temp.outcome(call text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    BEGIN
        EXECUTE call INTO v;
        RAISE EXCEPTION '%', coalesce(v, '(null)') USING ERRCODE = 'TSTOK';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'TSTOK' THEN
            RETURN SQLERRM;
        END IF;
        RETURN 'ERROR ' || SQLSTATE;
    END;
END
$$;

\ir helpers/snapshot.psql

-- ---------------------------------------------------------------------
-- Fixtures: one job in each state the functions need
-- ---------------------------------------------------------------------

SELECT now() + interval '1 day' AS t1, now() + interval '1 day 1 hour' AS t2,
       now() + interval '10 days' AS t3, now() AS t0 \gset
-- Days of their own, far enough ahead, for the later sections.
SELECT date_trunc('day', now()) + interval '300 days' AS d300, date_trunc('day', now()) + interval '301 days' AS d301,
       date_trunc('day', now()) + interval '400 days' AS d400, date_trunc('day', now()) + interval '401 days' AS d401,
       date_trunc('day', now()) + interval '500 days' AS d500, date_trunc('day', now()) + interval '700 days' AS d700,
       date_trunc('day', now()) + interval '701 days' AS d701 \gset

INSERT INTO mojob.resource (name) VALUES ('cam') RETURNING id AS cam \gset
INSERT INTO mojob.resource (name) VALUES ('cam2') RETURNING id AS cam2 \gset
INSERT INTO mojob.resource (name) VALUES ('cam3') RETURNING id AS cam3 \gset
INSERT INTO mojob.resource (name) VALUES ('free') RETURNING id AS free \gset
INSERT INTO mojob.resource (name) VALUES ('for_conf') RETURNING id AS for_conf \gset
INSERT INTO mojob.pool (name) VALUES ('pool') RETURNING id AS pool \gset
INSERT INTO mojob.pool_member VALUES (:pool, :cam2);

-- draft: uses cam and has an unresolved pool node
SELECT id AS draft FROM mojob.create_job('draft', now() + interval '2 days', now() + interval '2 days 1 hour',
                                         resources => ARRAY[:cam]) \gset
SELECT id AS node FROM mojob.add_pool_node(:draft, :pool) \gset
SELECT id AS tent FROM mojob.create_job('tentative', now() + interval '3 days', now() + interval '3 days 1 hour',
                                        state => 'tentative') \gset
SELECT id AS conf FROM mojob.create_job('confirmed', now() + interval '4 days', now() + interval '4 days 1 hour',
                                        state => 'tentative', resources => ARRAY[:for_conf]) \gset
SELECT state FROM mojob.confirm(:conf) \gset
-- running since an hour ago: only the table's owner may insert it so
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('running', 'running', now() - interval '1 hour', now() - interval '1 hour',
        now() + interval '1 hour', now() + interval '1 hour')
RETURNING id AS run \gset
SELECT id AS rdraft FROM mojob.create_job('recurring', now() + interval '5 days', now() + interval '5 days 1 hour') \gset
SELECT id AS rec FROM mojob.make_recurring(:rdraft, 'FREQ=DAILY;COUNT=2', 'UTC') \gset

-- ---------------------------------------------------------------------
-- A valid value for each argument (fn '*': any function)
-- ---------------------------------------------------------------------

CREATE TEMP TABLE arg_value (fn text, arg text, val text);
INSERT INTO arg_value VALUES
    ('*', 'job', :'draft'),
    ('confirm', 'job', :'tent'),
    ('cancel', 'job', :'tent'),
    ('unconfirm', 'job', :'conf'),
    ('start', 'job', :'conf'),
    ('stop', 'job', :'run'),
    ('*', 'resource', :'cam3'),
    ('create_job_for_resource', 'resource', :'free'),
    ('assign_node', 'resource', :'cam2'),
    ('remove_resource', 'resource', :'cam'),
    ('resource_usage', 'resource', :'cam'),
    ('*', 'old_resource', :'cam'),
    ('*', 'new_resource', :'cam3'),
    ('*', 'node', :'node'),
    ('*', 'pool', :'pool'),
    ('*', 'recurrence', :'rec'),
    ('*', 'name', quote_literal('a name')),
    ('*', 'start_at', quote_literal(:'t1')),
    ('*', 'end_at', quote_literal(:'t2')),
    ('*', 'dtstart', quote_literal(:'t1')),
    ('*', 'until', quote_literal(:'t3')),
    ('*', 'at', quote_literal(:'t0')),
    ('*', 'locked_until', quote_literal(:'t1')),
    ('*', 'during', format('tstzrange(%L, %L)', :'t0', :'t3')),
    ('*', 'pre_roll', quote_literal('1 hour')),
    ('*', 'post_roll', quote_literal('1 hour')),
    ('*', 'horizon', quote_literal('1 year')),
    ('*', 'state', quote_literal('draft')),
    ('state_color', '$1', quote_literal('draft')),
    ('state_board', '$1', quote_literal('draft')),
    ('xml_text', '$1', quote_literal('a & b')),
    ('*', 'resources', quote_literal('{}')),
    ('*', 'description', quote_literal('a description')),
    ('*', 'priority', quote_literal('high')),
    ('*', 'properties', quote_literal('{"k": 1}')),
    ('*', 'reason', quote_literal('a reason')),
    ('*', 'amount', '1'),
    ('*', 'alias', quote_literal('an alias')),
    ('*', 'required_capabilities', quote_literal('{}')),
    ('*', 'capabilities', quote_literal('{}')),
    ('*', 'width', '72'),
    ('*', 'force', 'false'),
    ('*', 'rule', quote_literal('FREQ=DAILY;COUNT=2')),
    ('*', 'time_zone', quote_literal('UTC')),
    ('*', 'pattern', quote_literal('JOB-{seq}')),
    ('*', 'seq', '1'),
    ('next_id', 'seq', quote_literal('mojob.job_id_seq')),
    ('*', 'board', quote_literal('active')),
    ('*', 'action', quote_literal('edit')),
    ('*', 'locked_by', quote_literal('someone'));

-- The arguments that accept NULL, and why (DEFAULT NULL in the signature,
-- or a meaning given by the documentation); each meaning is checked below.
-- Every other argument must raise 22023 naming itself -- also
-- job_code_preview's seq (its default is 1, not NULL) and xml_text's
-- text, to which no documentation gives NULL a meaning.
CREATE TEMP TABLE null_ok (fn text, arg text, why text);
INSERT INTO null_ok VALUES
    ('create_job', 'pre_roll', 'NULL takes mojob.settings.default_pre_roll'),
    ('create_job', 'post_roll', 'NULL takes mojob.settings.default_post_roll'),
    ('create_job', 'state', 'NULL takes mojob.settings.default_state'),
    ('create_job', 'description', 'the job has no description'),
    ('create_job_for_resource', 'pre_roll', 'NULL takes mojob.settings.default_pre_roll'),
    ('create_job_for_resource', 'post_roll', 'NULL takes mojob.settings.default_post_roll'),
    ('reschedule', 'pre_roll', 'NULL keeps the job''s pre-roll length'),
    ('reschedule', 'post_roll', 'NULL keeps the job''s post-roll length'),
    ('cancel', 'reason', 'a cancellation without a reason'),
    ('cancel_recurrence', 'reason', 'a cancellation without a reason'),
    ('add_resource', 'alias', 'a node without an alias'),
    ('add_pool_node', 'alias', 'a node without an alias'),
    ('free_resources', 'pool', 'NULL: resources of any pool or none'),
    ('duplicate', 'start_at', 'NULL: the original''s start'),
    ('job_code_preview', 'at', 'NULL: the date of now()');

-- Each input argument of each function of mojob that takes any.
CREATE TEMP TABLE fn_arg AS
SELECT p.proname::text AS fn, a.pos::int AS pos, a.typ, format_type(a.typ, NULL) AS typname,
       coalesce(nullif(n.names[a.pos], ''), '$' || a.pos) AS arg
FROM pg_proc p
CROSS JOIN LATERAL unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(typ, pos)
CROSS JOIN LATERAL (SELECT array_agg(u.nm ORDER BY u.o) AS names
                    FROM unnest(p.proargnames, p.proargmodes) WITH ORDINALITY AS u(nm, md, o)
                    WHERE u.md IS NULL OR u.md IN ('i', 'b', 'v')) n
WHERE p.pronamespace = 'mojob'::regnamespace AND p.prokind = 'f' AND p.pronargs > 0;
ALTER TABLE fn_arg ADD COLUMN val text;
UPDATE fn_arg f SET val = coalesce((SELECT v.val FROM arg_value v WHERE v.fn = f.fn AND v.arg = f.arg),
                                   (SELECT v.val FROM arg_value v WHERE v.fn = '*' AND v.arg = f.arg));

-- A call of fn with the valid values, and value (an SQL expression) at position at_pos.
CREATE FUNCTION pg_temp.call_with(f text, at_pos int, value text) RETURNS text
LANGUAGE sql AS $$
    SELECT format('SELECT * FROM mojob.%I(%s)', f,
                  string_agg(CASE WHEN a.pos = at_pos THEN value ELSE '(' || a.val || ')' END
                             || '::' || a.typname, ', ' ORDER BY a.pos))
    FROM fn_arg a WHERE a.fn = f
$$;

CREATE TEMP TABLE null_case AS
SELECT a.fn, a.arg, pg_temp.call_with(a.fn, a.pos, 'NULL') AS call, o.why
FROM fn_arg a LEFT JOIN null_ok o USING (fn, arg)
ORDER BY a.fn, a.pos;

-- Each timestamp argument given an infinite time, each window argument an
-- infinite bound.  resource_usage is left out: an unbounded window asks
-- for the peak at any instant (checked separately below).
CREATE TEMP TABLE infinite_case AS
SELECT a.fn, a.arg, v.label, pg_temp.call_with(a.fn, a.pos, v.value) AS call
FROM fn_arg a
CROSS JOIN LATERAL (VALUES
    ('infinity', CASE WHEN a.typ = 'timestamptz'::regtype THEN quote_literal('infinity')
                      ELSE format('tstzrange(%L, %L)', :'t0', 'infinity') END),
    ('-infinity', CASE WHEN a.typ = 'timestamptz'::regtype THEN quote_literal('-infinity')
                       ELSE format('tstzrange(%L, %L)', '-infinity', :'t3') END)) AS v(label, value)
WHERE a.typ IN ('timestamptz'::regtype, 'tstzrange'::regtype) AND a.fn <> 'resource_usage'
ORDER BY a.fn, a.pos, v.label;

SELECT plan(128
            + (SELECT count(DISTINCT fn)::int FROM fn_arg)
            + (SELECT count(*)::int FROM null_case)
            + (SELECT count(*)::int FROM infinite_case));

-- ---------------------------------------------------------------------
-- NULL in every argument
-- ---------------------------------------------------------------------

SELECT is_empty($$ SELECT fn || '(' || arg || ')' FROM fn_arg WHERE val IS NULL $$,
    'every argument of every function of mojob has a valid value in this test (add one for a new argument)');
SELECT is_empty($$ SELECT fn || '(' || arg || ')' FROM null_ok o
                   WHERE NOT EXISTS (SELECT FROM fn_arg a WHERE a.fn = o.fn AND a.arg = o.arg) $$,
    'every argument listed as accepting NULL exists');

-- The baseline: with the valid values, each function succeeds, so that a
-- 22023 below comes from the NULL and nothing else.
SELECT is(pg_temp.refusal(pg_temp.call_with(fn, 0, NULL)), '00000',
          format('mojob.%s succeeds with valid arguments (the baseline of the NULL tests)', fn))
FROM (SELECT DISTINCT fn FROM fn_arg ORDER BY fn) f;

SELECT CASE WHEN why IS NULL
            THEN is(pg_temp.refusal(call, arg), '22023',
                    format('mojob.%s with %s => NULL raises 22023 naming %s', fn, arg, arg))
            ELSE is(pg_temp.refusal(call), '00000',
                    format('mojob.%s accepts %s => NULL (%s)', fn, arg, why))
       END
FROM null_case ORDER BY fn, arg;

-- No function of the extension is STRICT, wherever it lives (17 checks schema mojob).
SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc p
                   JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                   JOIN pg_extension e ON e.oid = d.refobjid AND d.deptype = 'e'
                   WHERE e.extname = 'mojob' AND p.proisstrict $$,
    'no function that belongs to the extension mojob is STRICT');

-- The meaning of each NULL that is accepted.
UPDATE mojob.settings SET default_pre_roll = '10 minutes', default_post_roll = '5 minutes',
                          default_state = 'tentative';
SELECT is((SELECT (start_at - pre_roll_start, post_roll_end - end_at, state)
           FROM mojob.create_job('defaults', :'t3', :'t3'::timestamptz + interval '1 hour', NULL, NULL, NULL)),
          (interval '10 minutes', interval '5 minutes', 'tentative'::mojob.job_state),
    'create_job with NULL pre_roll, post_roll and state takes the settings'' defaults');
SELECT is((SELECT (start_at - pre_roll_start, post_roll_end - end_at, state)
           FROM mojob.create_job_for_resource(:free, 'defaults', :'t3', :'t3'::timestamptz + interval '1 hour',
                                              NULL, NULL)),
          (interval '10 minutes', interval '5 minutes', 'tentative'::mojob.job_state),
    'create_job_for_resource with NULL rolls takes the settings'' default rolls');
UPDATE mojob.settings SET default_pre_roll = '0', default_post_roll = '0', default_state = 'draft';
SELECT is((SELECT description FROM mojob.create_job('no description', :'t1', :'t2', description => NULL)),
          NULL, 'create_job with a NULL description makes a job without one');

SELECT id AS rs FROM mojob.create_job('rolls kept', :'t1', :'t2', '17 minutes 3.5 seconds', '1 day 2 hours') \gset
SELECT is((SELECT (start_at - pre_roll_start, post_roll_end - end_at, start_at, end_at)
           FROM mojob.reschedule(:rs, :'t3', :'t3'::timestamptz + interval '2 hours', NULL, NULL)),
          (interval '17 minutes 3.5 seconds', interval '26 hours', :'t3'::timestamptz,
           :'t3'::timestamptz + interval '2 hours'),
    'reschedule with NULL rolls moves the window and keeps both roll lengths exactly');

SELECT id AS cn FROM mojob.create_job('cancel null', :'t1', :'t2', state => 'tentative') \gset
SELECT is((SELECT (state, cancel_reason) FROM mojob.cancel(:cn, NULL)),
          ('canceled'::mojob.job_state, NULL::text),
    'cancel with a NULL reason cancels the job and records no reason');
SELECT is((SELECT reason FROM mojob.job_event WHERE job_id = :cn AND to_state = 'canceled'), NULL,
    'the history row of a cancellation without a reason has a NULL reason');

SELECT id AS rj FROM mojob.create_job('rec null', now() + interval '6 days', now() + interval '6 days 1 hour',
                                      state => 'tentative') \gset
SELECT id AS rc FROM mojob.make_recurring(:rj, 'FREQ=DAILY;COUNT=2', 'UTC') \gset
SELECT is((SELECT (state, cancel_reason) FROM mojob.cancel_recurrence(:rc, NULL)),
          ('canceled'::text, NULL::text),
    'cancel_recurrence with a NULL reason cancels the recurrence and records no reason');

SELECT id AS aj FROM mojob.create_job('alias null', :'t1', :'t2') \gset
SELECT is((SELECT (resource_id, alias, amount) FROM mojob.add_resource(:aj, :cam3, 0, NULL)),
          (:cam3::bigint, NULL::text, 0::numeric),
    'add_resource with a NULL alias adds a node without an alias');
SELECT id AS pn FROM mojob.add_pool_node(:aj, :pool, NULL) \gset
SELECT is((SELECT alias FROM mojob.job_resource WHERE id = :pn), NULL,
    'add_pool_node with a NULL alias adds a node without an alias');
SELECT is((SELECT message FROM mojob.job_errors WHERE job_id = :aj AND code = 'NODE_UNRESOLVED'),
          format('pool node %s of pool "pool" has no resource', :pn),
    'an unresolved node without an alias is named by its id in mojob.job_errors');

INSERT INTO mojob.resource (name) VALUES ('in no pool') RETURNING id AS nopool \gset
SELECT ok((SELECT bool_and(id IN (SELECT id FROM mojob.free_resources(tstzrange(:'d700', :'d701'), NULL)))
           FROM mojob.resource WHERE enabled),
    'free_resources with a NULL pool considers every resource, in a pool or not');

SELECT is((SELECT (start_at, end_at - start_at, name) FROM mojob.duplicate(:rs, NULL)),
          (:'t3'::timestamptz, interval '2 hours', 'rolls kept'::text),
    'duplicate with a NULL start_at starts the copy at the original''s start');

SELECT is(mojob.job_code_preview('{YYYY}{MM}{DD}-{seq}', 7, NULL),
          to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') || '-7',
    'job_code_preview with a NULL at uses the date of now()');

-- The board reads a job's lock columns: NULL (nobody), and infinite times.
SELECT id AS lk FROM mojob.create_job('lock bounds', :'t2', :'t3') \gset
SELECT is((SELECT (can_edit, can_reserve) FROM mojob.ops_board WHERE id = :lk), (true, true),
    'the board reads NULL locked_by and locked_until as no lock');

-- ---------------------------------------------------------------------
-- Infinite times
-- ---------------------------------------------------------------------

SELECT is(pg_temp.refusal(call, arg), '22023',
          format('mojob.%s with %s at %s raises 22023 naming %s', fn, arg, label, arg))
FROM infinite_case ORDER BY fn, arg, label;

-- resource_usage over an unbounded window: the peak at any instant.
SELECT is((SELECT (jobs, amount) FROM mojob.resource_usage((SELECT min(id) FROM mojob.resource),
                                                           tstzrange('-infinity', 'infinity'))),
          (SELECT (jobs, amount) FROM mojob.resource_usage((SELECT min(id) FROM mojob.resource),
                                                           tstzrange(NULL, NULL))),
    'resource_usage from -infinity to infinity is the peak at any instant, as for an unbounded range');
SELECT is((SELECT jobs FROM mojob.resource_usage((SELECT min(id) FROM mojob.resource),
                                                 tstzrange('-infinity', 'infinity'))) >= 0, true,
    'resource_usage with infinite bounds gives a count, not an error');

-- A lock may last until infinity (mojob.job can hold it): the board reads it right.
SET mojob.actor = 'somebody else';
UPDATE mojob.job SET locked_by = 'somebody else', locked_until = 'infinity' WHERE id = :lk;
RESET mojob.actor;
SELECT is((SELECT (can_edit, can_reserve) FROM mojob.ops_board WHERE id = :lk), (false, false),
    'the board reads a lock held by another user until infinity as blocking every change');
SET mojob.actor = 'somebody else';
UPDATE mojob.job SET locked_until = '-infinity' WHERE id = :lk;
RESET mojob.actor;
SELECT is((SELECT (can_edit, can_reserve) FROM mojob.ops_board WHERE id = :lk), (true, true),
    'the board reads a lock that lapsed at -infinity as no lock');

-- ---------------------------------------------------------------------
-- Far past and far future
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (name) VALUES ('far') RETURNING id AS far \gset
SELECT id AS past FROM mojob.create_job('year 1', '0001-01-01 10:00+00', '0001-01-01 11:00+00',
                                        '1 hour', '1 hour', resources => ARRAY[:far]) \gset
SELECT is((SELECT (pre_roll_start, start_at, end_at, post_roll_end) FROM mojob.job WHERE id = :past),
          ('0001-01-01 09:00+00'::timestamptz, '0001-01-01 10:00+00'::timestamptz,
           '0001-01-01 11:00+00'::timestamptz, '0001-01-01 12:00+00'::timestamptz),
    'a job in the year 1 is stored with its exact instants');
SELECT id AS future FROM mojob.create_job('year 9999', '9999-12-31 10:00+00', '9999-12-31 11:00+00',
                                          '1 hour', '1 hour', resources => ARRAY[:far]) \gset
SELECT is((SELECT (pre_roll_start, post_roll_end) FROM mojob.job WHERE id = :future),
          ('9999-12-31 09:00+00'::timestamptz, '9999-12-31 12:00+00'::timestamptz),
    'a job in the year 9999 is stored with its exact instants');
SELECT is((SELECT state FROM mojob.reserve(:past)), 'tentative', 'a job in the year 1 can be reserved');
SELECT is((SELECT state FROM mojob.reserve(:future)), 'tentative', 'a job in the year 9999 can be reserved');
SELECT is((SELECT array_agg(held ORDER BY lower(held)) FROM mojob.booking WHERE resource_id = :far),
          ARRAY[tstzrange('0001-01-01 09:00+00', '0001-01-01 12:00+00'),
                tstzrange('9999-12-31 09:00+00', '9999-12-31 12:00+00')],
    'the bookings of the year 1 and the year 9999 hold exactly their windows');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'clash', '9999-12-31 11:30+00',
                                                                      '9999-12-31 13:00+00')$$, :far),
    'MJ005', NULL, 'a reservation overlapping the year-9999 booking is refused (MJ005)');
SELECT is((SELECT (jobs, amount) FROM mojob.resource_usage(:far, tstzrange('0001-01-01', '9999-12-31 23:59+00'))),
          (1, 0::numeric),
    'resource_usage over the years 1 to 9999 sees a peak of one holding job');
SELECT ok(NOT EXISTS (SELECT FROM mojob.free_resources(tstzrange('0001-01-01', '9999-12-31 23:59+00'))
                      WHERE id = :far),
    'free_resources over the years 1 to 9999 leaves out the resource held in them');
SELECT is(mojob.advance('0001-01-01'), 0, 'advance to the year 1 makes no transition');
SELECT is((SELECT state FROM mojob.confirm(:future)), 'confirmed', 'a job in the year 9999 can be confirmed');
SELECT ok(mojob.advance('9999-12-31 10:30+00') >= 1, 'advance to the year 9999 makes the transitions due then');
SELECT is((SELECT (state, start_at, end_at) FROM mojob.job WHERE id = :future),
          ('running'::mojob.job_state, '9999-12-31 10:00+00'::timestamptz, '9999-12-31 11:00+00'::timestamptz),
    'the year-9999 job runs, its start_at and end_at kept');
SELECT is(mojob.advance('9999-12-31 11:30+00'), 1, 'advance later in the year 9999 makes the one transition due then');
SELECT is((SELECT (state, start_at, end_at) FROM mojob.job WHERE id = :future),
          ('completed'::mojob.job_state, '9999-12-31 10:00+00'::timestamptz, '9999-12-31 11:00+00'::timestamptz),
    'the year-9999 job is completed, its start_at and end_at kept');

-- At the edges of timestamptz a roll that would leave the range is a clear error.
SELECT throws_ok($$SELECT * FROM mojob.create_job('edge', '294276-12-31 20:00+00', '294276-12-31 21:00+00',
                                                  post_roll => '1 day')$$,
    '22008', NULL, 'a post-roll beyond the last timestamptz is refused as out of range (22008)');
SELECT throws_ok($$SELECT * FROM mojob.create_job('edge', '4714-11-24 01:00+00 BC', '4714-11-24 02:00+00 BC',
                                                  pre_roll => '2 hours')$$,
    '22008', NULL, 'a pre-roll before the first timestamptz is refused as out of range (22008)');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, '294276-12-31 20:00+00', '294276-12-31 21:00+00',
                                                         NULL, '1 day')$$, :draft),
    '22008', NULL, 'rescheduling with a post-roll beyond the last timestamptz is refused as out of range (22008)');

SELECT is(mojob.job_code_preview('{YYYY}-{seq}', 1, '0001-06-01'), '0001-1',
    'job_code_preview gives the year 1 as 0001');
SELECT is(mojob.job_code_preview('{YYYY}{MM}{DD}-{seq}', 1, '9999-12-31 12:00+00'), '99991231-1',
    'job_code_preview gives 9999-12-31 as 99991231');

-- libical expands rules in limited years: a rule must give every
-- occurrence it promises, or be refused -- never stop early in silence.
SELECT ok(pg_temp.outcome($$SELECT count(*) FROM mojob.recurrence_preview('FREQ=YEARLY', 'UTC',
                                                  '2030-12-01 10:00+00', '2900-12-31 00:00+00')$$)
          IN ('869', 'ERROR 22023'),
    'recurrence_preview of a yearly rule up to the year 2900 gives all 869 starts or refuses with 22023');
SELECT ok(pg_temp.outcome($$SELECT count(*) FROM mojob.recurrence_preview('FREQ=DAILY', 'UTC',
                                                  '9999-12-01 10:00+00', '9999-12-31 00:00+00')$$)
          IN ('29', 'ERROR 22023'),
    'recurrence_preview in December 9999 gives its 29 further starts or refuses with 22023');
SELECT id AS yearly FROM mojob.create_job('yearly', :'d400', :'d400'::timestamptz + interval '1 hour') \gset
CREATE FUNCTION pg_temp.instances(job bigint, rule text, horizon interval) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r bigint;
BEGIN
    SELECT id INTO r FROM mojob.make_recurring(job, rule, 'UTC', horizon);
    RETURN (SELECT count(*) FROM mojob.job WHERE recurrence_id = r);
END
$$;
SELECT ok(pg_temp.outcome(format($$SELECT pg_temp.instances(%s, 'FREQ=YEARLY;COUNT=600', '1000 years')$$, :yearly))
          IN ('600', 'ERROR 22023'),
    'make_recurring with COUNT=600 yearly makes all 600 instances or refuses with 22023');

-- Pictures of the years 1 to 9999 and of a century: drawn, with a readable axis.
SELECT ok((SELECT count(*) FROM mojob.timeline(tstzrange('0001-01-01', '9999-12-31'))) > 0,
    'timeline draws the years 1 to 9999');
SELECT ok((SELECT length(l) - length(replace(l, '┬', ''))
           FROM mojob.timeline(tstzrange(now(), now() + interval '100 years'), 72) WITH ORDINALITY AS t(l, n)
           WHERE n = 2) <= 72 / 8 + 1,
    'the axis of a 100-year timeline has ticks at least 8 columns apart, as for any window');
SELECT ok(xml_is_well_formed_document(mojob.timeline_svg(tstzrange('0001-01-01', '9999-12-31'))),
    'timeline_svg of the years 1 to 9999 is well-formed XML');
SELECT ok((SELECT count(*) FROM regexp_matches(mojob.timeline_svg(tstzrange(now(), now() + interval '100 years')),
                                             'class="tick"', 'g')) <= 800 / 80 + 1,
    'timeline_svg of 100 years draws at most one tick per 80 pixels, as for any window');

-- ---------------------------------------------------------------------
-- Windows that end before or when they start; a 100-year job
-- ---------------------------------------------------------------------

SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', %L, %L)$$, :free, :'t1', :'t1'),
    '22023', 'end_at must be after start_at', 'create_job_for_resource with end_at = start_at raises 22023');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, %L, %L)$$, :draft, :'t2', :'t1'),
    '22023', 'end_at must be after start_at', 'reschedule with end_at before start_at raises 22023');
SELECT throws_ok(format($$INSERT INTO mojob.job (name, start_at, end_at) VALUES ('zero', %L, %L)$$, :'t1', :'t1'),
    '23514', NULL, 'a zero-length job inserted directly is refused by the table''s check (23514)');
SELECT throws_ok(format($$UPDATE mojob.job SET end_at = start_at WHERE id = %s$$, :draft),
    '23514', NULL, 'making a job zero-length by a plain UPDATE is refused by the table''s check (23514)');
SELECT is(pg_temp.refusal(format($$SELECT * FROM mojob.recurrence_preview('FREQ=DAILY;COUNT=3', 'UTC', %L, %L)$$,
                                 :'t3', :'t1'), 'until'), '22023',
    'recurrence_preview with until before dtstart raises 22023 naming until');
SELECT is(pg_temp.refusal(format($$SELECT * FROM mojob.recurrence_preview('FREQ=DAILY;COUNT=3', 'UTC', %L, %L)$$,
                                 :'t1', :'t1'), 'until'), '22023',
    'recurrence_preview with until = dtstart raises 22023 naming until');
SELECT throws_ok($$SELECT * FROM mojob.free_resources('empty')$$, '22023', NULL,
    'free_resources of an empty window raises 22023');
SELECT throws_ok($$SELECT * FROM mojob.timeline('empty')$$, '22023', NULL,
    'timeline of an empty window raises 22023');

INSERT INTO mojob.resource (name) VALUES ('century') RETURNING id AS century \gset
SELECT id AS cjob FROM mojob.create_job('a century', :'t1', :'t1'::timestamptz + interval '100 years',
                                        resources => ARRAY[:century]) \gset
SELECT is((SELECT end_at FROM mojob.job WHERE id = :cjob), :'t1'::timestamptz + interval '100 years',
    'a 100-year job is accepted');
SELECT is((SELECT state FROM mojob.reserve(:cjob)), 'tentative', 'a 100-year job can be reserved');
SELECT is((SELECT held FROM mojob.booking WHERE job_id = :cjob),
          tstzrange(:'t1', :'t1'::timestamptz + interval '100 years'),
    'its booking holds the resource for the whole century');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'in the middle', %L, %L)$$,
                        :century, now() + interval '50 years', now() + interval '50 years 1 hour'),
    'MJ005', NULL, 'a job fifty years into the century cannot take its resource (MJ005)');
SELECT ok(NOT EXISTS (SELECT FROM mojob.free_resources(tstzrange(now() + interval '99 years',
                                                                 now() + interval '99 years 1 hour'))
                      WHERE id = :century),
    'free_resources 99 years ahead leaves the century''s resource out');

-- ---------------------------------------------------------------------
-- Rolls and horizons
-- ---------------------------------------------------------------------

SELECT is(pg_temp.refusal($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                          pre_roll => '1 day -1 hour')$$, 'pre_roll'), '22023',
    'create_job with a pre_roll of 1 day -1 hour (a negative part) raises 22023');
SELECT is(pg_temp.refusal($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                          post_roll => '-1 month 40 days')$$, 'post_roll'), '22023',
    'create_job with a post_roll of -1 month 40 days (a negative part) raises 22023');
SELECT is(pg_temp.refusal(format($$SELECT * FROM mojob.reschedule(%s, %L, %L, '0 seconds', '1 day -1 second')$$,
                                 :draft, :'t1', :'t2'), 'post_roll'), '22023',
    'reschedule with a post_roll of 1 day -1 second (a negative part) raises 22023');
SELECT is(pg_temp.refusal(format($$SELECT * FROM mojob.create_job_for_resource(%s, 'x', %L, %L, '-0.000001 seconds')$$,
                                 :free, :'t1', :'t2'), 'pre_roll'), '22023',
    'create_job_for_resource with a pre_roll of minus one microsecond raises 22023');
SELECT is((SELECT pre_roll_start FROM mojob.create_job('long set-up', :'t1', :'t2', pre_roll => '1000 years')),
          :'t1'::timestamptz - interval '1000 years',
    'a pre-roll of 1000 years is kept exactly');
SELECT is((SELECT post_roll_end FROM mojob.create_job('long tear-down', :'t1', :'t2', post_roll => '1000 years')),
          :'t2'::timestamptz + interval '1000 years',
    'a post-roll of 1000 years is kept exactly');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                  pre_roll => '10000 years')$$,
    '22008', NULL, 'a pre-roll of 10000 years, which reaches before 4713 BC, is refused as out of range (22008)');
SELECT throws_ok($$SELECT * FROM mojob.create_job('x', now() + interval '1 day', now() + interval '2 days',
                                                  post_roll => '178000000 years')$$,
    '22008', NULL, 'a post-roll of 178 million years is refused as out of range (22008)');
SELECT is(pg_temp.refusal(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2', 'UTC', '-1 day')$$,
                                 :draft), 'horizon'), '22023',
    'make_recurring with a negative horizon raises 22023 naming horizon');
SELECT is(pg_temp.refusal(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2', 'UTC', '0')$$,
                                 :draft), 'horizon'), '22023',
    'make_recurring with a zero horizon raises 22023 naming horizon');
SELECT ok(pg_temp.refusal(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2', 'UTC',
                                                                      '178000000 years')$$, :draft))
          IN ('22008', '22023'),
    'make_recurring with a horizon of 178 million years is a clear error (22008 or 22023)');

-- ---------------------------------------------------------------------
-- Amounts
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (name, capacity) VALUES ('uplink', 36) RETURNING id AS uplink \gset
INSERT INTO mojob.resource (name, capacity) VALUES ('unlimited', NULL) RETURNING id AS unlimited \gset
SELECT id AS amj FROM mojob.create_job('amounts', :'t1', :'t2') \gset

SELECT is(pg_temp.refusal(format('SELECT * FROM mojob.add_resource(%s, %s, %s)', :amj, :uplink, a), 'amount'), '22023',
          format('add_resource with an amount of %s raises 22023 naming amount', a))
FROM unnest(ARRAY['-1', '-0.000000000000000000001', '''NaN''', '''Infinity''', '''-Infinity''']) AS a;
SELECT throws_ok(format($$INSERT INTO mojob.job_resource (job_id, resource_id, amount) VALUES (%s, %s, 'NaN')$$,
                        :amj, :uplink),
    '23514', NULL, 'a node inserted directly with a NaN amount is refused by the table''s check (23514)');
SELECT throws_ok(format($$UPDATE mojob.resource SET capacity = 'NaN' WHERE id = %s$$, :uplink),
    '23514', NULL, 'a NaN capacity is refused by the table''s check (23514)');
SELECT throws_ok(format($$UPDATE mojob.resource SET capacity = 'Infinity' WHERE id = %s$$, :uplink),
    '23514', NULL, 'an infinite capacity is refused by the table''s check (23514)');

SELECT is((SELECT amount FROM mojob.add_resource(:amj, :uplink, 1e100)), 1e100,
    'a draft may ask for an amount of 1e100 (it holds nothing yet)');
SELECT throws_ok(format('SELECT * FROM mojob.reserve(%s)', :amj), 'MJ005', NULL,
    'reserving 1e100 of a capacity of 36 is refused (MJ005)');
SELECT is((SELECT state FROM mojob.job WHERE id = :amj), 'draft', 'the refused job stays a draft');
SELECT id AS amj2 FROM mojob.create_job('huge on unlimited', :'t1', :'t2') \gset
SELECT is((SELECT amount FROM mojob.add_resource(:amj2, :unlimited, 1e100)), 1e100,
    'a node may use 1e100 of a resource without a capacity');
SELECT is((SELECT state FROM mojob.reserve(:amj2)), 'tentative',
    'and the job is reserved: NULL capacity is unlimited');
SELECT is((SELECT amount FROM mojob.resource_usage(:unlimited, tstzrange(:'t1', :'t2'))), 1e100,
    'resource_usage reports the 1e100 exactly');
UPDATE mojob.resource SET capacity = 1e100 WHERE id = :uplink;
SELECT id AS amj3 FROM mojob.create_job('exactly full', :'t1', :'t2') \gset
SELECT is((SELECT amount FROM mojob.add_resource(:amj3, :uplink, 1e100)), 1e100,
    'a node may use exactly a capacity of 1e100');
SELECT is((SELECT state FROM mojob.reserve(:amj3)), 'tentative',
    'a job using exactly the whole capacity of 1e100 is reserved');
SELECT id AS amj4 FROM mojob.create_job('one more', :'t1', :'t2') \gset
SELECT is((SELECT amount FROM mojob.add_resource(:amj4, :uplink, 1e-100)), 1e-100,
    'an amount of 1e-100 is kept exactly');
SELECT throws_ok(format('SELECT * FROM mojob.reserve(%s)', :amj4), 'MJ005', NULL,
    'reserving 1e-100 more of a full capacity of 1e100 is refused (MJ005)');

-- ---------------------------------------------------------------------
-- Text: quotes, backslashes, newlines, tabs, control and multi-byte characters
-- ---------------------------------------------------------------------

CREATE TEMP TABLE weird (k int PRIMARY KEY, s text NOT NULL);
INSERT INTO weird VALUES
    (1, E'it''s "quoted" `back` \\ slash \\\\ double %s %% $$ $1 ;--'),
    (2, E'line one\nline two\ttabbed'),
    (3, E'bell \x07 escape \x1b[31m red \x1b[0m vt \x0b ff \x0c del \x7f end'),
    (4, E'é ü ß — 日本語 😀 👩‍👩‍👧 \u200b zero-width'),
    (5, E'<svg onload="x"> & &amp; ]]> <![CDATA[ -->');

CREATE TEMP TABLE weird_job AS
SELECT w.k, (mojob.create_job(w.s, :'t3'::timestamptz + w.k * interval '1 day',
                              :'t3'::timestamptz + w.k * interval '1 day' + interval '1 hour',
                              description => w.s || w.s, properties => jsonb_build_object('note', w.s),
                              state => 'tentative')).id AS id
FROM weird w;
SELECT is_empty($$ SELECT FROM weird w JOIN weird_job j USING (k) JOIN mojob.job x ON x.id = j.id
                   WHERE x.name IS DISTINCT FROM w.s OR x.description IS DISTINCT FROM w.s || w.s
                      OR x.properties ->> 'note' IS DISTINCT FROM w.s $$,
    'names, descriptions and properties with odd characters are stored unchanged');
SELECT is_empty($$ SELECT FROM weird w JOIN weird_job j USING (k) JOIN mojob.jobs x ON x.id = j.id
                   WHERE x.name IS DISTINCT FROM w.s $$,
    'mojob.jobs returns those names unchanged');

INSERT INTO mojob.resource (name) SELECT 'res ' || s FROM weird;
SELECT is((SELECT count(*)::int FROM weird w JOIN mojob.resource r ON r.name = 'res ' || w.s), 5,
    'resource names with odd characters are stored unchanged');
CREATE TEMP TABLE weird_node AS
SELECT w.k, n.alias FROM weird w JOIN weird_job j USING (k)
CROSS JOIN LATERAL mojob.add_resource(j.id, (SELECT id FROM mojob.resource WHERE name = 'res ' || w.s),
                                      0, 'alias ' || w.s) n;
SELECT is_empty($$ SELECT FROM weird w LEFT JOIN weird_node n USING (k)
                   WHERE n.alias IS DISTINCT FROM 'alias ' || w.s $$,
    'aliases with odd characters are stored unchanged');
SELECT is_empty($$ SELECT FROM weird w JOIN weird_job j USING (k) JOIN mojob.job_search x ON x.id = j.id
                   WHERE x.resources IS DISTINCT FROM ARRAY['res ' || w.s] $$,
    'mojob.job_search lists those resource names unchanged');

SET mojob.actor = E'o''brien\\ "日本" \t😀';
CREATE TEMP TABLE weird_cancel AS
SELECT w.k, c.cancel_reason FROM weird w JOIN weird_job j USING (k)
CROSS JOIN LATERAL mojob.cancel(j.id, 'reason ' || w.s) c;
SELECT is_empty($$ SELECT FROM weird w LEFT JOIN weird_cancel c USING (k)
                   WHERE c.cancel_reason IS DISTINCT FROM 'reason ' || w.s $$,
    'cancel reasons with odd characters are stored unchanged on the job');
SELECT is_empty($$ SELECT FROM weird w JOIN weird_job j USING (k) JOIN mojob.job_event e ON e.job_id = j.id
                   WHERE e.to_state = 'canceled'
                     AND (e.reason IS DISTINCT FROM 'reason ' || w.s
                          OR e.by_user IS DISTINCT FROM E'o''brien\\ "日本" \t😀') $$,
    'and in the history rows, with the odd acting user unchanged');
SELECT is((SELECT count(*)::int FROM weird_job j JOIN mojob.job_event e ON e.job_id = j.id), 5,
    'one history row per canceled job');
SELECT id AS wj FROM mojob.create_job(E'recurring \n 日本 😀', now() + interval '40 days',
                                      now() + interval '40 days 1 hour') \gset
SELECT id AS wr FROM mojob.make_recurring(:wj, 'FREQ=DAILY;COUNT=2', 'UTC') \gset
SELECT is((SELECT (cancel_reason, canceled_at IS NOT NULL) FROM mojob.cancel_recurrence(:wr, E'over \x07 "日本" \\ 😀')),
          (E'over \x07 "日本" \\ 😀'::text, true),
    'a recurrence''s cancel reason with odd characters is stored unchanged');
SELECT is((SELECT created_by FROM mojob.recurrence WHERE id = :wr), E'o''brien\\ "日本" \t😀',
    'the recurrence records the odd acting user unchanged');
RESET mojob.actor;

UPDATE mojob.settings SET job_code_pattern = 'Ü-日本-{seq:3}-😀';
SELECT matches((SELECT code FROM mojob.create_job('pattern', :'t1', :'t2')), '^Ü-日本-[0-9]{3,}-😀$',
    'a job code pattern with multi-byte characters gives codes with them');
UPDATE mojob.settings SET job_code_pattern = 'JOB-{seq:6}';

SELECT is((SELECT char_length(name) FROM mojob.create_job(repeat('日本😀', 100000), :'t1', :'t2')), 300000,
    'a 300,000-character name is stored whole');

-- The pictures: weird names reserved in a window of their own.
SELECT id AS pj FROM mojob.create_job('pic', :'d300'::timestamptz + interval '10 hours', :'d300'::timestamptz + interval '12 hours',
                                      resources => ARRAY(SELECT id FROM mojob.resource WHERE name LIKE 'res %' ORDER BY id)) \gset
UPDATE mojob.job SET name = (SELECT string_agg(s, ' / ' ORDER BY k) FROM weird) WHERE id = :pj;
SELECT state FROM mojob.reserve(:pj) \gset
CREATE TEMP TABLE svg AS SELECT mojob.timeline_svg(tstzrange(:'d300', :'d301')) AS doc;
SELECT ok((SELECT xml_is_well_formed_document(doc) FROM svg),
    'timeline_svg is well-formed XML even with control characters in names');
SELECT ok((SELECT doc NOT LIKE '%<svg onload%' AND doc NOT LIKE '%]]> <![CDATA[%' FROM svg),
    'no markup from a name reaches timeline_svg unescaped');
SELECT set_eq($$ SELECT name FROM mojob.resource WHERE name LIKE 'res %' AND name !~ '[\x01-\x08\x0b\x0c\x0e-\x1f]' $$,
    $$ SELECT x.name FROM svg, XMLTABLE(XMLNAMESPACES('http://www.w3.org/2000/svg' AS s),
                                        '//s:text[@class="resource" and starts-with(., "res ")]'
                                        PASSING CAST(regexp_replace(doc, '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g') AS xml)
                                        COLUMNS name text PATH '.') x
       WHERE x.name IN (SELECT name FROM mojob.resource WHERE name !~ '[\x01-\x08\x0b\x0c\x0e-\x1f]') $$,
    'timeline_svg labels read back exactly for names with quotes, backslashes, newlines, tabs and multi-byte characters (control characters aside)');
SELECT is_empty(format($$ SELECT l FROM mojob.timeline(tstzrange(%L, %L)) l
                          WHERE l ~ '[\x01-\x1f\x7f]' $$, :'d300', :'d301'),
    'timeline prints one line per resource: no newline, tab or control character from a name reaches its lines');

SELECT throws_ok(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2''; DROP TABLE mojob.job; --')$$, :draft),
    '22023', NULL, 'a rule with SQL in it is refused (22023)');
SELECT throws_ok(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=DAILY;COUNT=2', 'UTC''; DROP TABLE mojob.job; --')$$, :draft),
    '22023', NULL, 'a time zone with SQL in it is refused (22023)');
SELECT has_table('mojob', 'job', 'mojob.job is still there');

-- ---------------------------------------------------------------------
-- Refusals change nothing and leave nothing behind
-- ---------------------------------------------------------------------

SELECT :'d400'::timestamptz + interval '10 hours' AS h10, :'d400'::timestamptz + interval '10 hours 30 minutes' AS h1030,
       :'d400'::timestamptz + interval '11 hours' AS h11, :'d400'::timestamptz + interval '11 hours 30 minutes' AS h1130 \gset
SELECT id AS hj FROM mojob.create_job('holder', :'h10', :'h11',
                                      resources => ARRAY[:free], state => 'tentative') \gset
SELECT id AS lj FROM mojob.create_job('loser', :'h1030', :'h1130',
                                      resources => ARRAY[:cam3, :free]) \gset
SELECT id AS okj FROM mojob.create_job('fine', :'h10', :'h11',
                                       resources => ARRAY[:cam]) \gset
SELECT pg_temp.snapshot() AS before \gset
SELECT (SELECT max(id) FROM mojob.job_event) AS last_event \gset
SELECT throws_ok(format('SELECT * FROM mojob.reserve(%s)', :lj), 'MJ005', NULL,
    'a reservation of two resources, the second taken, is refused (MJ005)');
SELECT throws_ok(format('SELECT * FROM mojob.confirm(%s)', :draft), 'MJ001', NULL,
    'confirming a draft is refused (MJ001)');
SELECT throws_ok(format('SELECT (mojob.reserve(id)).state FROM (VALUES (%s::bigint), (%s)) v(id)', :okj, :hj), 'MJ001', NULL,
    'a statement reserving a draft, then a job already tentative, is refused as a whole (MJ001)');
SELECT throws_ok(format($$SELECT * FROM mojob.create_job('x', %L, %L, resources => ARRAY[%s, %s])$$,
                        :'t1', :'t2', :cam3, :lj + 100000), 'MJ404', NULL,
    'a creation naming an unknown resource after a known one is refused (MJ404)');
SELECT throws_ok(format($$SELECT * FROM mojob.add_resource(%s, %s, 'NaN')$$, :lj, :uplink), '22023', NULL,
    'a node with a NaN amount is refused (22023)');
SELECT throws_ok(format($$SELECT * FROM mojob.reschedule(%s, %L, %L, '1 hour', '-1 hour')$$, :hj, :'h1030', :'h1130'),
    '22023', NULL,
    'a reschedule with a negative post-roll is refused (22023)');
SELECT throws_ok(format($$SELECT * FROM mojob.make_recurring(%s, 'FREQ=SECONDLY', 'UTC', '10 years')$$, :lj),
    '22023', NULL, 'a recurrence of more than 5,000 instances is refused (22023)');
SELECT is(pg_temp.snapshot(), :'before', 'the refused calls changed nothing mojob stores');
SELECT is((SELECT state FROM mojob.confirm(:hj)), 'confirmed', 'the next transition succeeds');
SELECT results_eq(format('SELECT job_id, from_state::text, to_state::text FROM mojob.job_event WHERE id > %s ORDER BY id',
                         :last_event),
    format($$VALUES (%s::bigint, 'tentative', 'confirmed')$$, :hj),
    'it writes exactly its own history row: the refused transitions left no queued row behind');
SELECT is((SELECT array_agg(job_id ORDER BY job_id) FROM mojob.booking WHERE resource_id = :free
           AND held && tstzrange(:'d400', :'d401')), ARRAY[:hj::bigint],
    'and the refused reservation left no booking behind');

-- ---------------------------------------------------------------------
-- 10,000 nodes on one job
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (name) SELECT 'bulk ' || g FROM generate_series(1, 10000) g;
SELECT id AS big FROM mojob.create_job('ten thousand nodes', :'d500', :'d500'::timestamptz + interval '1 hour') \gset
SELECT clock_timestamp() AS big_t0 \gset
CREATE TEMP TABLE big_node AS
SELECT (mojob.add_resource(:big, id)).id FROM mojob.resource WHERE name LIKE 'bulk %' ORDER BY id;
SELECT is((SELECT count(*)::int FROM mojob.job_resource WHERE job_id = :big), 10000,
    'a draft takes 10,000 nodes');
SELECT is((SELECT state FROM mojob.reserve(:big)), 'tentative', 'a job of 10,000 nodes can be reserved');
SELECT cmp_ok(clock_timestamp() - :'big_t0'::timestamptz, '<', interval '60 seconds',
    'adding and reserving 10,000 nodes takes less than a minute');
SELECT is((SELECT (count(*), count(DISTINCT resource_id), count(DISTINCT node_id))::text FROM mojob.booking WHERE job_id = :big),
          '(10000,10000,10000)',
    'it holds one booking per node, each of its own resource');
SELECT is_empty(format($$SELECT FROM mojob.booking b JOIN mojob.job j ON j.id = b.job_id
                         WHERE b.job_id = %s AND b.held <> tstzrange(j.pre_roll_start, j.post_roll_end)$$, :big),
    'each of the 10,000 bookings holds exactly the job''s window');
SELECT is((SELECT state FROM mojob.cancel(:big, 'too big')), 'canceled', 'the job of 10,000 nodes can be canceled');
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE job_id = :big), 0, 'which releases its 10,000 bookings');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
