-- The delivery path's own tables (docs/architecture.md, "The queue").
--
-- hookd.queue holds what waits: one narrow row per delivery that is
-- pending, in flight or held, and nothing else. The claim scans it by
-- due_at, leases rows in it, and hookd.complete moves or removes them; the
-- wide deliveries row is rewritten once per attempt, at its outcome, and
-- that rewrite is HOT: no index of deliveries has a column (or a predicate)
-- that changes after the insert, and its pages keep room for the new
-- version. hookd.dead_letter_queue lists the dead letters by endpoint and
-- by the time they died, which the partial index on deliveries did.
--
-- due_at is when the claim may take the row: the next attempt's time while
-- it waits, the end of its lease while it is in flight (so that a lease that
-- expires makes it due again), and 'infinity' while it is held (its endpoint
-- is paused, disabled or its breaker is not closed: sql/functions/queue.sql
-- holds and releases them). attempt_number is that of its latest claim,
-- which with lease_owner fences hookd.complete.
CREATE TABLE IF NOT EXISTS hookd.queue (
    app_id          text NOT NULL,
    endpoint_id     text NOT NULL,
    delivery_id     text NOT NULL,
    due_at          timestamptz NOT NULL DEFAULT now(),
    attempt_number  integer NOT NULL DEFAULT 0,
    lease_owner     text,
    -- what the claim needs of the delivery, so that it reads deliveries
    -- not at all
    event_id        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- leased to an endpoint that counts what it has in flight (its
    -- max_in_flight, or a half-open breaker's probes)
    counted         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (app_id, endpoint_id, delivery_id)
) WITH (fillfactor = 50);
CREATE INDEX IF NOT EXISTS queue_due ON hookd.queue (due_at);
-- an endpoint's deliveries in flight, for its max_in_flight and its probes:
-- only rows of such endpoints are in it, so that a claim of any other
-- writes one index entry less per row (5 µs a delivery, measured)
CREATE INDEX IF NOT EXISTS queue_counted
    ON hookd.queue (app_id, endpoint_id, delivery_id) WHERE counted;
-- the page keeps room for the claim's new version of each row: moving it to
-- another page costs a lock record more
ALTER TABLE hookd.queue SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000,
    autovacuum_vacuum_cost_delay = 0);

CREATE TABLE IF NOT EXISTS hookd.dead_letter_queue (
    app_id       text NOT NULL,
    endpoint_id  text NOT NULL,
    delivery_id  text NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, delivery_id),
    FOREIGN KEY (app_id, delivery_id)
        REFERENCES hookd.deliveries (app_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS dead_letter_queue_endpoint
    ON hookd.dead_letter_queue (endpoint_id, app_id, failed_at);
CREATE INDEX IF NOT EXISTS dead_letter_queue_failed
    ON hookd.dead_letter_queue (failed_at);

-- What waits moves over. In flight becomes pending with its lease in the
-- queue; deliveries keeps pending, succeeded, failed and cancelled.
INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id, due_at,
                         attempt_number, lease_owner, event_id, created_at)
SELECT d.app_id, d.endpoint_id, d.id,
       CASE WHEN ep.status <> 'enabled' OR ep.breaker_state <> 'closed'
            THEN 'infinity'
            WHEN d.status = 'in_flight'
            THEN greatest(d.next_attempt_at, d.lease_expires_at)
            ELSE d.next_attempt_at END,
       d.attempt_count, d.lease_owner, d.event_id, d.created_at
  FROM hookd.deliveries d
  JOIN hookd.endpoints ep ON ep.app_id = d.app_id AND ep.id = d.endpoint_id
 WHERE d.status IN ('pending', 'in_flight')
ON CONFLICT DO NOTHING;

INSERT INTO hookd.dead_letter_queue (app_id, endpoint_id, delivery_id,
                                     failed_at)
SELECT d.app_id, d.endpoint_id, d.id, d.updated_at
  FROM hookd.deliveries d
 WHERE d.status = 'failed'
ON CONFLICT DO NOTHING;

DROP INDEX IF EXISTS hookd.deliveries_due;
DROP INDEX IF EXISTS hookd.deliveries_failed;
DROP INDEX IF EXISTS hookd.deliveries_endpoint;
CREATE INDEX IF NOT EXISTS deliveries_endpoint
    ON hookd.deliveries (endpoint_id, app_id);

UPDATE hookd.deliveries SET status = 'pending' WHERE status = 'in_flight';
ALTER TABLE hookd.deliveries DROP CONSTRAINT IF EXISTS deliveries_status_check;
ALTER TABLE hookd.deliveries
    ADD CONSTRAINT deliveries_status_check
        CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    DROP COLUMN IF EXISTS lease_owner,
    DROP COLUMN IF EXISTS lease_expires_at;
-- room in each page for the version each row's outcome writes (HOT): half
-- of it, as every delivery is rewritten once at least (measured:
-- docs/benchmarks.md, "The delivery path")
ALTER TABLE hookd.deliveries SET (fillfactor = 50);

-- No foreign key checks a delivery's event and endpoint, nor an attempt's
-- delivery: each check locked the row it found, a WAL record per delivery
-- (and a MultiXact on the endpoint's row, which every event of the batches
-- of both nginx workers locked), and these rows are written only by ingest
-- and hookd.complete, beside what they refer to. Deleting an event or an
-- endpoint takes them with it as the keys did (triggers,
-- sql/functions/cascade.sql); a delivery whose endpoint went while its
-- event was being ingested is cancelled by the claim that meets it.
ALTER TABLE hookd.attempts
    DROP CONSTRAINT IF EXISTS attempts_app_id_delivery_id_fkey;
ALTER TABLE hookd.deliveries
    DROP CONSTRAINT IF EXISTS deliveries_app_id_event_id_fkey,
    DROP CONSTRAINT IF EXISTS deliveries_app_id_endpoint_id_fkey;

-- hookd.claim returns the endpoint as well (o_endpoint_id), which the
-- outcome names for the queue's key: a result cannot change in place
DROP FUNCTION IF EXISTS hookd.claim(text, integer, double precision);

-- open and half-open breakers by when they let probes through
CREATE INDEX IF NOT EXISTS endpoints_breaker
    ON hookd.endpoints (breaker_until) WHERE breaker_state <> 'closed';

-- hookd.fanout_endpoints says whether each delivery waits held
DROP FUNCTION IF EXISTS hookd.fanout_endpoints(text, text, jsonb, jsonb);
