-- mojob 1.0 -> 1.1 (ALTER EXTENSION mojob UPDATE TO '1.1').
--
-- Kept in step with sql/mojob--1.1.sql: a database upgraded by this script
-- holds the same objects as a fresh install of 1.1, which
-- test/t/030_upgrade.pl checks in the catalogs.
\echo Use "ALTER EXTENSION mojob UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------
-- The guard (issue 15: careless owners, site triggers, planted ids, edit
-- locks against operators)
-- ---------------------------------------------------------------------

-- (Starting and stopping are never held by an edit lock: the ops board's
-- can_start and can_stop, re-created with the install-time binding block below.)


-- (1.1) The guards judge the row as it is finally written.  A BEFORE
-- trigger of the site's whose name sorts after a guard's changes the row
-- after the guard looked: the guard then keeps the row it approved, and
-- this AFTER trigger compares the row as written with it (27000 when they
-- differ; a row skipped or given another id is refused at the statement's
-- end).  Queued only while an approved row waits (the WHEN).
CREATE FUNCTION mojob.guard_pending() RETURNS boolean
LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mojob_guard_pending';
COMMENT ON FUNCTION mojob.guard_pending() IS
    'Whether a row approved by a guard while a site''s trigger fires after it is still to be compared with the row as written (the WHEN of mojob_guard_recheck)';
CREATE FUNCTION mojob.guard_recheck() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_guard_recheck';
COMMENT ON FUNCTION mojob.guard_recheck() IS
    'Trigger refusing a row of mojob.job or mojob.job_resource that a site''s trigger changed after the guard approved it';
CREATE TRIGGER mojob_guard_recheck AFTER INSERT OR UPDATE ON mojob.job
    FOR EACH ROW WHEN (mojob.guard_pending()) EXECUTE FUNCTION mojob.guard_recheck();
CREATE TRIGGER mojob_guard_recheck AFTER INSERT OR UPDATE OR DELETE ON mojob.job_resource
    FOR EACH ROW WHEN (mojob.guard_pending()) EXECUTE FUNCTION mojob.guard_recheck();
REVOKE EXECUTE ON FUNCTION mojob.guard_recheck() FROM PUBLIC;

-- =====================================================================
-- mojob.verify() and mojob.rebuild_bookings(): the invariants checked, and
-- the bookings rebuilt after a restore made with triggers disabled
-- =====================================================================

