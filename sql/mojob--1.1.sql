-- mojob 1.1: the life cycle of media-operations jobs, enforced by the database.
\echo Use "CREATE EXTENSION mojob" to load this file. \quit

-- ---------------------------------------------------------------------
-- Types
-- ---------------------------------------------------------------------

CREATE TYPE mojob.job_state AS ENUM
    ('draft', 'tentative', 'confirmed', 'running', 'completed', 'canceled');
COMMENT ON TYPE mojob.job_state IS
    'The life cycle of a job; SELECT * FROM mojob.state_transitions shows how it moves';

CREATE TYPE mojob.job_priority AS ENUM ('low', 'normal', 'high');
COMMENT ON TYPE mojob.job_priority IS 'How much a job matters to the operators';

-- ---------------------------------------------------------------------
-- Settings
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.job_code_preview(pattern text, seq bigint DEFAULT 1,
                                       at timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_job_code_preview';
COMMENT ON FUNCTION mojob.job_code_preview(text, bigint, timestamptz) IS
    'The job code a pattern gives for counter value seq on the date of at (default now()); raises 22023 for an invalid pattern';

CREATE TABLE mojob.settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    default_pre_roll interval NOT NULL DEFAULT '0'
        CHECK (default_pre_roll >= '0'),
    default_post_roll interval NOT NULL DEFAULT '0'
        CHECK (default_post_roll >= '0'),
    default_state mojob.job_state NOT NULL DEFAULT 'draft'
        CHECK (default_state IN ('draft', 'tentative')),
    job_code_pattern text NOT NULL DEFAULT 'JOB-{seq:6}'
        CHECK (mojob.job_code_preview(job_code_pattern) IS NOT NULL),
    validation_horizon interval NOT NULL DEFAULT '60 minutes'
        CHECK (validation_horizon >= '0'),
    lock_timeout interval NOT NULL DEFAULT '15 minutes'
        CHECK (lock_timeout > '0')
);
COMMENT ON TABLE mojob.settings IS
    'mojob''s settings: one row, changed with UPDATE mojob.settings SET ...';
COMMENT ON COLUMN mojob.settings.singleton IS 'Always true: the table has one row';
COMMENT ON COLUMN mojob.settings.default_pre_roll IS
    'Set-up time before start_at given to new jobs that name none';
COMMENT ON COLUMN mojob.settings.default_post_roll IS
    'Tear-down time after end_at given to new jobs that name none';
COMMENT ON COLUMN mojob.settings.default_state IS
    'The state new jobs are created in when none is named: draft or tentative';
COMMENT ON COLUMN mojob.settings.job_code_pattern IS
    'How job codes are made: {seq} or {seq:N} (the counter, N digits), {YYYY}, {MM}, {DD} (creation date, UTC)';
COMMENT ON COLUMN mojob.settings.validation_horizon IS
    'A draft or tentative job starting within this time shows the error NOT_CONFIRMED';
COMMENT ON COLUMN mojob.settings.lock_timeout IS
    'How long an edit lock taken with mojob.lock_job() lasts';

INSERT INTO mojob.settings DEFAULT VALUES;

-- One row, always: a restore (COPY of the dumped row) updates the row the
-- extension made instead of adding a second; the row cannot be deleted.
CREATE FUNCTION mojob.settings_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
    'Trigger keeping mojob.settings at exactly one row';

CREATE TRIGGER settings_guard BEFORE INSERT OR DELETE ON mojob.settings
    FOR EACH ROW EXECUTE FUNCTION mojob.settings_guard();
CREATE TRIGGER settings_guard_truncate BEFORE TRUNCATE ON mojob.settings
    FOR EACH STATEMENT EXECUTE FUNCTION mojob.settings_guard();

-- ---------------------------------------------------------------------
-- Resources and pools
-- ---------------------------------------------------------------------

CREATE SEQUENCE mojob.resource_id_seq;
COMMENT ON SEQUENCE mojob.resource_id_seq IS 'Ids of mojob.resource';

CREATE TABLE mojob.resource (
    id bigint PRIMARY KEY DEFAULT nextval('mojob.resource_id_seq'),
    name text NOT NULL UNIQUE CHECK (name <> ''),
    concurrency integer NOT NULL DEFAULT 1 CHECK (concurrency >= 1),
    capacity numeric CHECK (capacity >= 0 AND capacity < 'Infinity'),
    capabilities text[] NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    properties jsonb NOT NULL DEFAULT '{}'
);
ALTER SEQUENCE mojob.resource_id_seq OWNED BY mojob.resource.id;
COMMENT ON TABLE mojob.resource IS
    'What jobs book: studios, cameras, encoders, links, crews';
COMMENT ON COLUMN mojob.resource.id IS 'The resource';
COMMENT ON COLUMN mojob.resource.name IS 'Unique name';
COMMENT ON COLUMN mojob.resource.concurrency IS
    'How many jobs may hold the resource at the same instant';
COMMENT ON COLUMN mojob.resource.capacity IS
    'The most that the amounts of the jobs holding it at one instant may add up to; NULL = unlimited';
COMMENT ON COLUMN mojob.resource.capabilities IS
    'Qualities a pool node may require, such as ''uhd''';
COMMENT ON COLUMN mojob.resource.enabled IS
    'A disabled resource cannot be reserved; jobs using it show RESOURCE_UNAVAILABLE';
COMMENT ON COLUMN mojob.resource.properties IS 'Free metadata';
-- The few disabled resources, for the error RESOURCE_UNAVAILABLE.
CREATE INDEX resource_disabled ON mojob.resource (id) WHERE NOT enabled;

CREATE SEQUENCE mojob.pool_id_seq;
COMMENT ON SEQUENCE mojob.pool_id_seq IS 'Ids of mojob.pool';

CREATE TABLE mojob.pool (
    id bigint PRIMARY KEY DEFAULT nextval('mojob.pool_id_seq'),
    name text NOT NULL UNIQUE CHECK (name <> '')
);
ALTER SEQUENCE mojob.pool_id_seq OWNED BY mojob.pool.id;
COMMENT ON TABLE mojob.pool IS 'A named group of interchangeable resources';
COMMENT ON COLUMN mojob.pool.id IS 'The pool';
COMMENT ON COLUMN mojob.pool.name IS 'Unique name';

CREATE TABLE mojob.pool_member (
    pool_id bigint NOT NULL REFERENCES mojob.pool ON DELETE CASCADE,
    resource_id bigint NOT NULL REFERENCES mojob.resource ON DELETE CASCADE,
    PRIMARY KEY (pool_id, resource_id)
);
CREATE INDEX ON mojob.pool_member (resource_id);
COMMENT ON TABLE mojob.pool_member IS
    'Which resources are in which pools; a resource may be in several';
COMMENT ON COLUMN mojob.pool_member.pool_id IS 'The pool';
COMMENT ON COLUMN mojob.pool_member.resource_id IS 'A resource in it';

-- ---------------------------------------------------------------------
-- Jobs
-- ---------------------------------------------------------------------

-- ---------------------------------------------------------------------
-- Recurrences
-- ---------------------------------------------------------------------

CREATE SEQUENCE mojob.recurrence_id_seq;
COMMENT ON SEQUENCE mojob.recurrence_id_seq IS 'Ids of mojob.recurrence';

CREATE TABLE mojob.recurrence (
    id bigint PRIMARY KEY DEFAULT nextval('mojob.recurrence_id_seq'),
    template_job bigint NOT NULL,
    rule text NOT NULL,
    time_zone text NOT NULL,
    -- at least a day: the scheduler extends recurrences once a day
    horizon interval NOT NULL DEFAULT '1 year' CHECK (horizon >= '1 day'),
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'canceled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    canceled_at timestamptz,
    cancel_reason text,
    dtstart timestamptz NOT NULL,
    extended_until timestamptz NOT NULL,
    instance_state mojob.job_state NOT NULL DEFAULT 'draft'
        CHECK (instance_state IN ('draft', 'tentative')),
    CONSTRAINT recurrence_canceled_at CHECK ((state = 'canceled') = (canceled_at IS NOT NULL))
);
ALTER SEQUENCE mojob.recurrence_id_seq OWNED BY mojob.recurrence.id;
COMMENT ON TABLE mojob.recurrence IS
    'Recurring jobs: a job repeated by an RFC 5545 rule in a time zone; made and canceled with mojob.make_recurring() and mojob.cancel_recurrence()';
