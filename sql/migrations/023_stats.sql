-- Stats for charts (GET /v1/apps/{app}/stats, docs/portal.md): one row per
-- application (endpoint_id '') and per endpoint for each minute, rolled by
-- hookd from that minute's events and attempts once it closed
-- (hookd.stats_roll, sql/functions/stats.sql). latency holds the minute's
-- attempts per bucket of hookd.stats_buckets(); backlog is what was due and
-- not yet sent as the minute closed.
CREATE TABLE IF NOT EXISTS hookd.stats_minutes (
    app_id        text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    endpoint_id   text NOT NULL DEFAULT '',
    minute        timestamptz NOT NULL,
    events        bigint NOT NULL DEFAULT 0,
    attempts      bigint NOT NULL DEFAULT 0,
    succeeded     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    dead_lettered bigint NOT NULL DEFAULT 0,
    latency       bigint[] NOT NULL DEFAULT '{}',
    backlog       bigint NOT NULL DEFAULT 0,
    backlog_age_seconds double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, endpoint_id, minute)
);
CREATE INDEX IF NOT EXISTS stats_minutes_minute ON hookd.stats_minutes (minute);

-- the first minute not yet rolled
CREATE TABLE IF NOT EXISTS hookd.stats_rolled (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    through  timestamptz NOT NULL
);
