-- What the admin API manages beyond issue 2's tables (event types, key
-- names, descriptions), and the endpoint lifecycle: auto-disable after
-- sustained failure, and an outbox of operator notifications that hookd
-- sends (a JSON POST and/or an email) at a bounded rate.

ALTER TABLE hookd.applications
    -- on: ingest accepts only registered, unarchived event types whose
    -- payload matches their schema (422 otherwise)
    ADD COLUMN IF NOT EXISTS enforce_event_types boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE hookd.api_keys
    ADD COLUMN IF NOT EXISTS name text CHECK (length(name) <= 200);

CREATE TABLE IF NOT EXISTS hookd.event_types (
    app_id       text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    -- a JSON Schema of the supported subset (see hookd.schema_errors)
    schema       jsonb CHECK (jsonb_typeof(schema) = 'object'),
    sample       jsonb CHECK (jsonb_typeof(sample) = 'object'),
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, name)
);

ALTER TABLE hookd.endpoints
    ADD COLUMN IF NOT EXISTS description text NOT NULL DEFAULT ''
        CHECK (length(description) <= 2000),
    -- every failed attempt in a row, of any class, since the last success
    ADD COLUMN IF NOT EXISTS failure_streak integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS failing_since timestamptz,
    -- auto-disable: this many failed attempts in a row, or failing without
    -- a success for this long, whichever comes first
    ADD COLUMN IF NOT EXISTS disable_after_failures integer NOT NULL
        DEFAULT 500 CHECK (disable_after_failures >= 1),
    ADD COLUMN IF NOT EXISTS disable_after_seconds double precision NOT NULL
        DEFAULT 259200 CHECK (disable_after_seconds > 0),
    ADD COLUMN IF NOT EXISTS disabled_at timestamptz;

-- health over the last hours reads an endpoint's attempts by time
ALTER TABLE hookd.attempts ADD COLUMN IF NOT EXISTS endpoint_id text;
UPDATE hookd.attempts a SET endpoint_id = d.endpoint_id
  FROM hookd.deliveries d
 WHERE a.endpoint_id IS NULL AND d.app_id = a.app_id AND d.id = a.delivery_id;
CREATE INDEX IF NOT EXISTS attempts_endpoint
    ON hookd.attempts (app_id, endpoint_id, started_at);

-- dead letters by the time they died: recipes, notifications, bulk retry
CREATE INDEX IF NOT EXISTS deliveries_failed
    ON hookd.deliveries (updated_at) WHERE status = 'failed';

-- The outbox of operator notifications. kind: endpoint_disabled,
-- breaker_opened or dead_letters. A notification not yet sent absorbs
-- repeats of itself (same endpoint and kind) instead of adding rows.
CREATE TABLE IF NOT EXISTS hookd.notifications (
    id           text PRIMARY KEY DEFAULT hookd.new_id('ntf'),
    app_id       text NOT NULL,
    endpoint_id  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN
                 ('endpoint_disabled', 'breaker_opened', 'dead_letters')),
    message      text NOT NULL,
    repeats      integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS notifications_unsent
    ON hookd.notifications (app_id, endpoint_id, kind) WHERE sent_at IS NULL;

CREATE OR REPLACE FUNCTION hookd.notify_operator(app text, endpoint text,
                                                 what text, msg text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO hookd.notifications AS n (app_id, endpoint_id, kind, message)
    VALUES (app, endpoint, what, msg)
    ON CONFLICT (app_id, endpoint_id, kind) WHERE sent_at IS NULL
    DO UPDATE SET repeats = n.repeats + 1, message = excluded.message
$$;

-- Endpoints with at least `threshold` deliveries dead-lettered within the
-- last `window_seconds` get a dead_letters notification, at most one per
-- window. hookd calls it on its notification tick.
CREATE OR REPLACE FUNCTION hookd.notice_dead_letters(threshold integer,
                                                     window_seconds double precision)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r        record;
    noticed  integer := 0;
BEGIN
    FOR r IN
        SELECT d.app_id, d.endpoint_id, count(*) AS n
          FROM hookd.deliveries d
         WHERE d.status = 'failed'
           AND d.updated_at > now() - make_interval(secs => window_seconds)
         GROUP BY d.app_id, d.endpoint_id
        HAVING count(*) >= threshold
    LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM hookd.notifications n
             WHERE n.app_id = r.app_id AND n.endpoint_id = r.endpoint_id
               AND n.kind = 'dead_letters'
               AND n.created_at > now() - make_interval(secs => window_seconds));
        PERFORM hookd.notify_operator(r.app_id, r.endpoint_id, 'dead_letters',
            format('%s deliveries to endpoint %s went to the dead-letter state '
                   'in the last %s minutes', r.n, r.endpoint_id,
                   round(window_seconds / 60)));
        noticed := noticed + 1;
    END LOOP;
    RETURN noticed;
END
$$;

