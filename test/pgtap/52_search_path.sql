-- The caller's search_path (docs/design.md section 8: nothing depends on the
-- caller's search_path): a caller whose search_path puts a hostile schema
-- (and pg_temp) before pg_catalog -- with a now() giving a wrong time,
-- operators = that are always true, <> always false, wrong < <= > >= && @>
-- + - ||, wrappers of the functions mojob's queries use, a domain text that
-- refuses every value, and tables named job, resource, booking, job_event,
-- settings ... -- calls every function of mojob and reads every view:
--
--   * the same scenario run under that search_path and then under the
--     default one gives the same results, step by step;
--   * the pictures, the read-only functions and the views read the same
--     under both;
--   * no hostile function or operator is ever called (each one logs its
--     calls into evil.calls), no hostile table is ever written.
--
-- The scenario runs under the hostile search_path first, in a fresh session,
-- so mojob prepares its saved plans under it. pgTAP itself is only called
-- under the default search_path (its = would be the hostile one otherwise);
-- the statements run under the hostile one name every operator and function
-- they use themselves with OPERATOR(pg_catalog.x) or pg_catalog.f().
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';

-- ---------------------------------------------------------------------
-- The hostile schema
-- ---------------------------------------------------------------------

CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text, at timestamptz DEFAULT pg_catalog.clock_timestamp());
CREATE FUNCTION evil.log(what text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog AS $$ INSERT INTO evil.calls (what) VALUES (what) $$;

-- Tables named like mojob's, in the hostile schema and in pg_temp.
DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['job', 'resource', 'booking', 'job_event', 'settings', 'job_resource', 'pool',
                             'pool_member', 'recurrence', 'recurrence_conflict'] LOOP
        EXECUTE format('CREATE TABLE evil.%I (LIKE mojob.%I)', t, t);
        EXECUTE format('CREATE TEMP TABLE %I (LIKE mojob.%I)', t, t);
    END LOOP;
END
$do$;
INSERT INTO evil.settings SELECT * FROM mojob.settings;
UPDATE evil.settings SET default_state = 'tentative', default_pre_roll = '13 hours', job_code_pattern = 'EVIL-{seq}';

-- now() and its kin give 2000-01-01.
DO $do$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp'] LOOP
        EXECUTE format($f$CREATE FUNCTION evil.%1$I() RETURNS timestamptz LANGUAGE plpgsql
                          SET search_path = pg_catalog AS $b$
                          BEGIN PERFORM evil.log('%1$s()'); RETURN '2000-01-01 00:00+00'; END $b$$f$, f);
    END LOOP;
END
$do$;

-- Wrappers of functions mojob's queries and pictures use: they log, then
-- give pg_catalog's answer.
DO $do$
DECLARE
    sig text;
    p regprocedure;
    args text;
    pass text;
BEGIN
    FOREACH sig IN ARRAY ARRAY[
        'unnest(anyarray)', 'tstzrange(timestamptz,timestamptz)', 'tstzrange(timestamptz,timestamptz,text)',
        'lower(anyrange)', 'upper(anyrange)', 'isempty(anyrange)', 'lower_inf(anyrange)', 'upper_inf(anyrange)',
        'isfinite(timestamptz)', 'format(text)', 'current_setting(text)', 'nextval(regclass)',
        'array_position(anyarray,anyelement)', 'replace(text,text,text)', 'date_trunc(text,timestamptz)',
        'date_bin(interval,timestamptz,timestamptz)', 'to_char(timestamptz,text)', 'quote_ident(text)',
        'enum_range(anyenum)', 'round(numeric,integer)', 'floor(double precision)', 'ceil(double precision)',
        'repeat(text,integer)', 'rpad(text,integer)', 'rtrim(text)', 'substr(text,integer,integer)',
        'char_length(text)', 'array_fill(anyelement,integer[])', 'array_to_string(anyarray,text)',
        'pg_notify(text,text)', 'array_length(anyarray,integer)', 'cardinality(anyarray)', 'length(text)',
        'numeric_cmp(numeric,numeric)', 'int8eq(bigint,bigint)', 'timestamptz_lt(timestamptz,timestamptz)',
        'range_overlaps(anyrange,anyrange)', 'jsonb_build_object()', 'to_jsonb(anyelement)', 'session_user()'] LOOP
        p := to_regprocedure('pg_catalog.' || sig);
        CONTINUE WHEN p IS NULL;
        SELECT string_agg(format('a%s %s', n, format_type(t, NULL)), ', ' ORDER BY n),
               string_agg(format('a%s', n), ', ' ORDER BY n)
          INTO args, pass
          FROM unnest((SELECT proargtypes::oid[] FROM pg_proc WHERE oid = p)) WITH ORDINALITY AS u(t, n);
        EXECUTE format($f$CREATE FUNCTION evil.%1$I(%2$s) RETURNS %3$s%4$s LANGUAGE plpgsql
                          SET search_path = pg_catalog AS $b$
                          BEGIN PERFORM evil.log(%5$L); %6$s pg_catalog.%1$I(%7$s); END $b$$f$,
                       (SELECT proname FROM pg_proc WHERE oid = p), coalesce(args, ''),
                       CASE WHEN (SELECT proretset FROM pg_proc WHERE oid = p) THEN 'SETOF ' ELSE '' END,
                       format_type((SELECT prorettype FROM pg_proc WHERE oid = p), NULL), sig,
                       CASE WHEN (SELECT proretset FROM pg_proc WHERE oid = p) THEN 'RETURN QUERY SELECT'
                            WHEN (SELECT prorettype FROM pg_proc WHERE oid = p) = 'void'::regtype THEN 'PERFORM'
                            ELSE 'RETURN' END,
                       coalesce(pass, ''));
    END LOOP;
END
$do$;

-- Aggregates: count(*), min and max that log every row.
CREATE FUNCTION evil.count_step(bigint) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('count(*)'); RETURN $1 + 1; END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_step, STYPE = bigint, INITCOND = 0);
CREATE FUNCTION evil.min_step(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE plpgsql
SET search_path = pg_catalog AS $$ BEGIN PERFORM evil.log('min(timestamptz)'); RETURN '2000-01-01 00:00+00'; END $$;
CREATE AGGREGATE evil.min(timestamptz) (SFUNC = evil.min_step, STYPE = timestamptz);
CREATE FUNCTION evil.max_step(integer, integer) RETURNS integer LANGUAGE plpgsql
SET search_path = pg_catalog AS $$ BEGIN PERFORM evil.log('max(integer)'); RETURN 1; END $$;
CREATE AGGREGATE evil.max(integer) (SFUNC = evil.max_step, STYPE = integer);

-- Operators that lie: = always true, <> always false, orderings inverted,
-- && and @> always true, + and - give 2000-01-01, || gives 'evil'.
DO $do$
DECLARE
    o record;
    typ text;
    n int := 0;
BEGIN
    FOREACH typ IN ARRAY ARRAY['bigint', 'integer', 'text', 'numeric', 'timestamptz', 'mojob.job_state',
                               'boolean', 'interval', 'jsonb'] LOOP
        FOR o IN SELECT * FROM (VALUES ('=', 'true'), ('<>', 'false'), ('<', 'false'), ('<=', 'false'),
                                       ('>', 'true'), ('>=', 'true')) v(op, answer) LOOP
            n := n + 1;
            EXECUTE format($f$CREATE FUNCTION evil.op_%1$s(%2$s, %2$s) RETURNS boolean LANGUAGE plpgsql
                              SET search_path = pg_catalog AS $b$
                              BEGIN PERFORM evil.log(%3$L); RETURN %4$s; END $b$$f$,
                           n, typ, format('%s %s %s', typ, o.op, typ), o.answer);
            EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.op_%s)',
                           o.op, typ, typ, n);
        END LOOP;
    END LOOP;