-- ---------------------------------------------------------------------
-- Invariants: checking them, and rebuilding the bookings
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.verify(OUT check_name text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
-- Under a site's row security the caller would see only some jobs, nodes
-- or bookings: the checks would report rows that are merely hidden, name
-- hidden jobs, and miss over-bookings between them.  Refused instead.
IF row_security_active('mojob.job') OR row_security_active('mojob.job_resource')
   OR row_security_active('mojob.booking') OR row_security_active('mojob.job_event')
   OR row_security_active('mojob.resource') THEN
    RAISE EXCEPTION 'mojob.verify() cannot check what row security hides from %', current_user
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Row security filters mojob''s tables for this role, so the invariants cannot be checked from its view.',
              HINT = 'Call mojob.verify() as the owner of mojob''s tables, or as a role that bypasses row security.';
END IF;
RETURN QUERY
-- The bookings mojob derives from the jobs and their nodes (booking.c): one
-- per resolved node of a holding job (tentative, confirmed, running,
-- completed: a completed job keeps them as the record of what it used), for
-- the node's own window within the job's [pre_roll_start, post_roll_end),
-- when that window is not empty.
WITH node_window AS (
    SELECT n.id AS node_id, n.job_id, n.resource_id, n.amount,
           greatest(j.pre_roll_start, n.held_from) AS lo,
           least(j.post_roll_end, n.held_until) AS hi
    FROM mojob.job_resource n
    JOIN mojob.job j ON j.id = n.job_id
    WHERE n.resource_id IS NOT NULL
      AND j.state IN ('tentative', 'confirmed', 'running', 'completed')
),
derived AS (
    SELECT node_id, job_id, resource_id, tstzrange(lo, hi, '[)') AS held, amount
    FROM node_window WHERE lo < hi
),
compared AS (
    SELECT d.node_id AS d_node, b.node_id AS b_node, d.job_id AS d_job, b.job_id AS b_job,
           d.resource_id AS d_resource, b.resource_id AS b_resource,
           d.held AS d_held, b.held AS b_held, d.amount AS d_amount, b.amount AS b_amount
    FROM derived d FULL JOIN mojob.booking b ON b.node_id = d.node_id
),
-- Who holds what at which instant, from now on (a window that has ended is
-- history: lowering a resource's limits is checked from now on only).
holding AS (
    SELECT b.resource_id, b.job_id, j.code, greatest(lower(b.held), now()) AS lo,
           upper(b.held) AS hi, b.amount
    FROM mojob.booking b
    JOIN mojob.job j ON j.id = b.job_id
    WHERE upper(b.held) > now()
      AND (j.state IN ('tentative', 'confirmed', 'running')
           OR (j.state = 'completed' AND j.post_roll_end > now()))
),
step AS (
    SELECT resource_id, t, sum(d) AS d, sum(a) AS a
    FROM (SELECT resource_id, lo AS t, 1 AS d, amount AS a FROM holding
          UNION ALL
          SELECT resource_id, hi, -1, -amount FROM holding) e
    GROUP BY resource_id, t
),
level AS (
    SELECT resource_id, t, lead(t) OVER w AS t_next, sum(d) OVER w AS jobs, sum(a) OVER w AS amount
    FROM step
    WINDOW w AS (PARTITION BY resource_id ORDER BY t)
),
-- The first stretch where each resource is over its concurrency, or its
-- capacity, with the jobs holding it then.
over AS (
    SELECT DISTINCT ON (l.resource_id, kind) kind, l.resource_id, r.name, l.t, l.t_next, l.jobs,
           l.amount, r.concurrency, r.capacity
    FROM level l
    JOIN mojob.resource r ON r.id = l.resource_id
    CROSS JOIN LATERAL (VALUES ('concurrency', l.jobs > r.concurrency),
                               ('capacity', l.amount > r.capacity)) k(kind, exceeded)
    WHERE k.exceeded
    ORDER BY l.resource_id, kind, l.t
),
over_text AS (
    SELECT o.kind, count(*) OVER (PARTITION BY o.kind) AS n,
           row_number() OVER (PARTITION BY o.kind ORDER BY o.resource_id) AS k,
           format('resource "%s" (id %s) %s from %s to %s (%s), and its %s is %s',
                  o.name, o.resource_id,
                  CASE o.kind WHEN 'concurrency' THEN format('is held by %s jobs at once', o.jobs)
                       ELSE format('is given amounts adding up to %s', o.amount) END,
                  o.t, o.t_next,
                  (SELECT string_agg(DISTINCT h.code, ', ')
                   FROM holding h WHERE h.resource_id = o.resource_id AND h.lo <= o.t AND h.hi > o.t),
                  o.kind, CASE o.kind WHEN 'concurrency' THEN o.concurrency::text ELSE o.capacity::text END) AS what
    FROM over o
),
last_event AS (
    SELECT DISTINCT ON (e.job_id) e.job_id, e.to_state
    FROM mojob.job_event e
    ORDER BY e.job_id, e.id DESC
),
-- Each check: how many offenders, and the first few named.
found (k, check_name, n, what) AS (
    SELECT 1, 'settings', CASE WHEN count(*) = 1 THEN 0 ELSE 1 END,
           format('mojob.settings has %s rows, not one', count(*))
    FROM mojob.settings
    UNION ALL
    SELECT 2, 'bookings_missing', count(*),
           string_agg(format('node %s of job %s (resource id %s, %s)', c.d_node, j.code, c.d_resource, c.d_held),
                      '; ' ORDER BY c.d_node) FILTER (WHERE c.k <= 5)
    FROM (SELECT *, row_number() OVER (ORDER BY d_node) AS k FROM compared WHERE b_node IS NULL) c
    JOIN mojob.job j ON j.id = c.d_job
    UNION ALL
    SELECT 3, 'bookings_wrong', count(*),
           string_agg(format('node %s holds resource id %s for %s with amount %s for job id %s; it should hold resource id %s for %s with amount %s for job %s',
                             c.d_node, c.b_resource, c.b_held, c.b_amount, c.b_job,
                             c.d_resource, c.d_held, c.d_amount, j.code),
                      '; ' ORDER BY c.d_node) FILTER (WHERE c.k <= 5)
    FROM (SELECT *, row_number() OVER (ORDER BY d_node) AS k FROM compared
          WHERE d_node IS NOT NULL AND b_node IS NOT NULL
            AND (b_job IS DISTINCT FROM d_job OR b_resource IS DISTINCT FROM d_resource
                 OR b_held IS DISTINCT FROM d_held OR b_amount IS DISTINCT FROM d_amount)) c
    JOIN mojob.job j ON j.id = c.d_job
    UNION ALL
    SELECT 4, 'bookings_stray', count(*),
           string_agg(format('node %s holds resource id %s for %s for %s',
                             c.b_node, c.b_resource, c.b_held,
                             CASE WHEN j.id IS NULL THEN format('job id %s, which does not exist', c.b_job)
                                  WHEN n.id IS NULL THEN format('job %s, but no such node exists', j.code)
                                  WHEN n.job_id <> c.b_job THEN format('job %s, but the node is another job''s', j.code)
                                  WHEN n.resource_id IS NULL THEN format('job %s, but the node has no resource', j.code)
                                  WHEN j.state IN ('draft', 'canceled') THEN format('job %s, which is %s and holds nothing', j.code, j.state)
                                  ELSE format('job %s, but the node''s window is empty', j.code) END),
                      '; ' ORDER BY c.b_node) FILTER (WHERE c.k <= 5)
    FROM (SELECT *, row_number() OVER (ORDER BY b_node) AS k FROM compared WHERE d_node IS NULL) c
    LEFT JOIN mojob.job_resource n ON n.id = c.b_node
    LEFT JOIN mojob.job j ON j.id = c.b_job
    UNION ALL
    SELECT 5, 'booking_longest', count(*),
           string_agg(format('resource id %s has a booking of %s, and mojob.booking_longest bounds it at %s',
                             x.resource_id,
                             CASE WHEN x.len < 9223372036854775807
                                  THEN make_interval(secs => (x.len / 1000000)::float8)::text
                                  ELSE 'over 292,000 years' END,
                             coalesce(x.longest::text, 'nothing')),
                      '; ' ORDER BY x.resource_id) FILTER (WHERE x.k <= 5)
    -- Lengths in microseconds, as numeric: upper - lower as an interval
    -- overflows for a window of over about 292,000 years (wrapping on 15,
    -- an error from 17 on); the bound of such a booking is saturated at the
    -- largest bigint (src/booking.c, window_length), and so is len here.
    FROM (SELECT m.resource_id, m.len, l.longest, row_number() OVER (ORDER BY m.resource_id) AS k
          FROM (SELECT b.resource_id,
                       least(max(extract(epoch FROM upper(b.held)) - extract(epoch FROM lower(b.held))) * 1000000,
                             9223372036854775807) AS len
                FROM mojob.booking b GROUP BY b.resource_id) m
          LEFT JOIN mojob.booking_longest l ON l.resource_id = m.resource_id
          WHERE l.longest IS NULL OR extract(epoch FROM l.longest) * 1000000 < m.len) x
    UNION ALL
    SELECT 6, 'concurrency', count(*), string_agg(o.what, '; ' ORDER BY o.k) FILTER (WHERE o.k <= 5)
    FROM over_text o WHERE o.kind = 'concurrency'
    UNION ALL
    SELECT 7, 'capacity', count(*), string_agg(o.what, '; ' ORDER BY o.k) FILTER (WHERE o.k <= 5)
    FROM over_text o WHERE o.kind = 'capacity'
    UNION ALL
    SELECT 8, 'disabled', count(*),
           string_agg(format('resource "%s" (id %s) is disabled, and held from %s by %s',
                             x.name, x.resource_id, x.lo, x.codes),
                      '; ' ORDER BY x.resource_id) FILTER (WHERE x.k <= 5)
    FROM (SELECT h.resource_id, r.name, min(h.lo) AS lo, string_agg(DISTINCT h.code, ', ') AS codes,
                 row_number() OVER (ORDER BY h.resource_id) AS k
          FROM holding h JOIN mojob.resource r ON r.id = h.resource_id AND NOT r.enabled
          GROUP BY h.resource_id, r.name) x
    UNION ALL
    SELECT 9, 'history', count(*),
           string_agg(format('job %s is %s, and its last history row says %s', x.code, x.state, x.to_state),
                      '; ' ORDER BY x.id) FILTER (WHERE x.k <= 5)
    FROM (SELECT j.id, j.code, j.state, e.to_state, row_number() OVER (ORDER BY j.id) AS k
          FROM mojob.job j JOIN last_event e ON e.job_id = j.id
          WHERE e.to_state <> j.state) x
)
SELECT f.check_name, f.n = 0,
       CASE WHEN f.n = 0 THEN NULL
            WHEN f.check_name = 'settings' THEN f.what
            ELSE f.what || CASE WHEN f.n > 5 THEN format('; and %s more', f.n - 5) ELSE '' END END
FROM found f
ORDER BY f.k;
END
$$;
COMMENT ON FUNCTION mojob.verify() IS
    'Check every invariant mojob keeps (settings row, bookings as the jobs and nodes derive them, booking_longest, no over-booking and no disabled resource held from now on, history ending in each job''s state): one row per check, with what is wrong';

CREATE FUNCTION mojob.rebuild_bookings() RETURNS integer
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_rebuild_bookings';
COMMENT ON FUNCTION mojob.rebuild_bookings() IS
    'The owner''s: rebuild mojob.booking and mojob.booking_longest from the jobs and their nodes (after a restore made with triggers disabled); returns how many bookings it added, fixed or removed; refuses (MJ005) an over-booking';

-- ---------------------------------------------------------------------
-- Install-time binding; the pictures and the summaries of bookings
-- (issue 15, items 3, 7 and 9).
--
-- 1.0's views, column defaults, CHECK constraints, index expressions and
-- argument defaults named functions and operators unqualified, so they were
-- bound with the search_path of CREATE EXTENSION (mojob, then btree_gist's
-- schema, usually public): a look-alike another role had put in public
-- (array_remove(text[], text), format(text, text), nextval(text),
-- >=(numeric, integer), =(anyenum, text) ...) was bound instead of
-- pg_catalog's and ran with the rights of whoever read the view or wrote the
-- row.  Each of them is made again here as 1.1 writes it, every name
-- qualified, so that an updated database is bound as a fresh install is
-- whatever 1.0 was bound to (test/t/031_install_binding.pl).
-- ---------------------------------------------------------------------

ALTER TABLE mojob.settings
    DROP CONSTRAINT settings_default_pre_roll_check,
    ADD CONSTRAINT settings_default_pre_roll_check CHECK (default_pre_roll OPERATOR(pg_catalog.>=) '0'),
    DROP CONSTRAINT settings_default_post_roll_check,
    ADD CONSTRAINT settings_default_post_roll_check CHECK (default_post_roll OPERATOR(pg_catalog.>=) '0'),
    DROP CONSTRAINT settings_default_state_check,
    ADD CONSTRAINT settings_default_state_check CHECK (default_state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative']::mojob.job_state[])),
    DROP CONSTRAINT settings_validation_horizon_check,
    ADD CONSTRAINT settings_validation_horizon_check CHECK (validation_horizon OPERATOR(pg_catalog.>=) '0'),
    DROP CONSTRAINT settings_lock_timeout_check,
    ADD CONSTRAINT settings_lock_timeout_check CHECK (lock_timeout OPERATOR(pg_catalog.>) '0');
ALTER TABLE mojob.resource
    DROP CONSTRAINT resource_name_check,
    ADD CONSTRAINT resource_name_check CHECK (name OPERATOR(pg_catalog.<>) ''),
    DROP CONSTRAINT resource_concurrency_check,
    ADD CONSTRAINT resource_concurrency_check CHECK (concurrency OPERATOR(pg_catalog.>=) 1),
    DROP CONSTRAINT resource_capacity_check,
    ADD CONSTRAINT resource_capacity_check CHECK (capacity OPERATOR(pg_catalog.>=) 0 AND capacity OPERATOR(pg_catalog.<) 'Infinity');
ALTER TABLE mojob.pool
    DROP CONSTRAINT pool_name_check,
    ADD CONSTRAINT pool_name_check CHECK (name OPERATOR(pg_catalog.<>) '');
ALTER TABLE mojob.recurrence
    DROP CONSTRAINT recurrence_horizon_check,
    ADD CONSTRAINT recurrence_horizon_check CHECK (horizon OPERATOR(pg_catalog.>) '0'),
    DROP CONSTRAINT recurrence_state_check,
    ADD CONSTRAINT recurrence_state_check CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'canceled']::text[])),
    DROP CONSTRAINT recurrence_instance_state_check,
    ADD CONSTRAINT recurrence_instance_state_check CHECK (instance_state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative']::mojob.job_state[])),
    DROP CONSTRAINT recurrence_canceled_at,
    ADD CONSTRAINT recurrence_canceled_at CHECK ((state OPERATOR(pg_catalog.=) 'canceled') OPERATOR(pg_catalog.=) (canceled_at IS NOT NULL));
ALTER TABLE mojob.job
    DROP CONSTRAINT job_name_check,
    ADD CONSTRAINT job_name_check CHECK (name OPERATOR(pg_catalog.<>) ''),
    DROP CONSTRAINT job_window_order,
    ADD CONSTRAINT job_window_order CHECK (pre_roll_start OPERATOR(pg_catalog.<=) start_at AND start_at OPERATOR(pg_catalog.<) end_at AND end_at OPERATOR(pg_catalog.<=) post_roll_end),
    DROP CONSTRAINT job_window_finite,
    ADD CONSTRAINT job_window_finite CHECK (pg_catalog.isfinite(pre_roll_start) AND pg_catalog.isfinite(post_roll_end)),
    DROP CONSTRAINT job_canceled_at,
    ADD CONSTRAINT job_canceled_at CHECK ((state OPERATOR(pg_catalog.=) 'canceled') OPERATOR(pg_catalog.=) (canceled_at IS NOT NULL)),
    DROP CONSTRAINT job_lock,
    ADD CONSTRAINT job_lock CHECK ((locked_by IS NULL) OPERATOR(pg_catalog.=) (locked_until IS NULL));
ALTER TABLE mojob.job_resource
    DROP CONSTRAINT job_resource_amount_check,
    ADD CONSTRAINT job_resource_amount_check CHECK (amount OPERATOR(pg_catalog.>=) 0 AND amount OPERATOR(pg_catalog.<) 'Infinity'),
    DROP CONSTRAINT job_resource_held,
    ADD CONSTRAINT job_resource_held CHECK (held_from OPERATOR(pg_catalog.<) held_until);
ALTER TABLE mojob.booking
    DROP CONSTRAINT booking_held_check,
    ADD CONSTRAINT booking_held_check CHECK (NOT pg_catalog.isempty(held));
ALTER TABLE mojob.job_event
    DROP CONSTRAINT job_event_cause_check,
    ADD CONSTRAINT job_event_cause_check CHECK (cause OPERATOR(pg_catalog.=) ANY (ARRAY['user', 'time']::text[]));
ALTER TABLE mojob.resource ALTER COLUMN id SET DEFAULT pg_catalog.nextval('mojob.resource_id_seq');
ALTER TABLE mojob.pool ALTER COLUMN id SET DEFAULT pg_catalog.nextval('mojob.pool_id_seq');
ALTER TABLE mojob.recurrence ALTER COLUMN id SET DEFAULT pg_catalog.nextval('mojob.recurrence_id_seq');
ALTER TABLE mojob.recurrence ALTER COLUMN created_at SET DEFAULT pg_catalog.now();
ALTER TABLE mojob.job ALTER COLUMN created_at SET DEFAULT pg_catalog.now();
ALTER TABLE mojob.job ALTER COLUMN updated_at SET DEFAULT pg_catalog.now();
ALTER TABLE mojob.job_event ALTER COLUMN id SET DEFAULT pg_catalog.nextval('mojob.job_event_id_seq');

DROP INDEX mojob.job_start_due;
CREATE INDEX job_start_due ON mojob.job (start_at) WHERE state OPERATOR(pg_catalog.=) 'confirmed';
DROP INDEX mojob.job_end_due;
CREATE INDEX job_end_due ON mojob.job (end_at) WHERE state OPERATOR(pg_catalog.=) 'running';
DROP INDEX mojob.booking_resource_start;
CREATE INDEX booking_resource_start ON mojob.booking (resource_id, pg_catalog.lower(held));
DROP INDEX mojob.job_unfinished;
CREATE INDEX job_unfinished ON mojob.job (start_at)
    WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed', 'running']::mojob.job_state[]);
DROP INDEX mojob.job_by_end;
CREATE INDEX job_by_end ON mojob.job (end_at) WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'completed']::mojob.job_state[]);
DROP INDEX mojob.job_upcoming;
CREATE INDEX job_upcoming ON mojob.job
    ((CASE WHEN state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming')) THEN start_at END), id)
    WHERE state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming'));
DROP STATISTICS mojob.job_upcoming_start;
CREATE STATISTICS mojob.job_upcoming_start
    ON (CASE WHEN state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming')) THEN start_at END) FROM mojob.job;
COMMENT ON STATISTICS mojob.job_upcoming_start IS
    'For the planner: how the starts of jobs not yet started spread over time (the upcoming board''s start, index job_upcoming)';

CREATE OR REPLACE FUNCTION mojob.advance(at timestamptz DEFAULT pg_catalog.now()) RETURNS integer
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_advance';
CREATE OR REPLACE FUNCTION mojob.make_recurring(job bigint, rule text,
                                     time_zone text DEFAULT pg_catalog.current_setting('TimeZone'),
                                     horizon interval DEFAULT '1 year')
RETURNS mojob.recurrence
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_make_recurring';
CREATE OR REPLACE FUNCTION mojob.extend_recurrences(at timestamptz DEFAULT pg_catalog.now()) RETURNS integer
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_extend_recurrences';

CREATE OR REPLACE VIEW mojob.job_errors AS
    SELECT n.job_id, 'RESOURCE_UNAVAILABLE'::text AS code,
           pg_catalog.format('resource "%s" is disabled', r.name) AS message
    FROM mojob.resource r
    JOIN mojob.job_resource n ON n.resource_id OPERATOR(pg_catalog.=) r.id
    JOIN mojob.job j ON j.id OPERATOR(pg_catalog.=) n.job_id
    WHERE NOT r.enabled
      AND j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed', 'running']::mojob.job_state[])
      AND (n.held_until IS NULL OR n.held_until OPERATOR(pg_catalog.>) pg_catalog.now())
    UNION ALL
    SELECT n.job_id, 'NODE_UNRESOLVED',
           pg_catalog.format('pool node %s of pool "%s" has no resource',
                             coalesce(pg_catalog.quote_ident(n.alias), n.id::text), p.name)
    FROM mojob.job_resource n
    JOIN mojob.pool p ON p.id OPERATOR(pg_catalog.=) n.pool_id
    JOIN mojob.job j ON j.id OPERATOR(pg_catalog.=) n.job_id
    WHERE n.resource_id IS NULL
      AND j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed', 'running']::mojob.job_state[])
    UNION ALL
    SELECT j.id, 'NOT_CONFIRMED',
           pg_catalog.format('it starts at %s, within the validation horizon of %s, but is still %s',
                             j.start_at, s.validation_horizon, j.state)
    FROM mojob.job j CROSS JOIN mojob.settings s
    WHERE j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative']::mojob.job_state[])
      AND j.start_at OPERATOR(pg_catalog.>) pg_catalog.now() AND j.start_at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.+) s.validation_horizon)
    UNION ALL
    SELECT c.job_id, 'RECURRENCE_CONFLICT',
           pg_catalog.format('an instance of recurrence %s whose resources were taken: it was created as a draft',
                             j.recurrence_id)
    FROM mojob.recurrence_conflict c
    JOIN mojob.job j ON j.id OPERATOR(pg_catalog.=) c.job_id
    WHERE j.state OPERATOR(pg_catalog.=) 'draft'
    UNION ALL
    SELECT j.id, 'START_MISSED',
           pg_catalog.format('its start at %s has passed, but it is still %s', j.start_at, j.state)
    FROM mojob.job j
    WHERE j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed']::mojob.job_state[])
      AND j.start_at OPERATOR(pg_catalog.<=) pg_catalog.now();

CREATE OR REPLACE VIEW mojob.job_search AS
    SELECT j.id, j.code, j.name, j.description, j.priority, j.state,
           j.pre_roll_start, j.start_at, j.end_at, j.post_roll_end,
           j.canceled_at, j.cancel_reason, j.owner, j.properties, j.version,
           j.created_at, j.created_by, j.updated_at, j.locked_by, j.locked_until, j.recurrence_id,
           -- The state test first, apart: a plain condition on the state, which
           -- lets WHERE has_error read only unfinished jobs (job_unfinished).
           j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed', 'running']::mojob.job_state[])
               AND e.errors OPERATOR(pg_catalog.<>) '{}'::text[] AS has_error,
           e.errors,
           ARRAY(SELECT coalesce(r.name, '(' OPERATOR(pg_catalog.||) p.name OPERATOR(pg_catalog.||) ')')
                 FROM mojob.job_resource n
                 LEFT JOIN mojob.resource r ON r.id OPERATOR(pg_catalog.=) n.resource_id
                 LEFT JOIN mojob.pool p ON p.id OPERATOR(pg_catalog.=) n.pool_id
                 WHERE n.job_id OPERATOR(pg_catalog.=) j.id AND (n.held_until IS NULL OR n.held_until OPERATOR(pg_catalog.>) pg_catalog.now())
                 ORDER BY n.id) AS resources
    FROM mojob.job j
    -- The codes of mojob.job_errors, computed from the job's own row (in code
    -- order); completed and canceled jobs have none, so nothing is looked up
    -- for them.  test/pgtap/31_errors.sql checks that both agree.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN j.state OPERATOR(pg_catalog.=) ANY (ARRAY['completed', 'canceled']::mojob.job_state[]) THEN '{}'::text[]
               ELSE pg_catalog.array_remove(ARRAY[
                   CASE WHEN EXISTS (SELECT FROM mojob.job_resource n   -- its pool: job_resource_what
                                     WHERE n.job_id OPERATOR(pg_catalog.=) j.id AND n.resource_id IS NULL)
                        THEN 'NODE_UNRESOLVED' END,
                   CASE WHEN j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative']::mojob.job_state[]) AND j.start_at OPERATOR(pg_catalog.>) pg_catalog.now()
                             AND j.start_at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.+) (SELECT s.validation_horizon FROM mojob.settings s))
                        THEN 'NOT_CONFIRMED' END,
                   CASE WHEN j.state OPERATOR(pg_catalog.=) 'draft'
                             AND EXISTS (SELECT FROM mojob.recurrence_conflict c WHERE c.job_id OPERATOR(pg_catalog.=) j.id)
                        THEN 'RECURRENCE_CONFLICT' END,
                   CASE WHEN EXISTS (SELECT FROM mojob.job_resource n JOIN mojob.resource r ON r.id OPERATOR(pg_catalog.=) n.resource_id
                                     WHERE n.job_id OPERATOR(pg_catalog.=) j.id AND NOT r.enabled
                                       AND (n.held_until IS NULL OR n.held_until OPERATOR(pg_catalog.>) pg_catalog.now()))
                        THEN 'RESOURCE_UNAVAILABLE' END,
                   CASE WHEN j.state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed']::mojob.job_state[])
                             AND j.start_at OPERATOR(pg_catalog.<=) pg_catalog.now()
                        THEN 'START_MISSED' END], NULL::text)
               END AS errors) e;

