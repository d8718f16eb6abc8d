-- Reservations (docs/design.md sections 2, 4 and 6): which jobs hold their
-- resources, for which window, how many at once and how much; what a
-- refusal (MJ005) says and that it changes nothing; every path that books
-- (functions and plain writes) is checked; releasing by cancel, by the end
-- of the post-roll, and by stopping early.  mojob.booking, the internal
-- table of what is held, is asserted directly.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(120);

-- ---------------------------------------------------------------------
-- Fixtures
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, concurrency, capacity) VALUES
    (1, 'studio-a', 1, NULL),   -- states that hold
    (2, 'studio-b', 1, NULL),   -- half-open windows, rolls
    (3, 'router', 2, NULL),     -- peak versus overlap
    (4, 'encoder', 5, 10),      -- capacity
    (5, 'uplink', 3, NULL),     -- unlimited capacity
    (6, 'studio-c', 1, NULL),   -- what a refusal names
    (7, 'truck', 1, NULL),      -- reschedule and plain writes on mojob.job
    (8, 'truck-2', 1, NULL),    -- create_job, create_job_for_resource, job_resource writes
    (9, 'crew', 1, NULL),       -- manual start
    (10, 'desk', 1, NULL),      -- a running job's end moves
    (11, 'post-1', 1, NULL),    -- completed, post-roll ahead
    (12, 'post-2', 1, NULL),    -- completed, post-roll over
    (13, 'van', 1, NULL),       -- stop early
    (14, 'van-2', 1, NULL),     -- stop early without post-roll
    (15, 'vision', 1, NULL),    -- mojob.advance
    (16, 'old-desk', 1, NULL),  -- shrinking on a disabled resource
    (17, 'booth', 1, NULL),     -- a client that does not own the tables
    (18, 'archive', 1, NULL),   -- windows reaching into the past
    (19, 'festival', 1, NULL);  -- the longest booking of a resource

-- The id and code of the job named label.
CREATE FUNCTION pg_temp.j(label text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.code(label text) RETURNS text
LANGUAGE sql AS $$ SELECT code FROM mojob.job WHERE name = label $$;
CREATE FUNCTION pg_temp.state(label text) RETURNS mojob.job_state
LANGUAGE sql AS $$ SELECT state FROM mojob.job WHERE name = label $$;

-- The window job label holds resource res for (NULL: it holds nothing there),
-- and how many booking rows the job has.
CREATE FUNCTION pg_temp.held(label text, res bigint) RETURNS tstzrange
LANGUAGE sql AS $$
    SELECT b.held FROM mojob.booking b WHERE b.job_id = pg_temp.j(label) AND b.resource_id = res
$$;
CREATE FUNCTION pg_temp.bookings(label text) RETURNS integer
LANGUAGE sql AS $$ SELECT count(*)::int FROM mojob.booking WHERE job_id = pg_temp.j(label) $$;

\ir helpers/reservations.psql


-- ---------------------------------------------------------------------
-- mojob.advance: a job completed by time holds through its post-roll
-- (first, while it is the only confirmed job)
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('aired', '2027-09-01 10:00Z', '2027-09-01 11:00Z', '{15}', 'confirmed',
                   post => '1 hour');
SELECT is(mojob.advance('2027-09-01 11:30Z'), 2,
    'advance past the end of a confirmed job runs it and completes it');
SELECT is(pg_temp.held('aired', 15), tstzrange('2027-09-01 10:00Z', '2027-09-01 12:00Z'),
    'a job completed by advance keeps its booking until its post_roll_end');
SELECT FROM pg_temp.job('after air', '2027-09-01 11:30Z', '2027-09-01 12:30Z', '{15}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('after air')), 'MJ005', NULL,
    'a completed job whose post-roll is still ahead blocks its resource');
SELECT FROM pg_temp.job('after post', '2027-09-01 12:00Z', '2027-09-01 13:00Z', '{15}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('after post'))), 'tentative',
    'the resource of a completed job is free from its post_roll_end on');

-- ---------------------------------------------------------------------
-- Which states hold
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('first', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{1}');
SELECT FROM pg_temp.job('second', '2027-09-15 10:00Z', '2027-09-15 11:00Z', '{1}');
SELECT is(pg_temp.bookings('first') + pg_temp.bookings('second'), 0,
    'draft jobs book nothing, even two on the same resource at the same time');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('first'))), 'tentative',
    'a draft whose resource is free can be reserved');
SELECT is(pg_temp.held('first', 1), tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'),
    'a tentative job holds its resource for [pre_roll_start, post_roll_end)');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('second')), 'MJ005', NULL,
    'a tentative job blocks another reservation of its resource at the same time');
