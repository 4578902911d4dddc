-- Delivery: attempts, per-endpoint policy, and the two statements hookd
-- runs in a loop: claim due deliveries under a lease, and record outcomes.

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
    WITH due AS (
        SELECT d.app_id, d.id
          FROM hookd.deliveries d
          JOIN hookd.endpoints ep
            ON ep.app_id = d.app_id AND ep.id = d.endpoint_id
         WHERE d.status IN ('pending', 'in_flight')
           AND d.next_attempt_at <= now()
           AND (d.status = 'pending' OR d.lease_expires_at < now())
           AND ep.status = 'enabled'
         ORDER BY d.next_attempt_at
         LIMIT n
           FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE hookd.deliveries d
       SET status = 'in_flight',
           lease_owner = worker,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           attempt_count = d.attempt_count + 1,
           updated_at = now()
      FROM due, hookd.events e, hookd.endpoints ep
     WHERE d.app_id = due.app_id AND d.id = due.id
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
         WHERE d.app_id = o.app_id AND d.id = o.id
           AND d.status = 'in_flight'
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
    ), gone AS (
        UPDATE hookd.endpoints ep
           SET status = 'disabled',
               disabled_reason = 'the endpoint answered 410 Gone',
               updated_at = now()
          FROM o JOIN fenced f ON f.app_id = o.app_id AND f.id = o.id
         WHERE o.disable AND ep.app_id = f.app_id AND ep.id = f.endpoint_id
        RETURNING 1
    )
    SELECT count(*) INTO recorded FROM att;

    RETURN recorded;
END
$$;
