-- Canceling a recurrence (docs/design.md section 7) and the view
-- mojob.recurrences: mojob.cancel_recurrence(recurrence, reason) cancels the
-- tentative and confirmed instances that have not started (with the reason,
-- in their history), deletes the drafts, and leaves started ones (running,
-- completed) as they are; the recurrence records its state, canceled_at and
-- cancel_reason.  The view shows each recurrence with its rule, next
-- occurrence and counts of instances by state.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(34);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name) VALUES (1, 'studio'), (2, 'desk'), (3, 'booth');

-- The first show starts tomorrow at 20:00 UTC; the recurrence is weekly.
CREATE FUNCTION pg_temp.s(weeks int) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT date_trunc('day', now()) + interval '1 day 20 hours' + weeks * interval '7 days'
$$;
CREATE FUNCTION pg_temp.r(label text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT r.id FROM mojob.recurrence r JOIN mojob.job j ON j.id = r.template_job WHERE j.name = label
$$;
-- The instance of the weekly show in week w.
CREATE FUNCTION pg_temp.week(w int) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM mojob.job WHERE recurrence_id = pg_temp.r('weekly show') AND start_at = pg_temp.s(w)
$$;

DO $$
DECLARE
    t mojob.job;
BEGIN
    t := mojob.create_job_for_resource(1, 'weekly show', pg_temp.s(0), pg_temp.s(0) + interval '1 hour');
    PERFORM mojob.create_job_for_resource(1, 'outside broadcast', pg_temp.s(2), pg_temp.s(2) + interval '3 hours');
    PERFORM mojob.make_recurring(t.id, 'FREQ=WEEKLY;COUNT=6', 'UTC');
END
$$;

-- ---------------------------------------------------------------------
-- mojob.recurrences: rule, next occurrence, counts by state
-- ---------------------------------------------------------------------

SELECT results_eq(
    $$ SELECT rule, time_zone, horizon, state, next_occurrence,
              instances, draft, tentative, confirmed, running, completed, canceled
       FROM mojob.recurrences WHERE id = pg_temp.r('weekly show') $$,
    $$ VALUES ('FREQ=WEEKLY;COUNT=6', 'UTC', interval '1 year', 'active', pg_temp.s(0),
               6::bigint, 1::bigint, 5::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint) $$,
    'mojob.recurrences shows the rule, the first show as next occurrence, and six instances: one draft (in conflict), five tentative');
SELECT is((SELECT template_job FROM mojob.recurrences WHERE id = pg_temp.r('weekly show')),
    (SELECT id FROM mojob.job WHERE name = 'weekly show' ORDER BY id LIMIT 1),
    'mojob.recurrences shows the template job');

-- Started instances: one running, one completed (inserted by the table
-- owner, as a restore would), the running one holding the desk.
DO $$
DECLARE
    jid bigint;
BEGIN
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, recurrence_id)
    VALUES ('weekly show', 'running', now() - interval '1 hour', now() - interval '1 hour',
            now() + interval '1 hour', now() + interval '1 hour', pg_temp.r('weekly show'))
    RETURNING id INTO jid;
    INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (jid, 2);
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, recurrence_id)
    VALUES ('weekly show', 'completed', now() - interval '7 days', now() - interval '7 days',
            now() - interval '7 days' + interval '1 hour', now() - interval '7 days' + interval '1 hour',
            pg_temp.r('weekly show'));
END
$$;
CREATE TEMP TABLE started AS
    SELECT * FROM mojob.job WHERE recurrence_id = pg_temp.r('weekly show') AND state IN ('running', 'completed');
SELECT FROM mojob.confirm(pg_temp.week(1));

SELECT results_eq(
    $$ SELECT next_occurrence, instances, draft, tentative, confirmed, running, completed, canceled
       FROM mojob.recurrences WHERE id = pg_temp.r('weekly show') $$,
    $$ VALUES (pg_temp.s(0), 8::bigint, 1::bigint, 4::bigint, 1::bigint, 1::bigint, 1::bigint, 0::bigint) $$,
    'after a confirm and two started instances the counts are 1 draft, 4 tentative, 1 confirmed, 1 running, 1 completed');

SELECT FROM mojob.cancel(pg_temp.week(0), 'studio flooded');
SELECT results_eq(
    $$ SELECT next_occurrence, instances, tentative, canceled
       FROM mojob.recurrences WHERE id = pg_temp.r('weekly show') $$,
    $$ VALUES (pg_temp.s(1), 8::bigint, 3::bigint, 1::bigint) $$,
    'after canceling the first show the next occurrence is the second, and one instance counts as canceled');

-- ---------------------------------------------------------------------
-- cancel_recurrence
-- ---------------------------------------------------------------------