CREATE OR REPLACE VIEW mojob.jobs AS
    SELECT * FROM mojob.job_search WHERE state OPERATOR(pg_catalog.<>) 'canceled';

CREATE OR REPLACE VIEW mojob.ops_board AS
    SELECT j.board, j.id, j.code, j.name, j.description, j.priority, j.state,
           j.pre_roll_start, j.start_at, j.end_at, j.post_roll_end,
           j.canceled_at, j.cancel_reason, j.owner, j.properties, j.version,
           j.created_at, j.created_by, j.updated_at, j.locked_by, j.locked_until, j.recurrence_id,
           -- What the guard and the life-cycle functions would allow now:
           -- the state (mojob.action_open, from the C tables), another
           -- user's edit lock, and for reserve, confirm and stop the one
           -- condition each adds.  The node probes run only for the jobs
           -- whose state allows the action, and the one for reserve only
           -- while some resource is disabled (d.any_disabled).
           -- 30_views.sql tries every action on every job of the board and
           -- checks that the flag said what the call did.
           mojob.action_open('edit', j.state) AND NOT j.locked_other AS can_edit,
           mojob.action_open('delete', j.state) AND NOT j.locked_other AS can_delete,
           mojob.action_open('reserve', j.state) AND NOT j.locked_other
               AND (NOT d.any_disabled
                    OR NOT EXISTS (SELECT FROM mojob.job_resource n
                                   JOIN mojob.resource r ON r.id OPERATOR(pg_catalog.=) n.resource_id
                                   WHERE n.job_id OPERATOR(pg_catalog.=) j.id AND NOT r.enabled
                                   OFFSET 0)) AS can_reserve,     -- OFFSET 0: a probe per job, never a hash of all nodes
           mojob.action_open('confirm', j.state) AND NOT j.locked_other
               AND NOT EXISTS (SELECT FROM mojob.job_resource n
                               WHERE n.job_id OPERATOR(pg_catalog.=) j.id AND n.resource_id IS NULL
                               OFFSET 0) AS can_confirm,
           mojob.action_open('unconfirm', j.state) AND NOT j.locked_other AS can_unconfirm,
           -- (1.1) Starting and stopping are never held by an edit lock.
           mojob.action_open('start', j.state) AS can_start,
           mojob.action_open('stop', j.state)
               AND j.start_at OPERATOR(pg_catalog.<) pg_catalog.now() AS can_stop,
           mojob.action_open('cancel', j.state) AND NOT j.locked_other AS can_cancel
    FROM (
        -- k: each board's order (active by end, upcoming by start, completed
        -- newest first), one column, so that with board fixed by the query
        -- (board = 'upcoming') the order is k, id, which the upcoming
        -- branch can read from the index job_upcoming in order, with no
        -- sort.  That branch shows start_at as the expression the index is on.
        SELECT 'active'::mojob.board AS board, j.end_at AS k,
               coalesce(j.locked_until OPERATOR(pg_catalog.>) pg_catalog.now()
                        AND j.locked_by OPERATOR(pg_catalog.<>) (SELECT mojob.acting_user()), false) AS locked_other,
               j.*
        FROM mojob.job j
        WHERE j.state OPERATOR(pg_catalog.=) ANY (mojob.board_states('active'))
        UNION ALL
        (SELECT 'upcoming', CASE WHEN j.state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming')) THEN j.start_at END,
               coalesce(j.locked_until OPERATOR(pg_catalog.>) pg_catalog.now()
                        AND j.locked_by OPERATOR(pg_catalog.<>) (SELECT mojob.acting_user()), false),
               j.id, j.code, j.name, j.description, j.priority, j.state, j.pre_roll_start,
               CASE WHEN j.state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming')) THEN j.start_at END AS start_at,
               j.end_at, j.post_roll_end, j.canceled_at, j.cancel_reason, j.owner,
               j.properties, j.version, j.created_at, j.created_by, j.updated_at,
               j.locked_by, j.locked_until, j.recurrence_id
         FROM mojob.job j
         WHERE j.state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming'))
         ORDER BY 2, j.id)
        UNION ALL
        SELECT 'completed', mojob.time_desc(j.end_at),
               coalesce(j.locked_until OPERATOR(pg_catalog.>) pg_catalog.now()
                        AND j.locked_by OPERATOR(pg_catalog.<>) (SELECT mojob.acting_user()), false),
               j.*
        FROM mojob.job j
        WHERE j.state OPERATOR(pg_catalog.=) ANY (mojob.board_states('completed'))
    ) j
    -- Is any resource disabled (index resource_disabled)?  Asked once a query.
    CROSS JOIN (SELECT EXISTS (SELECT FROM mojob.resource r WHERE NOT r.enabled) AS any_disabled) d
    ORDER BY j.board, j.k, j.id;

