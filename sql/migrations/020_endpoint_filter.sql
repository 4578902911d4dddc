-- Payload filters (docs/routing.md): the filter as the application wrote
-- it, and the jsonpath predicate nginx (or hookd's CLI) compiled it to,
-- which the ingest fan-out evaluates. Both or neither.
ALTER TABLE hookd.endpoints
    ADD COLUMN IF NOT EXISTS filter jsonb,
    ADD COLUMN IF NOT EXISTS filter_path jsonpath;
ALTER TABLE hookd.endpoints DROP CONSTRAINT IF EXISTS endpoints_filter;
ALTER TABLE hookd.endpoints ADD CONSTRAINT endpoints_filter
    CHECK ((filter IS NULL) = (filter_path IS NULL));