SELECT is(pg_temp.state('second'), 'draft', 'a refused reservation leaves the job in draft');
SELECT is(pg_temp.bookings('second'), 0, 'a refused reservation writes no booking');
SELECT is((SELECT count(*)::int FROM mojob.job_event WHERE job_id = pg_temp.j('second')), 0,
    'a refused reservation writes no history');

SELECT FROM pg_temp.job('pair', '2027-09-15 10:30Z', '2027-09-15 11:30Z', '{2,1}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('pair')), 'MJ005', NULL,
    'a job is refused when one of its resources is taken');
SELECT is(pg_temp.bookings('pair'), 0, 'a refused reservation books none of the job''s resources, not even the free one');

SELECT FROM mojob.confirm(pg_temp.j('first'));
SELECT is(pg_temp.held('first', 1), tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'),
    'confirming keeps the booking as it was');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('second')), 'MJ005', NULL,
    'a confirmed job blocks another reservation of its resource');
SELECT FROM mojob.unconfirm(pg_temp.j('first'));
SELECT is(pg_temp.held('first', 1), tstzrange('2027-09-15 10:00Z', '2027-09-15 11:00Z'),
    'unconfirming keeps the booking as it was');

SELECT FROM mojob.cancel(pg_temp.j('first'), 'not needed');
SELECT is(pg_temp.bookings('first'), 0, 'canceling a job drops its bookings');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('second'))), 'tentative',
    'the resource a canceled job held can be reserved by another');

-- ---------------------------------------------------------------------
-- Half-open windows; pre-roll and post-roll are held
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('ten', '2027-09-16 10:00Z', '2027-09-16 11:00Z', '{2}', 'tentative');
SELECT FROM pg_temp.job('eleven', '2027-09-16 11:00Z', '2027-09-16 12:00Z', '{2}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('eleven'))), 'tentative',
    'a window starting where another ends does not conflict with it');
SELECT FROM pg_temp.job('nine', '2027-09-16 09:00Z', '2027-09-16 10:00Z', '{2}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('nine'))), 'tentative',
    'a window ending where another starts does not conflict with it');

SELECT FROM pg_temp.job('rolled', '2027-09-16 13:00Z', '2027-09-16 14:00Z', '{2}', 'tentative',
                   post => '30 minutes');
SELECT is(pg_temp.held('rolled', 2), tstzrange('2027-09-16 13:00Z', '2027-09-16 14:30Z'),
    'the booking includes the post-roll');
SELECT FROM pg_temp.job('in post-roll', '2027-09-16 14:15Z', '2027-09-16 15:00Z', '{2}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('in post-roll')), 'MJ005', NULL,
    'a job starting inside another''s post-roll conflicts with it');
SELECT FROM pg_temp.job('after roll', '2027-09-16 14:30Z', '2027-09-16 15:00Z', '{2}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('after roll'))), 'tentative',
    'a job starting at another''s post_roll_end fits');
SELECT FROM pg_temp.job('long pre-roll', '2027-09-16 15:30Z', '2027-09-16 16:00Z', '{2}',
                   pre => '45 minutes');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('long pre-roll')), 'MJ005', NULL,
    'a pre-roll reaching into another job''s window conflicts with it');
SELECT FROM pg_temp.job('short pre-roll', '2027-09-16 15:30Z', '2027-09-16 16:00Z', '{2}',
                   pre => '30 minutes');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('short pre-roll'))), 'tentative',
    'a pre-roll starting where another job''s window ends fits');
SELECT is(pg_temp.held('short pre-roll', 2), tstzrange('2027-09-16 15:00Z', '2027-09-16 16:00Z'),
    'the booking includes the pre-roll');

-- ---------------------------------------------------------------------
-- Concurrency is a peak, not a count of overlaps
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('r1', '2027-09-17 10:00Z', '2027-09-17 11:00Z', '{3}', 'tentative');
SELECT FROM pg_temp.job('r2', '2027-09-17 10:30Z', '2027-09-17 11:30Z', '{3}', 'tentative');
SELECT FROM pg_temp.job('r3', '2027-09-17 11:00Z', '2027-09-17 12:00Z', '{3}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('r3'))), 'tentative',
    'jobs 10-11, 10:30-11:30 and 11-12 fit a resource of concurrency 2 (never more than two at once)');
SELECT is((SELECT jobs FROM mojob.resource_usage(3, tstzrange('2027-09-17 09:00Z', '2027-09-17 13:00Z'))),
    2, 'resource_usage finds two jobs at the peak, not three');
SELECT FROM pg_temp.job('r4', '2027-09-17 10:40Z', '2027-09-17 10:50Z', '{3}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('r4')), 'MJ005',
    'resource "router" is already booked from 2027-09-17 10:40:00+00 to 2027-09-17 10:50:00+00',
    'a third job while two hold a resource of concurrency 2 is refused, the message naming the resource and the window');
