-- Delivery: attempts, and each endpoint's policy, breaker and limits
-- (sql/functions/claim.sql and complete.sql work on them).

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
-- The breaker's rules are in sql/functions/breaker.sql.

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