COMMENT ON COLUMN mojob.recurrence.id IS 'The recurrence';
COMMENT ON COLUMN mojob.recurrence.template_job IS
    'The job made recurring: its first instance, whose fields later instances copy (the latest instance once it is deleted)';
COMMENT ON COLUMN mojob.recurrence.rule IS 'The RFC 5545 RRULE, such as FREQ=WEEKLY;BYDAY=SA';
COMMENT ON COLUMN mojob.recurrence.time_zone IS 'The time zone whose wall-clock time the rule follows';
COMMENT ON COLUMN mojob.recurrence.horizon IS 'Instances are created up to now() + horizon (at least a day)';
COMMENT ON COLUMN mojob.recurrence.state IS 'active or canceled';
COMMENT ON COLUMN mojob.recurrence.created_at IS 'When it was made';
COMMENT ON COLUMN mojob.recurrence.created_by IS 'Who made it (the acting user)';
COMMENT ON COLUMN mojob.recurrence.canceled_at IS 'When it was canceled';
COMMENT ON COLUMN mojob.recurrence.cancel_reason IS 'Why, as given to mojob.cancel_recurrence()';
COMMENT ON COLUMN mojob.recurrence.dtstart IS 'The first instance''s start: where the rule is expanded from (set by mojob)';
COMMENT ON COLUMN mojob.recurrence.extended_until IS 'Instances exist for the occurrences before this instant (set by mojob)';
COMMENT ON COLUMN mojob.recurrence.instance_state IS
    'The state new instances are created in: the template''s when it was made recurring (set by mojob)';

CREATE SEQUENCE mojob.job_id_seq;
COMMENT ON SEQUENCE mojob.job_id_seq IS 'Ids of mojob.job';
CREATE SEQUENCE mojob.job_code_seq;
COMMENT ON SEQUENCE mojob.job_code_seq IS
    'The counter {seq} of mojob.settings.job_code_pattern';

CREATE TABLE mojob.job (
    id bigint PRIMARY KEY DEFAULT nextval('mojob.job_id_seq'),
    code text NOT NULL UNIQUE,
    name text NOT NULL CHECK (name <> ''),
    description text,
    priority mojob.job_priority NOT NULL DEFAULT 'normal',
    state mojob.job_state NOT NULL,
    pre_roll_start timestamptz NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    post_roll_end timestamptz NOT NULL,
    canceled_at timestamptz,
    cancel_reason text,
    owner text,
    properties jsonb NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    locked_by text,
    locked_until timestamptz,
    recurrence_id bigint REFERENCES mojob.recurrence,
    CONSTRAINT job_window_order CHECK
        (pre_roll_start <= start_at AND start_at < end_at AND end_at <= post_roll_end),
    CONSTRAINT job_window_finite CHECK
        (isfinite(pre_roll_start) AND isfinite(post_roll_end)),
    CONSTRAINT job_canceled_at CHECK ((state = 'canceled') = (canceled_at IS NOT NULL)),
    CONSTRAINT job_lock CHECK ((locked_by IS NULL) = (locked_until IS NULL))
);
ALTER SEQUENCE mojob.job_id_seq OWNED BY mojob.job.id;

COMMENT ON TABLE mojob.job IS
    'Jobs: a match, a show, a feed, booking resources for a window of time. Every write is checked by the trigger zz_mojob_guard';
COMMENT ON COLUMN mojob.job.id IS 'The job';
COMMENT ON COLUMN mojob.job.code IS
    'Unique code made from mojob.settings.job_code_pattern when the job is created; never changes';
COMMENT ON COLUMN mojob.job.name IS 'Title, not unique (metadata)';
COMMENT ON COLUMN mojob.job.description IS 'Free text (metadata)';
COMMENT ON COLUMN mojob.job.priority IS 'low, normal or high (metadata)';
COMMENT ON COLUMN mojob.job.state IS
    'Where the job is in its life cycle; changes only along mojob.state_transitions';
COMMENT ON COLUMN mojob.job.pre_roll_start IS
    'Set-up begins: the resources are held from here';
COMMENT ON COLUMN mojob.job.start_at IS 'The job begins: a confirmed job starts running';
COMMENT ON COLUMN mojob.job.end_at IS 'The job ends: a running job completes';
COMMENT ON COLUMN mojob.job.post_roll_end IS
    'Tear-down ends: the resources are held until here (exclusive)';
COMMENT ON COLUMN mojob.job.canceled_at IS 'When the job was canceled (set by mojob)';
COMMENT ON COLUMN mojob.job.cancel_reason IS 'Why it was canceled, as given to mojob.cancel()';
COMMENT ON COLUMN mojob.job.owner IS 'Who is responsible for the job (metadata)';
COMMENT ON COLUMN mojob.job.properties IS 'Free metadata; changes no logic';
COMMENT ON COLUMN mojob.job.version IS 'Starts at 1, bumped by every change to the row (set by mojob)';
COMMENT ON COLUMN mojob.job.created_at IS 'When the job was created (set by mojob)';
COMMENT ON COLUMN mojob.job.created_by IS
    'Who created it: mojob.actor, else session_user (set by mojob)';
COMMENT ON COLUMN mojob.job.updated_at IS 'When the row last changed (set by mojob)';
COMMENT ON COLUMN mojob.job.locked_by IS 'Who holds the edit lock, if anyone';
COMMENT ON COLUMN mojob.job.locked_until IS 'When the edit lock lapses';
COMMENT ON COLUMN mojob.job.recurrence_id IS 'The recurrence this job is an instance of, if any';

-- Due times, found by the scheduler and mojob.advance() without a scan.
CREATE INDEX job_start_due ON mojob.job (start_at) WHERE state = 'confirmed';
CREATE INDEX job_end_due ON mojob.job (end_at) WHERE state = 'running';
CREATE INDEX job_window ON mojob.job (start_at, end_at);
CREATE INDEX job_recurrence ON mojob.job (recurrence_id, start_at) WHERE recurrence_id IS NOT NULL;

-- No foreign key to mojob.job: every UPDATE of a job would pay its check;
-- the guard deletes an instance's row when it deletes the instance.
CREATE TABLE mojob.recurrence_conflict (
    job_id bigint PRIMARY KEY
);
COMMENT ON TABLE mojob.recurrence_conflict IS
    'Instances of a recurrence created as drafts because their resources were taken (the error RECURRENCE_CONFLICT while they stay draft)';
COMMENT ON COLUMN mojob.recurrence_conflict.job_id IS 'The instance';

CREATE FUNCTION mojob.job_guard() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_job_guard';
COMMENT ON FUNCTION mojob.job_guard() IS
    'Trigger enforcing the life cycle on every INSERT, UPDATE and DELETE of mojob.job';

-- Named to sort last, so it sees the row as the other BEFORE triggers left it.
CREATE TRIGGER zz_mojob_guard BEFORE INSERT OR UPDATE OR DELETE ON mojob.job
    FOR EACH ROW EXECUTE FUNCTION mojob.job_guard();

-- ---------------------------------------------------------------------
-- Nodes: the resources a job uses
-- ---------------------------------------------------------------------

CREATE SEQUENCE mojob.job_resource_id_seq;
COMMENT ON SEQUENCE mojob.job_resource_id_seq IS 'Ids of mojob.job_resource';

