-- A small broadcast facility, loaded by `make demo`.
-- Times are relative to now(), so the demo always shows jobs in every state.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS mojob CASCADE;
SET mojob.actor = 'planner.anna';

UPDATE mojob.settings SET default_pre_roll = '15 minutes', default_post_roll = '10 minutes';

INSERT INTO mojob.resource (name, concurrency, capacity, capabilities, properties) VALUES
    ('Studio 1',        1, NULL, '{}',           '{"kind": "studio"}'),
    ('Studio 2',        1, NULL, '{}',           '{"kind": "studio"}'),
    ('Camera A',        1, NULL, '{uhd}',        '{"kind": "camera"}'),
    ('Camera B',        1, NULL, '{uhd}',        '{"kind": "camera"}'),
    ('Camera C',        1, NULL, '{hd}',         '{"kind": "camera"}'),
    ('Encoder 1',       4, NULL, '{hevc}',       '{"kind": "encoder"}'),
    ('Satellite uplink', 3, 36,  '{ku-band}',    '{"kind": "link", "unit": "MHz"}'),
    ('Crew Red',        1, NULL, '{}',           '{"kind": "crew"}');

INSERT INTO mojob.pool (name) VALUES ('Cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id)
    SELECT p.id, r.id FROM mojob.pool p, mojob.resource r
    WHERE p.name = 'Cameras' AND r.name LIKE 'Camera %';

CREATE TEMP TABLE r AS SELECT name, id FROM mojob.resource;

-- Completed: this morning's news, confirmed late, so time ran and ended it.
SELECT mojob.confirm(id) FROM mojob.create_job('Morning news',
    date_trunc('hour', now()) - interval '5 hours', date_trunc('hour', now()) - interval '4 hours',
    state => 'tentative',
    resources => ARRAY[(SELECT id FROM r WHERE name = 'Studio 1'), (SELECT id FROM r WHERE name = 'Camera A')]);

-- Running: a football match that started half an hour ago, with a share of the uplink.
SELECT mojob.create_job('Cup final: Ghent v Bruges',
    now() - interval '30 minutes', now() + interval '90 minutes', state => 'tentative', priority => 'high',
    resources => ARRAY[(SELECT id FROM r WHERE name = 'Camera B'), (SELECT id FROM r WHERE name = 'Crew Red')],
    description => 'Live, two cameras on the pitch, uplink to the network');
SELECT mojob.add_resource((SELECT id FROM mojob.job WHERE name LIKE 'Cup final%'),
                          (SELECT id FROM r WHERE name = 'Satellite uplink'), 18, 'feed');
SELECT mojob.confirm(id) FROM mojob.job WHERE name LIKE 'Cup final%';

-- Confirmed: tonight's studio show, with a camera from the pool.
SELECT mojob.create_job('Evening magazine', date_trunc('hour', now()) + interval '4 hours',
    date_trunc('hour', now()) + interval '5 hours', state => 'tentative',
    resources => ARRAY[(SELECT id FROM r WHERE name = 'Studio 1')]);
SELECT mojob.add_pool_node((SELECT id FROM mojob.job WHERE name = 'Evening magazine'),
                           (SELECT id FROM mojob.pool WHERE name = 'Cameras'), 'main camera', '{uhd}');
SELECT mojob.assign_node(n.id, (SELECT id FROM r WHERE name = 'Camera A'))
    FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
    WHERE j.name = 'Evening magazine' AND n.resource_id IS NULL;
SELECT mojob.confirm(id) FROM mojob.job WHERE name = 'Evening magazine';

-- Tentative: a satellite feed tomorrow, resources held.
SELECT mojob.create_job_for_resource((SELECT id FROM r WHERE name = 'Satellite uplink'),
    'Satellite feed: Tour stage 4', date_trunc('hour', now()) + interval '26 hours',
    date_trunc('hour', now()) + interval '29 hours');

-- Draft: a studio show still being planned, its camera not chosen yet.
SELECT mojob.create_job('Late talk show', date_trunc('hour', now()) + interval '30 hours',
    date_trunc('hour', now()) + interval '31 hours',
    resources => ARRAY[(SELECT id FROM r WHERE name = 'Studio 2')]);
SELECT mojob.add_pool_node((SELECT id FROM mojob.job WHERE name = 'Late talk show'),
                           (SELECT id FROM mojob.pool WHERE name = 'Cameras'), 'main camera');

-- Tentative, starting within the hour: it shows NOT_CONFIRMED until someone confirms it.
SELECT mojob.create_job('Newsflash', now() + interval '40 minutes', now() + interval '55 minutes',
    state => 'tentative', resources => ARRAY[(SELECT id FROM r WHERE name = 'Studio 2')]);

-- Draft on an encoder that is then taken out for maintenance: RESOURCE_UNAVAILABLE.
SELECT mojob.create_job('Archive transfer', date_trunc('hour', now()) + interval '8 hours',
    date_trunc('hour', now()) + interval '10 hours',
    resources => ARRAY[(SELECT id FROM r WHERE name = 'Encoder 1')]);
UPDATE mojob.resource SET enabled = false WHERE name = 'Encoder 1';

-- Recurring: a Saturday-evening sports magazine at 19:00 Brussels time, for the next three months.
SELECT mojob.make_recurring(id, 'FREQ=WEEKLY;BYDAY=SA', 'Europe/Brussels', '3 months')
FROM mojob.create_job('Saturday sports magazine',
    (date_trunc('week', now() AT TIME ZONE 'Europe/Brussels') + interval '5 days 19 hours') AT TIME ZONE 'Europe/Brussels'
        + CASE WHEN now() > (date_trunc('week', now() AT TIME ZONE 'Europe/Brussels') + interval '5 days 19 hours') AT TIME ZONE 'Europe/Brussels'
               THEN interval '7 days' ELSE interval '0' END,
    (date_trunc('week', now() AT TIME ZONE 'Europe/Brussels') + interval '5 days 20 hours') AT TIME ZONE 'Europe/Brussels'
        + CASE WHEN now() > (date_trunc('week', now() AT TIME ZONE 'Europe/Brussels') + interval '5 days 19 hours') AT TIME ZONE 'Europe/Brussels'
               THEN interval '7 days' ELSE interval '0' END,
    state => 'tentative', resources => ARRAY[(SELECT id FROM r WHERE name = 'Studio 2')]);

-- Canceled: a rehearsal that is no longer needed.
SELECT mojob.cancel(id, 'rehearsal moved to Studio 1 next week')
    FROM mojob.create_job('Rehearsal', date_trunc('hour', now()) + interval '6 hours',
        date_trunc('hour', now()) + interval '7 hours', state => 'tentative',
        resources => ARRAY[(SELECT id FROM r WHERE name = 'Studio 2')]);