CREATE TEMP TABLE r4_err AS SELECT * FROM pg_temp.err(format('SELECT mojob.reserve(%s)', pg_temp.j('r4')));
SELECT ok((SELECT detail LIKE '%' || pg_temp.code('r1') || '%' AND detail LIKE '%' || pg_temp.code('r2') || '%' FROM r4_err),
    'the refusal''s detail names the codes of both jobs in the way');
SELECT ok((SELECT detail NOT LIKE '%' || pg_temp.code('r3') || '%' FROM r4_err),
    'the refusal''s detail does not name a job that is not in the way');
SELECT ok((SELECT detail LIKE '%2027-09-17 10:40:00+00%2027-09-17 10:50:00+00%' FROM r4_err),
    'the refusal''s detail gives the window the job needs');
SELECT FROM pg_temp.job('r5', '2027-09-17 11:30Z', '2027-09-17 12:30Z', '{3}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('r5'))), 'tentative',
    'a job overlapping only one of the holders fits a resource of concurrency 2');

-- Every job in the way is named, not only those of the first stretch.
SELECT FROM pg_temp.job('c-first', '2027-09-18 10:00Z', '2027-09-18 11:00Z', '{6}', 'tentative');
SELECT FROM pg_temp.job('c-second', '2027-09-18 11:00Z', '2027-09-18 12:00Z', '{6}', 'tentative');
SELECT FROM pg_temp.job('c-across', '2027-09-18 10:30Z', '2027-09-18 11:30Z', '{6}');
CREATE TEMP TABLE across_err AS
    SELECT * FROM pg_temp.err(format('SELECT mojob.reserve(%s)', pg_temp.j('c-across')));
SELECT is((SELECT state FROM across_err), 'MJ005', 'a job across two holders'' windows is refused');
SELECT ok((SELECT msg LIKE '%"studio-c"%' FROM across_err), 'the refusal names the resource');
SELECT ok((SELECT detail LIKE '%' || pg_temp.code('c-first') || '%'
              AND detail LIKE '%' || pg_temp.code('c-second') || '%' FROM across_err),
    'the refusal names every job in the way, in both stretches of the window');
SELECT ok((SELECT hint IS NOT NULL FROM across_err), 'the refusal has a hint');

-- ---------------------------------------------------------------------
-- Capacity: the summed amount at any instant
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('six', '2027-09-19 10:00Z', '2027-09-19 11:00Z', '{4}', 'tentative', amount => 6);
SELECT FROM pg_temp.job('four', '2027-09-19 10:30Z', '2027-09-19 11:30Z', '{4}', amount => 4);
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('four'))), 'tentative',
    'amounts adding up to exactly the capacity fit');
SELECT is((SELECT (jobs, amount)::text FROM mojob.resource_usage(4, tstzrange('2027-09-19 00:00Z', '2027-09-20 00:00Z'))),
    '(2,10)', 'resource_usage gives the peak summed amount');
SELECT is((SELECT amount FROM mojob.booking WHERE job_id = pg_temp.j('four')), 4::numeric,
    'the booking carries the node''s amount');
SELECT FROM pg_temp.job('one more', '2027-09-19 10:45Z', '2027-09-19 11:15Z', '{4}', amount => 1);
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('one more')), 'MJ005', NULL,
    'an amount beyond the capacity left is refused although concurrency allows the job');
SELECT ok((SELECT msg LIKE '%"encoder"%' FROM pg_temp.err(format('SELECT mojob.reserve(%s)', pg_temp.j('one more')))),
    'a capacity refusal names the resource');
SELECT FROM pg_temp.job('no amount', '2027-09-19 10:45Z', '2027-09-19 11:15Z', '{4}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('no amount'))), 'tentative',
    'a node of amount 0 fits while the capacity is used up');
SELECT FROM pg_temp.job('later one', '2027-09-19 11:30Z', '2027-09-19 12:00Z', '{4}', amount => 10);
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('later one'))), 'tentative',
    'the whole capacity is free where no other job holds it (half-open windows)');
SELECT FROM pg_temp.job('too big', '2027-09-20 10:00Z', '2027-09-20 11:00Z', '{4}', amount => 11);
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('too big')), 'MJ005', NULL,
    'an amount larger than the capacity is refused even with nothing else booked');
SELECT throws_ok(format('UPDATE mojob.job_resource SET amount = 5 WHERE job_id = %s', pg_temp.j('four')),
    'MJ005', NULL, 'raising a holding node''s amount beyond the capacity left is refused');
SELECT is((SELECT amount FROM mojob.booking WHERE job_id = pg_temp.j('four')), 4::numeric,
    'a refused amount change leaves the booking''s amount');
