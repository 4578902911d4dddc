-- hookd.ingest answers a refused item with a hint beside its message
-- (sql/functions/hints.sql): its result changes, so it is made anew.
DROP FUNCTION IF EXISTS hookd.ingest(jsonb);
DROP FUNCTION IF EXISTS hookd.ingest_items(jsonb);
