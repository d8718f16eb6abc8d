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

-- The duration settings have no negative part ('1 month -29 days' compares
-- as a day, yet put a job's roll start after its start in March) and are at
-- most 10,000 years (longer put now() + validation_horizon, or a lock's end,
-- outside the range of timestamptz: every later call computing one failed).
CREATE TABLE mojob.settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    default_pre_roll interval NOT NULL DEFAULT '0'
        CHECK (least(pg_catalog.date_part('year', default_pre_roll), pg_catalog.date_part('month', default_pre_roll), pg_catalog.date_part('day', default_pre_roll), pg_catalog.date_part('hour', default_pre_roll), pg_catalog.date_part('minute', default_pre_roll), pg_catalog.date_part('microseconds', default_pre_roll)) OPERATOR(pg_catalog.>=) 0 AND default_pre_roll OPERATOR(pg_catalog.<=) '10000 years'),
    default_post_roll interval NOT NULL DEFAULT '0'
        CHECK (least(pg_catalog.date_part('year', default_post_roll), pg_catalog.date_part('month', default_post_roll), pg_catalog.date_part('day', default_post_roll), pg_catalog.date_part('hour', default_post_roll), pg_catalog.date_part('minute', default_post_roll), pg_catalog.date_part('microseconds', default_post_roll)) OPERATOR(pg_catalog.>=) 0 AND default_post_roll OPERATOR(pg_catalog.<=) '10000 years'),
    default_state mojob.job_state NOT NULL DEFAULT 'draft'
        CHECK (default_state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative']::mojob.job_state[])),
    job_code_pattern text NOT NULL DEFAULT 'JOB-{seq:6}'
        CHECK (mojob.job_code_preview(job_code_pattern) IS NOT NULL),
    validation_horizon interval NOT NULL DEFAULT '60 minutes'
        CHECK (least(pg_catalog.date_part('year', validation_horizon), pg_catalog.date_part('month', validation_horizon), pg_catalog.date_part('day', validation_horizon), pg_catalog.date_part('hour', validation_horizon), pg_catalog.date_part('minute', validation_horizon), pg_catalog.date_part('microseconds', validation_horizon)) OPERATOR(pg_catalog.>=) 0 AND validation_horizon OPERATOR(pg_catalog.<=) '10000 years'),
    lock_timeout interval NOT NULL DEFAULT '15 minutes'
        CHECK (least(pg_catalog.date_part('year', lock_timeout), pg_catalog.date_part('month', lock_timeout), pg_catalog.date_part('day', lock_timeout), pg_catalog.date_part('hour', lock_timeout), pg_catalog.date_part('minute', lock_timeout), pg_catalog.date_part('microseconds', lock_timeout)) OPERATOR(pg_catalog.>=) 0 AND lock_timeout OPERATOR(pg_catalog.<=) '10000 years' AND lock_timeout OPERATOR(pg_catalog.>) '0')
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

CREATE TRIGGER settings_guard BEFORE INSERT OR UPDATE OR DELETE ON mojob.settings
    FOR EACH ROW EXECUTE FUNCTION mojob.settings_guard();
CREATE TRIGGER settings_guard_truncate BEFORE TRUNCATE ON mojob.settings
    FOR EACH STATEMENT EXECUTE FUNCTION mojob.settings_guard();

-- ---------------------------------------------------------------------
-- Resources and pools
-- ---------------------------------------------------------------------

CREATE SEQUENCE mojob.resource_id_seq;
COMMENT ON SEQUENCE mojob.resource_id_seq IS 'Ids of mojob.resource';

CREATE TABLE mojob.resource (
    id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mojob.resource_id_seq'),
    name text NOT NULL UNIQUE CHECK (name OPERATOR(pg_catalog.<>) ''),
    concurrency integer NOT NULL DEFAULT 1 CHECK (concurrency OPERATOR(pg_catalog.>=) 1),
    capacity numeric CHECK (capacity OPERATOR(pg_catalog.>=) 0 AND capacity OPERATOR(pg_catalog.<) 'Infinity'),
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
    id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mojob.pool_id_seq'),
    name text NOT NULL UNIQUE CHECK (name OPERATOR(pg_catalog.<>) '')
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
    id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mojob.recurrence_id_seq'),
    template_job bigint NOT NULL,
    rule text NOT NULL,
    time_zone text NOT NULL,
    -- at least a day: the scheduler extends recurrences once a day
    horizon interval NOT NULL DEFAULT '1 year' CHECK (horizon OPERATOR(pg_catalog.>=) '1 day'),
    state text NOT NULL DEFAULT 'active' CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'canceled']::text[])),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by text NOT NULL,
    canceled_at timestamptz,
    cancel_reason text,
    dtstart timestamptz NOT NULL,
    extended_until timestamptz NOT NULL,
    instance_state mojob.job_state NOT NULL DEFAULT 'draft'
        CHECK (instance_state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative']::mojob.job_state[])),
    CONSTRAINT recurrence_canceled_at CHECK ((state OPERATOR(pg_catalog.=) 'canceled') OPERATOR(pg_catalog.=) (canceled_at IS NOT NULL))
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

-- Ids are mojob's: the ids of jobs and nodes are given by this default,
-- which notes the id it issues, and the guards accept a non-owner's id only
-- if it was just issued (an id chosen by hand could take the one the
-- sequence gives another insert later).
CREATE FUNCTION mojob.next_id(seq regclass) RETURNS bigint
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_next_id';
COMMENT ON FUNCTION mojob.next_id(regclass) IS
    'nextval(seq), noted: the default of mojob.job.id and mojob.job_resource.id; a non-owner''s insert may give only an id it has just issued';

CREATE SEQUENCE mojob.job_id_seq;
COMMENT ON SEQUENCE mojob.job_id_seq IS 'Ids of mojob.job';
CREATE SEQUENCE mojob.job_code_seq;
COMMENT ON SEQUENCE mojob.job_code_seq IS
    'The counter {seq} of mojob.settings.job_code_pattern';

CREATE TABLE mojob.job (
    id bigint PRIMARY KEY DEFAULT mojob.next_id('mojob.job_id_seq'),
    code text NOT NULL UNIQUE,
    name text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) ''),
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
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    locked_by text,
    locked_until timestamptz,
    recurrence_id bigint REFERENCES mojob.recurrence,
    CONSTRAINT job_window_order CHECK
        (pre_roll_start OPERATOR(pg_catalog.<=) start_at AND start_at OPERATOR(pg_catalog.<) end_at AND end_at OPERATOR(pg_catalog.<=) post_roll_end),
    CONSTRAINT job_window_finite CHECK
        (pg_catalog.isfinite(pre_roll_start) AND pg_catalog.isfinite(post_roll_end)),
    CONSTRAINT job_canceled_at CHECK ((state OPERATOR(pg_catalog.=) 'canceled') OPERATOR(pg_catalog.=) (canceled_at IS NOT NULL)),
    CONSTRAINT job_lock CHECK ((locked_by IS NULL) OPERATOR(pg_catalog.=) (locked_until IS NULL))
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
CREATE INDEX job_start_due ON mojob.job (start_at) WHERE state OPERATOR(pg_catalog.=) 'confirmed';
CREATE INDEX job_end_due ON mojob.job (end_at) WHERE state OPERATOR(pg_catalog.=) 'running';
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
    id bigint PRIMARY KEY DEFAULT mojob.next_id('mojob.job_resource_id_seq'),
    job_id bigint NOT NULL REFERENCES mojob.job ON DELETE CASCADE,
    resource_id bigint REFERENCES mojob.resource,
    pool_id bigint REFERENCES mojob.pool,
    alias text,
    amount numeric NOT NULL DEFAULT 0 CHECK (amount OPERATOR(pg_catalog.>=) 0 AND amount OPERATOR(pg_catalog.<) 'Infinity'),
    required_capabilities text[] NOT NULL DEFAULT '{}',
    held_from timestamptz,
    held_until timestamptz,
    CONSTRAINT job_resource_once UNIQUE (job_id, resource_id),
    CONSTRAINT job_resource_what CHECK (resource_id IS NOT NULL OR pool_id IS NOT NULL),
    CONSTRAINT job_resource_held CHECK (held_from OPERATOR(pg_catalog.<) held_until)
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
    held tstzrange NOT NULL CHECK (NOT pg_catalog.isempty(held)),
    amount numeric NOT NULL
);
CREATE INDEX booking_resource_held ON mojob.booking USING gist (resource_id, held);
-- The checks read a resource's bookings by start, from the window's start
-- less the longest booking the resource has (mojob.booking_longest): a
-- B-tree range, much cheaper than a GiST lookup.  The GiST index serves the
-- views.  No index on job_id: a job's bookings are found through its nodes.
CREATE INDEX booking_resource_start ON mojob.booking (resource_id, pg_catalog.lower(held));