CREATE TABLE mojob.job_resource (
    id bigint PRIMARY KEY DEFAULT nextval('mojob.job_resource_id_seq'),
    job_id bigint NOT NULL REFERENCES mojob.job ON DELETE CASCADE,
    resource_id bigint REFERENCES mojob.resource,
    pool_id bigint REFERENCES mojob.pool,
    alias text,
    amount numeric NOT NULL DEFAULT 0 CHECK (amount >= 0 AND amount < 'Infinity'),
    required_capabilities text[] NOT NULL DEFAULT '{}',
    held_from timestamptz,
    held_until timestamptz,
    CONSTRAINT job_resource_once UNIQUE (job_id, resource_id),
    CONSTRAINT job_resource_what CHECK (resource_id IS NOT NULL OR pool_id IS NOT NULL),
    CONSTRAINT job_resource_held CHECK (held_from < held_until)
);
ALTER SEQUENCE mojob.job_resource_id_seq OWNED BY mojob.job_resource.id;
CREATE INDEX ON mojob.job_resource (resource_id);
CREATE INDEX job_resource_unresolved ON mojob.job_resource (job_id) WHERE resource_id IS NULL;
COMMENT ON TABLE mojob.job_resource IS
    'A job''s nodes: the resources it uses, or pool slots still to be filled';
COMMENT ON COLUMN mojob.job_resource.id IS 'The node';
COMMENT ON COLUMN mojob.job_resource.job_id IS 'The job';
COMMENT ON COLUMN mojob.job_resource.resource_id IS
    'The resource; NULL for a pool node not yet resolved';
COMMENT ON COLUMN mojob.job_resource.pool_id IS 'The pool a pool node is filled from';
COMMENT ON COLUMN mojob.job_resource.alias IS 'The node''s role in the job, such as ''main camera''';
COMMENT ON COLUMN mojob.job_resource.amount IS 'Capacity of the resource the node uses';
COMMENT ON COLUMN mojob.job_resource.required_capabilities IS
    'Capabilities a resource must have to fill the node';
COMMENT ON COLUMN mojob.job_resource.held_from IS
    'When the node starts holding its resource; NULL = the job''s pre_roll_start';
COMMENT ON COLUMN mojob.job_resource.held_until IS
    'When the node stops holding its resource; NULL = the job''s post_roll_end';

CREATE FUNCTION mojob.node_guard() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_node_guard';
COMMENT ON FUNCTION mojob.node_guard() IS
    'Trigger applying the job''s state rules to its nodes and booking the nodes of holding jobs';
CREATE TRIGGER zz_mojob_node_guard BEFORE INSERT OR UPDATE OR DELETE ON mojob.job_resource
    FOR EACH ROW EXECUTE FUNCTION mojob.node_guard();

-- ---------------------------------------------------------------------
-- Bookings: the windows holding nodes hold their resources for
-- ---------------------------------------------------------------------

-- Kept by the triggers from mojob.job and mojob.job_resource, so it is not
-- dumped: a restore rebuilds it (and checks it) as the nodes are inserted.
CREATE TABLE mojob.booking (
    node_id bigint PRIMARY KEY,
    job_id bigint NOT NULL,
    resource_id bigint NOT NULL,
    held tstzrange NOT NULL CHECK (NOT isempty(held)),
    amount numeric NOT NULL
);
CREATE INDEX booking_resource_held ON mojob.booking USING gist (resource_id, held);
-- The checks read a resource's bookings by start, from the window's start
-- less the longest booking the resource has (mojob.booking_longest): a
-- B-tree range, much cheaper than a GiST lookup.  The GiST index serves the
-- views.  No index on job_id: a job's bookings are found through its nodes.
CREATE INDEX booking_resource_start ON mojob.booking (resource_id, lower(held));

-- Kept with mojob.booking (and, like it, not dumped): for each resource, at
-- least the length of its longest booking.  It only grows.
CREATE TABLE mojob.booking_longest (
    resource_id bigint PRIMARY KEY,
    longest interval NOT NULL
);
COMMENT ON TABLE mojob.booking_longest IS
    'For each resource, at least the length of its longest booking: how far back from a window the checks read bookings by start';
COMMENT ON COLUMN mojob.booking_longest.resource_id IS 'The resource';
COMMENT ON COLUMN mojob.booking_longest.longest IS
    'No booking of the resource has been longer (it only grows)';
COMMENT ON TABLE mojob.booking IS
    'Where the nodes of holding jobs hold their resources; kept by mojob''s triggers, read by the checks';
COMMENT ON COLUMN mojob.booking.node_id IS 'The node (mojob.job_resource.id)';
COMMENT ON COLUMN mojob.booking.job_id IS 'Its job';
COMMENT ON COLUMN mojob.booking.resource_id IS 'The resource held';
COMMENT ON COLUMN mojob.booking.held IS 'The window it is held for, [from, until)';
COMMENT ON COLUMN mojob.booking.amount IS 'The capacity it uses';

CREATE FUNCTION mojob.resource_guard() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_resource_guard';
COMMENT ON FUNCTION mojob.resource_guard() IS
    'Trigger refusing resource changes that would over-book a window that has not ended, and deleting a used resource';
CREATE TRIGGER zz_mojob_resource_guard BEFORE UPDATE OR DELETE ON mojob.resource
    FOR EACH ROW EXECUTE FUNCTION mojob.resource_guard();

-- ---------------------------------------------------------------------
-- History
-- ---------------------------------------------------------------------

CREATE SEQUENCE mojob.job_event_id_seq;
COMMENT ON SEQUENCE mojob.job_event_id_seq IS 'Ids of mojob.job_event';

CREATE TABLE mojob.job_event (
    id bigint PRIMARY KEY DEFAULT nextval('mojob.job_event_id_seq'),
    job_id bigint NOT NULL,
    from_state mojob.job_state NOT NULL,
    to_state mojob.job_state NOT NULL,
    at timestamptz NOT NULL,
    by_user text NOT NULL,
    cause text NOT NULL CHECK (cause IN ('user', 'time')),
    reason text
);
ALTER SEQUENCE mojob.job_event_id_seq OWNED BY mojob.job_event.id;
CREATE INDEX job_event_job_id_id_idx ON mojob.job_event (job_id, id);
COMMENT ON TABLE mojob.job_event IS
    'History: one row per state transition, written by mojob; kept when the job is deleted';
COMMENT ON COLUMN mojob.job_event.id IS 'Increasing: orders the transitions';
COMMENT ON COLUMN mojob.job_event.job_id IS 'The job (which may since have been deleted)';
COMMENT ON COLUMN mojob.job_event.from_state IS 'State before';
COMMENT ON COLUMN mojob.job_event.to_state IS 'State after';
COMMENT ON COLUMN mojob.job_event.at IS
    'Clock time at which the transition was made (not the due time: lateness can be read from it)';
COMMENT ON COLUMN mojob.job_event.by_user IS 'The acting user: mojob.actor, else session_user';
COMMENT ON COLUMN mojob.job_event.cause IS 'user (a function or an UPDATE) or time (start or end reached)';
COMMENT ON COLUMN mojob.job_event.reason IS 'The cancel reason, for cancellations';

CREATE FUNCTION mojob.internal_guard() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_internal_guard';
COMMENT ON FUNCTION mojob.internal_guard() IS
    'Statement trigger letting only mojob (and the tables'' owner) write the tables mojob keeps for itself, and only the owner truncate mojob.job, mojob.job_resource and mojob.resource';
CREATE TRIGGER mojob_internal_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON mojob.job_event FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
CREATE TRIGGER mojob_internal_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON mojob.booking FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
CREATE TRIGGER mojob_internal_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON mojob.booking_longest FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
CREATE TRIGGER mojob_internal_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON mojob.recurrence_conflict FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
-- TRUNCATE fires no row trigger: only the owner may truncate the tables the
-- row triggers guard.
CREATE TRIGGER mojob_truncate_guard BEFORE TRUNCATE
    ON mojob.job FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
