-- The claim: up to n due rows of the queue (hookd.queue, migration 026),
-- each leased to this worker with its attempt number (o_attempt_number,
-- which fences hookd.complete); rows are locked only for this short
-- statement, never across the HTTP call. A due row is a pending delivery
-- whose time has come, or one in flight whose lease ran out (its hookd
-- died): while leased, a row's due_at is the end of its lease.
--
-- Each row locked is handed out or moved out of the way, so that later
-- claims do not walk past it again: rows of an endpoint that holds
-- (paused, disabled, breaker open) are held (sql/functions/queue.sql);
-- past a half-open endpoint's three probes in flight, held; past an
-- endpoint's in-flight cap, due a second later; past its rate limit, due
-- when a token will be there for each. The room they leave in n is filled
-- from the queue again (at most four rounds), so that limits do not make
-- claims come back short.
--
-- One plan shape whatever the statistics: after the walk of queue_due,
-- every table is reached through a LATERAL subquery PostgreSQL may not
-- flatten (OFFSET 0, or a row lock), i.e. a primary-key look-up per row or
-- per endpoint, and the function's settings keep the walk an index scan in
-- time order that stops at its limit. PL/pgSQL so that the generic plan is
-- made once per connection; no JIT. Why each of these: docs/benchmarks.md,
-- "The claim's plan".
CREATE OR REPLACE FUNCTION hookd.claim(worker text, n integer,
                                       lease_seconds double precision)
