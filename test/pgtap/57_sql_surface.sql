-- The functions written in SQL, against hostile input and thin rights
-- (README.md, "Guarantees"; issue 15, items 3 and 9):
--
--   * a job code pattern whose codes could not be sent in a notification
--     (longer than 1,000 bytes) is refused when it is written (22023); one
--     at the bound is kept and every transition still sends its code;
--   * xml_text keeps only what XML 1.0 allows: control characters (but tab,
--     newline, carriage return), DEL, U+FFFE and U+FFFF become a real
--     U+FFFD, and so do the control characters of names in the text
--     timeline;
--   * timeline_svg escapes the session's time-zone abbreviation;
--   * the timelines draw any window, the whole range of timestamptz, its
--     ends in any time zone, and a single instant;
--   * free_resources refuses a multi-dimensional array of capabilities (22023);
--   * resource_usage, free_resources, timeline and timeline_svg summarize
--     bookings: they require SELECT on mojob.job (42501 otherwise), even
--     for a role that may read mojob.resource and mojob.resource_schedule.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION mojob CASCADE;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT plan(37);

INSERT INTO mojob.resource (name, capabilities) VALUES ('studio', '{uhd}') RETURNING id AS r1 \gset
INSERT INTO mojob.resource (name) VALUES (E'bad\x01name') RETURNING id AS r2 \gset
SELECT id AS j1 FROM mojob.create_job('show', '2030-03-01 10:00+00', '2030-03-01 12:00+00',
                                      state => 'tentative', resources => ARRAY[:r1, :r2]) \gset

-- ---------------------------------------------------------------------
-- Job code patterns: bounded so that every code fits in a notification
-- ---------------------------------------------------------------------

SELECT throws_ok($$ UPDATE mojob.settings SET job_code_pattern = repeat('x', 8000) || '{seq}' $$,
    '22023', 'job code pattern is too long',
    'a pattern of 8,000 characters is refused when it is written (22023), not at the next transition');
SELECT throws_ok($$ UPDATE mojob.settings SET job_code_pattern = repeat('x', 981) || '{seq}' $$,
    '22023', 'job code pattern is too long',
    'so is one whose codes could be 1,001 bytes long ({seq} is up to 20)');
SELECT throws_ok($$ UPDATE mojob.settings SET job_code_pattern = repeat('日', 330) || '{seq:18}' $$,
    '22023', 'job code pattern is too long',
    'the bound is in bytes: 330 three-byte characters and a counter are too long');
SELECT throws_ok($$ SELECT mojob.job_code_preview(repeat('{YYYY}', 1000000) || '{seq}') $$,
    '22023', 'job code pattern is too long',
    'job_code_preview refuses a long pattern too, without reading all of it');
SELECT lives_ok($$ UPDATE mojob.settings SET job_code_pattern = repeat(E'\x01', 980) || '{seq}' $$,
    'a pattern whose codes are at most 1,000 bytes is kept, even of control characters (6 bytes each in JSON)');
SELECT is((SELECT octet_length(code) FROM mojob.create_job('long code', '2030-04-01 10:00+00', '2030-04-01 11:00+00')),
          981, 'it makes codes of 981 bytes here');
SELECT is((SELECT state::text FROM mojob.reserve((SELECT id FROM mojob.job WHERE name = 'long code'))), 'tentative',
    'and a transition of such a job sends its notification');
UPDATE mojob.settings SET job_code_pattern = 'JOB-{seq:6}';

-- ---------------------------------------------------------------------
-- xml_text: the characters XML 1.0 allows, and a real U+FFFD for the others
-- ---------------------------------------------------------------------

SELECT is(mojob.xml_text(E'a\x01b\x1fc\x7fd'),
          'a' || chr(65533) || 'b' || chr(65533) || 'c' || chr(65533) || 'd',
    'control characters become U+FFFD (a character, not the text \ufffd)');
SELECT is(mojob.xml_text('x' || chr(65534) || 'y' || chr(65535) || 'z'),
          'x' || chr(65533) || 'y' || chr(65533) || 'z',
    'U+FFFE and U+FFFF, which XML 1.0 does not allow, become U+FFFD');
SELECT is(mojob.xml_text(E'tab\there\nnew\rline <&"> ' || chr(65533) || chr(128512)),
          E'tab\there\nnew\rline &lt;&amp;&quot;&gt; ' || chr(65533) || chr(128512),
    'tab, newline, carriage return, U+FFFD itself and characters beyond U+FFFF stay; markup is escaped');
SELECT ok(xml_is_well_formed_document('<a>' || mojob.xml_text(
              (SELECT string_agg(chr(i), '') FROM generate_series(1, 65535) i WHERE i NOT BETWEEN 55296 AND 57343)
              || chr(65536) || chr(1114111)) || '</a>'),
    'every character from U+0001 to U+FFFF (and beyond), escaped, is well-formed XML');
SELECT ok((SELECT bool_or(l LIKE 'bad' || chr(65533) || 'name%') AND NOT bool_or(l LIKE '%\\ufffd%')
           FROM mojob.timeline(tstzrange('2030-03-01 00:00+00', '2030-03-02 00:00+00')) l),
    'the text timeline shows a control character of a name as U+FFFD, not as the text \ufffd');

-- ---------------------------------------------------------------------
-- timeline_svg: the session's time-zone abbreviation is escaped
-- ---------------------------------------------------------------------

SET TimeZone = 'X]]><Y&5';
SELECT ok(xml_is_well_formed_document(mojob.timeline_svg(tstzrange('2030-03-01 00:00+00', '2030-03-02 00:00+00'))),
    'timeline_svg is well-formed XML in the time zone ''X]]><Y&5''');