CREATE TRIGGER mojob_truncate_guard BEFORE TRUNCATE
    ON mojob.job_resource FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
CREATE TRIGGER mojob_truncate_guard BEFORE TRUNCATE
    ON mojob.resource FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
-- Recurrences change through mojob's functions (which write them in the
-- caller's name), not by hand.
CREATE TRIGGER mojob_internal_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON mojob.recurrence FOR EACH STATEMENT EXECUTE FUNCTION mojob.internal_guard();
-- The guards are mojob's: nobody else may attach them to a table (they also
-- refuse to fire on any table but mojob's own).
REVOKE EXECUTE ON FUNCTION mojob.settings_guard(), mojob.job_guard(), mojob.node_guard(),
    mojob.resource_guard(), mojob.internal_guard() FROM PUBLIC;

-- ---------------------------------------------------------------------
-- The state graph
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.state_graph(OUT from_state mojob.job_state, OUT to_state mojob.job_state,
                                  OUT cause text, OUT function text)
RETURNS SETOF record
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 9
AS 'MODULE_PATHNAME', 'mojob_state_graph';
COMMENT ON FUNCTION mojob.state_graph() IS
    'The transition table compiled into mojob, the one the trigger checks';

CREATE VIEW mojob.state_transitions AS
    SELECT from_state, to_state, cause, function FROM mojob.state_graph();
COMMENT ON VIEW mojob.state_transitions IS
    'Every allowed transition and what makes it; read from the same C table the trigger checks';
COMMENT ON COLUMN mojob.state_transitions.from_state IS 'State before';
COMMENT ON COLUMN mojob.state_transitions.to_state IS 'State after';
COMMENT ON COLUMN mojob.state_transitions.cause IS 'user or time';
COMMENT ON COLUMN mojob.state_transitions.function IS 'The call that makes it';

CREATE FUNCTION mojob.state_color(mojob.job_state) RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_state_color';
COMMENT ON FUNCTION mojob.state_color(mojob.job_state) IS
    'The colour a state is drawn in, as #RRGGBB';

-- The ops board's columns, in the order the board shows them.  An enum
-- rather than text: a misspelt board is an error, not an empty board, and
-- the board sorts by it (see mojob.ops_board).
CREATE TYPE mojob.board AS ENUM ('active', 'upcoming', 'completed');
COMMENT ON TYPE mojob.board IS
    'An ops board column: active (running), upcoming (not started) or completed, in that order';

CREATE FUNCTION mojob.state_board(mojob.job_state) RETURNS mojob.board
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_state_board';
COMMENT ON FUNCTION mojob.state_board(mojob.job_state) IS
    'The ops board column a state is shown in: active, upcoming or completed; NULL for canceled';

-- ---------------------------------------------------------------------
-- Job functions
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.create_job(name text, start_at timestamptz, end_at timestamptz,
                                 pre_roll interval DEFAULT NULL, post_roll interval DEFAULT NULL,
                                 state mojob.job_state DEFAULT NULL, resources bigint[] DEFAULT '{}',
                                 description text DEFAULT NULL,
                                 priority mojob.job_priority DEFAULT 'normal',
                                 properties jsonb DEFAULT '{}')
RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_create_job';
COMMENT ON FUNCTION mojob.create_job(text, timestamptz, timestamptz, interval, interval,
                                     mojob.job_state, bigint[], text, mojob.job_priority, jsonb) IS
    'Create a job in draft (or tentative, by state or mojob.settings.default_state) using the given resources; NULL rolls take the settings'' defaults';

CREATE FUNCTION mojob.create_job_for_resource(resource bigint, name text, start_at timestamptz,
                                              end_at timestamptz, pre_roll interval DEFAULT NULL,
                                              post_roll interval DEFAULT NULL)
RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_create_job_for_resource';
COMMENT ON FUNCTION mojob.create_job_for_resource(bigint, text, timestamptz, timestamptz,
                                                  interval, interval) IS
    'Create a tentative job holding one resource, as from a row of the resource view';

CREATE FUNCTION mojob.reserve(job bigint) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_reserve';
COMMENT ON FUNCTION mojob.reserve(bigint) IS
    'draft -> tentative: reserve the job''s resources';

CREATE FUNCTION mojob.confirm(job bigint) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_confirm';
COMMENT ON FUNCTION mojob.confirm(bigint) IS
    'tentative -> confirmed; a job whose start has passed runs at once';

CREATE FUNCTION mojob.unconfirm(job bigint) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_unconfirm';
COMMENT ON FUNCTION mojob.unconfirm(bigint) IS 'confirmed -> tentative';

CREATE FUNCTION mojob.start(job bigint) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_start';
COMMENT ON FUNCTION mojob.start(bigint) IS
    'confirmed -> running now: start_at moves to now() if it was later';

CREATE FUNCTION mojob.stop(job bigint) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_stop';
COMMENT ON FUNCTION mojob.stop(bigint) IS
    'running -> completed now: end_at moves to now() if it was later, the post-roll keeps its length';

CREATE FUNCTION mojob.cancel(job bigint, reason text DEFAULT NULL) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_cancel';
COMMENT ON FUNCTION mojob.cancel(bigint, text) IS
    'tentative or confirmed -> canceled: release the resources, record the reason';

CREATE FUNCTION mojob.reschedule(job bigint, start_at timestamptz, end_at timestamptz,
                                 pre_roll interval DEFAULT NULL, post_roll interval DEFAULT NULL)
RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_reschedule';
COMMENT ON FUNCTION mojob.reschedule(bigint, timestamptz, timestamptz, interval, interval) IS
    'Move a job''s window; a NULL roll keeps the job''s current roll length';

CREATE FUNCTION mojob.delete_job(job bigint) RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_delete_job';
COMMENT ON FUNCTION mojob.delete_job(bigint) IS
    'Delete a draft, completed or canceled job; its history stays';