CREATE OR REPLACE VIEW mojob.resource_schedule AS
    SELECT b.resource_id, r.name AS resource, b.job_id, j.code, j.name, b.held, j.state,
           b.amount, b.node_id
    FROM mojob.booking b
    JOIN mojob.resource r ON r.id OPERATOR(pg_catalog.=) b.resource_id
    JOIN mojob.job j ON j.id OPERATOR(pg_catalog.=) b.job_id;

CREATE OR REPLACE VIEW mojob.recurrences AS
    SELECT r.id, r.template_job, r.rule, r.time_zone, r.horizon, r.state,
           r.created_at, r.created_by, r.canceled_at, r.cancel_reason,
           (SELECT pg_catalog.min(j.start_at) FROM mojob.job j
            WHERE j.recurrence_id OPERATOR(pg_catalog.=) r.id AND j.start_at OPERATOR(pg_catalog.>) pg_catalog.now()
              AND j.state OPERATOR(pg_catalog.<>) 'canceled') AS next_occurrence,
           c.instances, c.draft, c.tentative, c.confirmed, c.running, c.completed, c.canceled
    FROM mojob.recurrence r
    CROSS JOIN LATERAL (
        SELECT pg_catalog.count(*) AS instances,
               pg_catalog.count(*) FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'draft') AS draft,
               pg_catalog.count(*) FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'tentative') AS tentative,
               pg_catalog.count(*) FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'confirmed') AS confirmed,
               pg_catalog.count(*) FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'running') AS running,
               pg_catalog.count(*) FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'completed') AS completed,
               pg_catalog.count(*) FILTER (WHERE j.state OPERATOR(pg_catalog.=) 'canceled') AS canceled
        FROM mojob.job j WHERE j.recurrence_id OPERATOR(pg_catalog.=) r.id) c;

