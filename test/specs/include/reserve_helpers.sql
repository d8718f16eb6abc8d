  -- reserve_try(label, statement): run the statement and report only its
  -- outcome (ok, or the SQLSTATE), never a job code, id or timestamp.
  CREATE OR REPLACE FUNCTION reserve_try(label text, stmt text) RETURNS text
  LANGUAGE plpgsql AS $f$
  DECLARE
    st text;
  BEGIN
    EXECUTE stmt;
    RETURN label || ': ok';
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    RETURN label || ': ' || st;
  END
  $f$;

  -- The jobs' ids by name, so that a step finds its job without reading
  -- mojob.job (a sequential scan of it would give a SERIALIZABLE session a
  -- predicate lock on the whole table, and serialization failures that
  -- mojob does not cause).
  CREATE TABLE reserve_job (name text PRIMARY KEY, id bigint NOT NULL);

  -- reserve_check(lo, hi): an independent check of the resources with ids
  -- in [lo, hi], from mojob.job_resource and mojob.job only.  Per resource:
  -- the nodes of holding jobs (holders), the most of them at one instant
  -- (peak; it is reached where some window starts), those without a row in
  -- mojob.booking (unbooked), and ok = peak within concurrency, every
  -- holder booked, no holder on a disabled resource (all windows here are
  -- in the future).
  CREATE OR REPLACE FUNCTION reserve_check(lo bigint, hi bigint)
  RETURNS TABLE (resource text, enabled boolean, concurrency int,
                 holders bigint, peak bigint, unbooked bigint, ok boolean)
  LANGUAGE sql AS $f$
    WITH hold AS (
      SELECT n.id AS node_id, n.resource_id,
             tstzrange(coalesce(n.held_from, j.pre_roll_start),
                       coalesce(n.held_until, j.post_roll_end)) AS w
        FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
       WHERE n.resource_id BETWEEN lo AND hi
         AND (j.state IN ('tentative', 'confirmed', 'running')
              OR (j.state = 'completed' AND j.post_roll_end > now()))
    ), peak AS (
      SELECT s.resource_id, max(s.n) AS peak
        FROM (SELECT a.resource_id, a.node_id, count(*) AS n
                FROM hold a
                JOIN hold b ON b.resource_id = a.resource_id AND b.w @> lower(a.w)
               GROUP BY a.resource_id, a.node_id) s
       GROUP BY s.resource_id
    ), per AS (
      SELECT r.id, r.name, r.enabled, r.concurrency,
             (SELECT count(*) FROM hold h WHERE h.resource_id = r.id) AS holders,
             coalesce(p.peak, 0) AS peak,
             (SELECT count(*) FROM hold h
               WHERE h.resource_id = r.id
                 AND NOT EXISTS (SELECT FROM mojob.booking b WHERE b.node_id = h.node_id)) AS unbooked
        FROM mojob.resource r LEFT JOIN peak p ON p.resource_id = r.id
       WHERE r.id BETWEEN lo AND hi
    )
    SELECT name, enabled, concurrency, holders, peak, unbooked,
           peak <= concurrency AND unbooked = 0 AND (enabled OR holders = 0)
      FROM per ORDER BY id
  $f$;
