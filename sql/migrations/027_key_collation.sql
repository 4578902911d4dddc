-- Keys compared byte by byte: every column that holds an id (and the
-- idempotency keys and the source an event came from, which the ingest
-- looks up with them) under the "C" collation, whatever the database's.
--
-- Under any other collation (C.UTF-8, en_US.UTF-8) each b-tree comparison
-- of text goes through strcoll(), and sorts get no abbreviated keys: the
-- compare family was 15-18% of the backends' cycles on the delivery path
-- (docs/benchmarks.md, "Keys under the C collation"). Equality is the same
-- under both (every collation here is deterministic), so no key, lookup or
-- uniqueness changes; only ids' order does where a database's collation
-- is not byte order, and ids are ASCII.
--
-- The rule for later migrations: a column that holds an id is declared
-- text COLLATE "C", so that a join of two id columns never compares under
-- two collations (an index of the other one would not serve it). Names,
-- descriptions, event types and other words people read keep the
-- database's collation. Each ALTER rebuilds the indexes of its column; the
-- table itself is not rewritten.

-- the views read these columns; sql/functions/recipes.sql makes them again
-- after the migrations
DROP VIEW IF EXISTS hookd.dead_letters;
DROP VIEW IF EXISTS hookd.backlog;

ALTER TABLE hookd.applications
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE hookd.api_keys
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN app_id TYPE text COLLATE "C";
ALTER TABLE hookd.endpoints
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE hookd.subscriptions
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE hookd.event_types
    ALTER COLUMN app_id TYPE text COLLATE "C";
ALTER TABLE hookd.sources
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE hookd.events
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN idempotency_key TYPE text COLLATE "C",
    ALTER COLUMN source TYPE text COLLATE "C";
ALTER TABLE hookd.deliveries
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE hookd.queue
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C",
    ALTER COLUMN delivery_id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE hookd.dead_letter_queue
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C",
    ALTER COLUMN delivery_id TYPE text COLLATE "C";
ALTER TABLE hookd.attempts
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN delivery_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE hookd.notifications
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE hookd.portal_sessions
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE hookd.stats_minutes
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE hookd.assist_queue
    ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE hookd.assist_classes
    ALTER COLUMN app_id TYPE text COLLATE "C";
ALTER TABLE hookd.assist_answers
    ALTER COLUMN app_id TYPE text COLLATE "C";
