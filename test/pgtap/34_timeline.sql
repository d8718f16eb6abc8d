-- The timeline (docs/design.md section 3): mojob.timeline draws a known schedule
-- as text for psql -- an axis, a ruler, one line per resource with a bar per
-- booking marked by its state (░ tentative, ▓ confirmed, █ running,
-- ▒ completed; a digit where bookings overlap), and a legend -- and
-- mojob.timeline_svg draws the same as well-formed SVG, one rect per
-- booking, filled with its state's colour, every name escaped.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(33);

-- ---------------------------------------------------------------------
-- A known schedule: 2027-03-01, UTC
-- ---------------------------------------------------------------------

INSERT INTO mojob.resource (id, name, concurrency) VALUES
    (1, 'studio-a', 3), (2, 'cam-1', 1), (3, 'uplink', 3), (4, 'spare', 1);

-- A job named label in state st over [s, e) with rolls pre and post,
-- holding the resources res; inserted directly by the table owner (any
-- state, docs/design.md section 1), so the bookings are exactly these.
CREATE FUNCTION pg_temp.mk(label text, st mojob.job_state, s timestamptz, e timestamptz,
                           res bigint[], pre interval DEFAULT '0', post interval DEFAULT '0')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    jid bigint;
BEGIN
    INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end, canceled_at)
    VALUES (label, st, s - pre, s, e, e + post, CASE WHEN st = 'canceled' THEN now() END)
    RETURNING id INTO jid;
    INSERT INTO mojob.job_resource (job_id, resource_id)
        SELECT jid, r FROM unnest(res) WITH ORDINALITY AS u(r, n) ORDER BY n;
    RETURN jid;
END
$$;

DO $$
BEGIN
    -- studio-a: tentative 01-03; confirmed 06-09 with 30 min pre-roll,
    -- overlapping a running 08-10 for an hour.
    PERFORM pg_temp.mk('A', 'tentative', '2027-03-01 01:00', '2027-03-01 03:00', '{1}');
    PERFORM pg_temp.mk('B', 'confirmed', '2027-03-01 06:00', '2027-03-01 09:00', '{1}', pre => '30 minutes');
    PERFORM pg_temp.mk('C', 'running', '2027-03-01 08:00', '2027-03-01 10:00', '{1}');
    -- cam-1: bookings cut by both edges of the window.
    PERFORM pg_temp.mk('D', 'completed', '2027-02-28 22:00', '2027-03-01 02:00', '{2}');
    PERFORM pg_temp.mk('E', 'running', '2027-03-01 20:00', '2027-03-02 04:00', '{2}');
    -- uplink: one, two, three at once; a completed job with 1 hour post-roll;
    -- one before the window.
    PERFORM pg_temp.mk('F', 'tentative', '2027-03-01 12:00', '2027-03-01 15:00', '{3}');
    PERFORM pg_temp.mk('G', 'confirmed', '2027-03-01 13:00', '2027-03-01 14:00', '{3}');
    PERFORM pg_temp.mk('H', 'confirmed', '2027-03-01 13:30', '2027-03-01 14:30', '{3}');
    PERFORM pg_temp.mk('I', 'completed', '2027-03-01 16:00', '2027-03-01 17:00', '{3}', post => '1 hour');
    PERFORM pg_temp.mk('before', 'confirmed', '2027-02-27 10:00', '2027-02-28 00:00', '{3}');
    -- spare: nothing held in the window (a draft, a canceled job, one after).
    PERFORM pg_temp.mk('draft', 'draft', '2027-03-01 10:00', '2027-03-01 12:00', '{4}');
    PERFORM pg_temp.mk('gone', 'canceled', '2027-03-01 10:00', '2027-03-01 12:00', '{4}');
    PERFORM pg_temp.mk('later', 'tentative', '2027-03-03 10:00', '2027-03-03 12:00', '{4}');
END
$$;

-- ---------------------------------------------------------------------
-- mojob.timeline
-- ---------------------------------------------------------------------