CREATE TEMP TABLE events_before AS SELECT max(id) AS id FROM mojob.job_event;
SET mojob.actor = 'carol';
CREATE TEMP TABLE canceled AS SELECT * FROM mojob.cancel_recurrence(pg_temp.r('weekly show'), 'season over');
RESET mojob.actor;

SELECT results_eq(
    $$ SELECT id, state, canceled_at, cancel_reason FROM canceled $$,
    $$ VALUES (pg_temp.r('weekly show'), 'canceled', now(), 'season over') $$,
    'cancel_recurrence returns the recurrence, canceled now with the reason');
SELECT results_eq(
    $$ SELECT state, canceled_at, cancel_reason FROM mojob.recurrence WHERE id = pg_temp.r('weekly show') $$,
    $$ VALUES ('canceled', now(), 'season over') $$,
    'mojob.recurrence records the state, canceled_at and cancel_reason');
SELECT results_eq(
    $$ SELECT start_at, state, cancel_reason, canceled_at FROM mojob.job
       WHERE recurrence_id = pg_temp.r('weekly show') AND start_at > now() AND start_at <> pg_temp.s(0)
       ORDER BY start_at $$,
    $$ VALUES (pg_temp.s(1), 'canceled'::mojob.job_state, 'season over', now()),
              (pg_temp.s(3), 'canceled', 'season over', now()),
              (pg_temp.s(4), 'canceled', 'season over', now()),
              (pg_temp.s(5), 'canceled', 'season over', now()) $$,
    'the confirmed and tentative instances that have not started are canceled with the reason');
SELECT set_eq(
    $$ SELECT e.job_id, e.from_state, e.to_state, e.cause, e.by_user, e.reason FROM mojob.job_event e
       WHERE e.id > (SELECT id FROM events_before) $$,
    $$ VALUES (pg_temp.week(1), 'confirmed'::mojob.job_state, 'canceled'::mojob.job_state, 'user', 'carol', 'season over'),
              (pg_temp.week(3), 'tentative', 'canceled', 'user', 'carol', 'season over'),
              (pg_temp.week(4), 'tentative', 'canceled', 'user', 'carol', 'season over'),
              (pg_temp.week(5), 'tentative', 'canceled', 'user', 'carol', 'season over') $$,
    'each canceled instance has one history row carrying the reason and the acting user, and nothing else is written');
SELECT is(pg_temp.week(2), NULL,
    'the draft instance (the one in conflict) is deleted');
SELECT is((SELECT count(*)::int FROM mojob.recurrence_conflict), 0,
    'the deleted draft''s conflict row is gone');
SELECT results_eq(
    $$ SELECT state, cancel_reason FROM mojob.job WHERE id = pg_temp.week(0) $$,
    $$ VALUES ('canceled'::mojob.job_state, 'studio flooded') $$,
    'an instance canceled before keeps its own reason');
SELECT set_eq(
    $$ SELECT j.id, j.state, j.version, j.start_at, j.end_at FROM mojob.job j JOIN started s ON s.id = j.id $$,
    $$ SELECT id, state, version, start_at, end_at FROM started $$,
    'the running and the completed instance are left as they were');
SELECT is((SELECT held FROM mojob.resource_schedule WHERE resource_id = 2),
    tstzrange(now() - interval '1 hour', now() + interval '1 hour'),
    'the running instance keeps its booking');
SELECT is((SELECT count(*)::int FROM mojob.resource_schedule s JOIN mojob.job j ON j.id = s.job_id
           WHERE j.recurrence_id = pg_temp.r('weekly show') AND j.state = 'canceled'), 0,
    'the canceled instances release their bookings');
SELECT is((SELECT state FROM mojob.job WHERE name = 'outside broadcast'), 'tentative'::mojob.job_state,
    'a job outside the recurrence is untouched');
SELECT lives_ok(
    $$ SELECT mojob.create_job_for_resource(1, 'replacement', pg_temp.s(3), pg_temp.s(3) + interval '1 hour') $$,
    'the studio is free again at the time of a canceled instance: another job can book it');

SELECT results_eq(
    $$ SELECT state, canceled_at, cancel_reason, next_occurrence,
              instances, draft, tentative, confirmed, running, completed, canceled
       FROM mojob.recurrences WHERE id = pg_temp.r('weekly show') $$,
    $$ VALUES ('canceled', now(), 'season over', NULL::timestamptz,
               7::bigint, 0::bigint, 0::bigint, 0::bigint, 1::bigint, 1::bigint, 5::bigint) $$,
    'mojob.recurrences shows the canceled recurrence: no next occurrence, 1 running, 1 completed, 5 canceled');