CREATE FUNCTION mojob.advance(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_advance';
COMMENT ON FUNCTION mojob.advance(timestamptz) IS
    'Make every time transition due at "at" (start and end reached); returns how many were made';

-- ---------------------------------------------------------------------
-- Node and resource functions
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.add_resource(job bigint, resource bigint, amount numeric DEFAULT 0,
                                   alias text DEFAULT NULL)
RETURNS mojob.job_resource
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_add_resource';
COMMENT ON FUNCTION mojob.add_resource(bigint, bigint, numeric, text) IS
    'Add a node using a resource (and an amount of its capacity) to a job; a holding job books it at once';

CREATE FUNCTION mojob.add_pool_node(job bigint, pool bigint, alias text DEFAULT NULL,
                                    required_capabilities text[] DEFAULT '{}')
RETURNS mojob.job_resource
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_add_pool_node';
COMMENT ON FUNCTION mojob.add_pool_node(bigint, bigint, text, text[]) IS
    'Add a node to be filled later from a pool, by a resource with the required capabilities';

CREATE FUNCTION mojob.assign_node(node bigint, resource bigint)
RETURNS mojob.job_resource
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_assign_node';
COMMENT ON FUNCTION mojob.assign_node(bigint, bigint) IS
    'Fill a node with a resource (of its pool, with its capabilities); a holding job books it at once';

CREATE FUNCTION mojob.remove_resource(job bigint, resource bigint) RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_remove_resource';
COMMENT ON FUNCTION mojob.remove_resource(bigint, bigint) IS
    'Stop using a resource: its node is deleted, or on a running job its hold ends now';

CREATE FUNCTION mojob.swap_resource(job bigint, old_resource bigint, new_resource bigint)
RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_swap_resource';
COMMENT ON FUNCTION mojob.swap_resource(bigint, bigint, bigint) IS
    'Replace a resource in a job; on a running job the old one is freed from now and the new one held from now';

CREATE FUNCTION mojob.resource_usage(resource bigint, during tstzrange,
                                     OUT jobs integer, OUT amount numeric)
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'mojob_resource_usage';
COMMENT ON FUNCTION mojob.resource_usage(bigint, tstzrange) IS
    'The most jobs holding a resource at one instant of a window, and the largest sum of their amounts';

CREATE FUNCTION mojob.free_resources(during tstzrange, pool bigint DEFAULT NULL,
                                     capabilities text[] DEFAULT '{}')
RETURNS SETOF mojob.resource
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
    IF capabilities IS NULL OR array_position(capabilities, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'capabilities must not be NULL or contain NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass ''{}'' for no requirement.';
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
COMMENT ON FUNCTION mojob.free_resources(tstzrange, bigint, text[]) IS
    'Enabled resources that can take one more booking over the whole window, in the pool, with all the capabilities';

-- ---------------------------------------------------------------------
-- Edit locks and duplicates
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.lock_job(job bigint, force boolean DEFAULT false) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_lock_job';
COMMENT ON FUNCTION mojob.lock_job(bigint, boolean) IS
    'Take the job''s edit lock for the acting user until mojob.settings.lock_timeout passes; force takes it over from another user';

CREATE FUNCTION mojob.unlock_job(job bigint) RETURNS mojob.job
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_unlock_job';
COMMENT ON FUNCTION mojob.unlock_job(bigint) IS
    'Release the acting user''s edit lock on the job (or a lapsed one)';

CREATE FUNCTION mojob.duplicate(job bigint, start_at timestamptz DEFAULT NULL) RETURNS mojob.job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o mojob.job;
    n mojob.job;
    start timestamptz;
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job must not be null'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'duplicate() was called with job => NULL.',
                  HINT = 'mojob''s functions refuse NULL where they need a value; pass one.';
    END IF;
    SELECT * INTO o FROM mojob.job j WHERE j.id = duplicate.job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', job
            USING ERRCODE = 'MJ404',
                  DETAIL = format('No row of mojob.job has id %s.', job),
                  HINT = 'Look it up in mojob.job_search.';
    END IF;
    start := coalesce(duplicate.start_at, o.start_at);
    -- Lengths are kept exactly, in seconds, whatever daylight saving does.
    n := mojob.create_job(
        o.name, start,
        start + interval '1 second' * extract(epoch FROM o.end_at - o.start_at),
        interval '1 second' * extract(epoch FROM o.start_at - o.pre_roll_start),
        interval '1 second' * extract(epoch FROM o.post_roll_end - o.end_at),
        'draft', '{}', o.description, o.priority, o.properties);
    INSERT INTO mojob.job_resource (job_id, resource_id, pool_id, alias, amount, required_capabilities)
        SELECT n.id, r.resource_id, r.pool_id, r.alias, r.amount, r.required_capabilities
        FROM mojob.job_resource r
        WHERE r.job_id = o.id AND (r.held_until IS NULL OR r.held_until > now())
        ORDER BY r.id;
    RETURN n;
END
$$;
COMMENT ON FUNCTION mojob.duplicate(bigint, timestamptz) IS
    'A new draft with its own code and the same name, length, rolls, nodes, description, priority and properties, starting at start_at (default the original''s start); no lock, no history';

-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

-- Jobs not finished (the only ones that can have errors), by start: the
-- Error overlay reads it, and mojob.job_search's has_error tests the same
-- states first so that "with errors, starting before t" reads these jobs
-- only, not every job before t (the upcoming board has its own index,
-- job_upcoming, below).
CREATE INDEX job_unfinished ON mojob.job (start_at)
    WHERE state IN ('draft', 'tentative', 'confirmed', 'running');
CREATE INDEX job_by_end ON mojob.job (end_at) WHERE state IN ('running', 'completed');

CREATE FUNCTION mojob.board_states(board mojob.board) RETURNS mojob.job_state[]
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_board_states';
COMMENT ON FUNCTION mojob.board_states(mojob.board) IS
    'The states shown in an ops board column (active, upcoming, completed), from the C state table';

CREATE FUNCTION mojob.action_states(action text) RETURNS mojob.job_state[]
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_action_states';
COMMENT ON FUNCTION mojob.action_states(text) IS
    'The states in which an ops board action (edit, delete, reserve, confirm, unconfirm, start, stop, cancel) is open, from the C state table';

CREATE FUNCTION mojob.action_open(action text, state mojob.job_state) RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_action_open';
COMMENT ON FUNCTION mojob.action_open(text, mojob.job_state) IS
    'Is an ops board action open in this state? (state = ANY (mojob.action_states(action)), in one call)';

CREATE FUNCTION mojob.acting_user() RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_acting_user';
COMMENT ON FUNCTION mojob.acting_user() IS
    'The acting user: the setting mojob.actor, else session_user';

-- The upcoming board, in its order.  mojob.ops_board shows an upcoming
-- job's start as this expression (equal to start_at on that board), so that
-- a query such as "upcoming, starting before t" is an index condition here
-- and the rows can come out in the board's order with no sort.  The
-- statistics on the same expression give the planner the share of jobs not
-- yet started that start before t.  Without them it multiplies the share of
-- jobs not started (about half) by the share starting before t (also about
-- half, since past jobs count) and expects a quarter of all jobs where there
-- are a few hundred, then plans for that many (a parallel scan, a sort); with
-- them it still multiplies by the share not started, so it expects too few
-- rather than far too many (2,222 for 735 at a million jobs).  The
-- expression is written alike here, in the statistics and twice in the view:
-- the planner matches them by their form, so change all four or none.  CREATE
-- STATISTICS does not make the object a member of the extension: it belongs
-- to the table, and goes with it.
CREATE INDEX job_upcoming ON mojob.job
    ((CASE WHEN state = ANY (mojob.board_states('upcoming')) THEN start_at END), id)
    WHERE state = ANY (mojob.board_states('upcoming'));
CREATE STATISTICS mojob.job_upcoming_start
    ON (CASE WHEN state = ANY (mojob.board_states('upcoming')) THEN start_at END) FROM mojob.job;
COMMENT ON STATISTICS mojob.job_upcoming_start IS
    'For the planner: how the starts of jobs not yet started spread over time (the upcoming board''s start, index job_upcoming)';

CREATE FUNCTION mojob.time_desc(at timestamptz) RETURNS timestamptz
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_time_desc';
COMMENT ON FUNCTION mojob.time_desc(timestamptz) IS
    'A sort key, not a time: a value that sorts in the reverse order of its argument (the completed board''s, newest first)';

CREATE VIEW mojob.job_errors AS
    SELECT n.job_id, 'RESOURCE_UNAVAILABLE'::text AS code,
           format('resource "%s" is disabled', r.name) AS message
    FROM mojob.resource r
    JOIN mojob.job_resource n ON n.resource_id = r.id
    JOIN mojob.job j ON j.id = n.job_id
    WHERE NOT r.enabled
      AND j.state IN ('draft', 'tentative', 'confirmed', 'running')
      AND (n.held_until IS NULL OR n.held_until > now())
    UNION ALL
    SELECT n.job_id, 'NODE_UNRESOLVED',
           format('pool node %s of pool "%s" has no resource',
                  coalesce(quote_ident(n.alias), n.id::text), p.name)
    FROM mojob.job_resource n
    JOIN mojob.pool p ON p.id = n.pool_id
    JOIN mojob.job j ON j.id = n.job_id
    WHERE n.resource_id IS NULL
      AND j.state IN ('draft', 'tentative', 'confirmed', 'running')
    UNION ALL
    SELECT j.id, 'NOT_CONFIRMED',
           format('it starts at %s, within the validation horizon of %s, but is still %s',
                  j.start_at, s.validation_horizon, j.state)
    FROM mojob.job j CROSS JOIN mojob.settings s
    WHERE j.state IN ('draft', 'tentative')
      AND j.start_at > now() AND j.start_at <= now() + s.validation_horizon
    UNION ALL
    SELECT c.job_id, 'RECURRENCE_CONFLICT',
           format('an instance of recurrence %s whose resources were taken: it was created as a draft',
                  j.recurrence_id)
    FROM mojob.recurrence_conflict c
    JOIN mojob.job j ON j.id = c.job_id
    WHERE j.state = 'draft'
    UNION ALL
    SELECT j.id, 'START_MISSED',
           format('its start at %s has passed, but it is still %s', j.start_at, j.state)
    FROM mojob.job j
    WHERE j.state IN ('draft', 'tentative', 'confirmed')
      AND j.start_at <= now();
COMMENT ON VIEW mojob.job_errors IS
    'The Error overlay: why each job needs attention now; reasons go away by themselves when their cause does';
COMMENT ON COLUMN mojob.job_errors.job_id IS 'The job';
COMMENT ON COLUMN mojob.job_errors.code IS
    'RESOURCE_UNAVAILABLE, NODE_UNRESOLVED, NOT_CONFIRMED, RECURRENCE_CONFLICT or START_MISSED';
COMMENT ON COLUMN mojob.job_errors.message IS 'What is wrong, for a person';

CREATE VIEW mojob.job_search AS
    SELECT j.id, j.code, j.name, j.description, j.priority, j.state,
           j.pre_roll_start, j.start_at, j.end_at, j.post_roll_end,
           j.canceled_at, j.cancel_reason, j.owner, j.properties, j.version,
           j.created_at, j.created_by, j.updated_at, j.locked_by, j.locked_until, j.recurrence_id,
           -- The state test first, apart: a plain condition on the state, which
           -- lets WHERE has_error read only unfinished jobs (job_unfinished).
           j.state IN ('draft', 'tentative', 'confirmed', 'running') AND e.errors <> '{}' AS has_error,
           e.errors,
           ARRAY(SELECT coalesce(r.name, '(' || p.name || ')')
                 FROM mojob.job_resource n
                 LEFT JOIN mojob.resource r ON r.id = n.resource_id
                 LEFT JOIN mojob.pool p ON p.id = n.pool_id
                 WHERE n.job_id = j.id AND (n.held_until IS NULL OR n.held_until > now())
                 ORDER BY n.id) AS resources
    FROM mojob.job j
    -- The codes of mojob.job_errors, computed from the job's own row (in code
    -- order); completed and canceled jobs have none, so nothing is looked up
    -- for them.  test/pgtap/31_errors.sql checks that both agree.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN j.state IN ('completed', 'canceled') THEN '{}'::text[]
               ELSE array_remove(ARRAY[
                   CASE WHEN EXISTS (SELECT FROM mojob.job_resource n   -- its pool: job_resource_what
                                     WHERE n.job_id = j.id AND n.resource_id IS NULL)
                        THEN 'NODE_UNRESOLVED' END,
                   CASE WHEN j.state IN ('draft', 'tentative') AND j.start_at > now()
                             AND j.start_at <= now() + (SELECT s.validation_horizon FROM mojob.settings s)
                        THEN 'NOT_CONFIRMED' END,
                   CASE WHEN j.state = 'draft'
                             AND EXISTS (SELECT FROM mojob.recurrence_conflict c WHERE c.job_id = j.id)
                        THEN 'RECURRENCE_CONFLICT' END,
                   CASE WHEN EXISTS (SELECT FROM mojob.job_resource n JOIN mojob.resource r ON r.id = n.resource_id
                                     WHERE n.job_id = j.id AND NOT r.enabled
                                       AND (n.held_until IS NULL OR n.held_until > now()))
                        THEN 'RESOURCE_UNAVAILABLE' END,
                   CASE WHEN j.state IN ('draft', 'tentative', 'confirmed') AND j.start_at <= now()
                        THEN 'START_MISSED' END], NULL)
               END AS errors) e;
