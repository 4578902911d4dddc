-- The assist backend's state (docs/assist.md, "A backend"): what hookd is
-- to ask about, what it was answered, and whether one hookd has a backend
-- (ingest queues the events left "other" only then).

-- a hookd with a backend sets backend_until a little ahead, again and again
CREATE TABLE IF NOT EXISTS hookd.assist_state (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    backend_until  timestamptz NOT NULL
);

-- events the classifier left "other", for hookd to ask about
CREATE TABLE IF NOT EXISTS hookd.assist_queue (
    app_id     text NOT NULL,
    event_id   text NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX IF NOT EXISTS assist_queue_queued ON hookd.assist_queue (queued_at);

-- answers for a shape of payload: an event type and the structure of its
-- payload (keys, types, sizes; hookd.json_structure); category NULL: the
-- backend's answer was unusable, not asked again for an hour
CREATE TABLE IF NOT EXISTS hookd.assist_classes (
    app_id       text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    event_type   text NOT NULL,
    fingerprint  text NOT NULL,
    category     text,
    model        text NOT NULL,
    answered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, event_type, fingerprint)
);

-- the backend's words for a diagnosis, a summary or a sample: asked for
-- when someone read the deterministic one (wanted_at), answered for an
-- input (input_hash) that, unchanged, is not asked about again
CREATE TABLE IF NOT EXISTS hookd.assist_answers (
    app_id       text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('diagnosis', 'summary', 'sample')),
    subject      text NOT NULL,
    wanted_at    timestamptz NOT NULL DEFAULT now(),
    taken_at     timestamptz,
    input_hash   text,
    answer       jsonb,
    model        text,
    answered_at  timestamptz,
    PRIMARY KEY (app_id, kind, subject)
);