-- 48 columns over 24 hours: one column is 30 minutes, a tick every 6 hours
-- (12 columns), names padded to the longest (8) + 2.
SELECT results_eq($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 48) $$,
    $$ VALUES
        ('          00:00       06:00       12:00       18:00'),
        ('          ┬───────────┬───────────┬───────────┬───────────'),
        ('cam-1     ▒▒▒▒                                    ████████'),
        ('spare'),
        ('studio-a    ░░░░     ▓▓▓▓▓22██'),
        ('uplink                            ░░232░  ▒▒▒▒'),
        (''),
        ('░ tentative  ▓ confirmed  █ running  ▒ completed  2-9 bookings at once  (2027-03-01 00:00 to 2027-03-02 00:00 UTC)') $$,
    'timeline draws the axis, the ruler, a line per resource with a bar per booking by state, and the legend');
SELECT results_eq($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02')) $$,
    $$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 72) $$,
    'the default width is 72 columns');
SELECT is((SELECT max(char_length(l)) FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 72) l
           WHERE l LIKE ' %┬%'), 10 + 72,
    'the ruler is as wide as asked, after the names');
SELECT is((SELECT count(*)::int FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 48)), 4 + 4,
    'timeline has one line per resource, plus axis, ruler, blank line and legend');
SELECT results_eq($$ SELECT * FROM mojob.timeline_scale(tstzrange('2027-03-01', '2027-03-02'), 48) $$,
    $$ VALUES ('2027-03-01 00:00+00'::timestamptz, '2027-03-02 00:00+00'::timestamptz, interval '6 hours',
               '2027-03-01 00:00+00'::timestamptz) $$,
    'timeline_scale gives the window and the tick step (labels at least 8 columns apart)');

-- Nothing held, nothing drawn; a change shows at once.
SELECT is((SELECT l FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 48) l WHERE l LIKE 'spare%'), 'spare',
    'a resource held by no booking in the window (a draft, a canceled job, a later one) has an empty line');
DO $$ BEGIN PERFORM mojob.reserve(id) FROM mojob.job WHERE name = 'draft'; END $$;
SELECT is((SELECT l FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 48) l WHERE l LIKE 'spare%'),
    'spare     ' || repeat(' ', 20) || repeat('░', 4),
    'reserving the draft draws its bar (tentative)');

-- Bad arguments.
SELECT throws_ok($$ SELECT * FROM mojob.timeline(NULL, 48) $$, '22023', NULL,
    'timeline refuses a NULL window (22023)');
SELECT throws_ok($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-01'), 48) $$, '22023', NULL,
    'timeline refuses an empty window');
SELECT throws_ok($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', NULL), 48) $$, '22023', NULL,
    'timeline refuses an unbounded window');
SELECT throws_ok($$ SELECT * FROM mojob.timeline(tstzrange('-infinity', '2027-03-01'), 48) $$, '22023', NULL,
    'timeline refuses an infinite window');
SELECT throws_ok($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 9) $$, '22023', NULL,
    'timeline refuses a width below 10');
SELECT throws_ok($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), 1001) $$, '22023', NULL,
    'timeline refuses a width above 1000');
SELECT throws_ok($$ SELECT * FROM mojob.timeline(tstzrange('2027-03-01', '2027-03-02'), NULL) $$, '22023', NULL,
    'timeline refuses a NULL width');

-- ---------------------------------------------------------------------
-- mojob.timeline_svg and mojob.state_color
-- ---------------------------------------------------------------------

SELECT results_eq($$ SELECT s::text, mojob.state_color(s) FROM unnest(enum_range(NULL::mojob.job_state)) s $$,
    $$ VALUES ('draft', '#9140D9'), ('tentative', '#F7EC15'), ('confirmed', '#348D42'),
              ('running', '#4CEF8E'), ('completed', '#4A41E6'), ('canceled', '#FC7D76') $$,
    'state_color gives each state its colour');

-- Names that need escaping, on a resource and on a job in the window.
INSERT INTO mojob.resource (id, name) VALUES (5, 'Q "quoted" <b> & co');
DO $$ BEGIN PERFORM pg_temp.mk('it''s <live> & "loud"', 'confirmed', '2027-03-01 09:00', '2027-03-01 11:00', '{5}'); END $$;

