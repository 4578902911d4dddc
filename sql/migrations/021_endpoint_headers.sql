-- An endpoint's own request headers and credentials (docs/routing.md),
-- sealed by nginx (or hookd's CLI) with the master key: the headers as one
-- sealed JSON object beside their names, the Authorization value sealed
-- beside its type. PostgreSQL never holds a value.
ALTER TABLE hookd.endpoints
    ADD COLUMN IF NOT EXISTS headers_sealed text,
    ADD COLUMN IF NOT EXISTS header_names text[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS auth_sealed text,
    ADD COLUMN IF NOT EXISTS auth_type text;
ALTER TABLE hookd.endpoints DROP CONSTRAINT IF EXISTS endpoints_headers;
ALTER TABLE hookd.endpoints ADD CONSTRAINT endpoints_headers CHECK (
    (headers_sealed IS NULL) = (cardinality(header_names) = 0)
    AND (auth_sealed IS NULL) = (auth_type IS NULL)
    AND (auth_type IS NULL OR auth_type IN ('basic', 'bearer')));

-- hookd.claim returns them too: its result changes, so it is made anew
-- (sql/functions/claim.sql)
DROP FUNCTION IF EXISTS hookd.claim(text, integer, double precision);
