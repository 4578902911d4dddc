-- What docs/operations.md shows operators in psql. Each reads through an
-- index: an event's deliveries and attempts by the event, dead letters by
-- the dead-letter queue, endpoint latency by attempts_endpoint, the backlog
-- by the queue.

-- Every delivery of one event and every attempt of each, in order.
CREATE OR REPLACE FUNCTION hookd.event_history(app text, event text)
RETURNS TABLE (source text, delivery_id text, endpoint_id text, url text,
               delivery_status text, attempt_number integer,
               started_at timestamptz, duration_ms integer,
               status_code integer, error_class text, error text)
LANGUAGE sql STABLE AS $$
    SELECT ev.source, d.id, d.endpoint_id, ep.url, d.status, a.attempt_number,
           a.started_at, a.duration_ms, a.status_code, a.error_class, a.error
      FROM hookd.deliveries d
      JOIN hookd.events ev ON ev.app_id = d.app_id AND ev.id = d.event_id
      JOIN hookd.endpoints ep ON ep.app_id = d.app_id AND ep.id = d.endpoint_id
      LEFT JOIN hookd.attempts a
             ON a.app_id = d.app_id AND a.delivery_id = d.id
     WHERE d.app_id = (SELECT id FROM hookd.applications
                        WHERE id = app OR name = app LIMIT 1)
       AND d.event_id = event
     ORDER BY d.endpoint_id, a.attempt_number
$$;

-- Dead letters per endpoint: how many, the oldest and newest, the last error.
CREATE OR REPLACE VIEW hookd.dead_letters AS
    SELECT x.app_id, x.endpoint_id, count(*) AS dead,
           min(x.failed_at) AS oldest, max(x.failed_at) AS newest,
           (SELECT d.last_error FROM hookd.deliveries d
             WHERE d.app_id = x.app_id
               AND d.id = (array_agg(x.delivery_id
                                     ORDER BY x.failed_at DESC))[1])
               AS last_error
      FROM hookd.dead_letter_queue x
     GROUP BY x.app_id, x.endpoint_id;

-- Endpoints by attempt latency since a time, slowest first.
CREATE OR REPLACE FUNCTION hookd.slowest_endpoints(since timestamptz,
                                                   n integer DEFAULT 10)
RETURNS TABLE (app_id text, endpoint_id text, url text, attempts bigint,
               p50_ms double precision, p95_ms double precision,
               p99_ms double precision, success_rate numeric)
LANGUAGE sql STABLE AS $$
    SELECT ep.app_id, ep.id, ep.url, s.attempts, s.p50, s.p95, s.p99,
           s.success_rate
      FROM hookd.endpoints ep
     CROSS JOIN LATERAL (
           SELECT count(*) AS attempts,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY a.duration_ms) AS p99,
                  round(count(*) FILTER (WHERE a.error_class = 'SUCCEEDED')::numeric
                        / nullif(count(*), 0), 4) AS success_rate
             FROM hookd.attempts a
            WHERE a.app_id = ep.app_id AND a.endpoint_id = ep.id
              AND a.started_at >= since) s
     WHERE s.attempts > 0
     ORDER BY s.p95 DESC
     LIMIT n
$$;

-- The backlog per endpoint: deliveries waiting, how many are due now (not
-- held, nor in flight), how long the oldest due one has waited, how many
-- are in flight and how many held by their endpoint (paused, disabled, its
-- breaker open).
CREATE OR REPLACE VIEW hookd.backlog AS
    SELECT q.app_id, q.endpoint_id,
           count(*) AS waiting,
           count(*) FILTER (WHERE q.due_at <= now()) AS due,
           now() - min(q.due_at) FILTER (WHERE q.due_at <= now())
               AS oldest_due_age,
           count(*) FILTER (WHERE q.lease_owner IS NOT NULL
                              AND q.due_at > now()) AS in_flight,
           count(*) FILTER (WHERE q.due_at = 'infinity') AS held
      FROM hookd.queue q
     GROUP BY q.app_id, q.endpoint_id;
