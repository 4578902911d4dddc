-- What the admin API manages beyond issue 2's tables (event types, key
-- names, descriptions), and the endpoint lifecycle: auto-disable after
-- sustained failure, and an outbox of operator notifications that hookd
-- sends (a JSON POST and/or an email) at a bounded rate
-- (sql/functions/notifications.sql).

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