-- Kept with mojob.booking (and, like it, not dumped): for each resource, at
-- least the length of its longest booking.  Every longer booking raises it;
-- when a booking longer than 7 days goes, it is lowered again (never below
-- a booking), so that one long booking does not slow the checks for good.
CREATE TABLE mojob.booking_longest (
    resource_id bigint PRIMARY KEY,
    longest interval NOT NULL
);
COMMENT ON TABLE mojob.booking_longest IS
    'For each resource, at least the length of its longest booking: how far back from a window the checks read bookings by start';
COMMENT ON COLUMN mojob.booking_longest.resource_id IS 'The resource';
COMMENT ON COLUMN mojob.booking_longest.longest IS
    'No booking of the resource is longer (raised by each longer booking; lowered again when one longer than 7 days goes)';
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
    id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mojob.job_event_id_seq'),
    job_id bigint NOT NULL,
    from_state mojob.job_state NOT NULL,
    to_state mojob.job_state NOT NULL,
    at timestamptz NOT NULL,
    by_user text NOT NULL,
    cause text NOT NULL CHECK (cause OPERATOR(pg_catalog.=) ANY (ARRAY['user', 'time']::text[])),
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
    'Trigger refusing a row of mojob.job, mojob.job_resource or mojob.resource that a site''s trigger changed after the guard approved it, and a node delete such a trigger skipped';