-- complete(), as in 003, and also: the attempt's endpoint, the failure
-- streak that auto-disables an endpoint, and notifications when an
-- endpoint is disabled or its breaker opens.
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
               (app_id, delivery_id, endpoint_id, attempt_number, started_at,
                duration_ms, status_code, error, error_class, response_body,
                worker)
        SELECT o.app_id, o.id, f.endpoint_id, o.n, o.started_at, o.ms,
               o.status_code, o.error, o.class, o.body, o.worker
          FROM o JOIN fenced f ON f.app_id = o.app_id AND f.id = o.id
        RETURNING 1
    ), per_endpoint AS (
        SELECT f.app_id, f.endpoint_id,
               bool_or(o.disable) AS gone,
               max(o.started_at) FILTER (WHERE o.class = 'SUCCEEDED')
                   AS last_ok,
               array_agg(o.started_at) FILTER (
                   WHERE o.class IN ('RETRYABLE', 'UNKNOWN')) AS fails,
               array_agg(o.started_at) FILTER (
                   WHERE o.class <> 'SUCCEEDED') AS any_fails,
               (array_agg(coalesce(o.error, 'HTTP ' || o.status_code)
                          ORDER BY o.started_at DESC) FILTER (
                   WHERE o.class <> 'SUCCEEDED'))[1] AS last_error
          FROM o JOIN fenced f ON f.app_id = o.app_id AND f.id = o.id
         GROUP BY f.app_id, f.endpoint_id
    ), counted AS (
        SELECT p.*,
               (SELECT count(*) FROM unnest(p.fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS new_fails,
               (SELECT count(*) FROM unnest(p.any_fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS new_any,
               (SELECT min(t) FROM unnest(p.any_fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS first_fail
          FROM per_endpoint p
    ), current AS (
        -- locked: completions of several hookd processes count in turn
        SELECT c.*, ep.breaker_state AS was, ep.breaker_opens AS opens,
               ep.breaker_threshold AS threshold, ep.status AS ep_status,
               CASE WHEN c.last_ok IS NOT NULL THEN c.new_fails::integer
                    ELSE ep.consecutive_failures + c.new_fails::integer END
                   AS failures,
               CASE WHEN c.last_ok IS NOT NULL THEN c.new_any::integer
                    ELSE ep.failure_streak + c.new_any::integer END
                   AS streak,
               CASE WHEN c.new_any = 0 AND c.last_ok IS NOT NULL THEN NULL
                    WHEN c.last_ok IS NOT NULL THEN c.first_fail
                    ELSE coalesce(ep.failing_since, c.first_fail) END
                   AS since,
               ep.disable_after_failures, ep.disable_after_seconds
          FROM counted c
          JOIN hookd.endpoints ep
            ON ep.app_id = c.app_id AND ep.id = c.endpoint_id
         -- a healthy endpoint that stays healthy is left alone: rewriting
         -- its row on every batch would pile up dead versions of one hot
         -- row that ingest's fan-out reads for every event
         WHERE c.gone OR c.new_any > 0 OR ep.breaker_state <> 'closed'
            OR ep.consecutive_failures > 0 OR ep.failure_streak > 0
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
                    ELSE cu.was END AS state,
               CASE WHEN cu.ep_status = 'disabled' THEN NULL
                    WHEN cu.gone THEN 'the endpoint answered 410 Gone'
                    WHEN cu.streak >= cu.disable_after_failures
                    THEN format('%s attempts in a row failed (last: %s)',
                                cu.streak, cu.last_error)
                    WHEN cu.streak > 0 AND cu.since <= now()
                         - make_interval(secs => cu.disable_after_seconds)
                    THEN format('every attempt failed since %s (last: %s)',
                                hookd.rfc3339(cu.since), cu.last_error)
                    END AS disable_reason
          FROM current cu
    ), moved AS (
        UPDATE hookd.endpoints ep
           SET status = CASE WHEN nx.disable_reason IS NOT NULL
                             THEN 'disabled' ELSE ep.status END,
               disabled_reason = coalesce(nx.disable_reason,
                                          ep.disabled_reason),
               disabled_at = CASE WHEN nx.disable_reason IS NOT NULL
                                  THEN now() ELSE ep.disabled_at END,
               consecutive_failures = CASE
                   WHEN nx.was = 'half_open' AND nx.state = 'closed' THEN 0
                   ELSE nx.failures END,
               failure_streak = nx.streak,
               failing_since = CASE WHEN nx.streak = 0 THEN NULL
                                    ELSE nx.since END,
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
        RETURNING ep.app_id, ep.id, ep.url, nx.disable_reason,
                  nx.state = 'open' AND nx.was = 'closed' AS opened,
                  ep.breaker_until
    ), notified AS (
        SELECT hookd.notify_operator(m.app_id, m.id, 'endpoint_disabled',
                   format('endpoint %s (%s) was disabled: %s', m.id, m.url,
                          m.disable_reason))
          FROM moved m WHERE m.disable_reason IS NOT NULL
        UNION ALL
        SELECT hookd.notify_operator(m.app_id, m.id, 'breaker_opened',
                   format('the circuit breaker of endpoint %s (%s) opened '
                          'after repeated failures; next probe at %s',
                          m.id, m.url, hookd.rfc3339(m.breaker_until)))
          FROM moved m WHERE m.opened AND m.disable_reason IS NULL
    )
    SELECT (SELECT count(*) FROM att) + 0 * (SELECT count(*) FROM notified)
      INTO recorded;

    RETURN recorded;
END
$$;