RETURNS TABLE (o_app_id text, o_id text, o_attempt_number integer,
               o_event_id text, o_url text, o_secrets jsonb, o_timeout_ms integer,
               o_retry_policy jsonb, o_age_seconds double precision,
               o_body text, o_headers_sealed text, o_auth_sealed text,
               o_endpoint_id text)
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $$
DECLARE
    want    integer := n;
    got     integer;
    round_  integer := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM hookd.endpoints e
                WHERE e.breaker_state <> 'closed'
                  AND e.breaker_until <= now()) THEN
        PERFORM hookd.release_probes(lease_seconds);
    END IF;

    LOOP
        round_ := round_ + 1;
        RETURN QUERY
        WITH locked AS MATERIALIZED (
            SELECT q.app_id, q.endpoint_id, q.delivery_id, q.due_at
              FROM hookd.queue q
             WHERE q.due_at <= now()
             ORDER BY q.due_at
             -- after a round that moved rows, twice the room: the rows
             -- met may be moved again
             LIMIT CASE WHEN round_ = 1 THEN want ELSE want * 2 END
               FOR NO KEY UPDATE OF q SKIP LOCKED
        ), eps AS MATERIALIZED (
            -- each endpoint once, with what a delivery to it needs
            SELECT ep.*
              FROM (SELECT DISTINCT app_id, endpoint_id FROM locked) u
             CROSS JOIN LATERAL (
                   SELECT ep.app_id, ep.id, ep.status, ep.breaker_state,
                          ep.rate_limit, ep.max_in_flight, ep.url,
                          ep.secrets, ep.timeout_ms, ep.retry_policy,
                          ep.headers_sealed, ep.auth_sealed
                     FROM hookd.endpoints ep
                    WHERE ep.app_id = u.app_id AND ep.id = u.endpoint_id
                   OFFSET 0) ep
        ), limited AS MATERIALIZED (
            -- endpoints that ration their deliveries, locked so that claims
            -- of several hookd processes take turns on their tokens and
            -- room (NO KEY: ingest's foreign-key checks pass)
            SELECT lm.*
              FROM eps u
             CROSS JOIN LATERAL (
                   SELECT ep.app_id, ep.id, ep.rate_limit,
                          CASE WHEN ep.rate_limit IS NULL THEN NULL
                               ELSE least(greatest(ep.rate_limit, 1),
                                          coalesce(ep.rate_tokens,
                                                   greatest(ep.rate_limit, 1))
                                          + extract(epoch FROM now()
                                              - coalesce(ep.rate_updated_at,
                                                         now()))
                                            * ep.rate_limit) END AS tokens,
                          least(CASE WHEN ep.breaker_state = 'half_open'
                                     THEN 3 END, ep.max_in_flight) - (
                              -- the lease's end as a filter, not a bound:
                              -- queue_due would read every future row
                              SELECT count(*) FILTER (WHERE x.due_at > now())
                                FROM hookd.queue x
                               WHERE x.app_id = ep.app_id
                                 AND x.endpoint_id = ep.id
                                 AND x.counted) AS room
                     FROM hookd.endpoints ep
                    WHERE ep.app_id = u.app_id AND ep.id = u.id
                      FOR NO KEY UPDATE OF ep) lm
             WHERE NOT hookd.endpoint_holds(u.status, u.breaker_state)
               AND (u.breaker_state = 'half_open' OR u.rate_limit IS NOT NULL
                    OR u.max_in_flight IS NOT NULL)
             ORDER BY lm.app_id, lm.id
        ), judged AS MATERIALIZED (
            -- 'take', or where the row goes: 'gone' (its endpoint was
            -- deleted), 'held', 'later' (the in-flight cap) or 'rate'
            SELECT nb.*, lm.tokens, lm.rate_limit, lm.room,
                   CASE WHEN ep.id IS NULL THEN 'gone'
                        WHEN hookd.endpoint_holds(ep.status, ep.breaker_state)
                        THEN 'held'
                        WHEN lm.id IS NULL THEN 'take'
                        WHEN lm.room IS NOT NULL AND nb.k > lm.room
                        THEN CASE WHEN ep.breaker_state = 'half_open'
                                  THEN 'held' ELSE 'later' END
                        WHEN lm.tokens IS NOT NULL AND nb.k > floor(lm.tokens)
                        THEN 'rate'
                        ELSE 'take' END AS v
              FROM (SELECT l.*,
                           row_number() OVER (PARTITION BY l.app_id,
                                                           l.endpoint_id
                                              ORDER BY l.due_at) AS k
                      FROM locked l) nb
              LEFT JOIN eps ep
                ON ep.app_id = nb.app_id AND ep.id = nb.endpoint_id
              LEFT JOIN limited lm
                ON lm.app_id = nb.app_id AND lm.id = nb.endpoint_id
        ), verdict AS MATERIALIZED (
            -- takes past the room are left as they are ('skip': due)
            SELECT j.*,
                   CASE WHEN j.v = 'take'
                             AND row_number() OVER (PARTITION BY j.v = 'take'
                                                    ORDER BY j.due_at) > want
                        THEN 'skip' ELSE j.v END AS verdict
              FROM judged j
        ), rationed AS (
            UPDATE hookd.endpoints ep
               SET rate_tokens = lm.tokens - c.taken,
                   rate_updated_at = now()
              FROM limited lm,
                   (SELECT app_id, endpoint_id, count(*) AS taken
                      FROM verdict WHERE verdict = 'take'
                     GROUP BY app_id, endpoint_id) c
             WHERE lm.tokens IS NOT NULL
               AND ep.app_id = lm.app_id AND ep.id = lm.id
               AND c.app_id = lm.app_id AND c.endpoint_id = lm.id
            RETURNING 1
        ), dropped AS (
            DELETE FROM hookd.queue q
             USING verdict vd
             WHERE vd.verdict = 'gone' AND q.app_id = vd.app_id
               AND q.endpoint_id = vd.endpoint_id
               AND q.delivery_id = vd.delivery_id
            RETURNING q.app_id, q.delivery_id
        ), orphaned AS (
            -- made while its endpoint was being deleted (no foreign key
            -- checks it: migration 026)
            UPDATE hookd.deliveries d
               SET status = 'cancelled', updated_at = now(),
                   last_error = 'its endpoint was deleted'
              FROM dropped x
             WHERE d.app_id = x.app_id AND d.id = x.delivery_id
        ), moved AS (
            UPDATE hookd.queue q
               SET due_at = CASE vd.verdict
                       -- at least a millisecond: a row taken here is not
                       -- due in this call's next round (now() stays)
                       WHEN 'take' THEN now() + make_interval(
                                            secs => greatest(lease_seconds,
                                                             0.001))
                       WHEN 'held' THEN 'infinity'
                       WHEN 'later' THEN now() + interval '1 second'
                       -- the k-th row past the tokens waits for its own
                       ELSE now() + make_interval(secs =>
                                (vd.k - floor(vd.tokens))
                                / greatest(vd.rate_limit, 1)) END,
                   lease_owner = CASE WHEN vd.verdict = 'take' THEN worker END,
                   counted = vd.verdict = 'take' AND vd.room IS NOT NULL,
                   attempt_number = q.attempt_number
                                    + CASE WHEN vd.verdict = 'take' THEN 1 ELSE 0 END
              FROM verdict vd
             WHERE vd.verdict NOT IN ('gone', 'skip') AND q.app_id = vd.app_id
               AND q.endpoint_id = vd.endpoint_id
               AND q.delivery_id = vd.delivery_id
            RETURNING q.app_id, q.endpoint_id, q.delivery_id, q.attempt_number,
                      q.event_id, q.created_at,
                      vd.verdict = 'take' AS took, vd.due_at AS was_due
        )
        SELECT c.app_id, c.delivery_id, c.attempt_number, c.event_id, ep.url,
               ep.secrets, ep.timeout_ms, ep.retry_policy,
               extract(epoch FROM now() - c.created_at)::double precision,
               ev.body, ep.headers_sealed, ep.auth_sealed, c.endpoint_id
          FROM moved c
         CROSS JOIN LATERAL (
               -- built as text: the documented key order, no padding
               SELECT '{"id":' || to_json(e.id) || ',"type":'
                      || to_json(e.event_type) || ',"timestamp":'
                      || to_json(hookd.rfc3339(e.received_at)) || ',"data":'
                      || e.payload::text || '}' AS body
                 FROM hookd.events e
                WHERE e.app_id = c.app_id AND e.id = c.event_id
               OFFSET 0) ev
          JOIN eps ep ON ep.app_id = c.app_id AND ep.id = c.endpoint_id
         WHERE c.took
         ORDER BY c.was_due;

        GET DIAGNOSTICS got = ROW_COUNT;
        want := want - got;
        EXIT WHEN want <= 0 OR round_ >= 4
               OR NOT EXISTS (SELECT 1 FROM hookd.queue q
                               WHERE q.due_at <= now());
    END LOOP;
END
$$;


-- Leases of attempts still running, extended so that a lease always
-- outlasts the attempt it covers (an endpoint's timeout may be longer than
-- hookd's lease): no second attempt starts while the first may still be
-- answered. Fenced as hookd.complete is, by owner and attempt number.
-- attempts: [{"app_id", "endpoint_id", "delivery_id", "attempt_number"},
-- …]; returns how many leases were extended.
CREATE OR REPLACE FUNCTION hookd.extend_leases(worker text, attempts jsonb,
                                               lease_seconds double precision)
RETURNS integer LANGUAGE sql AS $$
    WITH extended AS (
        UPDATE hookd.queue q
           SET due_at = now() + make_interval(secs => lease_seconds)
          FROM jsonb_array_elements(attempts) a
         WHERE q.app_id = a->>'app_id' AND q.endpoint_id = a->>'endpoint_id'
           AND q.delivery_id = a->>'delivery_id'
           AND q.lease_owner = worker
           AND q.attempt_number = (a->>'attempt_number')::integer
        RETURNING 1)
    SELECT count(*)::integer FROM extended
$$;