END
$do$;
CREATE FUNCTION evil.overlaps(tstzrange, tstzrange) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('tstzrange && tstzrange'); RETURN true; END $$;
CREATE OPERATOR evil.&& (LEFTARG = tstzrange, RIGHTARG = tstzrange, FUNCTION = evil.overlaps);
CREATE FUNCTION evil.contains(text[], text[]) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('text[] @> text[]'); RETURN true; END $$;
CREATE OPERATOR evil.@> (LEFTARG = text[], RIGHTARG = text[], FUNCTION = evil.contains);
CREATE FUNCTION evil.plus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('timestamptz + interval'); RETURN '2000-01-01 00:00+00'; END $$;
CREATE OPERATOR evil.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = evil.plus);
CREATE FUNCTION evil.minus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('timestamptz - interval'); RETURN '2000-01-01 00:00+00'; END $$;
CREATE OPERATOR evil.- (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = evil.minus);
CREATE FUNCTION evil.diff(timestamptz, timestamptz) RETURNS interval LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('timestamptz - timestamptz'); RETURN '1 second'; END $$;
CREATE OPERATOR evil.- (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.diff);
CREATE FUNCTION evil.cat(text, text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog AS
$$ BEGIN PERFORM evil.log('text || text'); RETURN 'evil'; END $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.cat);
-- A type text that refuses every value.
CREATE DOMAIN evil.text AS pg_catalog.text CHECK (VALUE IS NULL);

