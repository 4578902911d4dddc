-- Ids and timestamps as the API shows them. hookd migrate applies this file
-- before the migrations, whose column defaults call hookd.new_id.

-- Time-sortable opaque ids: 12 hex digits of milliseconds since the epoch,
-- then 16 random hex digits. Sorting by id sorts by creation time.
--
-- Ids name rows, they grant nothing (every read is scoped by the caller's
-- credential), so the random part comes from random(), which PostgreSQL
-- seeds per session from its strong source: ingest makes one or two ids an
-- event and each attempt one, and gen_random_uuid() (the OpenSSL generator
-- on each call) cost three times as much. The milliseconds are those of
-- hookd.id_floor (floored, float8: extract() computes in numeric).
CREATE OR REPLACE FUNCTION hookd.new_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT prefix || '_'
        || lpad(to_hex(floor(date_part('epoch', clock_timestamp()) * 1000)::bigint),
                12, '0')
        || lpad(to_hex(floor(random() * 4294967296)::bigint), 8, '0')
        || lpad(to_hex(floor(random() * 4294967296)::bigint), 8, '0')
$$;

-- STABLE, as to_char is, so that PostgreSQL inlines it into the statements
-- that call it (declared IMMUTABLE it was never inlined).
CREATE OR REPLACE FUNCTION hookd.rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- The smallest id made at time t or later (ids start with 12 hex digits of
-- milliseconds): a bound for range scans of the primary key by time.
CREATE OR REPLACE FUNCTION hookd.id_floor(prefix text, t timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT prefix || '_'
        || lpad(to_hex(greatest(0, floor(extract(epoch FROM t) * 1000))::bigint),
                12, '0')
$$;