UPDATE mojob.job_resource SET amount = 3 WHERE job_id = pg_temp.j('four');
SELECT is((SELECT amount FROM mojob.booking WHERE job_id = pg_temp.j('four')), 3::numeric,
    'lowering a holding node''s amount is allowed and the booking follows');

SELECT FROM generate_series(1, 3) i,
    pg_temp.job('big-' || i, '2027-09-19 10:00Z', '2027-09-19 11:00Z', '{5}', 'tentative', amount => 1000000);
SELECT is((SELECT (jobs, amount)::text FROM mojob.resource_usage(5, tstzrange('2027-09-19 00:00Z', '2027-09-20 00:00Z'))),
    '(3,3000000)', 'a NULL capacity is unlimited: any amounts fit up to the concurrency');
SELECT FROM pg_temp.job('big-4', '2027-09-19 10:00Z', '2027-09-19 11:00Z', '{5}', amount => 0);
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('big-4')), 'MJ005', NULL,
    'an unlimited capacity still obeys concurrency');

-- ---------------------------------------------------------------------
-- Every path that books is checked
-- ---------------------------------------------------------------------

-- reschedule (the blocker holds truck 12:00-14:00)
SELECT FROM pg_temp.job('blocker', '2027-09-21 12:00Z', '2027-09-21 14:00Z', '{7}', 'tentative');
SELECT FROM pg_temp.job('mover', '2027-09-21 10:00Z', '2027-09-21 11:00Z', '{7}', 'confirmed');
SELECT throws_ok(format($$SELECT mojob.reschedule(%s, '2027-09-21 10:00Z', '2027-09-21 12:30Z')$$, pg_temp.j('mover')),
    'MJ005', NULL, 'rescheduling a holding job so that its window grows into a conflict is refused');
SELECT is((SELECT (start_at, end_at)::text FROM mojob.job WHERE name = 'mover'),
    '("2027-09-21 10:00:00+00","2027-09-21 11:00:00+00")', 'a refused reschedule leaves the job''s window');
SELECT is(pg_temp.held('mover', 7), tstzrange('2027-09-21 10:00Z', '2027-09-21 11:00Z'),
    'a refused reschedule leaves the booking');
SELECT throws_ok(format($$SELECT mojob.reschedule(%s, '2027-09-21 10:00Z', '2027-09-21 11:00Z', post_roll => '90 minutes')$$, pg_temp.j('mover')),
    'MJ005', NULL, 'rescheduling with a post-roll that reaches a conflict is refused');
SELECT FROM mojob.reschedule(pg_temp.j('mover'), '2027-09-21 10:00Z', '2027-09-21 12:00Z');
SELECT is(pg_temp.held('mover', 7), tstzrange('2027-09-21 10:00Z', '2027-09-21 12:00Z'),
    'a reschedule that grows without conflict moves the booking');
SELECT FROM mojob.reschedule(pg_temp.j('mover'), '2027-09-21 10:30Z', '2027-09-21 11:00Z');
SELECT is(pg_temp.held('mover', 7), tstzrange('2027-09-21 10:30Z', '2027-09-21 11:00Z'),
    'a reschedule that shrinks moves the booking');
SELECT FROM mojob.reschedule(pg_temp.j('mover'), '2027-09-21 15:00Z', '2027-09-21 16:00Z');
SELECT is(pg_temp.held('mover', 7), tstzrange('2027-09-21 15:00Z', '2027-09-21 16:00Z'),
    'a reschedule to a free window moves the booking there');

-- Shrinking is allowed even where a check would fail: a tentative job in
-- the past on a resource disabled since (its window has ended).
SELECT FROM pg_temp.job('past', now() - interval '3 hours', now() - interval '2 hours', '{16}', 'tentative');
UPDATE mojob.resource SET enabled = false WHERE id = 16;
SELECT FROM mojob.reschedule(pg_temp.j('past'), now() - interval '3 hours', now() - interval '150 minutes');
SELECT is(pg_temp.held('past', 16), tstzrange(now() - interval '3 hours', now() - interval '150 minutes'),
    'a holding job can shrink its window on a resource disabled since');
SELECT throws_ok(format($$SELECT mojob.reschedule(%s, now() - interval '3 hours', now() - interval '1 hour')$$, pg_temp.j('past')),
    'MJ006', NULL, 'a holding job cannot grow its window on a disabled resource');

SELECT throws_ok($$SELECT mojob.create_job_for_resource(16, 'on old desk', '2027-09-21 10:00Z', '2027-09-21 11:00Z')$$,
    'MJ006', NULL, 'create_job_for_resource of a disabled resource is refused with MJ006');
