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