SELECT count(*) AS hostile_objects FROM pg_proc WHERE pronamespace = 'evil'::regnamespace \gset

-- The search_path a careless or hostile caller runs with.
\set hostile 'SET search_path = pg_temp, evil, pg_catalog, mojob, public'

-- ---------------------------------------------------------------------
-- The scenario: every function of mojob that writes, run once per lane
-- ---------------------------------------------------------------------

CREATE TEMP TABLE result (lane text, step text, val jsonb);
GRANT ALL ON result TO PUBLIC;

-- Helpers pin their own search_path: they are not under test.
CREATE FUNCTION pg_temp.note(lane text, step text, val anyelement) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO pg_temp.result
    SELECT lane, step,
           CASE WHEN jsonb_typeof(v) = 'object'
                THEN v - '{id,code,job_id,node_id,resource_id,pool_id,recurrence_id,template_job}'::text[]
                ELSE v END
    FROM (SELECT replace(to_jsonb(val)::text, lane, 'L')::jsonb AS v) x
$$;

-- Every job, node, booking and history row of a lane, without ids and codes.
CREATE FUNCTION pg_temp.state_of(lane text) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'jobs', (SELECT jsonb_agg(to_jsonb(j) - '{id,code,recurrence_id}'::text[] ORDER BY j.start_at, j.name, j.id)
                 FROM mojob.job j WHERE starts_with(j.name, lane)),
        'nodes', (SELECT jsonb_agg(jsonb_build_object('job', j.name, 'resource', r.name, 'alias', n.alias,
                                                      'amount', n.amount, 'caps', n.required_capabilities,
                                                      'from', n.held_from, 'until', n.held_until)
                                   ORDER BY j.start_at, j.name, n.alias, r.name)
                  FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
                  LEFT JOIN mojob.resource r ON r.id = n.resource_id WHERE starts_with(j.name, lane)),
        'bookings', (SELECT jsonb_agg(jsonb_build_object('job', j.name, 'resource', r.name, 'held', b.held,
                                                         'amount', b.amount) ORDER BY j.start_at, j.name, r.name)
                     FROM mojob.booking b JOIN mojob.job j ON j.id = b.job_id
                     JOIN mojob.resource r ON r.id = b.resource_id WHERE starts_with(j.name, lane)),
        'history', (SELECT jsonb_agg(jsonb_build_array(j.name, e.from_state, e.to_state, e.cause, e.by_user, e.reason)
                                     ORDER BY e.id)
                    FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id WHERE starts_with(j.name, lane)),
        'recurrences', (SELECT jsonb_agg(to_jsonb(r) - '{id,template_job}'::text[] ORDER BY r.id)
                        FROM mojob.recurrence r WHERE r.rule LIKE '%' || lane || '%' OR EXISTS
                             (SELECT FROM mojob.job j WHERE j.recurrence_id = r.id AND starts_with(j.name, lane))))
