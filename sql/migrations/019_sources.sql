-- Inbound sources: providers' webhooks (Stripe, GitHub, …) verified by nginx
-- at POST /in/<source id> and stored as events of the source's application
-- (docs/sources.md). A source is found by its id alone, from the path.
CREATE TABLE IF NOT EXISTS hookd.sources (
    app_id      text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    id          text NOT NULL DEFAULT hookd.new_id('src'),
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    provider    text NOT NULL CHECK (provider IN ('stripe', 'github', 'shopify',
                    'slack', 'standard', 'hmac', 'basic', 'bearer')),
    -- the provider's secrets, sealed by nginx or hookd's CLI (AES-256-GCM):
    -- the newest first, each {"sealed", "expires_at"}; an old one verifies
    -- until it expires, during a rotation's grace period
    secrets     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(secrets) = 'array'),
    -- the provider's options (hmac: header, algorithm, …); checked by
    -- hookd.source_options_error
    options     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    tolerance_seconds integer NOT NULL DEFAULT 300
                CHECK (tolerance_seconds BETWEEN 1 AND 86400),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id),
    UNIQUE (app_id, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS sources_id ON hookd.sources (id);

-- A source's idempotency keys (its provider's delivery ids) live in its own
-- namespace: two sources, or a source and /v1/events ('api'), never collide.
DROP INDEX IF EXISTS hookd.events_idempotency;
CREATE UNIQUE INDEX IF NOT EXISTS events_idempotency
    ON hookd.events (app_id, source, idempotency_key)
 WHERE idempotency_key IS NOT NULL;

-- hookd.event_history gains the event's source (sql/functions/recipes.sql)
DROP FUNCTION IF EXISTS hookd.event_history(text, text);
