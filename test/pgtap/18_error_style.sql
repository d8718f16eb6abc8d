-- How the life cycle's errors read (docs/design.md section 6): in
-- PostgreSQL's style, lower case with no final period, errdetail saying what
-- was found and errhint what to do.  One sample of each place that raises.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(23);

-- What is wrong with the error a query raises: '' when it follows the style.
CREATE FUNCTION pg_temp.style_problems(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text;
    det text;
    hnt text;
    problems text[] := '{}';
BEGIN
    BEGIN
        EXECUTE query;
        RETURN 'no error raised';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    END;
    IF msg !~ '^[a-z]' THEN problems := problems || format('message "%s" does not start in lower case', msg); END IF;
    IF msg ~ '\.$' THEN problems := problems || format('message "%s" ends with a period', msg); END IF;
    IF coalesce(det, '') = '' THEN problems := problems || format('message "%s" has no detail', msg); END IF;
    IF coalesce(hnt, '') = '' THEN problems := problems || format('message "%s" has no hint', msg); END IF;
    RETURN array_to_string(problems, '; ');
END
$$;

CREATE ROLE mj_life_styler;
GRANT USAGE ON SCHEMA mojob TO mj_life_styler;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mojob TO mj_life_styler;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA mojob TO mj_life_styler;

INSERT INTO mojob.resource (name) VALUES ('Encoder 1') RETURNING id AS enc \gset
SELECT id AS d FROM mojob.create_job('draft', now() + interval '1 day', now() + interval '1 day 1 hour') \gset
SELECT id AS t FROM mojob.create_job('tentative', now() + interval '1 day', now() + interval '1 day 1 hour',
                                     state => 'tentative') \gset
SELECT id AS c FROM mojob.create_job('canceled', now() + interval '1 day', now() + interval '1 day 1 hour',
                                     state => 'tentative') \gset
SELECT state FROM mojob.cancel(:c, 'style') \gset
SELECT id AS r FROM mojob.create_job('running', now() - interval '1 hour', now() + interval '1 hour',
                                     state => 'tentative') \gset
SELECT state FROM mojob.confirm(:r) \gset
SELECT id AS a FROM mojob.create_job('ahead', now() + interval '1 hour', now() + interval '3 hours',
                                     state => 'tentative') \gset
SELECT state FROM mojob.confirm(:a) \gset
SELECT mojob.advance(now() + interval '2 hours') AS made \gset

SELECT is(pg_temp.style_problems(format('SELECT * FROM mojob.confirm(%s)', :d)), '',
    'MJ001 for a transition not in the graph follows the message style');
SELECT is(pg_temp.style_problems(format('SELECT * FROM mojob.reserve(%s)', :t)), '',
    'MJ001 for a job already in the target state follows the message style');
SELECT is(pg_temp.style_problems($$SELECT * FROM mojob.create_job('x', now() + interval '1 day',
                                                                  now() + interval '2 days', state => 'running')$$), '',
    'MJ001 of mojob.create_job for a state a job cannot start in follows the message style');
SET ROLE mj_life_styler;
SELECT is(pg_temp.style_problems($$INSERT INTO mojob.job (name, state, start_at, end_at)
                                   VALUES ('x', 'running', now(), now() + interval '1 hour')$$), '',
    'MJ001 of an INSERT in a state a job cannot start in follows the message style');
RESET ROLE;
SELECT is(pg_temp.style_problems(format($$UPDATE mojob.job SET name = 'x' WHERE id = %s$$, :c)), '',
    'MJ002 for a column that may not change follows the message style');
SELECT is(pg_temp.style_problems(format($$UPDATE mojob.job SET end_at = now() - interval '1 minute' WHERE id = %s$$, :r)), '',
    'MJ002 for a running job''s end moved into the past follows the message style');
SELECT is(pg_temp.style_problems(format('SELECT * FROM mojob.stop(%s)', :a)), '',
    'MJ002 for a stop before the start follows the message style');
SELECT is(pg_temp.style_problems(format('DELETE FROM mojob.job WHERE id = %s', :t)), '',
    'MJ003 follows the message style');
SELECT is(pg_temp.style_problems('SELECT * FROM mojob.reserve(-1)'), '',
    'MJ404 for an unknown job follows the message style');
SELECT is(pg_temp.style_problems($$SELECT * FROM mojob.create_job_for_resource(-1, 'x', now(), now() + interval '1 hour')$$), '',
    'MJ404 for an unknown resource follows the message style');
SELECT is(pg_temp.style_problems('SELECT * FROM mojob.reserve(NULL)'), '',
    '22023 for a NULL argument follows the message style');
SELECT is(pg_temp.style_problems('SELECT mojob.state_color(NULL)'), '',
    '22023 for a NULL state follows the message style');
SELECT is(pg_temp.style_problems($$SELECT * FROM mojob.create_job('x', now(), now())$$), '',
    '22023 for an end not after the start follows the message style');
SELECT is(pg_temp.style_problems($$SELECT * FROM mojob.create_job('x', now(), 'infinity')$$), '',
    '22023 for an infinite time follows the message style');
SELECT is(pg_temp.style_problems($$SELECT * FROM mojob.create_job('x', now(), now() + interval '1 hour', '-1 hour')$$), '',
    '22023 for a negative roll follows the message style');
SELECT is(pg_temp.style_problems($$SELECT * FROM mojob.create_job('', now(), now() + interval '1 hour')$$), '',
    '22023 for an empty name follows the message style');
SELECT is(pg_temp.style_problems(format($$SELECT * FROM mojob.create_job('x', now(), now() + interval '1 hour',
                                                                        resources => ARRAY[%s, NULL])$$, :enc)), '',
    '22023 for a NULL among the resources follows the message style');
SELECT is(pg_temp.style_problems(format($$SELECT * FROM mojob.create_job('x', now(), now() + interval '1 hour',
                                                                        resources => ARRAY[%1$s, %1$s])$$, :enc)), '',
    '22023 for a resource named twice follows the message style');
SELECT is(pg_temp.style_problems(format($$SELECT * FROM mojob.create_job('x', now(), now() + interval '1 hour',
                                                                        resources => ARRAY[[%1$s], [%1$s]])$$, :enc)), '',
    '22023 for a two-dimensional array of resources follows the message style');
SELECT is(pg_temp.style_problems($$UPDATE mojob.settings SET job_code_pattern = 'JOB-{foo}'$$), '',
    '22023 for an invalid job code pattern follows the message style');
SET ROLE mj_life_styler;
SELECT is(pg_temp.style_problems('DELETE FROM mojob.job_event'), '',
    '42501 for a write to the history follows the message style');
RESET ROLE;

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