SELECT ok(mojob.timeline_svg(tstzrange('2030-03-01 00:00+00', '2030-03-02 00:00+00')) LIKE '%X]]&gt;&lt;Y&amp;%',
    'and shows its abbreviation, escaped');
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------
-- The timelines draw any window
-- ---------------------------------------------------------------------

SELECT '[4714-11-24 00:00:00+00 BC, 294276-12-31 23:59:59.999999+00)' AS everything \gset
SELECT is((SELECT count(*)::int FROM mojob.timeline(:'everything')), 2 + 2 + 2,
    'timeline draws the whole range of timestamptz: axis, ruler, a line per resource, legend');
SELECT ok((SELECT bool_or(l ~ '░') FROM mojob.timeline(:'everything') l WHERE l LIKE 'studio%'),
    'with the booking in it');
SELECT ok((SELECT l FROM mojob.timeline(:'everything') l LIMIT 1) ~ '100000',
    'and a labelled axis');
SELECT ok(xml_is_well_formed_document(mojob.timeline_svg(:'everything')),
    'timeline_svg draws it too, as well-formed XML');
SELECT is((SELECT count(*)::int FROM mojob.timeline(:'everything', 10)), 6,
    'at the narrowest width too');
SET TimeZone = 'America/New_York';
SELECT lives_ok($$ SELECT * FROM mojob.timeline('[4714-11-24 00:00:00+00 BC, 4714-11-24 03:00:00+00 BC)') $$,
    'timeline draws the first hours of timestamptz in a time zone west of UTC');
SELECT lives_ok($$ SELECT mojob.timeline_svg('[4714-11-24 00:00:00+00 BC, 4714-11-24 03:00:00+00 BC)') $$,
    'so does timeline_svg');
SELECT lives_ok($$ SELECT * FROM mojob.timeline('[294276-12-31 00:00:00+00, 294276-12-31 23:59:59.999999+00)') $$,
    'timeline draws the last day of timestamptz');
SELECT lives_ok($$ SELECT mojob.timeline_svg('[294276-12-01 00:00:00+00, 294276-12-31 23:59:59.999999+00)') $$,
    'timeline_svg draws its last month');
SET TimeZone = 'Asia/Tokyo';
SELECT lives_ok($$ SELECT * FROM mojob.timeline('[294200-01-01 00:00:00+00, 294276-12-31 23:59:59.999999+00)') $$,
    'timeline draws its last years in a time zone east of UTC');
SELECT lives_ok($$ SELECT * FROM mojob.timeline('[4714-11-24 00:00:00+00 BC, 4000-01-01 00:00:00+00 BC)') $$,
    'and its first centuries');
SELECT ok((SELECT string_agg(l, ' ') FROM mojob.timeline('[0100-01-01 00:00:00+00 BC, 0100-01-01 00:00:00+00)') l) ~ '50 BC',
    'years before 1 AD are labelled BC');
SET TimeZone = 'UTC';
SELECT is((SELECT count(*)::int FROM mojob.timeline('[2030-03-01 10:00+00, 2030-03-01 10:00+00]')), 6,
    'a window of a single instant is drawn');

-- ---------------------------------------------------------------------
-- free_resources: a multi-dimensional array of capabilities
-- ---------------------------------------------------------------------

SELECT throws_ok($$ SELECT * FROM mojob.free_resources(tstzrange('2030-03-01', '2030-03-02'), NULL, '{{uhd},{hd}}') $$,
    '22023', NULL, 'free_resources refuses a two-dimensional array of capabilities with 22023');

-- ---------------------------------------------------------------------
-- Summaries of bookings require SELECT on mojob.job
-- ---------------------------------------------------------------------

-- The README's viewer, and a wall display that may read the resources and
-- the Resource View (a view reads as its owner) but not the jobs.
CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
CREATE ROLE mojob_wall NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_wall;
GRANT SELECT ON mojob.resource, mojob.resource_schedule TO mojob_wall;

SET ROLE mojob_wall;
SELECT throws_ok(format($$ SELECT * FROM mojob.resource_usage(%s, '[2030-03-01, 2030-03-02)') $$, :r1),
    '42501', 'permission denied for table job',
    'resource_usage refuses a role without SELECT on mojob.job (42501)');
SELECT throws_ok($$ SELECT * FROM mojob.free_resources('[2030-03-01, 2030-03-02)') $$,
    '42501', 'permission denied for table job', 'so does free_resources');
SELECT throws_ok($$ SELECT * FROM mojob.timeline('[2030-03-01, 2030-03-02)') $$,
    '42501', 'permission denied for table job', 'and timeline');
SELECT throws_ok($$ SELECT mojob.timeline_svg('[2030-03-01, 2030-03-02)') $$,
    '42501', 'permission denied for table job', 'and timeline_svg');
RESET ROLE;

SET ROLE mojob_viewer;
SELECT is((SELECT (jobs, amount)::text FROM mojob.resource_usage(:r1, '[2030-03-01, 2030-03-02)')), '(1,0)',
    'the README''s viewer reads the usage of a resource');
SELECT is((SELECT array_agg(name ORDER BY name) FROM mojob.free_resources('[2030-03-01 11:00+00, 2030-03-01 13:00+00)')),
          NULL::text[], 'and which resources are free');
SELECT ok((SELECT count(*) FROM mojob.timeline('[2030-03-01, 2030-03-02)')) = 6
          AND mojob.timeline_svg('[2030-03-01, 2030-03-02)') LIKE '%class="booking"%',
    'and draws the timelines');
RESET ROLE;

\ir helpers/invariants.psql
SELECT * FROM finish();
ROLLBACK;