-- Twice, unknown, NULL.
SELECT throws_ok(format('SELECT mojob.cancel_recurrence(%s)', pg_temp.r('weekly show')), 'MJ001', NULL,
    'canceling a recurrence twice is refused with MJ001');
SELECT throws_ok(format('SELECT mojob.cancel_recurrence(%s, %L)', pg_temp.r('weekly show'), 'again'),
    'MJ001', format('recurrence %s is already canceled', pg_temp.r('weekly show')),
    'the refusal says the recurrence is already canceled');
SELECT results_eq(
    $$ SELECT canceled_at, cancel_reason FROM mojob.recurrence WHERE id = pg_temp.r('weekly show') $$,
    $$ VALUES (now(), 'season over') $$,
    'a refused second cancel keeps the first reason');
SELECT throws_ok('SELECT mojob.cancel_recurrence(999999)', 'MJ404', NULL,
    'canceling an unknown recurrence is refused with MJ404');
SELECT throws_ok('SELECT mojob.cancel_recurrence(NULL)', '22023', NULL,
    'cancel_recurrence with a NULL recurrence is refused with 22023');

-- ---------------------------------------------------------------------
-- Without a reason; a recurrence of drafts
-- ---------------------------------------------------------------------

DO $$
DECLARE
    t mojob.job;
BEGIN
    t := mojob.create_job_for_resource(3, 'late show', pg_temp.s(0) + interval '3 hours', pg_temp.s(0) + interval '4 hours');
    PERFORM mojob.make_recurring(t.id, 'FREQ=DAILY;COUNT=3', 'Europe/Brussels');
    t := mojob.create_job('rehearsal', pg_temp.s(0) - interval '4 hours', pg_temp.s(0) - interval '3 hours');
    PERFORM mojob.add_resource(t.id, 3);
    PERFORM mojob.make_recurring(t.id, 'FREQ=DAILY;COUNT=3', 'Europe/Brussels');
END
$$;
CREATE TEMP TABLE late_show AS SELECT id FROM mojob.job WHERE recurrence_id = pg_temp.r('late show');
CREATE TEMP TABLE rehearsal AS SELECT id FROM mojob.job WHERE recurrence_id = pg_temp.r('rehearsal');

SELECT results_eq(
    $$ SELECT rule, time_zone, draft, tentative FROM mojob.recurrences
       WHERE id IN (pg_temp.r('late show'), pg_temp.r('rehearsal')) ORDER BY id $$,
    $$ VALUES ('FREQ=DAILY;COUNT=3', 'Europe/Brussels', 0::bigint, 3::bigint),
              ('FREQ=DAILY;COUNT=3', 'Europe/Brussels', 3::bigint, 0::bigint) $$,
    'mojob.recurrences shows one line per recurrence with its own counts');

SELECT is((SELECT cancel_reason FROM mojob.cancel_recurrence(pg_temp.r('late show'))), NULL,
    'cancel_recurrence without a reason records none');
SELECT set_eq(
    $$ SELECT j.state, j.cancel_reason FROM mojob.job j JOIN late_show l ON l.id = j.id $$,
    $$ VALUES ('canceled'::mojob.job_state, NULL::text) $$,
    'without a reason the instances are canceled with none');
SELECT is((SELECT count(*)::int FROM mojob.job_event e JOIN late_show l ON l.id = e.job_id
           WHERE e.to_state = 'canceled' AND e.reason IS NULL), 3,
    'each of them has a history row without a reason');
SELECT is((SELECT state FROM mojob.recurrence WHERE id = pg_temp.r('late show')), 'canceled',
    'the recurrence is canceled');

CREATE TEMP TABLE rehearsal_rec AS SELECT pg_temp.r('rehearsal') AS id;
SELECT lives_ok(format('SELECT mojob.cancel_recurrence(%s, %L)', (SELECT id FROM rehearsal_rec), 'not needed'),
    'a recurrence of drafts can be canceled');
SELECT is((SELECT count(*)::int FROM mojob.job j JOIN rehearsal r ON r.id = j.id), 0,
    'canceling a recurrence of drafts deletes every draft, the template too');
SELECT is((SELECT count(*)::int FROM mojob.job_event e JOIN rehearsal r ON r.id = e.job_id), 0,
    'deleting the drafts writes no history');
SELECT results_eq(
    $$ SELECT state, cancel_reason, next_occurrence, instances FROM mojob.recurrences
       WHERE id = (SELECT id FROM rehearsal_rec) $$,
    $$ VALUES ('canceled', 'not needed', NULL::timestamptz, 0::bigint) $$,
    'mojob.recurrences still shows the canceled recurrence, with no instance left');
SELECT is((SELECT count(*)::int FROM mojob.recurrence), 3,
    'canceling keeps the recurrence rows');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
