-- What hookd's metrics sample every few seconds, and what an operator can
-- ask psql: deliveries due and not yet claimed (counted up to 1 000 000;
-- those held by their endpoint are not due), the age of the oldest one, and
-- endpoints whose breaker is not closed.
CREATE OR REPLACE FUNCTION hookd.delivery_stats()
RETURNS TABLE (due bigint, oldest_due_seconds double precision,
               breakers_open bigint, breakers_half_open bigint)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM (
                SELECT 1 FROM hookd.queue WHERE due_at <= now()
                 LIMIT 1000000) q),
           (SELECT coalesce(extract(epoch FROM now() - min(due_at)),
                            0)::double precision
              FROM hookd.queue WHERE due_at <= now()),
           (SELECT count(*) FROM hookd.endpoints
             WHERE breaker_state = 'open'),
           (SELECT count(*) FROM hookd.endpoints
             WHERE breaker_state = 'half_open')
$$;

-- Stats for charts: hookd rolls each closed minute once (its housekeeping,
-- a few seconds after the minute ends, which leaves time for the batches
-- whose ids were made just before it to commit) into hookd.stats_minutes;
-- GET /v1/apps/{app}/stats reads those rows, never the events or attempts.

-- upper bounds (ms) of the attempt latency buckets; the last bucket is
-- everything slower
CREATE OR REPLACE FUNCTION hookd.stats_buckets() RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY[5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
$$;

-- One minute of every application: its events by the primary key's id
-- range, its attempts per endpoint, and, for the minute just closed, what
-- is due now.
CREATE OR REPLACE FUNCTION hookd.stats_roll_minute(m timestamptz,
                                                  latest boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    app  text;
    m2   timestamptz := m + interval '1 minute';
BEGIN
    FOR app IN SELECT id FROM hookd.applications ORDER BY id LOOP
        INSERT INTO hookd.stats_minutes AS s (app_id, endpoint_id, minute, events)
        SELECT app, '', m, count(*)
          FROM hookd.events e
         WHERE e.app_id = app AND e.id >= hookd.id_floor('evt', m)
           AND e.id < hookd.id_floor('evt', m2)
        HAVING count(*) > 0
        ON CONFLICT (app_id, endpoint_id, minute)
           DO UPDATE SET events = excluded.events;

        WITH a AS (
            SELECT x.endpoint_id,
                   width_bucket(x.duration_ms, hookd.stats_buckets()) AS b,
                   x.error_class = 'SUCCEEDED' AS ok,
                   x.error_class <> 'SUCCEEDED' AND d.status = 'failed'
                       AND d.attempt_count = x.attempt_number AS dead
              FROM hookd.attempts x
              JOIN hookd.deliveries d ON d.app_id = x.app_id AND d.id = x.delivery_id
             WHERE x.app_id = app AND x.id >= hookd.id_floor('att', m)
               AND x.id < hookd.id_floor('att', m2)
        ), per AS (
            SELECT a.endpoint_id, count(*) AS attempts,
                   count(*) FILTER (WHERE a.ok) AS succeeded,
                   count(*) FILTER (WHERE NOT a.ok) AS failed,
                   count(*) FILTER (WHERE a.dead) AS dead_lettered
              FROM a GROUP BY a.endpoint_id
        ), hist AS (
            SELECT p.endpoint_id,
                   array_agg((SELECT count(*) FROM a WHERE a.endpoint_id = p.endpoint_id
                                                     AND a.b = g) ORDER BY g) AS latency
              FROM per p CROSS JOIN generate_series(0, 12) g
             GROUP BY p.endpoint_id
        )
        INSERT INTO hookd.stats_minutes AS s (app_id, endpoint_id, minute, attempts,
                                              succeeded, failed, dead_lettered, latency)
        SELECT app, p.endpoint_id, m, p.attempts, p.succeeded, p.failed,
               p.dead_lettered, h.latency
          FROM per p JOIN hist h USING (endpoint_id)
        ON CONFLICT (app_id, endpoint_id, minute)
           DO UPDATE SET attempts = excluded.attempts, succeeded = excluded.succeeded,
                         failed = excluded.failed, dead_lettered = excluded.dead_lettered,
                         latency = excluded.latency;
    END LOOP;

    IF latest THEN
        INSERT INTO hookd.stats_minutes AS s (app_id, endpoint_id, minute, backlog,
                                              backlog_age_seconds)
        SELECT w.app_id, w.endpoint_id, m, count(*),
               extract(epoch FROM now() - min(w.since))
          FROM (SELECT q.app_id, q.endpoint_id, q.due_at AS since
                  FROM hookd.queue q
                 WHERE q.due_at <= now()
                UNION ALL
                -- held by their endpoint, and due but for that
                SELECT q.app_id, q.endpoint_id, d.next_attempt_at
                  FROM hookd.queue q
                  JOIN hookd.deliveries d
                    ON d.app_id = q.app_id AND d.id = q.delivery_id
                 WHERE q.due_at = 'infinity' AND d.next_attempt_at <= now()) w
         GROUP BY w.app_id, w.endpoint_id
        ON CONFLICT (app_id, endpoint_id, minute)
           DO UPDATE SET backlog = excluded.backlog,
                         backlog_age_seconds = excluded.backlog_age_seconds;
    END IF;
END
$$;

-- Rolls the oldest minute closed and not yet rolled (of the last hour's: a
-- hookd that was down longer leaves a gap), and returns how many closed
-- minutes are still to roll: hookd calls again at once while some are.
-- One minute per call keeps each transaction short (it holds back vacuum,
-- and runs on the connection that records outcomes). One hookd at a time;
-- the others find the lock taken and return 0.
CREATE OR REPLACE FUNCTION hookd.stats_roll() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    closed  timestamptz := date_trunc('minute', now() - interval '5 seconds');
    m       timestamptz;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('hookd.stats_roll')) THEN
        RETURN 0;
    END IF;
    SELECT greatest(r.through, closed - interval '60 minutes') INTO m
      FROM hookd.stats_rolled r;
    m := date_trunc('minute', coalesce(m, closed - interval '1 minute'));
    IF m >= closed THEN
        RETURN 0;
    END IF;
    PERFORM hookd.stats_roll_minute(m, m + interval '1 minute' = closed);
    INSERT INTO hookd.stats_rolled (through) VALUES (m + interval '1 minute')
    ON CONFLICT (one) DO UPDATE SET through = excluded.through;
    RETURN extract(epoch FROM closed - m)::integer / 60 - 1;
END
$$;

-- The q-quantile (0..1) of a latency histogram, as its bucket's upper
-- bound in ms (the last bucket's lower one); NULL without attempts.
CREATE OR REPLACE FUNCTION hookd.stats_quantile(hist bigint[], q double precision)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t.i <= 12 THEN (hookd.stats_buckets())[t.i]
                ELSE (hookd.stats_buckets())[12] END
      FROM (SELECT i, sum(hist[i]) OVER (ORDER BY i) AS cum,
                   sum(hist[i]) OVER () AS total
              FROM generate_subscripts(hist, 1) i) t
     WHERE t.total > 0 AND t.cum >= q * t.total
     ORDER BY t.i LIMIT 1
$$;

-- GET /v1/apps/{app}/stats?since=&until=&step=&endpoint_id=: one point per
-- step (a multiple of 60 s, at most 1440 points), zeros where nothing
-- happened. A portal session narrowed by labels sees its endpoints' rows
-- only, and no event counts (those are every customer's).
CREATE OR REPLACE FUNCTION hookd.api_stats(a hookd.applications, method text,
                                           seg text[], q jsonb,
                                           OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    step    integer := 60;
    until_  timestamptz := coalesce(hookd.api_time(q, 'until'), now());
    since   timestamptz := coalesce(hookd.api_time(q, 'since'),
                                    coalesce(hookd.api_time(q, 'until'), now())
                                    - interval '1 hour');
    ep      text := q->>'endpoint_id';
    scoped  boolean := hookd.portal_labels() IS NOT NULL;
BEGIN
    IF cardinality(seg) <> 4 THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF method <> 'GET' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'stats takes GET');
    END IF;
    IF q->>'step' IS NOT NULL THEN
        IF q->>'step' !~ '^[0-9]{1,6}$' OR (q->>'step')::integer NOT BETWEEN 60 AND 86400
           OR (q->>'step')::integer % 60 <> 0 THEN
            PERFORM hookd.api_fail(400, 'invalid_query',
                'step must be a number of seconds from 60 to 86400, a multiple of 60');
        END IF;
        step := (q->>'step')::integer;
    END IF;
    IF until_ <= since THEN
        PERFORM hookd.api_fail(400, 'invalid_query', 'until must be after since');
    END IF;
    IF extract(epoch FROM until_ - since) / step > 1440 THEN
        PERFORM hookd.api_fail(400, 'invalid_query',
            'at most 1440 points: widen step or narrow since and until');
    END IF;
    IF ep IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM hookd.endpoints e WHERE e.app_id = a.id AND e.id = ep
              AND hookd.portal_sees_endpoint(e.app_id, e.id)) THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no endpoint "%s"', ep));
    END IF;
    since := to_timestamp(floor(extract(epoch FROM since) / step) * step);

    WITH buckets AS (
        SELECT t FROM generate_series(since, until_ - interval '1 microsecond',
                                      make_interval(secs => step)) t
    ), rows_ AS (
        SELECT to_timestamp(floor(extract(epoch FROM s.minute) / step) * step) AS t, s.*
          FROM hookd.stats_minutes s
         WHERE s.app_id = a.id AND s.minute >= since AND s.minute < until_
           AND (CASE WHEN ep IS NOT NULL THEN s.endpoint_id = ep
                     WHEN scoped THEN s.endpoint_id <> ''
                          AND hookd.portal_sees_endpoint(s.app_id, s.endpoint_id)
                     ELSE true END)
    ), hist AS (
        SELECT r.t, i, sum(r.latency[i]) AS n
          FROM rows_ r, generate_subscripts(r.latency, 1) i
         GROUP BY r.t, i
    ), merged AS (
        SELECT h.t, array_agg(h.n::bigint ORDER BY h.i) AS latency
          FROM hist h GROUP BY h.t
    ), per AS (
        SELECT r.t, sum(r.events) AS events, sum(r.attempts) AS attempts,
               sum(r.succeeded) AS succeeded, sum(r.failed) AS failed,
               sum(r.dead_lettered) AS dead_lettered,
               max(r.backlog) AS backlog, max(r.backlog_age_seconds) AS backlog_age
          FROM (SELECT r.t, r.minute, sum(r.events) AS events, sum(r.attempts) AS attempts,
                       sum(r.succeeded) AS succeeded, sum(r.failed) AS failed,
                       sum(r.dead_lettered) AS dead_lettered, sum(r.backlog) AS backlog,
                       max(r.backlog_age_seconds) AS backlog_age_seconds
                  FROM rows_ r GROUP BY r.t, r.minute) r
         GROUP BY r.t
    )
    SELECT 200, jsonb_build_object('app_id', a.id, 'endpoint_id', ep, 'step', step,
               'since', hookd.rfc3339(since), 'until', hookd.rfc3339(until_),
               'points', coalesce(jsonb_agg(jsonb_build_object(
                   't', hookd.rfc3339(b.t),
                   'events', CASE WHEN ep IS NULL AND NOT scoped
                                  THEN coalesce(p.events, 0) END,
                   'attempts', coalesce(p.attempts, 0),
                   'succeeded', coalesce(p.succeeded, 0),
                   'failed', coalesce(p.failed, 0),
                   'dead_lettered', coalesce(p.dead_lettered, 0),
                   'latency_ms', CASE WHEN coalesce(p.attempts, 0) > 0 THEN
                       jsonb_build_object('p50', hookd.stats_quantile(mg.latency, 0.5),
                                          'p90', hookd.stats_quantile(mg.latency, 0.9),
                                          'p99', hookd.stats_quantile(mg.latency, 0.99)) END,
                   'backlog', coalesce(p.backlog, 0),
                   'backlog_age_seconds', coalesce(p.backlog_age, 0))
                   ORDER BY b.t), '[]'))
      INTO status, reply
      FROM buckets b
      LEFT JOIN per p ON p.t = b.t
      LEFT JOIN merged mg ON mg.t = b.t;
END
$$;