COMMENT ON VIEW mojob.job_search IS
    'Every job, canceled ones too (the Search Jobs page), with its errors and resources';

CREATE VIEW mojob.jobs AS
    SELECT * FROM mojob.job_search WHERE state <> 'canceled';
COMMENT ON VIEW mojob.jobs IS
    'Every job but canceled ones (the Job View), with its errors and resources';

CREATE VIEW mojob.ops_board AS
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
           mojob.action_open('start', j.state) AND NOT j.locked_other AS can_start,
           mojob.action_open('stop', j.state) AND NOT j.locked_other
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
COMMENT ON VIEW mojob.ops_board IS
    'The Ops Board: active jobs by end, upcoming by start, completed newest first; with what each job allows now';

CREATE VIEW mojob.resource_schedule AS
    SELECT b.resource_id, r.name AS resource, b.job_id, j.code, j.name, b.held, j.state,
           b.amount, b.node_id
    FROM mojob.booking b
    JOIN mojob.resource r ON r.id = b.resource_id
    JOIN mojob.job j ON j.id = b.job_id;
COMMENT ON VIEW mojob.resource_schedule IS
    'The Resource View: every window a resource is held for, by which job';

-- The views carry the job's own columns: they carry its column comments too.
DO $$
DECLARE
    v text;
    c record;
BEGIN
    FOREACH v IN ARRAY ARRAY['job_search', 'jobs', 'ops_board'] LOOP
        FOR c IN
            SELECT a.attname, col_description('mojob.job'::regclass, a.attnum) AS comment
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = 'mojob.job'::regclass AND a.attnum > 0 AND NOT a.attisdropped
              AND EXISTS (SELECT FROM pg_catalog.pg_attribute b
                          WHERE b.attrelid = format('mojob.%I', v)::regclass AND b.attname = a.attname)
        LOOP
            EXECUTE format('COMMENT ON COLUMN mojob.%I.%I IS %L', v, c.attname, c.comment);
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON COLUMN mojob.job_search.has_error IS 'Does the job need attention now? (mojob.job_errors)';
COMMENT ON COLUMN mojob.job_search.errors IS 'The codes of its errors now, from mojob.job_errors';
COMMENT ON COLUMN mojob.job_search.resources IS
    'The names of the resources it uses now; an unresolved pool node shows as (pool name)';
COMMENT ON COLUMN mojob.jobs.has_error IS 'Does the job need attention now? (mojob.job_errors)';
COMMENT ON COLUMN mojob.jobs.errors IS 'The codes of its errors now, from mojob.job_errors';
COMMENT ON COLUMN mojob.jobs.resources IS
    'The names of the resources it uses now; an unresolved pool node shows as (pool name)';
COMMENT ON COLUMN mojob.ops_board.board IS 'active (running), upcoming (not started) or completed';
COMMENT ON COLUMN mojob.ops_board.can_edit IS 'May the job be edited now?';
COMMENT ON COLUMN mojob.ops_board.can_delete IS 'May it be deleted now? (draft, completed, canceled)';
COMMENT ON COLUMN mojob.ops_board.can_reserve IS 'May mojob.reserve() move it now?';
COMMENT ON COLUMN mojob.ops_board.can_confirm IS 'May mojob.confirm() move it now? (every node resolved)';
COMMENT ON COLUMN mojob.ops_board.can_unconfirm IS 'May mojob.unconfirm() move it now?';
COMMENT ON COLUMN mojob.ops_board.can_start IS 'May mojob.start() move it now?';
COMMENT ON COLUMN mojob.ops_board.can_stop IS 'May mojob.stop() move it now? (its start has passed)';
COMMENT ON COLUMN mojob.ops_board.can_cancel IS 'May mojob.cancel() move it now?';
COMMENT ON COLUMN mojob.resource_schedule.resource_id IS 'The resource';
COMMENT ON COLUMN mojob.resource_schedule.resource IS 'Its name';
COMMENT ON COLUMN mojob.resource_schedule.job_id IS 'The job holding it';
COMMENT ON COLUMN mojob.resource_schedule.code IS 'The job''s code';
COMMENT ON COLUMN mojob.resource_schedule.name IS 'The job''s name';
COMMENT ON COLUMN mojob.resource_schedule.held IS 'The window it is held for, [from, until)';
COMMENT ON COLUMN mojob.resource_schedule.state IS 'The job''s state';
COMMENT ON COLUMN mojob.resource_schedule.amount IS 'The capacity the booking uses';
COMMENT ON COLUMN mojob.resource_schedule.node_id IS 'The node (mojob.job_resource.id)';