CREATE TRIGGER mojob_guard_recheck AFTER INSERT OR UPDATE ON mojob.job
    FOR EACH ROW WHEN (mojob.guard_pending()) EXECUTE FUNCTION mojob.guard_recheck();
CREATE TRIGGER mojob_guard_recheck AFTER INSERT OR UPDATE OR DELETE ON mojob.job_resource
    FOR EACH ROW WHEN (mojob.guard_pending()) EXECUTE FUNCTION mojob.guard_recheck();
CREATE TRIGGER mojob_guard_recheck AFTER UPDATE ON mojob.resource
    FOR EACH ROW WHEN (mojob.guard_pending()) EXECUTE FUNCTION mojob.guard_recheck();
REVOKE EXECUTE ON FUNCTION mojob.guard_recheck() FROM PUBLIC;

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

CREATE FUNCTION mojob.advance(at timestamptz DEFAULT pg_catalog.now()) RETURNS integer
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
    WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'tentative', 'confirmed', 'running']::mojob.job_state[]);
CREATE INDEX job_by_end ON mojob.job (end_at) WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'completed']::mojob.job_state[]);

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
    ((CASE WHEN state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming')) THEN start_at END), id)
    WHERE state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming'));
CREATE STATISTICS mojob.job_upcoming_start
    ON (CASE WHEN state OPERATOR(pg_catalog.=) ANY (mojob.board_states('upcoming')) THEN start_at END) FROM mojob.job;
COMMENT ON STATISTICS mojob.job_upcoming_start IS
    'For the planner: how the starts of jobs not yet started spread over time (the upcoming board''s start, index job_upcoming)';

CREATE FUNCTION mojob.time_desc(at timestamptz) RETURNS timestamptz
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mojob_time_desc';
COMMENT ON FUNCTION mojob.time_desc(timestamptz) IS
    'A sort key, not a time: a value that sorts in the reverse order of its argument (the completed board''s, newest first)';

CREATE VIEW mojob.job_errors AS
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
COMMENT ON VIEW mojob.job_search IS
    'Every job, canceled ones too (the Search Jobs page), with its errors and resources';

CREATE VIEW mojob.jobs AS
    SELECT * FROM mojob.job_search WHERE state OPERATOR(pg_catalog.<>) 'canceled';
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
COMMENT ON VIEW mojob.ops_board IS
    'The Ops Board: active jobs by end, upcoming by start, completed newest first; with what each job allows now';

CREATE VIEW mojob.resource_schedule AS
    SELECT b.resource_id, r.name AS resource, b.job_id, j.code, j.name, b.held, j.state,
           b.amount, b.node_id
    FROM mojob.booking b
    JOIN mojob.resource r ON r.id OPERATOR(pg_catalog.=) b.resource_id
    JOIN mojob.job j ON j.id OPERATOR(pg_catalog.=) b.job_id;
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
            SELECT a.attname, pg_catalog.col_description('mojob.job'::regclass, a.attnum) AS comment
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid OPERATOR(pg_catalog.=) 'mojob.job'::regclass AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
              AND EXISTS (SELECT FROM pg_catalog.pg_attribute b
                          WHERE b.attrelid OPERATOR(pg_catalog.=) pg_catalog.format('mojob.%I', v)::regclass
                            AND b.attname OPERATOR(pg_catalog.=) a.attname)
        LOOP
            EXECUTE pg_catalog.format('COMMENT ON COLUMN mojob.%I.%I IS %L', v, c.attname, c.comment);
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
COMMENT ON FUNCTION mojob.timeline_scale(tstzrange, integer) IS
    'The time axis of mojob.timeline and mojob.timeline_svg: the window, the tick step and the first tick';

CREATE FUNCTION mojob.timeline(during tstzrange, width integer DEFAULT 72) RETURNS SETOF text
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
COMMENT ON FUNCTION mojob.timeline(tstzrange, integer) IS
    'A chart for psql: a time axis, one line per resource with a bar per booking marked by state, and a legend';

CREATE FUNCTION mojob.timeline_svg(during tstzrange) RETURNS text
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
-- Recurrence functions
-- ---------------------------------------------------------------------

CREATE FUNCTION mojob.make_recurring(job bigint, rule text,
                                     time_zone text DEFAULT pg_catalog.current_setting('TimeZone'),
                                     horizon interval DEFAULT '1 year')
RETURNS mojob.recurrence
LANGUAGE C AS 'MODULE_PATHNAME', 'mojob_make_recurring';
COMMENT ON FUNCTION mojob.make_recurring(bigint, text, text, interval) IS
    'Make a draft or tentative job recurring by an RFC 5545 rule in a time zone; creates the instances up to now() + horizon';

CREATE FUNCTION mojob.extend_recurrences(at timestamptz DEFAULT pg_catalog.now()) RETURNS integer
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
