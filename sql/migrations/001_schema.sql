-- hookd schema: applications, api keys, endpoints, subscriptions, events,
-- deliveries. Every large table carries app_id first in its primary and
-- foreign keys so that the schema distributes by application (Citus).
-- Ids come from hookd.new_id (sql/functions/ids.sql, applied before the
-- migrations).

CREATE SCHEMA IF NOT EXISTS hookd;

CREATE TABLE IF NOT EXISTS hookd.applications (
    id          text PRIMARY KEY DEFAULT hookd.new_id('app'),
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- An api key is shown once; only its SHA-256 is kept. app_id NULL with the
-- admin scope is an operator key for every application.
CREATE TABLE IF NOT EXISTS hookd.api_keys (
    id          text PRIMARY KEY DEFAULT hookd.new_id('key'),
    app_id      text REFERENCES hookd.applications (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    prefix      text NOT NULL,
    scopes      text[] NOT NULL
                CHECK (scopes <@ ARRAY['ingest', 'admin'] AND cardinality(scopes) > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    CHECK (app_id IS NOT NULL OR scopes = ARRAY['admin'])
);

CREATE TABLE IF NOT EXISTS hookd.endpoints (
    app_id      text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    id          text NOT NULL DEFAULT hookd.new_id('ep'),
    url         text NOT NULL CHECK (url ~* '^https?://[^/?#\s]+'),
    -- enabled: delivered to; paused: deliveries accumulate; disabled: none made
    status      text NOT NULL DEFAULT 'enabled'
                CHECK (status IN ('enabled', 'paused', 'disabled')),
    disabled_reason text,
    -- signing secrets, sealed by hookd (AES-256-GCM); the newest first, each
    -- {"sealed": "...", "expires_at": <RFC 3339 or null>}
    secrets     jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id)
);

-- What an endpoint receives: event types matching the pattern (exact,
-- 'prefix.*' or '*') and carrying every label of the filter.
CREATE TABLE IF NOT EXISTS hookd.subscriptions (
    app_id        text NOT NULL,
    endpoint_id   text NOT NULL,
    event_type_pattern text NOT NULL
                  CHECK (event_type_pattern ~ '^(\*|[A-Za-z0-9_.:-]{1,128}(\.\*)?)$'),
    label_filter  jsonb NOT NULL DEFAULT '{}'
                  CHECK (jsonb_typeof(label_filter) = 'object'),
    PRIMARY KEY (app_id, endpoint_id, event_type_pattern, label_filter),
    FOREIGN KEY (app_id, endpoint_id)
        REFERENCES hookd.endpoints (app_id, id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS hookd.events (
    app_id          text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    id              text NOT NULL DEFAULT hookd.new_id('evt'),
    event_type      text NOT NULL CHECK (event_type ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    labels          jsonb NOT NULL DEFAULT '{}'
                    CHECK (jsonb_typeof(labels) = 'object'),
    idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the request body, to tell a replay from a conflict
    request_hash    bytea,
    source          text NOT NULL DEFAULT 'api',
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_idempotency
    ON hookd.events (app_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_received
    ON hookd.events (app_id, received_at);

CREATE TABLE IF NOT EXISTS hookd.deliveries (
    app_id          text NOT NULL,
    id              text NOT NULL DEFAULT hookd.new_id('dlv'),
    event_id        text NOT NULL,
    endpoint_id     text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'in_flight', 'succeeded',
                                      'failed', 'cancelled')),
    attempt_count   integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_expires_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id),
    FOREIGN KEY (app_id, event_id)
        REFERENCES hookd.events (app_id, id) ON DELETE CASCADE,
    FOREIGN KEY (app_id, endpoint_id)
        REFERENCES hookd.endpoints (app_id, id) ON DELETE CASCADE
);
-- the claim scans due work only; finished deliveries stay out of the index
CREATE INDEX IF NOT EXISTS deliveries_due
    ON hookd.deliveries (next_attempt_at)
    WHERE status IN ('pending', 'in_flight');
CREATE INDEX IF NOT EXISTS deliveries_event
    ON hookd.deliveries (app_id, event_id);
CREATE INDEX IF NOT EXISTS deliveries_endpoint
    ON hookd.deliveries (app_id, endpoint_id, status);
