-- Ids and timestamps as the API shows them. hookd migrate applies this file
-- before the migrations, whose column defaults call hookd.new_id.

-- Time-sortable opaque ids: 12 hex digits of milliseconds since the epoch,
-- then 16 random hex digits. Sorting by id sorts by creation time.
CREATE OR REPLACE FUNCTION hookd.new_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT prefix || '_'
        || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
        || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)
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
