-- Delivery: attempts, per-endpoint policy, breaker and limits, and the two
-- statements hookd runs in a loop: claim due deliveries under a lease, and
-- record outcomes.

ALTER TABLE hookd.endpoints
    ADD COLUMN IF NOT EXISTS timeout_ms integer NOT NULL DEFAULT 15000
        CHECK (timeout_ms BETWEEN 100 AND 300000),
    ADD COLUMN IF NOT EXISTS retry_policy jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(retry_policy) = 'object');

CREATE TABLE IF NOT EXISTS hookd.attempts (
    app_id          text NOT NULL,
    id              text NOT NULL DEFAULT hookd.new_id('att'),
    delivery_id     text NOT NULL,
    attempt_number  integer NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     integer NOT NULL,
    status_code     integer,
    error           text,
    error_class     text NOT NULL CHECK (error_class IN
                    ('SUCCEEDED', 'RETRYABLE', 'NON_RETRYABLE', 'UNKNOWN')),
    response_body   text,     -- the first 4 KiB
    worker          text NOT NULL,
    PRIMARY KEY (app_id, id),
    FOREIGN KEY (app_id, delivery_id)
        REFERENCES hookd.deliveries (app_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS attempts_delivery
    ON hookd.attempts (app_id, delivery_id, attempt_number);

-- Per-endpoint circuit breaker, rate limit and in-flight cap, kept in the
-- endpoint's row so that every hookd process agrees on them.
--
-- Breaker: closed; open after breaker_threshold consecutive failed
-- attempts (RETRYABLE or UNKNOWN: an endpoint that answers 4xx is up);
-- after a cool-down of breaker_cooldown_seconds, doubling with each
-- reopening up to breaker_cooldown_max_seconds, one delivery is let through
-- (half_open); its failure reopens it, any answer that is not a failure
-- (a 2xx, or a 4xx: the endpoint is up) closes it.
-- While open nothing is claimed, so no attempt is burnt.

ALTER TABLE hookd.endpoints
    ADD COLUMN IF NOT EXISTS breaker_threshold integer NOT NULL DEFAULT 10
        CHECK (breaker_threshold >= 1),
    ADD COLUMN IF NOT EXISTS breaker_cooldown_seconds double precision
        NOT NULL DEFAULT 30 CHECK (breaker_cooldown_seconds > 0),
    ADD COLUMN IF NOT EXISTS breaker_cooldown_max_seconds double precision
        NOT NULL DEFAULT 1800 CHECK (breaker_cooldown_max_seconds > 0),
    ADD COLUMN IF NOT EXISTS breaker_state text NOT NULL DEFAULT 'closed'
        CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    ADD COLUMN IF NOT EXISTS breaker_until timestamptz,
    ADD COLUMN IF NOT EXISTS breaker_opens integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS consecutive_failures integer NOT NULL DEFAULT 0,
    -- deliveries per second (NULL: no limit); bursts up to one second's worth
    ADD COLUMN IF NOT EXISTS rate_limit double precision
        CHECK (rate_limit > 0),
    ADD COLUMN IF NOT EXISTS rate_tokens double precision,
    ADD COLUMN IF NOT EXISTS rate_updated_at timestamptz,
    ADD COLUMN IF NOT EXISTS max_in_flight integer CHECK (max_in_flight > 0);


-- Takes up to n due deliveries of enabled endpoints: pending ones whose
-- time has come, and in-flight ones whose lease expired (their hookd
-- died). Each gets this worker's lease and its attempt number; the row is
-- locked only for this short statement, never across the HTTP call.
CREATE OR REPLACE FUNCTION hookd.claim(worker text, n integer,
                                       lease_seconds double precision)
RETURNS TABLE (o_app_id text, o_id text, o_attempt integer, o_event_id text,
               o_url text, o_secrets jsonb, o_timeout_ms integer,
               o_retry_policy jsonb, o_age_seconds double precision,
               o_body text)
LANGUAGE sql AS $$
    WITH candidates AS MATERIALIZED (
        -- the earliest due deliveries, found without locking so that the
        -- scan walks deliveries_due in time order and stops at the limit
        -- (a lock between the sort and the limit would sort the whole
        -- backlog)
        SELECT d.app_id, d.id
          FROM hookd.deliveries d
         WHERE d.status IN ('pending', 'in_flight')
           AND d.next_attempt_at <= now()
           AND (d.status = 'pending' OR d.lease_expires_at < now())
           AND NOT EXISTS (
               SELECT 1 FROM hookd.endpoints ep
                WHERE ep.app_id = d.app_id AND ep.id = d.endpoint_id
                  AND (ep.status <> 'enabled'
                       OR (ep.breaker_state <> 'closed'
                           AND ep.breaker_until > now()))
               -- OFFSET 0 keeps this a per-row look-up, not a hash join
               -- over the whole backlog
               OFFSET 0)
         ORDER BY d.next_attempt_at
         LIMIT n * 4
    ), locked AS (
        -- taken unless another hookd holds them; conditions checked again
        -- on the row as it is once locked
        SELECT d.app_id, d.id, d.endpoint_id, d.next_attempt_at
          FROM candidates c
          JOIN hookd.deliveries d ON d.app_id = c.app_id AND d.id = c.id
         WHERE d.status IN ('pending', 'in_flight')
           AND d.next_attempt_at <= now()
           AND (d.status = 'pending' OR d.lease_expires_at < now())
         LIMIT n * 2
           FOR NO KEY UPDATE OF d SKIP LOCKED
    ), numbered AS (
        SELECT l.*, row_number() OVER (PARTITION BY l.app_id, l.endpoint_id
                                       ORDER BY l.next_attempt_at) AS k
          FROM locked l
    ), limited AS (
        -- endpoints that ration their deliveries, locked so that claims of
        -- several hookd processes take turns on their tokens
        SELECT ep.app_id, ep.id, ep.breaker_state, ep.rate_limit,
               CASE WHEN ep.rate_limit IS NULL THEN NULL
                    ELSE least(greatest(ep.rate_limit, 1),
                               coalesce(ep.rate_tokens,
                                        greatest(ep.rate_limit, 1))
                               + extract(epoch FROM now()
                                   - coalesce(ep.rate_updated_at, now()))
                                 * ep.rate_limit) END AS tokens,
               CASE WHEN ep.max_in_flight IS NULL THEN NULL
                    ELSE ep.max_in_flight - (
                        SELECT count(*) FROM hookd.deliveries x
                         WHERE x.app_id = ep.app_id
                           AND x.endpoint_id = ep.id
                           AND x.status = 'in_flight'
                           AND x.lease_expires_at >= now()) END AS room
          FROM hookd.endpoints ep
         WHERE (ep.app_id, ep.id) IN (SELECT app_id, endpoint_id FROM locked)
           AND (ep.breaker_state <> 'closed' OR ep.rate_limit IS NOT NULL
                OR ep.max_in_flight IS NOT NULL)
         ORDER BY ep.app_id, ep.id
           -- NO KEY: ingest's foreign-key checks (KEY SHARE) pass
           FOR NO KEY UPDATE
    ), picked AS (
        SELECT nb.app_id, nb.id, nb.endpoint_id
          FROM numbered nb
          LEFT JOIN limited lm
            ON lm.app_id = nb.app_id AND lm.id = nb.endpoint_id
         WHERE lm.id IS NULL
            OR (nb.k <= CASE WHEN lm.breaker_state <> 'closed' THEN 1
                             ELSE n END
                AND (lm.tokens IS NULL OR nb.k <= floor(lm.tokens))
                AND (lm.room IS NULL OR nb.k <= lm.room))
         ORDER BY nb.next_attempt_at
         LIMIT n
    ), rationed AS (
        UPDATE hookd.endpoints ep
           SET rate_tokens = CASE WHEN lm.tokens IS NULL THEN ep.rate_tokens
                                  ELSE lm.tokens - c.taken END,
               rate_updated_at = CASE WHEN lm.tokens IS NULL
                                      THEN ep.rate_updated_at ELSE now() END,
               -- the probe: one delivery, and no other until its lease ends
               breaker_state = CASE WHEN ep.breaker_state = 'closed'
                                    THEN 'closed' ELSE 'half_open' END,
               breaker_until = CASE WHEN ep.breaker_state = 'closed'
                                    THEN ep.breaker_until
                                    ELSE now() + make_interval(
                                             secs => lease_seconds) END
          FROM limited lm,
               (SELECT app_id, endpoint_id, count(*) AS taken
                  FROM picked GROUP BY app_id, endpoint_id) c
         WHERE ep.app_id = lm.app_id AND ep.id = lm.id
           AND c.app_id = lm.app_id AND c.endpoint_id = lm.id
        RETURNING 1
    )
    UPDATE hookd.deliveries d
       SET status = 'in_flight',
           lease_owner = worker,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           attempt_count = d.attempt_count + 1,
           updated_at = now()
      FROM picked, hookd.events e, hookd.endpoints ep
     WHERE d.app_id = picked.app_id AND d.id = picked.id
       AND e.app_id = d.app_id AND e.id = d.event_id
       AND ep.app_id = d.app_id AND ep.id = d.endpoint_id
    RETURNING d.app_id, d.id, d.attempt_count, d.event_id, ep.url,
              ep.secrets, ep.timeout_ms, ep.retry_policy,
              extract(epoch FROM now() - d.created_at)::double precision,
              -- built as text: the documented key order, no padding
              '{"id":' || to_json(e.id) || ',"type":' || to_json(e.event_type)
              || ',"timestamp":' || to_json(hookd.rfc3339(e.received_at))
              || ',"data":' || e.payload::text || '}'
$$;


-- outcomes: [{"a": app_id, "d": delivery id, "n": attempt number,
--   "w": worker, "t": started at (epoch seconds), "ms": duration,
--   "s": status code or null, "e": error or null, "c": error class,
--   "r": response body or null, "next": seconds until the next attempt,
--   or null to give up (dead letter), "disable": true on 410}, …]
-- Fenced: an outcome counts only while this worker still holds the lease
-- of that attempt; one whose lease was taken over changes nothing.
-- Returns how many outcomes were recorded.
-- It also moves each endpoint's breaker on what its attempts showed.
CREATE OR REPLACE FUNCTION hookd.complete(outcomes jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    recorded integer;
BEGIN
    WITH o AS (
        SELECT v->>'a' AS app_id, v->>'d' AS id, (v->>'n')::integer AS n,
               v->>'w' AS worker,
               to_timestamp((v->>'t')::double precision) AS started_at,
               (v->>'ms')::integer AS ms, (v->>'s')::integer AS status_code,
               v->>'e' AS error, v->>'c' AS class, v->>'r' AS body,
               (v->>'next')::double precision AS next,
               coalesce((v->>'disable')::boolean, false) AS disable
          FROM jsonb_array_elements(outcomes) v
    ), fenced AS (
        UPDATE hookd.deliveries d
           SET status = CASE WHEN o.class = 'SUCCEEDED' THEN 'succeeded'
                             WHEN o.next IS NULL THEN 'failed'
                             ELSE 'pending' END,
               next_attempt_at = CASE WHEN o.next IS NULL THEN d.next_attempt_at
                   ELSE now() + make_interval(secs => o.next) END,
               lease_owner = NULL,
               lease_expires_at = NULL,
               last_error = CASE WHEN o.class = 'SUCCEEDED' THEN NULL
                   ELSE coalesce(o.error, 'HTTP ' || o.status_code) END,
               updated_at = now()
          FROM o
         -- the owner and the attempt number fence the claim (complete
         -- clears the owner); no status test, which would make the planner
         -- start from the in-flight rows and rescan the outcomes for each
         WHERE d.app_id = o.app_id AND d.id = o.id
           AND d.lease_owner = o.worker
           AND d.attempt_count = o.n
        RETURNING d.app_id, d.id, d.endpoint_id
    ), att AS (
        INSERT INTO hookd.attempts
               (app_id, delivery_id, attempt_number, started_at, duration_ms,
                status_code, error, error_class, response_body, worker)
        SELECT o.app_id, o.id, o.n, o.started_at, o.ms, o.status_code,
               o.error, o.class, o.body, o.worker
          FROM o JOIN fenced f ON f.app_id = o.app_id AND f.id = o.id
        RETURNING 1
    ), per_endpoint AS (
        SELECT f.app_id, f.endpoint_id,
               bool_or(o.disable) AS gone,
               max(o.started_at) FILTER (WHERE o.class = 'SUCCEEDED')
                   AS last_ok,
               array_agg(o.started_at) FILTER (
                   WHERE o.class IN ('RETRYABLE', 'UNKNOWN')) AS fails
          FROM o JOIN fenced f ON f.app_id = o.app_id AND f.id = o.id
         GROUP BY f.app_id, f.endpoint_id
    ), counted AS (
        SELECT p.*,
               (SELECT count(*) FROM unnest(p.fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS new_fails
          FROM per_endpoint p
    ), current AS (
        -- locked: completions of several hookd processes count in turn
        SELECT c.*, ep.breaker_state AS was, ep.breaker_opens AS opens,
               ep.breaker_threshold AS threshold,
               CASE WHEN c.last_ok IS NOT NULL THEN c.new_fails::integer
                    ELSE ep.consecutive_failures + c.new_fails::integer END
                   AS failures
          FROM counted c
          JOIN hookd.endpoints ep
            ON ep.app_id = c.app_id AND ep.id = c.endpoint_id
         -- a healthy endpoint that stays healthy is left alone: rewriting
         -- its row on every batch would pile up dead versions of one hot
         -- row that ingest's fan-out reads for every event
         WHERE c.gone OR c.new_fails > 0 OR ep.breaker_state <> 'closed'
            OR ep.consecutive_failures > 0
         ORDER BY ep.app_id, ep.id
           FOR NO KEY UPDATE OF ep
    ), next AS (
        SELECT cu.*,
               CASE WHEN cu.new_fails > 0
                         AND (cu.failures >= cu.threshold
                              OR (cu.was = 'half_open'
                                  AND cu.last_ok IS NULL))
                    THEN 'open'
                    WHEN cu.last_ok IS NOT NULL OR cu.was = 'half_open'
                    THEN 'closed'
                    ELSE cu.was END AS state
          FROM current cu
    ), moved AS (
        UPDATE hookd.endpoints ep
           SET status = CASE WHEN nx.gone THEN 'disabled' ELSE ep.status END,
               disabled_reason = CASE WHEN nx.gone
                   THEN 'the endpoint answered 410 Gone'
                   ELSE ep.disabled_reason END,
               consecutive_failures = CASE
                   WHEN nx.was = 'half_open' AND nx.state = 'closed' THEN 0
                   ELSE nx.failures END,
               breaker_state = nx.state,
               breaker_opens = CASE WHEN nx.state = 'open' THEN nx.opens + 1
                                    WHEN nx.state = 'closed' THEN 0
                                    ELSE nx.opens END,
               breaker_until = CASE WHEN nx.state = 'open'
                   THEN now() + make_interval(secs => least(
                            ep.breaker_cooldown_max_seconds,
                            ep.breaker_cooldown_seconds * 2 ^ nx.opens))
                   ELSE NULL END,
               updated_at = now()
          FROM next nx
         WHERE ep.app_id = nx.app_id AND ep.id = nx.endpoint_id
        RETURNING 1
    )
    SELECT count(*) INTO recorded FROM att;

    RETURN recorded;
END
$$;