-- ---------------------------------------------------------------------
-- Pictures
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.timeline_scale(during tstzrange, width integer,
                                     OUT t0 timestamptz, OUT t1 timestamptz, OUT tick interval,
                                     OUT first_tick timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    span double precision;
    step interval;
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
    span := extract(epoch FROM t1 - t0);
    -- The smallest tick step giving labels at least 8 columns apart.
    FOREACH step IN ARRAY ARRAY['1 minute', '5 minutes', '15 minutes', '30 minutes', '1 hour',
                                 '2 hours', '3 hours', '6 hours', '12 hours', '1 day', '2 days',
                                 '7 days', '14 days', '28 days', '91 days', '1 year', '2 years',
                                 '5 years', '10 years', '20 years', '50 years', '100 years',
                                 '200 years', '500 years', '1000 years']::interval[] LOOP
        tick := step;
        EXIT WHEN extract(epoch FROM step) / span * width >= 8;
    END LOOP;
    -- The first tick: on a whole step of the day, or of the years.
    IF tick >= interval '1 year' THEN
        first_tick := make_timestamptz(
            (ceil(extract(year FROM t0) / extract(year FROM tick)) * extract(year FROM tick))::integer,
            1, 1, 0, 0, 0);
        IF first_tick < t0 THEN
            first_tick := first_tick + tick;
        END IF;
    ELSE
        first_tick := date_bin(tick, t0, date_trunc('day', t0));
        IF first_tick < t0 THEN
            first_tick := first_tick + tick;
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION mojob.timeline_scale(tstzrange, integer) IS
    'The time axis of mojob.timeline and mojob.timeline_svg: the window, the tick step and the first tick';

CREATE FUNCTION mojob.timeline(during tstzrange, width integer DEFAULT 72) RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sc record;
    label_width integer;
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
    sc := mojob.timeline_scale(during, width);
    span := extract(epoch FROM sc.t1 - sc.t0);
    SELECT greatest(8, max(char_length(name)) + 2) INTO label_width FROM mojob.resource;
    label_width := coalesce(label_width, 10);

    -- The axis: a label and a tick at each step, aligned to the step in the session's time zone.
    axis := repeat(' ', width);
    ruler := repeat('─', width);
    t := sc.first_tick;
    WHILE t < sc.t1 LOOP
        col := floor(extract(epoch FROM t - sc.t0) / span * width)::integer;
        lbl := CASE WHEN sc.tick >= interval '1 year' THEN to_char(t, 'YYYY')
                    WHEN sc.tick >= interval '1 day' THEN to_char(t, 'MM-DD') ELSE to_char(t, 'HH24:MI') END;
        IF col + char_length(lbl) <= width AND substr(axis, col + 1, char_length(lbl) + 1) = repeat(' ', char_length(lbl) + 1)
           OR col + char_length(lbl) = width THEN
            axis := overlay(axis PLACING lbl FROM col + 1 FOR char_length(lbl));
        END IF;
        ruler := overlay(ruler PLACING '┬' FROM col + 1 FOR 1);
        t := t + sc.tick;
    END LOOP;
    RETURN NEXT repeat(' ', label_width) || rtrim(axis);
    RETURN NEXT repeat(' ', label_width) || ruler;

    -- One line per resource: each cell shows the state of the booking over it, or how many.
    FOR res IN SELECT id, name FROM mojob.resource ORDER BY name LOOP
        cells := array_fill(0, ARRAY[width]);
        glyph := array_fill(' '::text, ARRAY[width]);
        FOR b IN
            SELECT greatest(lower(s.held), sc.t0) AS lo, least(upper(s.held), sc.t1) AS hi, s.state
            FROM mojob.resource_schedule s
            WHERE s.resource_id = res.id AND s.held && tstzrange(sc.t0, sc.t1)
              AND (s.state <> 'completed' OR upper(s.held) > sc.t0)
        LOOP
            c0 := floor(extract(epoch FROM b.lo - sc.t0) / span * width)::integer;
            c1 := ceil(extract(epoch FROM b.hi - sc.t0) / span * width)::integer;
            FOR col IN greatest(c0, 0) .. least(c1, width) - 1 LOOP
                cells[col + 1] := cells[col + 1] + 1;
                glyph[col + 1] := CASE WHEN cells[col + 1] = 1
                                       THEN marks[array_position(states, b.state)]
                                       WHEN cells[col + 1] < 10 THEN cells[col + 1]::text
                                       ELSE '+' END;
            END LOOP;
        END LOOP;
        -- A name's control characters (a newline, an escape) must not break the chart.
        line := rpad(regexp_replace(res.name, '[[:cntrl:]]', E'\\ufffd', 'g'), label_width)
                || array_to_string(glyph, '');
        RETURN NEXT rtrim(line);
    END LOOP;

    RETURN NEXT '';
    RETURN NEXT '░ tentative  ▓ confirmed  █ running  ▒ completed  2-9 bookings at once'
                || '  (' || to_char(sc.t0, 'YYYY-MM-DD HH24:MI') || ' to '
                || to_char(sc.t1, 'YYYY-MM-DD HH24:MI TZ') || ')';
END
$$;
COMMENT ON FUNCTION mojob.timeline(tstzrange, integer) IS
    'A chart for psql: a time axis, one line per resource with a bar per booking marked by state, and a legend';

CREATE FUNCTION mojob.timeline_svg(during tstzrange) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sc record;
    span double precision;
    label_w CONSTANT integer := 160;
    chart_w CONSTANT integer := 800;
    row_h CONSTANT integer := 28;
    top CONSTANT integer := 52;
    n integer := 0;
    out text;
    t timestamptz;
    x double precision;
    res record;
    b record;
    y integer;
    s mojob.job_state;
BEGIN
    sc := mojob.timeline_scale(during, chart_w / 10);
    span := extract(epoch FROM sc.t1 - sc.t0);
    SELECT count(*) INTO n FROM mojob.resource;

    out := format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" '
                  'viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">',
                  label_w + chart_w + 40, top + n * row_h + 60, label_w + chart_w + 40, top + n * row_h + 60)
        || E'\n<rect width="100%" height="100%" fill="#ffffff"/>'
        || format(E'\n<text x="8" y="16" font-weight="bold">mojob timeline, %s to %s</text>',
                  to_char(sc.t0, 'YYYY-MM-DD HH24:MI'), to_char(sc.t1, 'YYYY-MM-DD HH24:MI TZ'));

    -- Axis: a line and a label at each tick.
    t := sc.first_tick;
    WHILE t < sc.t1 LOOP
        x := label_w + extract(epoch FROM t - sc.t0) / span * chart_w;
        out := out || format(E'\n<line class="tick" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#cccccc"/>'
                             '<text x="%s" y="%s" text-anchor="middle">%s</text>',
                             round(x::numeric, 1), top - 8, round(x::numeric, 1), top + n * row_h,
                             round(x::numeric, 1), top - 12,
                             CASE WHEN sc.tick >= interval '1 year' THEN to_char(t, 'YYYY')
                    WHEN sc.tick >= interval '1 day' THEN to_char(t, 'MM-DD') ELSE to_char(t, 'HH24:MI') END);
        t := t + sc.tick;
    END LOOP;

    -- One row per resource, one bar per booking, in the state's colour.
    y := top;
    FOR res IN SELECT id, name FROM mojob.resource ORDER BY name LOOP
        out := out || format(E'\n<text class="resource" x="8" y="%s">%s</text>', y + 18, mojob.xml_text(res.name));
        FOR b IN
            SELECT greatest(lower(s.held), sc.t0) AS lo, least(upper(s.held), sc.t1) AS hi,
                   s.state, s.code, s.name, s.held
            FROM mojob.resource_schedule s
            WHERE s.resource_id = res.id AND s.held && tstzrange(sc.t0, sc.t1)
            ORDER BY lower(s.held), s.code
        LOOP
            out := out || format(E'\n<rect class="booking" data-job="%s" data-state="%s" x="%s" y="%s" width="%s" height="%s" '
                                 'fill="%s" stroke="#333333" stroke-width="0.5"><title>%s</title></rect>',
                                 mojob.xml_text(b.code), b.state,
                                 round((label_w + extract(epoch FROM b.lo - sc.t0) / span * chart_w)::numeric, 1),
                                 y + 4,
                                 round(greatest(extract(epoch FROM b.hi - b.lo) / span * chart_w, 1)::numeric, 1),
                                 row_h - 8, mojob.state_color(b.state),
                                 mojob.xml_text(format('%s %s (%s) %s', b.code, b.name, b.state, b.held)));
        END LOOP;
        y := y + row_h;
    END LOOP;

    -- Now, when it falls inside the window.
    IF now() >= sc.t0 AND now() < sc.t1 THEN
        x := label_w + extract(epoch FROM now() - sc.t0) / span * chart_w;
        out := out || format(E'\n<line class="now" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#D60000" '
                             'stroke-dasharray="4 3"/><text x="%s" y="%s" fill="#D60000">now</text>',
                             round(x::numeric, 1), top - 4, round(x::numeric, 1), top + n * row_h,
                             round(x::numeric, 1) + 3, top + n * row_h + 12);
    END IF;

    -- Legend: every state's colour, and the error colour.
    x := label_w;
    FOREACH s IN ARRAY enum_range(NULL::mojob.job_state) LOOP
        out := out || format(E'\n<rect class="legend" x="%s" y="%s" width="12" height="12" fill="%s"/>'
                             '<text x="%s" y="%s">%s</text>',
                             x, y + 20, mojob.state_color(s), x + 16, y + 30, s);
        x := x + 100;
    END LOOP;
    out := out || format(E'\n<rect class="legend" x="%s" y="%s" width="12" height="12" fill="#D60000"/>'
                         '<text x="%s" y="%s">error</text>', x, y + 20, x + 16, y + 30);
    RETURN out || E'\n</svg>\n';
