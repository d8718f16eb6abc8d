-- The SQL surface under attack (issue 15; README.md, "Guarantees"), what broke
-- in a second round:
--   * mojob.rebuild_bookings() bounded a resource's bookings by
--     max(upper(held) - lower(held)): for a booking of over about 292,000
--     years the interval wraps to a negative length, max() took the
--     resource's next-longest booking, booking_longest was lowered below the
--     giant booking, and a planner's reservation overlapping it was accepted
--     (over-booking).  Now the bound is exact and saturated, as the triggers
--     write it;
--   * the duration settings were checked only for their sign as a whole: a
--     careless owner's validation_horizon of a million years made
--     mojob.job_errors (so the ops board's errors) fail for everyone with
--     22008, a lock_timeout of a million years made every lock_job() fail,
--     default rolls of '1 month -29 days' (which compare as one day) made
--     create_job() fail for jobs in March (23514).  Now each is refused when
--     written, with 22023 naming the setting (mojob.setting_duration_ok in its
--     CHECK constraint), and ordinary values pass.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(18);

CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;

INSERT INTO mojob.resource (id, name, concurrency) VALUES (1, 'studio', 1);

-- ---------------------------------------------------------------------
-- rebuild_bookings() and a booking of over 292,000 years
-- ---------------------------------------------------------------------

SET ROLE mojob_planner;
SELECT id AS giant FROM mojob.create_job('giant', '1999-01-01+00', '294276-12-31+00',
    state => 'tentative', resources => '{1}') \gset
SELECT id AS small FROM mojob.create_job('small', '1990-01-01+00', '1990-01-01 01:00+00',
    state => 'tentative', resources => '{1}') \gset
RESET ROLE;

SELECT is(mojob.rebuild_bookings(), 0, 'rebuild_bookings() finds nothing to add next to a 292,000-year booking');
SELECT ok((SELECT extract(epoch FROM longest) * 1000000 >= 9223372036854775807
           FROM mojob.booking_longest WHERE resource_id = 1),
    'booking_longest still bounds the giant booking after the rebuild (saturated)');
SELECT is((SELECT coalesce(string_agg(check_name, ','), '') FROM mojob.verify() WHERE NOT ok), '',
    'verify() is clean after the rebuild');
SET ROLE mojob_planner;
SELECT throws_ok($$ SELECT mojob.create_job('tomorrow', now() + interval '1 day', now() + interval '1 day 1 hour',
                    state => 'tentative', resources => '{1}') $$,
    'MJ005', NULL, 'a reservation overlapping the giant booking is refused after the rebuild');
RESET ROLE;

-- The same after a hand edit that lost the bound, and an exact one kept exact.
DELETE FROM mojob.booking_longest;
SELECT is(mojob.rebuild_bookings(), 0, 'rebuild_bookings() after booking_longest was emptied');
SELECT ok((SELECT extract(epoch FROM longest) * 1000000 >= 9223372036854775807
           FROM mojob.booking_longest WHERE resource_id = 1),
    'the rebuilt bound is saturated, as the trigger writes it');
SELECT state AS s FROM mojob.cancel(:giant) \gset
SELECT is(mojob.rebuild_bookings(), 0, 'rebuild_bookings() after the giant job was canceled');
SELECT is((SELECT extract(epoch FROM longest) FROM mojob.booking_longest WHERE resource_id = 1),
    3600::numeric, 'the bound is the remaining booking''s length, exactly');

-- ---------------------------------------------------------------------
-- Duration settings checked when written
-- ---------------------------------------------------------------------

SELECT throws_ok($$ UPDATE mojob.settings SET validation_horizon = '1000000 years' $$,
    '22023', NULL,
    'a validation_horizon that would put now() + it out of range is refused');
SELECT throws_ok($$ UPDATE mojob.settings SET lock_timeout = '1000000 years' $$,
    '22023', NULL, 'a lock_timeout of a million years is refused');
SELECT throws_ok($$ UPDATE mojob.settings SET default_pre_roll = '1 month -29 days' $$,
    '22023', NULL,
    'a default pre-roll with a negative part is refused');
SELECT throws_ok($$ UPDATE mojob.settings SET default_post_roll = '1 day -1 microsecond' $$,
    '22023', NULL, 'a default post-roll with a negative part is refused');
SELECT throws_ok($$ UPDATE mojob.settings SET lock_timeout = '0' $$,
    '22023', NULL, 'a lock_timeout of zero is still refused');
SELECT lives_ok($$ UPDATE mojob.settings SET default_pre_roll = '1 hour', default_post_roll = '1 day 30 minutes',
                   validation_horizon = '2 years', lock_timeout = '1 month 2 days' $$,
    'ordinary durations are accepted');
-- What the refused values broke: readable again with the accepted ones.
SELECT lives_ok($$ SELECT count(x::text) FROM mojob.job_errors x $$, 'mojob.job_errors reads');
SELECT lives_ok($$ SELECT mojob.create_job('march', '2027-03-01+00', '2027-03-02+00') $$,
    'a job in March is created with the default rolls');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