$$;

-- The scenario.  It runs under the caller's search_path, so every operator
-- and function it uses itself is qualified; only mojob's are under test.
CREATE FUNCTION pg_temp.scenario(lane text, b timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    studio pg_catalog.int8;
    studio2 pg_catalog.int8;
    cam1 pg_catalog.int8;
    cam2 pg_catalog.int8;
    uplink pg_catalog.int8;
    pool pg_catalog.int8;
    j1 pg_catalog.int8;
    j2 pg_catalog.int8;
    j3 pg_catalog.int8;
    j4 pg_catalog.int8;
    j5 pg_catalog.int8;
    jr pg_catalog.int8;
    node pg_catalog.int8;
    rec pg_catalog.int8;
    n pg_catalog.int8;
BEGIN
    INSERT INTO mojob.resource (name, concurrency) VALUES (pg_catalog.concat(lane, ' studio'), 1) RETURNING id INTO studio;
    INSERT INTO mojob.resource (name) VALUES (pg_catalog.concat(lane, ' studio 2')) RETURNING id INTO studio2;
    INSERT INTO mojob.resource (name, capabilities) VALUES (pg_catalog.concat(lane, ' cam 1'), '{hd}') RETURNING id INTO cam1;
    INSERT INTO mojob.resource (name, capabilities) VALUES (pg_catalog.concat(lane, ' cam 2'), '{hd,uhd}') RETURNING id INTO cam2;
    INSERT INTO mojob.resource (name, concurrency, capacity) VALUES (pg_catalog.concat(lane, ' uplink'), 3, 10) RETURNING id INTO uplink;
    INSERT INTO mojob.pool (name) VALUES (pg_catalog.concat(lane, ' cameras')) RETURNING id INTO pool;
    INSERT INTO mojob.pool_member VALUES (pool, cam1), (pool, cam2);

    -- create, nodes, reserve, confirm
    j1 := (mojob.create_job(pg_catalog.concat(lane, ' show'), b OPERATOR(pg_catalog.+) interval '20 hours',
                            b OPERATOR(pg_catalog.+) interval '21 hours', '15 minutes', '10 minutes', NULL,
                            ARRAY[studio], 'a description', 'high', '{"k": 1}')).id;
    PERFORM pg_temp.note(lane, '01 create_job', (SELECT j FROM mojob.job j WHERE j.id OPERATOR(pg_catalog.=) j1));
    node := (mojob.add_pool_node(j1, pool, 'main camera', '{uhd}')).id;
    PERFORM pg_temp.note(lane, '02 add_pool_node', mojob.assign_node(node, cam2));
    PERFORM pg_temp.note(lane, '03 add_resource', mojob.add_resource(j1, uplink, 4, 'uplink'));
    PERFORM pg_temp.note(lane, '04 reserve', mojob.reserve(j1));
    PERFORM pg_temp.note(lane, '05 confirm', mojob.confirm(j1));
    PERFORM pg_temp.note(lane, '06 free_resources',
        (SELECT pg_catalog.array_agg(f.name ORDER BY f.name)
         FROM mojob.free_resources(pg_catalog.tstzrange(b OPERATOR(pg_catalog.+) interval '20 hours 30 minutes',
                                                        b OPERATOR(pg_catalog.+) interval '22 hours'), pool, '{hd}') f));
    PERFORM pg_temp.note(lane, '07 resource_usage',
        mojob.resource_usage(uplink, pg_catalog.tstzrange(b, b OPERATOR(pg_catalog.+) interval '1 day')));
    BEGIN
        PERFORM mojob.create_job_for_resource(studio, pg_catalog.concat(lane, ' clash'),
                                              b OPERATOR(pg_catalog.+) interval '20 hours 30 minutes',
                                              b OPERATOR(pg_catalog.+) interval '22 hours');
        PERFORM pg_temp.note(lane, '08 conflict', 'no error'::pg_catalog.text);
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_temp.note(lane, '08 conflict', SQLSTATE);
    END;
    BEGIN
        PERFORM mojob.add_resource(j1, uplink, 7);
        PERFORM pg_temp.note(lane, '09 same resource twice', 'no error'::pg_catalog.text);
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_temp.note(lane, '09 same resource twice', SQLSTATE);
    END;
    PERFORM pg_temp.note(lane, '10 lock_job', mojob.lock_job(j1));
    PERFORM pg_temp.note(lane, '11 unlock_job', mojob.unlock_job(j1));
    PERFORM pg_temp.note(lane, '12 reschedule',
        mojob.reschedule(j1, b OPERATOR(pg_catalog.+) interval '20 hours',
                         b OPERATOR(pg_catalog.+) interval '21 hours 30 minutes', NULL, '20 minutes'));
    PERFORM pg_temp.note(lane, '13 unconfirm', mojob.unconfirm(j1));
    PERFORM pg_temp.note(lane, '14 create_job_for_resource',
        mojob.create_job_for_resource(studio2, pg_catalog.concat(lane, ' quick'),
                                      b OPERATOR(pg_catalog.+) interval '2 days',
                                      b OPERATOR(pg_catalog.+) interval '2 days 1 hour'));

    -- duplicate, swap, remove, recurrence
    j2 := (mojob.duplicate(j1, b OPERATOR(pg_catalog.+) interval '3 days')).id;
    PERFORM pg_temp.note(lane, '15 duplicate', (SELECT j FROM mojob.job j WHERE j.id OPERATOR(pg_catalog.=) j2));
    PERFORM pg_temp.note(lane, '16 swap_resource', mojob.swap_resource(j2, studio, studio2));
    PERFORM mojob.remove_resource(j2, uplink);
    PERFORM pg_temp.note(lane, '17 remove_resource', pg_temp.state_of(pg_catalog.concat(lane, ' show')));
    rec := (mojob.make_recurring(j2, 'FREQ=DAILY;COUNT=3', 'UTC', '1 year')).id;
    PERFORM pg_temp.note(lane, '18 make_recurring', (SELECT r FROM mojob.recurrence r WHERE r.id OPERATOR(pg_catalog.=) rec));
    PERFORM pg_temp.note(lane, '19 extend_recurrences', mojob.extend_recurrences(b OPERATOR(pg_catalog.+) interval '1 day'));
    PERFORM pg_temp.note(lane, '20 cancel_recurrence', mojob.cancel_recurrence(rec, pg_catalog.concat(lane, ' season over')));

    -- start, stop, swap on a running job, advance
    j3 := (mojob.create_job(pg_catalog.concat(lane, ' to start'), b OPERATOR(pg_catalog.+) interval '4 days',
                            b OPERATOR(pg_catalog.+) interval '4 days 1 hour', state => 'tentative')).id;
    PERFORM mojob.confirm(j3);
    PERFORM pg_temp.note(lane, '21 start', mojob.start(j3));
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
    VALUES (pg_catalog.concat(lane, ' on air'), 'running',
            pg_catalog.now() OPERATOR(pg_catalog.-) interval '2 hours', pg_catalog.now() OPERATOR(pg_catalog.-) interval '2 hours',
            pg_catalog.now() OPERATOR(pg_catalog.+) interval '2 hours', pg_catalog.now() OPERATOR(pg_catalog.+) interval '3 hours')
    RETURNING id INTO jr;
    INSERT INTO mojob.job_resource (id, job_id, resource_id, alias)
    VALUES (mojob.next_id('mojob.job_resource_id_seq'), jr, cam1, 'live camera');
    PERFORM pg_temp.note(lane, '22 swap on air', mojob.swap_resource(jr, cam1, cam2));
    PERFORM pg_temp.note(lane, '23 stop', mojob.stop(jr));
    j4 := (mojob.create_job(pg_catalog.concat(lane, ' due'), b OPERATOR(pg_catalog.+) interval '5 days',
                            b OPERATOR(pg_catalog.+) interval '5 days 1 hour', state => 'tentative')).id;
    PERFORM mojob.confirm(j4);
    PERFORM pg_temp.note(lane, '24 advance', mojob.advance(b OPERATOR(pg_catalog.+) interval '5 days 30 minutes'));
    PERFORM pg_temp.note(lane, '25 advanced', (SELECT j FROM mojob.job j WHERE j.id OPERATOR(pg_catalog.=) j4));

    -- cancel, delete, a plain UPDATE through the trigger
    PERFORM pg_temp.note(lane, '26 confirm again', mojob.confirm(j1));
    PERFORM pg_temp.note(lane, '27 cancel', mojob.cancel(j1, pg_catalog.concat(lane, ' weather')));
    j5 := (mojob.create_job(pg_catalog.concat(lane, ' scratch'), b OPERATOR(pg_catalog.+) interval '6 days',
                            b OPERATOR(pg_catalog.+) interval '6 days 1 hour', resources => ARRAY[studio])).id;
    UPDATE mojob.job SET state = 'tentative' WHERE id OPERATOR(pg_catalog.=) j5;
    PERFORM pg_temp.note(lane, '28 plain update', (SELECT j FROM mojob.job j WHERE j.id OPERATOR(pg_catalog.=) j5));
    BEGIN
        PERFORM mojob.delete_job(j5);
        PERFORM pg_temp.note(lane, '29 delete tentative', 'no error'::pg_catalog.text);
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_temp.note(lane, '29 delete tentative', SQLSTATE);
    END;
    PERFORM mojob.cancel(j5);
    PERFORM mojob.delete_job(j5);
    PERFORM pg_temp.note(lane, '30 delete_job',
        (SELECT pg_catalog.count(*) FROM mojob.job j WHERE j.id OPERATOR(pg_catalog.=) j5));

    -- read-only functions
    PERFORM pg_temp.note(lane, '31 recurrence_preview',
        (SELECT pg_catalog.array_agg(s) FROM mojob.recurrence_preview('FREQ=WEEKLY;BYDAY=SA;COUNT=5', 'Europe/Brussels',
                                                                      b, b OPERATOR(pg_catalog.+) interval '1 year') s));
    PERFORM pg_temp.note(lane, '32 job_code_preview', mojob.job_code_preview('J{YYYY}-{seq:4}', 42, b));
    PERFORM pg_temp.note(lane, '33 action_states', mojob.action_states('stop'));
    PERFORM pg_temp.note(lane, '34 final state', pg_temp.state_of(lane));
    PERFORM pg_temp.note(lane, '35 rebuild_bookings', mojob.rebuild_bookings());
END
$$;

-- An error in the scenario is recorded as a step, so the checks still run.
CREATE FUNCTION pg_temp.run(lane text, b timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.scenario(lane, b);
EXCEPTION WHEN OTHERS THEN
    INSERT INTO pg_temp.result VALUES (lane, '00 error', pg_catalog.to_jsonb(pg_catalog.concat(SQLSTATE, ': ', SQLERRM)));
END
$$;

-- ---------------------------------------------------------------------
-- Reads: views, pictures, read-only functions on the same data
-- ---------------------------------------------------------------------

CREATE TEMP TABLE reads (path text, what text, val text);

SELECT date_trunc('day', now()) + interval '2 days' AS b,
       date_trunc('day', now()) + interval '3 days' AS b1,
       date_trunc('day', now()) + interval '2 days 18 hours' AS b18,
       date_trunc('day', now()) + interval '2 days 23 hours' AS b23 \gset

-- Each read, as a query giving one text; run under each search_path by
-- read_all, which (like the scenario) qualifies what it uses itself.
CREATE TEMP TABLE read_query (what text, sql text);
INSERT INTO read_query VALUES
    ('timeline', format($q$SELECT pg_catalog.array_agg(l ORDER BY n)::pg_catalog.text
                           FROM mojob.timeline(pg_catalog.tstzrange(%L, %L), 80) WITH ORDINALITY AS t(l, n)$q$,
                        :'b18', :'b23')),
    ('timeline_svg', format($q$SELECT mojob.timeline_svg(pg_catalog.tstzrange(%L, %L))$q$, :'b18', :'b23')),
    ('free_resources', format($q$SELECT pg_catalog.array_agg(f.name ORDER BY f.name)::pg_catalog.text
                                 FROM mojob.free_resources(pg_catalog.tstzrange(%L, %L)) f$q$, :'b18', :'b23')),
    ('resource_usage', format($q$SELECT pg_catalog.array_agg(u ORDER BY r.id)::pg_catalog.text
                                 FROM mojob.resource r
                                 CROSS JOIN LATERAL mojob.resource_usage(r.id, pg_catalog.tstzrange(%L, %L)) u$q$,
                              :'b18', :'b1')),
    ('helpers', format($q$SELECT pg_catalog.concat_ws(' | ', mojob.state_color('running'),
                              mojob.state_board('confirmed'), mojob.board_states('upcoming'), mojob.action_states('cancel'),
                              mojob.action_open('cancel', 'tentative'),
                              mojob.acting_user(), mojob.guard_pending(), mojob.xml_text('<a & "b">'),
                              mojob.time_desc(%L),
                              (SELECT pg_catalog.array_agg(g) FROM mojob.state_graph() g),
                              (SELECT pg_catalog.array_agg(x) FROM mojob.timeline_scale(pg_catalog.tstzrange(%L, %L), 72) x))$q$,
                       :'b18', :'b18', :'b23')),
    ('verify', $q$SELECT pg_catalog.array_agg(v ORDER BY v.check_name)::pg_catalog.text FROM mojob.verify() v$q$);
INSERT INTO read_query
SELECT v, format($q$SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(v) ORDER BY v::pg_catalog.text)::pg_catalog.text
                    FROM mojob.%I v$q$, v)
FROM unnest(ARRAY['jobs', 'job_search', 'ops_board', 'job_errors', 'resource_schedule', 'state_transitions',
                  'recurrences']) AS v;

CREATE FUNCTION pg_temp.read_all(path text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    q record;
    v pg_catalog.text;
BEGIN
    FOR q IN SELECT * FROM pg_temp.read_query ORDER BY what LOOP
        BEGIN
            EXECUTE q.sql INTO v;
        EXCEPTION WHEN OTHERS THEN
            v := pg_catalog.concat('ERROR ', SQLSTATE, ': ', SQLERRM);
        END;
        INSERT INTO pg_temp.reads VALUES (path, q.what, v);
    END LOOP;
END
$$;

SELECT plan(64);

-- Control: under that search_path the hostile objects do take over a query
-- that does not pin its own (this one), and they log it.
:hostile;
CREATE TEMP TABLE control AS
SELECT now() AS t, 1::bigint = 2::bigint AS eq, 'a'::pg_catalog.text || 'b'::pg_catalog.text AS cat,
       (SELECT count(*) FROM (VALUES (1), (2), (3)) v) AS n;
RESET search_path;
SELECT is((SELECT (t, eq, cat, n)::text FROM control),
          ('2000-01-01 00:00+00'::timestamptz, true, 'evil', 3::bigint)::text,
    'control: an unpinned query under the hostile search_path gets the hostile now(), = and ||');
SELECT set_eq($$ SELECT DISTINCT what FROM evil.calls $$,
    ARRAY['now()', 'bigint = bigint', 'text || text', 'count(*)'],
    'control: the hostile objects log their calls');
DELETE FROM evil.calls;

-- ---------------------------------------------------------------------
-- Run: the scenario under the hostile search_path first, then under the
-- default one; then every read under both, on the same data
-- ---------------------------------------------------------------------

:hostile;
SELECT pg_temp.run('Alane', :'b');
SELECT id AS hostile_job FROM mojob.create_job('Alane made last', :'b23', :'b1') \gset
RESET search_path;
SELECT pg_temp.run('Blane', :'b');

:hostile;
SELECT pg_temp.read_all('hostile');
RESET search_path;
SELECT pg_temp.read_all('default');

-- ---------------------------------------------------------------------
-- Checks (default search_path)
-- ---------------------------------------------------------------------

SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'mojob'::regnamespace AND p.prorettype <> 'trigger'::regtype
                     AND position('mojob.' || p.proname || '(' IN
                                  (SELECT prosrc FROM pg_proc WHERE oid = 'pg_temp.scenario'::regproc)
                                  || (SELECT string_agg(sql, ' ') FROM read_query)) = 0 $$,
    'the scenario and the reads call every function of mojob');
SELECT is_empty($$ SELECT c.relname FROM pg_class c
                   WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind = 'v'
                     AND NOT EXISTS (SELECT FROM read_query q WHERE q.what = c.relname::text) $$,
    'the reads read every view of mojob');
SELECT is_empty($$ SELECT lane, val FROM result WHERE step = '00 error' $$,
    'the scenario raised no error under either search_path');
SELECT is((SELECT count(*)::int FROM result WHERE lane = 'Alane'), 35,
    'the scenario ran all its 35 steps under the hostile search_path');
SELECT set_eq($$ SELECT step FROM result WHERE lane = 'Alane' $$, $$ SELECT step FROM result WHERE lane = 'Blane' $$,
    'the scenario made the same steps under both search_paths');
SELECT is(a.val, b.val, format('step %s gives the same result under the hostile search_path as under the default one', a.step))
FROM result a JOIN result b ON b.step = a.step AND b.lane = 'Blane'
WHERE a.lane = 'Alane' ORDER BY a.step;
SELECT is((SELECT (state, created_at, start_at - pre_roll_start, code LIKE 'JOB-%')::text
           FROM mojob.job WHERE id = :hostile_job),
          ('draft'::mojob.job_state, now(), interval '0', true)::text,
    'a job created under the hostile search_path is a draft made now, with mojob''s settings and code pattern');

SELECT is((SELECT count(*)::int FROM reads WHERE path = 'hostile'), (SELECT count(*)::int FROM read_query),
    'every read ran under the hostile search_path');
SELECT is_empty($$ SELECT path, what, val FROM reads WHERE val LIKE 'ERROR %' $$,
    'no read raised an error under either search_path');
SELECT is(h.val, d.val, format('%s reads the same under both search_paths', h.what))
FROM reads h JOIN reads d ON d.what = h.what AND d.path = 'default'
WHERE h.path = 'hostile' ORDER BY h.what;

SELECT is_empty($$ SELECT what, count(*) FROM evil.calls GROUP BY what ORDER BY what $$,
    'no hostile function, operator or aggregate was ever called');
SELECT is((SELECT count(*)::int FROM evil.job) + (SELECT count(*)::int FROM evil.resource)
          + (SELECT count(*)::int FROM evil.booking) + (SELECT count(*)::int FROM evil.job_event)
          + (SELECT count(*)::int FROM evil.job_resource) + (SELECT count(*)::int FROM evil.recurrence),
          0, 'no hostile table was written');
SELECT is((SELECT count(*)::int FROM pg_temp.job) + (SELECT count(*)::int FROM pg_temp.resource)
          + (SELECT count(*)::int FROM pg_temp.booking) + (SELECT count(*)::int FROM pg_temp.job_event)
          + (SELECT count(*)::int FROM pg_temp.job_resource) + (SELECT count(*)::int FROM pg_temp.recurrence)
          + (SELECT count(*)::int FROM pg_temp.settings),
          0, 'no temporary table named like mojob''s was written');
SELECT ok(:hostile_objects::int > 50, 'the hostile schema held more than 50 functions to be tempted by');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