-- The pictures draw any window (or refuse it), escape the time zone's
-- abbreviation, draw a state mojob does not know in a neutral colour, and,
-- like free_resources() and resource_usage(), require SELECT on mojob.job;
-- free_resources() refuses a multi-dimensional array of capabilities with
-- 22023; xml_text() keeps only the characters XML 1.0 allows.
CREATE OR REPLACE FUNCTION mojob.free_resources(during tstzrange, pool bigint DEFAULT NULL,
                                     capabilities text[] DEFAULT '{}')
RETURNS SETOF mojob.resource
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- It summarizes bookings: only for those who may read the jobs.
    IF NOT has_table_privilege('mojob.job', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table job'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'free_resources() summarizes the bookings of jobs, which needs SELECT on mojob.job.',
                  HINT = 'Ask the owner of mojob''s tables for SELECT on mojob.job.';
    END IF;
    IF during IS NULL OR isempty(during) OR lower_inf(during) OR upper_inf(during) THEN
        RAISE EXCEPTION 'during must be a finite, non-empty window'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It is %s.', coalesce(during::text, 'NULL')),
                  HINT = 'Pass tstzrange(start, end).';
    END IF;
    IF NOT isfinite(lower(during)) OR NOT isfinite(upper(during)) THEN
        RAISE EXCEPTION 'during must be a finite window'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass tstzrange(start, end).';
    END IF;
    -- Bounded before any work: each resource's @> compares every name.
    IF cardinality(capabilities) > 1000 THEN
        RAISE EXCEPTION 'capabilities must not hold more than 1000 names'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It holds %s.', cardinality(capabilities)),
                  HINT = 'Ask only for the capabilities the job needs.';
    END IF;
    IF capabilities IS NULL OR array_ndims(capabilities) > 1
       OR array_position(capabilities, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'capabilities must be a one-dimensional array without NULL'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass ''{}'' for no requirement, or a list such as ''{uhd}''.';
    END IF;
    IF pool IS NOT NULL AND NOT EXISTS (SELECT FROM mojob.pool p WHERE p.id = free_resources.pool) THEN
        RAISE EXCEPTION 'pool % does not exist', pool
            USING ERRCODE = 'MJ404', HINT = 'Look it up in mojob.pool.';
    END IF;
    RETURN QUERY
        SELECT r.*
        FROM mojob.resource r
        CROSS JOIN LATERAL mojob.resource_usage(r.id, during) u
        WHERE r.enabled
          AND r.capabilities @> free_resources.capabilities
          AND (free_resources.pool IS NULL
               OR EXISTS (SELECT FROM mojob.pool_member m
                          WHERE m.pool_id = free_resources.pool AND m.resource_id = r.id))
          AND u.jobs < r.concurrency
          AND (r.capacity IS NULL OR u.amount < r.capacity)
        ORDER BY r.name;
END
$$;
CREATE OR REPLACE FUNCTION mojob.timeline_scale(during tstzrange, width integer,
                                     OUT t0 timestamptz, OUT t1 timestamptz, OUT tick interval,
                                     OUT first_tick timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    span double precision;
    step interval;
    years integer;
    y numeric;
    -- The ends of timestamptz in seconds since 1970 (4714-11-24 BC and
    -- 294277-01-01, UTC); a tick is added only more than two days from them.
    first_epoch CONSTANT numeric := -210866803200;
    last_epoch CONSTANT numeric := 9224318016000;
BEGIN
    IF during IS NULL OR isempty(during) OR lower_inf(during) OR upper_inf(during)
       OR NOT isfinite(lower(during)) OR NOT isfinite(upper(during)) THEN
        RAISE EXCEPTION 'during must be a finite, non-empty window'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It is %s.', coalesce(during::text, 'NULL')),
                  HINT = 'Pass tstzrange(start, end).';
    END IF;
    IF width IS NULL OR width < 10 OR width > 1000 THEN
        RAISE EXCEPTION 'width must be from 10 to 1000 columns'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It is %s.', coalesce(width::text, 'NULL')),
                  HINT = 'The default, 72, suits a terminal.';
    END IF;
    t0 := lower(during);
    t1 := upper(during);
    -- A window of one instant ('[t, t]') is drawn one microsecond wide.
    IF t1 = t0 THEN
        IF extract(epoch FROM t1) < last_epoch - 1 THEN
            t1 := t1 + interval '1 microsecond';
        ELSE
            t0 := t0 - interval '1 microsecond';
        END IF;
    END IF;
    -- In seconds, exactly: t1 - t0 overflows an interval for windows of
    -- more than about 292,000 years.
    span := extract(epoch FROM t1) - extract(epoch FROM t0);
    -- The smallest tick step giving labels at least 8 columns apart (the
    -- largest, when none does: the whole range of timestamptz is 299,000 years).
    FOREACH step IN ARRAY ARRAY['1 minute', '5 minutes', '15 minutes', '30 minutes', '1 hour',
                                 '2 hours', '3 hours', '6 hours', '12 hours', '1 day', '2 days',
                                 '7 days', '14 days', '28 days', '91 days', '1 year', '2 years',
                                 '5 years', '10 years', '20 years', '50 years', '100 years',
                                 '200 years', '500 years', '1000 years', '2000 years', '5000 years',
                                 '10000 years', '20000 years', '50000 years', '100000 years']::interval[] LOOP
        tick := step;
        EXIT WHEN extract(epoch FROM step) / span * width >= 8;
    END LOOP;
    -- The first tick: on a whole step of the day, or of the years (there
    -- is no year 0: 1 BC is followed by 1 AD); none when the window is too
    -- close to an end of timestamptz for its step.
    IF tick >= interval '1 year' THEN
        years := extract(year FROM tick)::integer;
        y := ceil(extract(year FROM t0) / years) * years;
        IF y = 0 THEN
            y := years;
        END IF;
        IF y <= -4714 THEN
            y := y + years;
        END IF;
        IF y > 294276 THEN
            first_tick := t1;
            RETURN;
        END IF;
        first_tick := make_timestamptz(y::integer, 1, 1, 0, 0, 0);
    ELSIF extract(epoch FROM t0) - 172800 < first_epoch THEN
        first_tick := t0;
    ELSE
        first_tick := date_bin(tick, t0, date_trunc('day', t0));
    END IF;
    IF first_tick < t0 THEN
        IF extract(epoch FROM first_tick) + extract(epoch FROM tick) + 172800 >= last_epoch THEN
            first_tick := t1;
        ELSE
            first_tick := first_tick + tick;
        END IF;
    END IF;
END
$$;
CREATE OR REPLACE FUNCTION mojob.timeline(during tstzrange, width integer DEFAULT 72) RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sc record;
    label_width integer;
    e0 numeric;
    span double precision;
    axis text;
    ruler text;
    col integer;
    t timestamptz;
    lbl text;
    res record;
    cells integer[];
    glyph text[];
    line text;
    b record;
    c0 integer;
    c1 integer;
    marks CONSTANT text[] := ARRAY['░', '▓', '█', '▒'];
    states CONSTANT mojob.job_state[] := ARRAY['tentative', 'confirmed', 'running', 'completed'];
BEGIN
    -- It summarizes bookings: only for those who may read the jobs.
    IF NOT has_table_privilege('mojob.job', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table job'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'timeline() summarizes the bookings of jobs, which needs SELECT on mojob.job.',
                  HINT = 'Ask the owner of mojob''s tables for SELECT on mojob.job.';
    END IF;
    sc := mojob.timeline_scale(during, width);
    e0 := extract(epoch FROM sc.t0);
    span := extract(epoch FROM sc.t1) - e0;
    SELECT greatest(8, max(char_length(name)) + 2) INTO label_width FROM mojob.resource;
    label_width := coalesce(label_width, 10);

    -- The axis: a label and a tick at each step, aligned to the step in the session's time zone.
    axis := repeat(' ', width);
    ruler := repeat('─', width);
    t := sc.first_tick;
    WHILE t < sc.t1 LOOP
        col := floor((extract(epoch FROM t) - e0)::double precision / span * width)::integer;
        lbl := CASE WHEN sc.tick >= interval '1 year'
                    THEN to_char(t, 'FMYYYY') || CASE WHEN extract(year FROM t) < 0 THEN ' BC' ELSE '' END
                    WHEN sc.tick >= interval '1 day' THEN to_char(t, 'MM-DD') ELSE to_char(t, 'HH24:MI') END;
        IF col + char_length(lbl) <= width AND substr(axis, col + 1, char_length(lbl) + 1) = repeat(' ', char_length(lbl) + 1)
           OR col + char_length(lbl) = width THEN
            axis := overlay(axis PLACING lbl FROM col + 1 FOR char_length(lbl));
        END IF;
        ruler := overlay(ruler PLACING '┬' FROM col + 1 FOR 1);
        -- The next tick, unless it would pass the end of timestamptz.
        EXIT WHEN extract(epoch FROM t) + extract(epoch FROM sc.tick) + 172800 >= 9224318016000;
        t := t + sc.tick;
    END LOOP;
    RETURN NEXT repeat(' ', label_width) || rtrim(axis);
    RETURN NEXT repeat(' ', label_width) || ruler;

    -- One line per resource: each cell shows the state of the booking over
    -- it (? for a state mojob does not know), or how many.
    FOR res IN SELECT id, name FROM mojob.resource ORDER BY name LOOP
        cells := array_fill(0, ARRAY[width]);
        glyph := array_fill(' '::text, ARRAY[width]);
        FOR b IN
            SELECT greatest(lower(s.held), sc.t0) AS lo, least(upper(s.held), sc.t1) AS hi, s.state
            FROM mojob.resource_schedule s
            WHERE s.resource_id = res.id AND s.held && tstzrange(sc.t0, sc.t1)
              AND (s.state <> 'completed' OR upper(s.held) > sc.t0)
        LOOP
            c0 := floor((extract(epoch FROM b.lo) - e0)::double precision / span * width)::integer;
            c1 := ceil((extract(epoch FROM b.hi) - e0)::double precision / span * width)::integer;
            FOR col IN greatest(c0, 0) .. least(c1, width) - 1 LOOP
                cells[col + 1] := cells[col + 1] + 1;
                glyph[col + 1] := CASE WHEN cells[col + 1] = 1
                                       THEN coalesce(marks[array_position(states, b.state)], '?')
                                       WHEN cells[col + 1] < 10 THEN cells[col + 1]::text
                                       ELSE '+' END;
            END LOOP;
        END LOOP;
        -- A name's control characters (a newline, an escape) must not break the chart.
        line := rpad(regexp_replace(res.name, '[[:cntrl:]]', CASE WHEN getdatabaseencoding() = 'UTF8' THEN chr(65533) ELSE '?' END, 'g'), label_width)
                || array_to_string(glyph, '');
        RETURN NEXT rtrim(line);
    END LOOP;

    RETURN NEXT '';
    RETURN NEXT '░ tentative  ▓ confirmed  █ running  ▒ completed  2-9 bookings at once'
                || '  (' || to_char(sc.t0, 'YYYY-MM-DD HH24:MI') || CASE WHEN extract(year FROM sc.t0) < 0 THEN ' BC' ELSE '' END
                || ' to ' || to_char(sc.t1, 'YYYY-MM-DD HH24:MI') || CASE WHEN extract(year FROM sc.t1) < 0 THEN ' BC' ELSE '' END
                || ' ' || regexp_replace(to_char(sc.t1, 'TZ'), '[[:cntrl:]]', '', 'g') || ')';
END
$$;
CREATE OR REPLACE FUNCTION mojob.timeline_svg(during tstzrange) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sc record;
    e0 numeric;
    span double precision;
    label_w CONSTANT integer := 160;
    chart_w CONSTANT integer := 800;
    row_h CONSTANT integer := 28;
    top CONSTANT integer := 52;
    -- The colour of a state mojob does not know (a value the owner added to mojob.job_state).
    neutral CONSTANT text := '#999999';
    known mojob.job_state[];
    n integer := 0;
    -- The picture's pieces, joined once at the end: appending to one text
    -- copied it whole each time (quadratic: minutes for 100,000 bookings);
    -- an array element assigned by index is appended in place.
    out text[] := '{}';
    np integer := 0;
    t timestamptz;
    x double precision;
    res record;
    b record;
    y integer;
    s mojob.job_state;
BEGIN
    -- It summarizes bookings: only for those who may read the jobs.
    IF NOT has_table_privilege('mojob.job', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table job'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'timeline_svg() summarizes the bookings of jobs, which needs SELECT on mojob.job.',
                  HINT = 'Ask the owner of mojob''s tables for SELECT on mojob.job.';
    END IF;
    sc := mojob.timeline_scale(during, chart_w / 10);
    e0 := extract(epoch FROM sc.t0);
    span := extract(epoch FROM sc.t1) - e0;
    SELECT count(*) INTO n FROM mojob.resource;
    SELECT array_agg(DISTINCT g.st) INTO known
    FROM mojob.state_graph() x, LATERAL (VALUES (x.from_state), (x.to_state)) g(st);

    np := np + 1;
    out[np] := format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" '
                  'viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">',
                  label_w + chart_w + 40, top + n * row_h + 60, label_w + chart_w + 40, top + n * row_h + 60)
        || E'\n<rect width="100%" height="100%" fill="#ffffff"/>'
        || format(E'\n<text x="8" y="16" font-weight="bold">mojob timeline, %s to %s</text>',
                  to_char(sc.t0, 'YYYY-MM-DD HH24:MI') || CASE WHEN extract(year FROM sc.t0) < 0 THEN ' BC' ELSE '' END,
                  to_char(sc.t1, 'YYYY-MM-DD HH24:MI') || CASE WHEN extract(year FROM sc.t1) < 0 THEN ' BC' ELSE '' END
                  -- The time zone's abbreviation is the session's to choose: escaped.
                  || ' ' || mojob.xml_text(to_char(sc.t1, 'TZ')));

    -- Axis: a line and a label at each tick.
    t := sc.first_tick;
    WHILE t < sc.t1 LOOP
        x := label_w + (extract(epoch FROM t) - e0)::double precision / span * chart_w;
        np := np + 1;
        out[np] := format(E'\n<line class="tick" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#cccccc"/>'
                             '<text x="%s" y="%s" text-anchor="middle">%s</text>',
                             round(x::numeric, 1), top - 8, round(x::numeric, 1), top + n * row_h,
                             round(x::numeric, 1), top - 12,
                             CASE WHEN sc.tick >= interval '1 year'
                                  THEN to_char(t, 'FMYYYY') || CASE WHEN extract(year FROM t) < 0 THEN ' BC' ELSE '' END
                                  WHEN sc.tick >= interval '1 day' THEN to_char(t, 'MM-DD') ELSE to_char(t, 'HH24:MI') END);
        -- The next tick, unless it would pass the end of timestamptz.
        EXIT WHEN extract(epoch FROM t) + extract(epoch FROM sc.tick) + 172800 >= 9224318016000;
        t := t + sc.tick;
    END LOOP;

    -- One row per resource, one bar per booking, in the state's colour.
    y := top;
    FOR res IN SELECT id, name FROM mojob.resource ORDER BY name LOOP
        np := np + 1;
        out[np] := format(E'\n<text class="resource" x="8" y="%s">%s</text>', y + 18, mojob.xml_text(res.name));
        FOR b IN
            SELECT greatest(lower(s.held), sc.t0) AS lo, least(upper(s.held), sc.t1) AS hi,
                   s.state, s.code, s.name, s.held
            FROM mojob.resource_schedule s
            WHERE s.resource_id = res.id AND s.held && tstzrange(sc.t0, sc.t1)
            ORDER BY lower(s.held), s.code
        LOOP
            np := np + 1;
            out[np] := format(E'\n<rect class="booking" data-job="%s" data-state="%s" x="%s" y="%s" width="%s" height="%s" '
                                 'fill="%s" stroke="#333333" stroke-width="0.5"><title>%s</title></rect>',
                                 mojob.xml_text(b.code), mojob.xml_text(b.state::text),
                                 round((label_w + (extract(epoch FROM b.lo) - e0)::double precision / span * chart_w)::numeric, 1),
                                 y + 4,
                                 round(greatest((extract(epoch FROM b.hi) - extract(epoch FROM b.lo))::double precision / span * chart_w, 1)::numeric, 1),
                                 row_h - 8,
                                 CASE WHEN b.state = ANY (known) THEN mojob.state_color(b.state) ELSE neutral END,
                                 mojob.xml_text(format('%s %s (%s) %s', b.code, b.name, b.state, b.held)));
        END LOOP;
        y := y + row_h;
    END LOOP;

    -- Now, when it falls inside the window.
    IF now() >= sc.t0 AND now() < sc.t1 THEN
        x := label_w + (extract(epoch FROM now()) - e0)::double precision / span * chart_w;
        np := np + 1;
        out[np] := format(E'\n<line class="now" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#D60000" '
                             'stroke-dasharray="4 3"/><text x="%s" y="%s" fill="#D60000">now</text>',
                             round(x::numeric, 1), top - 4, round(x::numeric, 1), top + n * row_h,
                             round(x::numeric, 1) + 3, top + n * row_h + 12);
    END IF;

    -- Legend: every state's colour, and the error colour.
    x := label_w;
    FOREACH s IN ARRAY enum_range(NULL::mojob.job_state) LOOP
        np := np + 1;
        out[np] := format(E'\n<rect class="legend" x="%s" y="%s" width="12" height="12" fill="%s"/>'
                             '<text x="%s" y="%s">%s</text>',
                             x, y + 20, CASE WHEN s = ANY (known) THEN mojob.state_color(s) ELSE neutral END,
                             x + 16, y + 30, mojob.xml_text(s::text));
        x := x + 100;
    END LOOP;
    np := np + 1;
    out[np] := format(E'\n<rect class="legend" x="%s" y="%s" width="12" height="12" fill="#D60000"/>'
                         '<text x="%s" y="%s">error</text>', x, y + 20, x + 16, y + 30);
    np := np + 1;
    out[np] := E'\n</svg>\n';
    RETURN array_to_string(out, '');
END
$$;
CREATE OR REPLACE FUNCTION mojob.xml_text(text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL THEN
        RAISE EXCEPTION 'text must not be null'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the text to escape.';
    END IF;
    -- XML 1.0 allows every character but the control characters other than
    -- tab, newline and carriage return, and U+FFFE and U+FFFF: each of those
    -- (and DEL) becomes U+FFFD (? in a database whose encoding lacks it).
    RETURN replace(replace(replace(replace(
               regexp_replace($1, E'[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\uFFFE\\uFFFF]',
                              CASE WHEN getdatabaseencoding() = 'UTF8' THEN chr(65533) ELSE '?' END, 'g'),
               '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;');
END
$$;
COMMENT ON FUNCTION mojob.xml_text(text) IS
    'Text escaped for XML; characters XML 1.0 does not allow (control characters but tab, newline and carriage return; U+FFFE, U+FFFF) and DEL become U+FFFD';

-- ---------------------------------------------------------------------
-- Windows under attack, second round (README.md, "Guarantees"): duplicate()
-- keeps lengths and rolls exactly however long (no timestamptz -
-- timestamptz, which wraps around beyond about 292,000 years); the bound
-- mojob.booking_longest is lowered again when a long booking goes.
-- ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION mojob.duplicate(job bigint, start_at timestamptz DEFAULT NULL) RETURNS mojob.job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o mojob.job;
    n mojob.job;
    shift numeric;
    us numeric;
    src timestamptz[];
    t timestamptz[] := '{}';
    names text[] := ARRAY['pre_roll_start', 'start_at', 'end_at', 'post_roll_end'];
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job must not be null'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'duplicate() was called with job => NULL.',
                  HINT = 'mojob''s functions refuse NULL where they need a value; pass one.';
    END IF;
    IF NOT isfinite(duplicate.start_at) THEN
        RAISE EXCEPTION 'start_at must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It is %s.', duplicate.start_at),
                  HINT = 'Jobs take place at real instants; give one.';
    END IF;
    SELECT * INTO o FROM mojob.job j WHERE j.id = duplicate.job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', job
            USING ERRCODE = 'MJ404',
                  DETAIL = format('No row of mojob.job has id %s.', job),
                  HINT = 'Look it up in mojob.job_search.';
    END IF;
    -- Lengths are kept exactly, to the microsecond, whatever daylight saving
    -- does: every instant moves by the same number of microseconds, counted
    -- in numeric (timestamptz - timestamptz wraps around beyond about
    -- 292,000 years, and an interval times a number is a float), and is
    -- made again from its distance to 2000-01-01 UTC, which fits in 64 bits
    -- for every instant timestamptz holds.
    shift := (extract(epoch FROM coalesce(duplicate.start_at, o.start_at)) -
              extract(epoch FROM o.start_at)) * 1000000;
    src := ARRAY[o.pre_roll_start, o.start_at, o.end_at, o.post_roll_end];
    FOR i IN 1 .. 4 LOOP
        us := (extract(epoch FROM src[i]) - 946684800) * 1000000 + shift;
        -- timestamptz's range, 4714-11-24 BC to 294276-12-31 AD (UTC), in those microseconds
        IF us < -211813488000000000 OR us >= 9223371331200000000 THEN
            RAISE EXCEPTION 'the duplicate''s % would lie outside the range of timestamptz', names[i]
                USING ERRCODE = 'datetime_field_overflow',
                      DETAIL = 'timestamptz holds instants from 4714-11-24 BC to 294276-12-31 AD (UTC).',
                      HINT = 'Give a start_at that keeps the job''s window within that range.';
        END IF;
        t[i] := timestamptz '2000-01-01 00:00:00+00' + (trunc(us)::text || ' microseconds')::interval;
    END LOOP;
    -- What mojob.create_job does, with the instants themselves: a roll may
    -- be longer than an interval of microseconds holds.
    INSERT INTO mojob.job (name, pre_roll_start, start_at, end_at, post_roll_end, state,
                           description, priority, properties)
        VALUES (o.name, t[1], t[2], t[3], t[4], 'draft', o.description, o.priority, o.properties)
        RETURNING * INTO n;
    INSERT INTO mojob.job_resource (job_id, resource_id, pool_id, alias, amount, required_capabilities)
        SELECT n.id, r.resource_id, r.pool_id, r.alias, r.amount, r.required_capabilities
        FROM mojob.job_resource r
        WHERE r.job_id = o.id AND (r.held_until IS NULL OR r.held_until > now())
        ORDER BY r.id;
    RETURN n;
END
$$;

COMMENT ON COLUMN mojob.booking_longest.longest IS
    'No booking of the resource is longer (raised by each longer booking; lowered again when one longer than 7 days goes)';

-- ---------------------------------------------------------------------
-- Ids are mojob's (issue 15, planted ids): a non-owner's insert cannot
-- choose the id of a job or a node; the ids' default notes the ids it
-- issues, and the guards accept a non-owner's id only if it was just
-- issued.
-- ---------------------------------------------------------------------

-- Ids are mojob's: the ids of jobs and nodes are given by this default,
-- which notes the id it issues, and the guards accept a non-owner's id only
-- if it was just issued (an id chosen by hand could take the one the
-- sequence gives another insert later).
CREATE FUNCTION mojob.next_id(seq regclass) RETURNS bigint
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_next_id';
COMMENT ON FUNCTION mojob.next_id(regclass) IS
    'nextval(seq), noted: the default of mojob.job.id and mojob.job_resource.id; a non-owner''s insert may give only an id it has just issued';
ALTER TABLE mojob.job ALTER COLUMN id SET DEFAULT mojob.next_id('mojob.job_id_seq');
ALTER TABLE mojob.job_resource ALTER COLUMN id SET DEFAULT mojob.next_id('mojob.job_resource_id_seq');

-- ---------------------------------------------------------------------
-- Recurrences: a horizon of at least a day (the scheduler extends
-- recurrences once a day; a shorter horizon created instances after they
-- should have started).  A shorter one stored by 1.0 becomes a day.
-- ---------------------------------------------------------------------
UPDATE mojob.recurrence SET horizon = '1 day' WHERE horizon OPERATOR(pg_catalog.<) '1 day';
ALTER TABLE mojob.recurrence DROP CONSTRAINT recurrence_horizon_check,
    ADD CONSTRAINT recurrence_horizon_check CHECK (horizon OPERATOR(pg_catalog.>=) '1 day');
COMMENT ON COLUMN mojob.recurrence.horizon IS 'Instances are created up to now() + horizon (at least a day)';

-- =====================================================================
-- The resource guard judges the row as it is finally written: a site's
-- BEFORE UPDATE trigger on mojob.resource that fires after
-- zz_mojob_resource_guard (lowering concurrency or capacity, disabling) is
-- checked by mojob_guard_recheck too
-- =====================================================================
COMMENT ON FUNCTION mojob.guard_recheck() IS
    'Trigger refusing a row of mojob.job, mojob.job_resource or mojob.resource that a site''s trigger changed after the guard approved it, and a node delete such a trigger skipped';
CREATE TRIGGER mojob_guard_recheck AFTER UPDATE ON mojob.resource
    FOR EACH ROW WHEN (mojob.guard_pending()) EXECUTE FUNCTION mojob.guard_recheck();

-- ---------------------------------------------------------------------
-- Duration settings checked when written (issue 15, settings): no negative
-- part ('1 month -29 days' compares as a day, yet put a job's roll start
-- after its start in March), and at most 10,000 years (longer put
-- now() + validation_horizon in mojob.job_errors, or a lock's end, outside
-- the range of timestamptz, and every later call computing one failed).
-- A 1.0 database holding such a value fails this update, naming the
-- setting's constraint: change the setting, then update again.
-- ---------------------------------------------------------------------
ALTER TABLE mojob.settings
    DROP CONSTRAINT settings_default_pre_roll_check,
    ADD CONSTRAINT settings_default_pre_roll_check CHECK (least(pg_catalog.date_part('year', default_pre_roll), pg_catalog.date_part('month', default_pre_roll), pg_catalog.date_part('day', default_pre_roll), pg_catalog.date_part('hour', default_pre_roll), pg_catalog.date_part('minute', default_pre_roll), pg_catalog.date_part('microseconds', default_pre_roll)) OPERATOR(pg_catalog.>=) 0 AND default_pre_roll OPERATOR(pg_catalog.<=) '10000 years'),
    DROP CONSTRAINT settings_default_post_roll_check,
    ADD CONSTRAINT settings_default_post_roll_check CHECK (least(pg_catalog.date_part('year', default_post_roll), pg_catalog.date_part('month', default_post_roll), pg_catalog.date_part('day', default_post_roll), pg_catalog.date_part('hour', default_post_roll), pg_catalog.date_part('minute', default_post_roll), pg_catalog.date_part('microseconds', default_post_roll)) OPERATOR(pg_catalog.>=) 0 AND default_post_roll OPERATOR(pg_catalog.<=) '10000 years'),
    DROP CONSTRAINT settings_validation_horizon_check,
    ADD CONSTRAINT settings_validation_horizon_check CHECK (least(pg_catalog.date_part('year', validation_horizon), pg_catalog.date_part('month', validation_horizon), pg_catalog.date_part('day', validation_horizon), pg_catalog.date_part('hour', validation_horizon), pg_catalog.date_part('minute', validation_horizon), pg_catalog.date_part('microseconds', validation_horizon)) OPERATOR(pg_catalog.>=) 0 AND validation_horizon OPERATOR(pg_catalog.<=) '10000 years'),
    DROP CONSTRAINT settings_lock_timeout_check,
    ADD CONSTRAINT settings_lock_timeout_check CHECK (least(pg_catalog.date_part('year', lock_timeout), pg_catalog.date_part('month', lock_timeout), pg_catalog.date_part('day', lock_timeout), pg_catalog.date_part('hour', lock_timeout), pg_catalog.date_part('minute', lock_timeout), pg_catalog.date_part('microseconds', lock_timeout)) OPERATOR(pg_catalog.>=) 0 AND lock_timeout OPERATOR(pg_catalog.<=) '10000 years' AND lock_timeout OPERATOR(pg_catalog.>) '0');
-- The same, refused with 22023 naming the setting: the settings guard
-- now fires on UPDATE too.
CREATE OR REPLACE FUNCTION mojob.settings_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        -- Durations checked when written, refused with 22023 (the
        -- CHECK constraints say the same, for writes with triggers off):
        -- no negative part ('1 month -29 days' compares as a day, yet put
        -- a job's roll start after its start in March), at most 10,000
        -- years (longer put now() + validation_horizon, or a lock's end,
        -- outside the range of timestamptz), lock_timeout above zero.
        FOR d IN SELECT * FROM (VALUES ('default_pre_roll', NEW.default_pre_roll, false),
                                       ('default_post_roll', NEW.default_post_roll, false),
                                       ('validation_horizon', NEW.validation_horizon, false),
                                       ('lock_timeout', NEW.lock_timeout, true)) AS v(setting, value, positive)
        LOOP
            IF d.value IS NOT NULL
               AND (extract(year FROM d.value) * 12 + extract(month FROM d.value) < 0
                    OR extract(day FROM d.value) < 0
                    OR extract(hour FROM d.value) * 3600 + extract(minute FROM d.value) * 60
                       + extract(second FROM d.value) < 0
                    OR d.value > interval '10000 years'
                    OR (d.positive AND d.value <= interval '0')) THEN
                RAISE EXCEPTION 'mojob.settings.% cannot be %', d.setting, d.value
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = CASE WHEN d.positive
                                        THEN 'It must be above zero and at most 10,000 years, with no negative part.'
                                        ELSE 'It must be at most 10,000 years, with no negative part.' END,
                          HINT = 'Months, days and time must each be zero or more: write ''1 day'', not ''1 month -29 days''.';
            END IF;
        END LOOP;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT FROM mojob.settings) THEN
            UPDATE mojob.settings
               SET default_pre_roll = NEW.default_pre_roll,
                   default_post_roll = NEW.default_post_roll,
                   default_state = NEW.default_state,
                   job_code_pattern = NEW.job_code_pattern,
                   validation_horizon = NEW.validation_horizon,
                   lock_timeout = NEW.lock_timeout;
            RETURN NULL;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'mojob.settings must keep its one row'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'mojob reads its settings from that row.',
              HINT = 'Change settings with UPDATE mojob.settings SET ...';
END
$$;
COMMENT ON FUNCTION mojob.settings_guard() IS
    'Trigger keeping mojob.settings at exactly one row, and refusing (22023) a duration setting mojob cannot use';

DROP TRIGGER settings_guard ON mojob.settings;
CREATE TRIGGER settings_guard BEFORE INSERT OR UPDATE OR DELETE ON mojob.settings
    FOR EACH ROW EXECUTE FUNCTION mojob.settings_guard();
