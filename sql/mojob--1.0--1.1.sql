-- mojob 1.0 -> 1.1 (ALTER EXTENSION mojob UPDATE TO '1.1').
--
-- Kept in step with sql/mojob--1.1.sql: a database upgraded by this script
-- holds the same objects as a fresh install of 1.1, which
-- test/t/030_upgrade.pl checks in the catalogs.
\echo Use "ALTER EXTENSION mojob UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Recurrences: a horizon of at least a day (the scheduler extends
-- recurrences once a day; a shorter horizon created instances after they
-- should have started).  A shorter one stored by 1.0 becomes a day.
-- ---------------------------------------------------------------------
UPDATE mojob.recurrence SET horizon = '1 day' WHERE horizon < '1 day';
ALTER TABLE mojob.recurrence DROP CONSTRAINT recurrence_horizon_check,
    ADD CONSTRAINT recurrence_horizon_check CHECK (horizon >= '1 day');
COMMENT ON COLUMN mojob.recurrence.horizon IS 'Instances are created up to now() + horizon (at least a day)';