END
$$;
COMMENT ON FUNCTION mojob.timeline_svg(tstzrange) IS
    'The timeline as an SVG picture in the state colours, one bar (class="booking") per booking';

CREATE FUNCTION mojob.xml_text(text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL THEN
        RAISE EXCEPTION 'text must not be null'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the text to escape.';
    END IF;
    -- XML 1.0 allows no control characters but tab, newline and carriage return.
    RETURN replace(replace(replace(replace(
               regexp_replace($1, E'[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]', E'\\ufffd', 'g'),
               '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;');
END
$$;
COMMENT ON FUNCTION mojob.xml_text(text) IS 'Text escaped for XML; control characters become U+FFFD';

-- ---------------------------------------------------------------------
-- Recurrence functions
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.make_recurring(job bigint, rule text,
                                     time_zone text DEFAULT current_setting('TimeZone'),
                                     horizon interval DEFAULT '1 year')
RETURNS mojob.recurrence
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_make_recurring';
COMMENT ON FUNCTION mojob.make_recurring(bigint, text, text, interval) IS
    'Make a draft or tentative job recurring by an RFC 5545 rule in a time zone; creates the instances up to now() + horizon';

CREATE FUNCTION mojob.extend_recurrences(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_extend_recurrences';
COMMENT ON FUNCTION mojob.extend_recurrences(timestamptz) IS
    'Create the instances that have come within each active recurrence''s horizon as of "at"; returns how many (the scheduler calls it daily)';

CREATE FUNCTION mojob.cancel_recurrence(recurrence bigint, reason text DEFAULT NULL)
RETURNS mojob.recurrence
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_cancel_recurrence';
COMMENT ON FUNCTION mojob.cancel_recurrence(bigint, text) IS
    'Cancel a recurrence: instances not started are canceled (tentative, confirmed) or deleted (drafts); started ones stay';

CREATE FUNCTION mojob.recurrence_preview(rule text, time_zone text, dtstart timestamptz,
                                         until timestamptz)
RETURNS SETOF timestamptz
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'mojob_recurrence_preview';
COMMENT ON FUNCTION mojob.recurrence_preview(text, text, timestamptz, timestamptz) IS
    'The starts a rule gives after dtstart and before until, in a time zone: what make_recurring would create';

CREATE VIEW mojob.recurrences AS
    SELECT r.id, r.template_job, r.rule, r.time_zone, r.horizon, r.state,
           r.created_at, r.created_by, r.canceled_at, r.cancel_reason,
           (SELECT min(j.start_at) FROM mojob.job j
            WHERE j.recurrence_id = r.id AND j.start_at > now() AND j.state <> 'canceled') AS next_occurrence,
           c.instances, c.draft, c.tentative, c.confirmed, c.running, c.completed, c.canceled
    FROM mojob.recurrence r
    CROSS JOIN LATERAL (
        SELECT count(*) AS instances,
               count(*) FILTER (WHERE j.state = 'draft') AS draft,
               count(*) FILTER (WHERE j.state = 'tentative') AS tentative,
               count(*) FILTER (WHERE j.state = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE j.state = 'running') AS running,
               count(*) FILTER (WHERE j.state = 'completed') AS completed,
               count(*) FILTER (WHERE j.state = 'canceled') AS canceled
        FROM mojob.job j WHERE j.recurrence_id = r.id) c;
COMMENT ON VIEW mojob.recurrences IS
    'Each recurrence with its rule, its next occurrence and how many of its instances are in each state';
COMMENT ON COLUMN mojob.recurrences.id IS 'The recurrence';
COMMENT ON COLUMN mojob.recurrences.template_job IS 'The job made recurring';
COMMENT ON COLUMN mojob.recurrences.rule IS 'The RFC 5545 RRULE';
COMMENT ON COLUMN mojob.recurrences.time_zone IS 'The time zone the rule follows';
COMMENT ON COLUMN mojob.recurrences.horizon IS 'Instances are created up to now() + horizon';
COMMENT ON COLUMN mojob.recurrences.state IS 'active or canceled';
COMMENT ON COLUMN mojob.recurrences.created_at IS 'When it was made';
COMMENT ON COLUMN mojob.recurrences.created_by IS 'Who made it';
COMMENT ON COLUMN mojob.recurrences.canceled_at IS 'When it was canceled';
COMMENT ON COLUMN mojob.recurrences.cancel_reason IS 'Why';
COMMENT ON COLUMN mojob.recurrences.next_occurrence IS 'The start of its next instance not yet started (canceled ones aside)';
COMMENT ON COLUMN mojob.recurrences.instances IS 'How many instances it has';
COMMENT ON COLUMN mojob.recurrences.draft IS 'Instances in draft';
COMMENT ON COLUMN mojob.recurrences.tentative IS 'Instances tentative';
COMMENT ON COLUMN mojob.recurrences.confirmed IS 'Instances confirmed';
COMMENT ON COLUMN mojob.recurrences.running IS 'Instances running';
COMMENT ON COLUMN mojob.recurrences.completed IS 'Instances completed';
COMMENT ON COLUMN mojob.recurrences.canceled IS 'Instances canceled';

-- ---------------------------------------------------------------------
-- Dump: user data is saved by pg_dump
-- ---------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('mojob.settings', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.resource', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.resource_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.pool', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.pool_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.pool_member', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job_code_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job_resource', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job_resource_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job_event', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.job_event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.recurrence', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.recurrence_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mojob.recurrence_conflict', '');
