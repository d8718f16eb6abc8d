-- mojob 1.0 -> 1.1 (ALTER EXTENSION mojob UPDATE TO '1.1').
--
-- Kept in step with sql/mojob--1.1.sql: a database upgraded by this script
-- holds the same objects as a fresh install of 1.1, which
-- test/t/030_upgrade.pl checks in the catalogs.
\echo Use "ALTER EXTENSION mojob UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Windows under attack, second round (DESIGN section 9): duplicate()
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
