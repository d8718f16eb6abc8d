-- What `make demo` shows once the facility is loaded.
\pset null '-'
\pset border 2
\echo
\echo '== Jobs (mojob.job)'
SELECT code, name, state, priority,
       to_char(start_at, 'Dy HH24:MI') AS starts, to_char(end_at, 'Dy HH24:MI') AS ends,
       (SELECT string_agg(coalesce(r.name, '(pool slot)'), ', ' ORDER BY r.name)
          FROM mojob.job_resource n LEFT JOIN mojob.resource r ON r.id = n.resource_id
         WHERE n.job_id = j.id) AS resources
FROM mojob.job j ORDER BY start_at;
\echo '== The ops board (mojob.ops_board): what each job allows now'
SELECT board, code, name, state, can_edit AS edit, can_delete AS del, can_reserve AS reserve,
       can_confirm AS confirm, can_unconfirm AS unconfirm, can_start AS start, can_stop AS stop,
       can_cancel AS cancel
FROM mojob.ops_board;
\echo '== Jobs that need attention (mojob.job_errors)'
SELECT j.code, j.name, e.code AS error, e.message FROM mojob.job_errors e JOIN mojob.job j ON j.id = e.job_id
ORDER BY j.start_at, e.code;
\echo '== The timeline (mojob.timeline), from six hours ago to tomorrow night'
\pset border 0
\pset tuples_only on
SELECT * FROM mojob.timeline(tstzrange(date_trunc('hour', now()) - interval '6 hours',
                                       date_trunc('hour', now()) + interval '34 hours'), 80);
\pset tuples_only off
\pset border 2
\echo '== Recurring jobs (mojob.recurrences)'
SELECT id, rule, time_zone, next_occurrence, instances, tentative, draft FROM mojob.recurrences;
SELECT code, to_char(start_at AT TIME ZONE 'Europe/Brussels', 'Dy YYYY-MM-DD HH24:MI') AS "Brussels time",
       to_char(start_at AT TIME ZONE 'UTC', 'HH24:MI') AS utc, state
FROM mojob.job WHERE recurrence_id IS NOT NULL ORDER BY start_at LIMIT 6;
\echo '== The state graph (mojob.state_transitions, read from the C table the trigger checks)'
SELECT * FROM mojob.state_transitions;
\echo '== History (mojob.job_event)'
SELECT j.code, e.from_state, e.to_state, e.cause, e.by_user, e.reason
FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id ORDER BY e.id;
\echo '== What the database refuses'
\set ON_ERROR_STOP off
\echo '-- a canceled job cannot come back:'
UPDATE mojob.job SET state = 'tentative' WHERE name = 'Rehearsal';
\echo '-- Studio 1 is taken tonight:'
SELECT code FROM mojob.create_job_for_resource((SELECT id FROM mojob.resource WHERE name = 'Studio 1'),
    'Pop-up interview', date_trunc('hour', now()) + interval '4 hours', date_trunc('hour', now()) + interval '5 hours');
\echo '-- ... but these resources are free then:'
SELECT name, concurrency, capabilities FROM mojob.free_resources(
    tstzrange(date_trunc('hour', now()) + interval '4 hours', date_trunc('hour', now()) + interval '5 hours'));

\pset format unaligned
\pset tuples_only on
\o :svg
SELECT mojob.timeline_svg(tstzrange(date_trunc('hour', now()) - interval '6 hours',
                                    date_trunc('hour', now()) + interval '34 hours'));
\o
