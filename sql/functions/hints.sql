-- Hints (docs/assist.md): what a refused producer should send instead.
-- Ingest returns them as error.detail.hint beside the message; they are
-- computed only for items that are refused, never for stored ones.

-- Levenshtein distance, or max + 1 when it is more than max; names longer
-- than 128 characters are never close.
CREATE OR REPLACE FUNCTION hookd.edit_distance(a text, b text, max integer)
RETURNS integer LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    la    integer := length(a);
    lb    integer := length(b);
    prev  integer[];
    cur   integer[];
    best  integer;
BEGIN
    IF la > 128 OR lb > 128 OR abs(la - lb) > max THEN
        RETURN max + 1;
    END IF;
    prev := ARRAY(SELECT generate_series(0, lb));
    FOR i IN 1 .. la LOOP
        cur := ARRAY[i];
        best := i;
        FOR j IN 1 .. lb LOOP
            cur := cur || least(prev[j + 1] + 1, cur[j] + 1,
                                prev[j] + CASE WHEN substr(a, i, 1) = substr(b, j, 1)
                                               THEN 0 ELSE 1 END);
            best := least(best, cur[j + 1]);
        END LOOP;
        IF best > max THEN
            RETURN max + 1;
        END IF;
        prev := cur;
    END LOOP;
    RETURN CASE WHEN prev[lb + 1] <= max THEN prev[lb + 1] ELSE max + 1 END;
END
$$;

-- The candidate closest to word (case aside first), within a distance that
-- grows with the word (1 up to 4 characters, 2 up to 8, then 3), or NULL.
CREATE OR REPLACE FUNCTION hookd.closest(word text, candidates text[])
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT c
      FROM unnest(candidates) c
     CROSS JOIN LATERAL (SELECT CASE WHEN length(word) <= 4 THEN 1
                                     WHEN length(word) <= 8 THEN 2
                                     ELSE 3 END AS max) m
     WHERE c <> word
       AND (lower(c) = lower(word)
            OR hookd.edit_distance(lower(c), lower(word), m.max) <= m.max)
     ORDER BY lower(c) <> lower(word),
              hookd.edit_distance(lower(c), lower(word), m.max), c
     LIMIT 1
$$;

-- A value of the schema's shape for a hint ("add "currency": "usd""): its
-- const, first enum value, default or example, else the least of its type.
CREATE OR REPLACE FUNCTION hookd.schema_example(s jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(s) <> 'object' THEN 'null'
        WHEN s ? 'const' THEN s->'const'
        WHEN jsonb_typeof(s->'enum') = 'array' AND jsonb_array_length(s->'enum') > 0
            THEN s->'enum'->0
        WHEN s ? 'default' THEN s->'default'
        WHEN jsonb_typeof(s->'examples') = 'array' AND jsonb_array_length(s->'examples') > 0
            THEN s->'examples'->0
        ELSE CASE coalesce(CASE WHEN jsonb_typeof(s->'type') = 'array'
                                THEN s->'type'->>0 ELSE s->>'type' END, 'object')
            WHEN 'string' THEN '"…"'
            WHEN 'integer' THEN to_jsonb(greatest(coalesce((s->>'minimum')::numeric, 0),
                                                  ceil(coalesce((s->>'exclusiveMinimum')::numeric + 1, 0))))
            WHEN 'number' THEN to_jsonb(coalesce((s->>'minimum')::numeric, 0))
            WHEN 'boolean' THEN 'false'
            WHEN 'array' THEN '[]'
            WHEN 'null' THEN 'null'
            ELSE '{}' END
        END
$$;

-- What v becomes as a JSON value of type want, when it says one plainly
-- ("150" as 150, 150 as "150", "true" as true), or NULL.
CREATE OR REPLACE FUNCTION hookd.json_as_type(v jsonb, want text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    t  text := jsonb_typeof(v);
BEGIN
    IF want IN ('number', 'integer') AND t = 'string'
       AND v->>0 ~ '^\s*-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$'
       AND length(v->>0) <= 40 THEN
        v := to_jsonb(trim(v->>0)::numeric);
        t := 'number';
    END IF;
    IF want = 'number' AND t = 'number' THEN
        RETURN v;
    ELSIF want = 'integer' AND t = 'number' THEN
        RETURN CASE WHEN (v::text)::numeric = trunc((v::text)::numeric)
                    THEN v END;
    ELSIF want = 'string' AND t IN ('number', 'boolean') THEN
        RETURN to_jsonb(v::text);
    ELSIF want = 'boolean' AND t = 'string' AND lower(v->>0) IN ('true', 'false') THEN
        RETURN to_jsonb(lower(v->>0) = 'true');
    ELSIF want = 'boolean' AND t = 'number' AND v::text IN ('0', '1') THEN
        RETURN to_jsonb(v::text = '1');
    ELSIF want = 'array' AND t <> 'array' THEN
        RETURN jsonb_build_array(v);
    END IF;
    RETURN NULL;
END
$$;

-- The hint for an event type that the application does not accept: a
-- registered name close to it, or how to register it.
CREATE OR REPLACE FUNCTION hookd.unknown_type_hint(app text, name text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.near IS NOT NULL
                THEN format('did you mean "%s"? send that type, or register '
                            '"%s" under /v1/apps/%s/event-types', c.near, name, app)
                ELSE format('register it first: POST /v1/apps/%s/event-types '
                            '{"name": "%s"}, or send a registered type', app, name)
                END
      FROM (SELECT hookd.closest(name, ARRAY(
                       SELECT et.name FROM hookd.event_types et
                        WHERE et.app_id = app AND et.archived_at IS NULL
                        ORDER BY et.name LIMIT 1000)) AS near) c
$$;