SELECT throws_ok($$SELECT mojob.create_job('old desk job', '2027-09-21 10:00Z', '2027-09-21 11:00Z',
                                           state => 'tentative', resources => '{16}')$$,
    'MJ006', NULL, 'create_job in tentative with a disabled resource is refused with MJ006');

-- plain UPDATE of mojob.job
SELECT FROM pg_temp.job('plain', '2027-09-21 13:00Z', '2027-09-21 15:00Z', '{7}');
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'tentative' WHERE id = %s$$, pg_temp.j('plain')),
    'MJ005', NULL, 'a plain UPDATE reserving a draft is checked like mojob.reserve');
SELECT is(pg_temp.state('plain'), 'draft', 'the refused UPDATE leaves the job in draft');
SELECT throws_ok(format($$UPDATE mojob.job SET pre_roll_start = '2027-09-21 13:00Z', start_at = '2027-09-21 13:00Z' WHERE id = %s$$, pg_temp.j('mover')),
    'MJ005', NULL, 'a plain UPDATE moving a holding job''s start into a conflict is refused');
SELECT throws_ok(format($$UPDATE mojob.job SET pre_roll_start = '2027-09-21 13:59Z' WHERE id = %s$$, pg_temp.j('mover')),
    'MJ005', NULL, 'a plain UPDATE moving pre_roll_start into a conflict is refused');
UPDATE mojob.job SET pre_roll_start = '2027-09-21 14:00Z' WHERE id = pg_temp.j('mover');
SELECT is(pg_temp.held('mover', 7), tstzrange('2027-09-21 14:00Z', '2027-09-21 16:00Z'),
    'a plain UPDATE of the window moves the booking');

SELECT FROM pg_temp.job('twin-1', '2027-09-22 10:00Z', '2027-09-22 11:00Z', '{7}');
SELECT FROM pg_temp.job('twin-2', '2027-09-22 10:30Z', '2027-09-22 11:30Z', '{7}');
SELECT throws_ok(format($$UPDATE mojob.job SET state = 'tentative' WHERE id IN (%s, %s)$$,
                        pg_temp.j('twin-1'), pg_temp.j('twin-2')),
    'MJ005', NULL, 'one UPDATE reserving two drafts that conflict with each other is refused');
SELECT is(pg_temp.bookings('twin-1') + pg_temp.bookings('twin-2'), 0,
    'the refused UPDATE books neither job');

-- create_job, create_job_for_resource (the blocker holds truck-2 10:00-12:00)
SELECT FROM pg_temp.job('blocker-2', '2027-09-23 10:00Z', '2027-09-23 12:00Z', '{8}', 'tentative');
SELECT throws_ok($$SELECT mojob.create_job('made tentative', '2027-09-23 11:00Z', '2027-09-23 13:00Z',
                                           state => 'tentative', resources => '{1, 8}')$$,
    'MJ005', NULL, 'create_job in tentative checks its resources');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE name = 'made tentative'), 0,
    'a refused create_job creates no job');
SELECT is((SELECT count(*)::int FROM mojob.booking WHERE resource_id = 1), 1,
    'a refused create_job leaves no booking of its other resources');
SELECT throws_ok($$SELECT mojob.create_job_for_resource(8, 'for truck-2', '2027-09-23 09:00Z', '2027-09-23 10:30Z')$$,
    'MJ005', NULL, 'create_job_for_resource checks the resource');
SELECT is((SELECT count(*)::int FROM mojob.job WHERE name = 'for truck-2'), 0,
    'a refused create_job_for_resource creates no job');
SELECT FROM mojob.create_job_for_resource(8, 'for truck-2', '2027-09-23 09:00Z', '2027-09-23 10:00Z');
SELECT is((pg_temp.state('for truck-2'), pg_temp.held('for truck-2', 8))::text,
    '(tentative,"[""2027-09-23 09:00:00+00"",""2027-09-23 10:00:00+00"")")',
    'create_job_for_resource makes a tentative job holding the resource');
SELECT FROM mojob.create_job('made with truck', '2027-09-23 12:00Z', '2027-09-23 13:00Z',
                             state => 'tentative', resources => '{8}');
SELECT is(pg_temp.held('made with truck', 8), tstzrange('2027-09-23 12:00Z', '2027-09-23 13:00Z'),
    'create_job in tentative books its free resources at once');
UPDATE mojob.settings SET default_state = 'tentative';
SELECT throws_ok($$SELECT mojob.create_job('default tentative', '2027-09-23 11:00Z', '2027-09-23 13:00Z', resources => '{8}')$$,
    'MJ005', NULL, 'create_job in the default state tentative checks its resources');
UPDATE mojob.settings SET default_state = 'draft';

