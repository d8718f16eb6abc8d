-- Every transition not in the graph is refused with MJ001 (docs/design.md
-- section 1): by a plain UPDATE of mojob.job for every ordered pair of
-- different states that mojob.state_transitions does not list, and by every
-- transition function called on a job in a state its edge does not leave
-- (including a job already in the function's target state).
--
-- Counting: 6 states give 30 ordered pairs of different states; the graph
-- has 9 rows but 7 pairs (confirmed -> running and running -> completed each
-- have two causes), so 23 pairs are refused by UPDATE.  The six functions
-- called on the six states give 36 calls, of which 7 follow an edge of the
-- design, so 29 calls are refused: 21 along a refused pair, the 6 calls on a
-- job already in the target state, and reserve on a confirmed job and
-- unconfirm on a draft job, whose pair exists but belongs to the other function.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SELECT plan(58);

\ir helpers/job_in.psql

-- ---------------------------------------------------------------------
-- By UPDATE: every ordered pair of different states not in the graph
-- ---------------------------------------------------------------------

CREATE TEMP TABLE refused_pair AS
    SELECT f.s AS from_state, t.s AS to_state
    FROM unnest(enum_range(NULL::mojob.job_state)) AS f(s),
         unnest(enum_range(NULL::mojob.job_state)) AS t(s)
    WHERE f.s <> t.s
    EXCEPT
    SELECT from_state, to_state FROM mojob.state_transitions;

SELECT is((SELECT count(*)::int FROM refused_pair), 23,
    '23 of the 30 ordered pairs of different states are not in the graph');

-- One fresh job per pair, so that a wrongly allowed move spoils nothing else.
CREATE TEMP TABLE by_update AS
    SELECT p.from_state, p.to_state, j.id, j.code, j.version
    FROM refused_pair p, LATERAL pg_temp.job_in(p.from_state, 'update ' || p.from_state || ' to ' || p.to_state) j;

SELECT throws_ok(
    format('UPDATE mojob.job SET state = %L WHERE id = %s', to_state, id),
    'MJ001',
    format('job %s cannot go from %s to %s', code, from_state, to_state),
    format('a plain UPDATE cannot move a %s job to %s', from_state, to_state))
FROM by_update ORDER BY from_state, to_state;

-- A refused statement leaves no history row queued: the next transition
-- writes its own alone.
SELECT id AS j FROM pg_temp.job_in('draft', 'after refused updates') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT state FROM mojob.reserve(:j) \gset
SELECT results_eq(
    format('SELECT job_id, from_state::text, to_state::text FROM mojob.job_event WHERE id > %s', :mark),
    format($$VALUES (%s::bigint, 'draft', 'tentative')$$, :j),
    'after the refused UPDATEs the history holds only the next transition made');

-- ---------------------------------------------------------------------
-- By function: each function follows only its own edges of the design
-- ---------------------------------------------------------------------

CREATE TEMP TABLE design_edge (fn text, from_state mojob.job_state, to_state mojob.job_state);
INSERT INTO design_edge VALUES
    ('reserve', 'draft', 'tentative'),
    ('confirm', 'tentative', 'confirmed'),
    ('unconfirm', 'confirmed', 'tentative'),
    ('start', 'confirmed', 'running'),
    ('stop', 'running', 'completed'),
    ('cancel', 'tentative', 'canceled'),
    ('cancel', 'confirmed', 'canceled');

CREATE TEMP TABLE refused_call AS
    SELECT f.fn, f.target, s.s AS from_state
    FROM (SELECT DISTINCT fn, to_state AS target FROM design_edge) f,
         unnest(enum_range(NULL::mojob.job_state)) AS s(s)
    WHERE NOT EXISTS (SELECT FROM design_edge d WHERE d.fn = f.fn AND d.from_state = s.s);

SELECT is((SELECT count(*)::int FROM refused_call), 29,
    '29 of the 36 calls of the six transition functions on the six states follow no edge');

CREATE TEMP TABLE by_function AS
    SELECT c.fn, c.target, c.from_state, j.id, j.code, j.version
    FROM refused_call c, LATERAL pg_temp.job_in(c.from_state, c.fn || ' on ' || c.from_state) j;

SELECT throws_ok(
    format('SELECT * FROM mojob.%I(%s)', fn, id),
    'MJ001',
    CASE WHEN from_state = target THEN format('job %s is already %s', code, target)
         ELSE format('job %s is %s, and %s applies only to %s jobs', code, from_state,
                     CASE fn WHEN 'cancel' THEN 'mojob.cancel(job, reason)' ELSE format('mojob.%s(job)', fn) END,
                     (SELECT string_agg(d.from_state::text, ' or ' ORDER BY d.from_state)
                        FROM design_edge d WHERE d.fn = by_function.fn))
    END,
    CASE WHEN from_state = target
         THEN format('mojob.%s on a job already %s is refused', fn, target)
         ELSE format('mojob.%s cannot move a %s job', fn, from_state)
    END)
FROM by_function ORDER BY fn, from_state;

SELECT id AS j FROM pg_temp.job_in('tentative', 'after refused calls') \gset
SELECT coalesce(max(id), 0) AS mark FROM mojob.job_event \gset
SELECT state FROM mojob.confirm(:j) \gset
SELECT results_eq(
    format('SELECT job_id, from_state::text, to_state::text FROM mojob.job_event WHERE id > %s', :mark),
    format($$VALUES (%s::bigint, 'tentative', 'confirmed')$$, :j),
    'after the refused calls the history holds only the next transition made');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