CREATE TEMP TABLE svg AS
    SELECT mojob.timeline_svg(tstzrange('2027-03-01', '2027-03-02')) AS doc;
-- The bars: job code, state, fill and title of each rect of class booking
-- (XMLTABLE reads the values back unescaped).
CREATE TEMP VIEW bar AS
    SELECT x.* FROM svg,
    XMLTABLE(XMLNAMESPACES('http://www.w3.org/2000/svg' AS s), '//s:rect[@class="booking"]'
             PASSING CAST(doc AS xml)
             COLUMNS code text PATH '@data-job', state text PATH '@data-state',
                     fill text PATH '@fill', title text PATH 's:title') x;

SELECT ok((SELECT xml_is_well_formed_document(doc) FROM svg), 'timeline_svg is a well-formed XML document');
SELECT is((SELECT (xpath('name(/*)', doc::xml))[1]::text FROM svg), 'svg', 'its root element is svg');
SELECT is((SELECT count(*)::int FROM bar),
    (SELECT count(*)::int FROM mojob.resource_schedule WHERE held && tstzrange('2027-03-01', '2027-03-02')),
    'timeline_svg has one rect of class booking per booking in the window');
SELECT is((SELECT count(*)::int FROM bar), 11, 'which is eleven bookings here');
SELECT set_eq($$ SELECT code, state FROM bar $$,
    $$ SELECT code, state::text FROM mojob.resource_schedule WHERE held && tstzrange('2027-03-01', '2027-03-02') $$,
    'each booking in the window has its bar, marked with its job and state');
SELECT is_empty($$ SELECT * FROM bar WHERE fill IS DISTINCT FROM mojob.state_color(state::mojob.job_state) $$,
    'each bar is filled with the colour of its state');
SELECT set_eq($$ SELECT DISTINCT fill FROM bar $$,
    ARRAY['#F7EC15', '#348D42', '#4CEF8E', '#4A41E6'],
    'tentative, confirmed, running and completed bars each have their colour');
SELECT is_empty($$ SELECT * FROM bar b JOIN mojob.job j ON j.code = b.code
                   WHERE j.name IN ('gone', 'later', 'before') $$,
    'no bar for a canceled job or a booking outside the window');
SELECT is((SELECT count(*)::int FROM bar b JOIN mojob.job j ON j.code = b.code WHERE j.name = 'draft'), 1,
    'the job reserved above has its bar');
SELECT set_eq($$ SELECT x.name FROM svg,
                 XMLTABLE(XMLNAMESPACES('http://www.w3.org/2000/svg' AS s), '//s:text[@class="resource"]'
                          PASSING CAST(doc AS xml) COLUMNS name text PATH '.') x $$,
    $$ SELECT name FROM mojob.resource $$,
    'timeline_svg labels a row for each resource with its name, escaped so that it reads back exactly');
SELECT ok((SELECT title FROM bar WHERE code = (SELECT code FROM mojob.job WHERE name = 'it''s <live> & "loud"'))
          LIKE '%it''s <live> & "loud" (confirmed)%',
    'a job''s name in its bar''s title is escaped so that it reads back exactly');
SELECT ok((SELECT doc FROM svg) LIKE '%Q &quot;quoted&quot; &lt;b&gt; &amp; co%',
    'the resource name is written with &quot;, &lt;, &gt; and &amp;');
SELECT ok((SELECT doc FROM svg) NOT LIKE '%<live>%' AND (SELECT doc FROM svg) NOT LIKE '%<b>%',
    'no raw < from a name reaches the document');

SELECT throws_ok($$ SELECT mojob.timeline_svg(NULL) $$, '22023', NULL,
    'timeline_svg refuses a NULL window (22023)');
SELECT throws_ok($$ SELECT mojob.timeline_svg(tstzrange('2027-03-01', NULL)) $$, '22023', NULL,
    'timeline_svg refuses an unbounded window');
SELECT throws_ok($$ SELECT mojob.timeline_svg(tstzrange('2027-03-02', '2027-03-02')) $$, '22023', NULL,
    'timeline_svg refuses an empty window');

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