-- plain INSERT and UPDATE of mojob.job_resource
INSERT INTO mojob.job (name, state, start_at, end_at) VALUES
    ('inserted', 'tentative', '2027-09-23 11:30Z', '2027-09-23 12:30Z'),
    ('inserted-2', 'tentative', '2027-09-23 13:00Z', '2027-09-23 14:00Z'),
    ('inserted-3', 'tentative', '2027-09-23 13:30Z', '2027-09-23 14:30Z');
SELECT throws_ok(format('INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (%s, 8)', pg_temp.j('inserted')),
    'MJ005', NULL, 'a plain INSERT of a node into a tentative job is checked');
SELECT is((SELECT count(*)::int FROM mojob.job_resource WHERE job_id = pg_temp.j('inserted')), 0,
    'the refused INSERT adds no node');
SELECT throws_ok(format('INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (%s, 8), (%s, 8)',
                        pg_temp.j('inserted-2'), pg_temp.j('inserted-3')),
    'MJ005', NULL, 'one INSERT of nodes of two tentative jobs that conflict with each other is refused');
INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (pg_temp.j('inserted'), 1);
SELECT throws_ok(format('UPDATE mojob.job_resource SET resource_id = 8 WHERE job_id = %s', pg_temp.j('inserted')),
    'MJ005', NULL, 'a plain UPDATE moving a holding node to a busy resource is refused');
SELECT is(pg_temp.held('inserted', 1), tstzrange('2027-09-23 11:30Z', '2027-09-23 12:30Z'),
    'the refused node UPDATE leaves the booking where it was');

-- manual start: the window grows to now
SELECT FROM pg_temp.job('on air soon', now() + interval '1 hour', now() + interval '2 hours', '{9}', 'confirmed');
SELECT FROM pg_temp.job('crew call', now(), now() + interval '30 minutes', '{9}', 'tentative');
SELECT throws_ok(format('SELECT mojob.start(%s)', pg_temp.j('on air soon')), 'MJ005', NULL,
    'a manual start whose window grows into a conflict is refused');
SELECT is((SELECT (state, start_at)::text FROM mojob.job WHERE name = 'on air soon'),
          (SELECT ('confirmed', now() + interval '1 hour')::text),
    'a refused manual start leaves the job confirmed at its start');
SELECT FROM mojob.cancel(pg_temp.j('crew call'));
SELECT FROM mojob.start(pg_temp.j('on air soon'));
SELECT is(pg_temp.held('on air soon', 9), tstzrange(now(), now() + interval '2 hours'),
    'a manual start books the resource from now');

-- a running job's end moves
SELECT FROM pg_temp.job('live', now() - interval '1 hour', now() + interval '1 hour', '{10}', 'running');
SELECT FROM pg_temp.job('next on desk', now() + interval '2 hours', now() + interval '3 hours', '{10}', 'tentative');
SELECT throws_ok(format($$UPDATE mojob.job SET post_roll_end = now() + interval '150 minutes' WHERE id = %s$$, pg_temp.j('live')),
    'MJ005', NULL, 'extending a running job''s post-roll into a conflict is refused');
UPDATE mojob.job SET end_at = now() + interval '2 hours', post_roll_end = now() + interval '2 hours'
WHERE id = pg_temp.j('live');
SELECT is(pg_temp.held('live', 10), tstzrange(now() - interval '1 hour', now() + interval '2 hours'),
    'extending a running job up to the next booking is allowed and the booking follows');

-- ---------------------------------------------------------------------
-- Release: completed jobs, stop early
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('tearing down', now() - interval '2 hours', now() - interval '1 hour', '{11}', 'completed',
                   post => '2 hours');
SELECT is(pg_temp.held('tearing down', 11), tstzrange(now() - interval '2 hours', now() + interval '1 hour'),
    'a completed job whose post-roll is ahead keeps its booking');
SELECT FROM pg_temp.job('too soon', now(), now() + interval '2 hours', '{11}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('too soon')), 'MJ005', NULL,
    'a completed job in its post-roll blocks its resource');
SELECT FROM pg_temp.job('after teardown', now() + interval '1 hour', now() + interval '2 hours', '{11}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('after teardown'))), 'tentative',
    'a job starting at the completed job''s post_roll_end fits');

SELECT FROM pg_temp.job('torn down', now() - interval '3 hours', now() - interval '2 hours', '{12}', 'completed',
                   post => '1 hour');
SELECT is((SELECT jobs FROM mojob.resource_usage(12, tstzrange(now() - interval '3 hours', now()))), 0,
    'a job completed after its post-roll holds nothing: its booking is only the record of what it used');
SELECT FROM pg_temp.job('same slot', now() - interval '3 hours', now(), '{12}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('same slot'))), 'tentative',
    'a completed job whose post-roll is over does not block its old window');

