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

-- Starting and stopping are never held by an edit lock: the ops board's
-- can_start and can_stop no longer look at it.
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
                    OR NOT EXISTS (SELECT FROM mojob.job_resource n JOIN mojob.resource r ON r.id = n.resource_id
                                   WHERE n.job_id = j.id AND NOT r.enabled
                                   OFFSET 0)) AS can_reserve,     -- OFFSET 0: a probe per job, never a hash of all nodes
           mojob.action_open('confirm', j.state) AND NOT j.locked_other
               AND NOT EXISTS (SELECT FROM mojob.job_resource n
                               WHERE n.job_id = j.id AND n.resource_id IS NULL
                               OFFSET 0) AS can_confirm,
           mojob.action_open('unconfirm', j.state) AND NOT j.locked_other AS can_unconfirm,
           -- (1.1) Starting and stopping are never held by an edit lock.
           mojob.action_open('start', j.state) AS can_start,
           mojob.action_open('stop', j.state)
               AND j.start_at < now() AS can_stop,
           mojob.action_open('cancel', j.state) AND NOT j.locked_other AS can_cancel
    FROM (
        -- k: each board's order (active by end, upcoming by start, completed
        -- newest first), one column, so that with board fixed by the query
        -- (board = 'upcoming') the order is k, id, which the upcoming
        -- branch can read from the index job_upcoming in order, with no
        -- sort.  That branch shows start_at as the expression the index is on.
        SELECT 'active'::mojob.board AS board, j.end_at AS k,
               coalesce(j.locked_until > now() AND j.locked_by <> (SELECT mojob.acting_user()), false) AS locked_other,
               j.*
        FROM mojob.job j
        WHERE j.state = ANY (mojob.board_states('active'))
        UNION ALL
        (SELECT 'upcoming', CASE WHEN j.state = ANY (mojob.board_states('upcoming')) THEN j.start_at END,
               coalesce(j.locked_until > now() AND j.locked_by <> (SELECT mojob.acting_user()), false),
               j.id, j.code, j.name, j.description, j.priority, j.state, j.pre_roll_start,
               CASE WHEN j.state = ANY (mojob.board_states('upcoming')) THEN j.start_at END AS start_at,
               j.end_at, j.post_roll_end, j.canceled_at, j.cancel_reason, j.owner,
               j.properties, j.version, j.created_at, j.created_by, j.updated_at,
               j.locked_by, j.locked_until, j.recurrence_id
         FROM mojob.job j
         WHERE j.state = ANY (mojob.board_states('upcoming'))
         ORDER BY 2, j.id)
        UNION ALL
        SELECT 'completed', mojob.time_desc(j.end_at),
               coalesce(j.locked_until > now() AND j.locked_by <> (SELECT mojob.acting_user()), false),
               j.*
        FROM mojob.job j
        WHERE j.state = ANY (mojob.board_states('completed'))
    ) j
    -- Is any resource disabled (index resource_disabled)?  Asked once a query.
    CROSS JOIN (SELECT EXISTS (SELECT FROM mojob.resource r WHERE NOT r.enabled) AS any_disabled) d
    ORDER BY j.board, j.k, j.id;

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
CREATE TRIGGER mojob_guard_recheck AFTER INSERT OR UPDATE ON mojob.job_resource
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
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
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
                             x.resource_id, x.len, coalesce(x.longest::text, 'nothing')),
                      '; ' ORDER BY x.resource_id) FILTER (WHERE x.k <= 5)
    FROM (SELECT m.resource_id, m.len, l.longest, row_number() OVER (ORDER BY m.resource_id) AS k
          FROM (SELECT b.resource_id, max(upper(b.held) - lower(b.held)) AS len
                FROM mojob.booking b GROUP BY b.resource_id) m
          LEFT JOIN mojob.booking_longest l ON l.resource_id = m.resource_id
          WHERE l.longest IS NULL OR l.longest < m.len) x
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
ORDER BY f.k
$$;
COMMENT ON FUNCTION mojob.verify() IS
    'Check every invariant mojob keeps (settings row, bookings as the jobs and nodes derive them, booking_longest, no over-booking and no disabled resource held from now on, history ending in each job''s state): one row per check, with what is wrong';

CREATE FUNCTION mojob.rebuild_bookings() RETURNS integer
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_rebuild_bookings';
COMMENT ON FUNCTION mojob.rebuild_bookings() IS
    'The owner''s: rebuild mojob.booking and mojob.booking_longest from the jobs and their nodes (after a restore made with triggers disabled); returns how many bookings it added, fixed or removed; refuses (MJ005) an over-booking';