SELECT FROM pg_temp.job('overrun', now() - interval '1 hour', now() + interval '2 hours', '{13}', 'running',
                   post => '30 minutes');
SELECT FROM pg_temp.job('next van', now() + interval '1 hour', now() + interval '2 hours', '{13}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('next van')), 'MJ005', NULL,
    'a running job blocks its resource until its post_roll_end');
SELECT FROM mojob.stop(pg_temp.j('overrun'));
SELECT is(pg_temp.held('overrun', 13), tstzrange(now() - interval '1 hour', now() + interval '30 minutes'),
    'stopping early ends the booking at now plus the post-roll');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('next van'))), 'tentative',
    'the resource of a job stopped early is free after its post-roll');

SELECT FROM pg_temp.job('short', now() - interval '1 hour', now() + interval '1 hour', '{14}', 'running');
SELECT FROM mojob.stop(pg_temp.j('short'));
SELECT is((SELECT jobs FROM mojob.resource_usage(14, tstzrange(now() - interval '2 hours', now() + interval '2 hours'))), 0,
    'stopping early a job without post-roll frees its resource at once');
SELECT FROM pg_temp.job('right after', now(), now() + interval '1 hour', '{14}');
SELECT is((SELECT state FROM mojob.reserve(pg_temp.j('right after'))), 'tentative',
    'the resource of a job stopped early is free from now');

-- ---------------------------------------------------------------------
-- A client that does not own the tables is checked the same way
-- ---------------------------------------------------------------------

CREATE ROLE mojob_test_res_clerk;
GRANT USAGE ON SCHEMA mojob TO mojob_test_res_clerk;
GRANT SELECT, INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource TO mojob_test_res_clerk;
GRANT SELECT ON mojob.resource, mojob.pool, mojob.pool_member, mojob.settings TO mojob_test_res_clerk;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_test_res_clerk;
-- Run sql as that client.
CREATE FUNCTION pg_temp.as_clerk(sql text) RETURNS void
LANGUAGE plpgsql SET role = mojob_test_res_clerk AS $$ BEGIN EXECUTE sql; END $$;

SELECT FROM pg_temp.job('booth blocker', '2027-09-24 10:00Z', '2027-09-24 11:00Z', '{17}', 'tentative');
SELECT FROM pg_temp.as_clerk($$SELECT mojob.create_job('clerk job', '2027-09-24 10:30Z', '2027-09-24 11:30Z', resources => '{17}')$$);
SELECT throws_ok(format('SELECT pg_temp.as_clerk(%L)', format('SELECT mojob.reserve(%s)', pg_temp.j('clerk job'))),
    'MJ005', NULL, 'a client that does not own the tables is refused a taken resource by mojob.reserve');
SELECT throws_ok(format('SELECT pg_temp.as_clerk(%L)',
                        format($$UPDATE mojob.job SET state = 'tentative' WHERE id = %s$$, pg_temp.j('clerk job'))),
    'MJ005', NULL, 'a client that does not own the tables is refused a taken resource by a plain UPDATE');
SELECT FROM pg_temp.as_clerk($$INSERT INTO mojob.job (name, state, start_at, end_at)
                               VALUES ('clerk insert', 'tentative', '2027-09-24 10:00Z', '2027-09-24 12:00Z')$$);
SELECT throws_ok(format('SELECT pg_temp.as_clerk(%L)',
                        format('INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (%s, 17)', pg_temp.j('clerk insert'))),
    'MJ005', NULL, 'a client that does not own the tables is refused a taken resource by a plain INSERT of a node');
SELECT FROM pg_temp.as_clerk(format($$SELECT mojob.reschedule(%s, '2027-09-24 11:00Z', '2027-09-24 12:00Z')$$,
                                    pg_temp.j('clerk job')));
SELECT FROM pg_temp.as_clerk(format('SELECT mojob.reserve(%s)', pg_temp.j('clerk job')));
SELECT is(pg_temp.held('clerk job', 17), tstzrange('2027-09-24 11:00Z', '2027-09-24 12:00Z'),
    'a client that does not own the tables books a free resource');
SELECT throws_ok(format('SELECT pg_temp.as_clerk(%L)',
                        format('INSERT INTO mojob.job_resource (job_id, resource_id) VALUES (%s, 17)', pg_temp.j('torn down'))),
    'MJ002', NULL, 'a client that does not own the tables cannot add a node to a completed job');

-- ---------------------------------------------------------------------
-- Windows reaching into the past: a completed job whose post-roll is over
-- holds nothing, even where its booking overlaps (its job's state is read
-- only for bookings that ended before now)
-- ---------------------------------------------------------------------

SELECT FROM pg_temp.job('done long ago', now() - interval '3 hours', now() - interval '2 hours', '{18}', 'completed');
SELECT is(pg_temp.state('done long ago'), 'completed', 'a job confirmed after its end completes at once');
SELECT is(pg_temp.held('done long ago', 18), tstzrange(now() - interval '3 hours', now() - interval '2 hours'),
    'and keeps its booking, which ended two hours ago');
SELECT lives_ok($$ SELECT pg_temp.job('late show', now() - interval '4 hours', now() + interval '1 hour', '{18}', 'tentative') $$,
    'a job whose window covers that booking is reserved: the completed job holds nothing any more');
SELECT results_eq($$ SELECT jobs FROM mojob.resource_usage(18, tstzrange(now() - interval '5 hours', now() + interval '2 hours')) $$,
    $$ VALUES (1) $$, 'resource_usage over the whole window counts the late show only');

-- ---------------------------------------------------------------------
-- The checks read a resource's bookings by start, from the window's start
-- less the resource's longest booking (mojob.booking_longest)
-- ---------------------------------------------------------------------

SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 19), NULL,
    'a resource that was never booked has no longest booking');
SELECT FROM pg_temp.job('three-day festival', '2027-10-01 00:00Z', '2027-10-04 00:00Z', '{19}', 'tentative');
SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 19), interval '72 hours',
    'a booking raises the longest booking of its resource to its length');
SELECT FROM pg_temp.job('late set', '2027-10-03 22:00Z', '2027-10-03 23:00Z', '{19}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('late set')), 'MJ005', NULL,
    'a window 70 hours after the start of a 72-hour booking still meets it');
SELECT FROM pg_temp.job('after the festival', '2027-10-04 00:00Z', '2027-10-04 01:00Z', '{19}', 'tentative');
SELECT is(pg_temp.state('after the festival'), 'tentative', 'one that starts at its end does not');
SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 19), interval '72 hours',
    'a shorter booking leaves the longest as it is');
DO $$ BEGIN PERFORM mojob.reschedule(pg_temp.j('after the festival'), '2027-10-04 00:00Z', '2027-10-09 00:00Z'); END $$;
SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 19), interval '120 hours',
    'a booking that grows raises it');
SELECT FROM pg_temp.job('encore', '2027-10-08 20:00Z', '2027-10-08 21:00Z', '{19}');
SELECT throws_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('encore')), 'MJ005', NULL,
    'and the checks read back as far: a window 116 hours into it meets it');
DO $$ BEGIN PERFORM mojob.cancel(pg_temp.j('after the festival'), 'rained off'); END $$;
SELECT is((SELECT longest FROM mojob.booking_longest WHERE resource_id = 19), interval '120 hours',
    'the longest never shrinks (it is a bound, not a statistic)');
SELECT lives_ok(format('SELECT mojob.reserve(%s)', pg_temp.j('encore')),
    'with the long booking canceled, the encore is reserved');
SELECT is_empty($$
    SELECT b.resource_id FROM mojob.booking b
    LEFT JOIN mojob.booking_longest l ON l.resource_id = b.resource_id
    WHERE l.longest IS NULL OR upper(b.held) - lower(b.held) > l.longest $$,
    'no booking is longer than the longest of its resource');

-- ---------------------------------------------------------------------
-- mojob.booking as a whole
-- ---------------------------------------------------------------------

SELECT is_empty($$
    SELECT n.id FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
    WHERE n.resource_id IS NOT NULL
      AND (j.state IN ('tentative', 'confirmed', 'running')
           OR (j.state = 'completed' AND j.post_roll_end > now()))
    EXCEPT SELECT node_id FROM mojob.booking
    $$, 'every resolved node of a holding job has a booking');
SELECT is_empty($$
    SELECT b.node_id FROM mojob.booking b
    LEFT JOIN mojob.job_resource n ON n.id = b.node_id
    LEFT JOIN mojob.job j ON j.id = n.job_id
    WHERE n.id IS NULL OR n.job_id <> b.job_id OR n.resource_id IS DISTINCT FROM b.resource_id
       OR n.amount <> b.amount
       OR j.state NOT IN ('tentative', 'confirmed', 'running', 'completed')
       OR b.held <> tstzrange(greatest(j.pre_roll_start, n.held_from), least(j.post_roll_end, n.held_until))
    $$, 'every booking is that of a holding job''s node: its resource, amount and window');
SELECT is_empty($$
    SELECT b.resource_id, r.concurrency, r.capacity, u.jobs, u.amount
    FROM (SELECT DISTINCT resource_id FROM mojob.booking) b
    JOIN mojob.resource r ON r.id = b.resource_id
    CROSS JOIN LATERAL mojob.resource_usage(r.id, tstzrange(NULL, NULL)) u
    WHERE u.jobs > r.concurrency OR u.amount > r.capacity
    $$, 'no resource is over-booked at any instant');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
