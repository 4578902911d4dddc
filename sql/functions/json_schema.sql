-- JSON Schema, the supported subset, for event types: ingest checks
-- payloads with hookd.schema_errors when an application enforces its types,
-- and the admin API refuses schemas outside the subset.
--
-- type (a name or a list), enum, const, properties, required,
-- additionalProperties (boolean or schema), items, minItems, maxItems,
-- minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum,
-- exclusiveMaximum; annotations (title, description, default, examples,
-- format, $schema, $id, $comment) are accepted and ignored.

-- What is wrong with a keyword's value, or NULL: what schema_errors casts
-- must cast (a schema registered wrong would fail every ingest of its type),
-- and a pattern must compile.
CREATE OR REPLACE FUNCTION hookd.schema_keyword_error(k text, v jsonb)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE
    WHEN k = 'type' THEN
        IF NOT (CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE jsonb_build_array(v) END)
               <@ '["string", "number", "integer", "boolean", "object", "array", "null"]'
           OR v = '[]' THEN
            RETURN 'must be one of string, number, integer, boolean, object, '
                   'array and null, or a list of them';
        END IF;
    WHEN k IN ('minItems', 'maxItems', 'minLength', 'maxLength') THEN
        IF NOT hookd.json_type_is(v, 'integer')
           OR (v::text)::numeric NOT BETWEEN 0 AND 2147483647 THEN
            RETURN 'must be an integer from 0 to 2147483647';
        END IF;
    WHEN k IN ('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum') THEN
        IF jsonb_typeof(v) <> 'number' THEN
            RETURN 'must be a number';
        END IF;
    WHEN k = 'enum' THEN
        IF jsonb_typeof(v) <> 'array' THEN
            RETURN 'must be an array';
        END IF;
    WHEN k = 'required' THEN
        IF jsonb_typeof(v) <> 'array' OR EXISTS (
               SELECT 1 FROM jsonb_array_elements(v) e
                WHERE jsonb_typeof(e) <> 'string') THEN
            RETURN 'must be an array of property names';
        END IF;
    WHEN k = 'additionalProperties' THEN
        IF jsonb_typeof(v) NOT IN ('boolean', 'object') THEN
            RETURN 'must be a boolean or a schema';
        END IF;
    WHEN k = 'pattern' THEN
        IF jsonb_typeof(v) <> 'string' THEN
            RETURN 'must be a string';
        END IF;
        BEGIN
            PERFORM '' ~ (v->>0);
        EXCEPTION WHEN invalid_regular_expression THEN
            RETURN 'is not a regular expression PostgreSQL compiles: '
                   || SQLERRM;
        END;
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END
$$;

-- the first keyword outside the subset, or with a value of the wrong kind,
-- with its path, or NULL
CREATE OR REPLACE FUNCTION hookd.schema_unsupported(s jsonb, path text DEFAULT '')
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k     text;
    sub   text;
    p     record;
BEGIN
    IF jsonb_typeof(s) = 'boolean' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(s) <> 'object' THEN
        RETURN coalesce(nullif(path, ''), '/') || ' is not a schema';
    END IF;
    FOR k IN SELECT jsonb_object_keys(s) LOOP
        IF k NOT IN ('type', 'enum', 'const', 'properties', 'required',
                     'additionalProperties', 'items', 'minItems', 'maxItems',
                     'minLength', 'maxLength', 'pattern', 'minimum', 'maximum',
                     'exclusiveMinimum', 'exclusiveMaximum', 'title',
                     'description', 'default', 'examples', 'format', '$schema',
                     '$id', '$comment') THEN
            RETURN format('keyword "%s" at %s is not supported', k,
                          coalesce(nullif(path, ''), '/'));
        END IF;
        -- each keyword's value as schema_errors will use it
        sub := hookd.schema_keyword_error(k, s->k);
        IF sub IS NOT NULL THEN
            RETURN format('%s/%s %s', path, k, sub);
        END IF;
    END LOOP;
    IF s ? 'properties' THEN
        IF jsonb_typeof(s->'properties') <> 'object' THEN
            RETURN path || '/properties must be an object';
        END IF;
        FOR p IN SELECT key, value FROM jsonb_each(s->'properties') LOOP
            sub := hookd.schema_unsupported(p.value, path || '/properties/' || p.key);
            IF sub IS NOT NULL THEN
                RETURN sub;
            END IF;
        END LOOP;
    END IF;
    IF jsonb_typeof(s->'additionalProperties') = 'object' THEN
        sub := hookd.schema_unsupported(s->'additionalProperties',
                                        path || '/additionalProperties');
        IF sub IS NOT NULL THEN
            RETURN sub;
        END IF;
    END IF;
    IF s ? 'items' THEN
        RETURN hookd.schema_unsupported(s->'items', path || '/items');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hookd.json_type_is(v jsonb, t text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t
        WHEN 'integer' THEN jsonb_typeof(v) = 'number'
                            AND (v::text)::numeric = trunc((v::text)::numeric)
        ELSE jsonb_typeof(v) = t END
$$;

-- the first way value breaks schema, naming where ("payload.items[2]"),
-- or NULL when it matches
CREATE OR REPLACE FUNCTION hookd.schema_errors(s jsonb, v jsonb, path text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    p     record;
    err   text;
    n     numeric;
BEGIN
    IF s = 'true' THEN
        RETURN NULL;
    ELSIF s = 'false' THEN
        RETURN path || ' is not allowed';
    END IF;

    IF s ? 'type' AND NOT EXISTS (
           SELECT 1 FROM jsonb_array_elements_text(
               CASE WHEN jsonb_typeof(s->'type') = 'array' THEN s->'type'
                    ELSE jsonb_build_array(s->'type') END) t
            WHERE hookd.json_type_is(v, t)) THEN
        RETURN format('%s must be of type %s', path,
                      CASE WHEN jsonb_typeof(s->'type') = 'array'
                           THEN (SELECT string_agg(t, ' or ')
                                   FROM jsonb_array_elements_text(s->'type') t)
                           ELSE s->>'type' END);
    END IF;
    IF s ? 'const' AND v <> s->'const' THEN
        RETURN format('%s must be %s', path, s->'const');
    END IF;
    IF s ? 'enum' AND NOT (s->'enum' @> jsonb_build_array(v)
                          AND EXISTS (SELECT 1 FROM jsonb_array_elements(s->'enum') e
                                       WHERE e = v)) THEN
        RETURN format('%s must be one of %s', path, s->'enum');
    END IF;

    CASE jsonb_typeof(v)
    WHEN 'object' THEN
        IF s ? 'required' THEN
            SELECT r INTO err FROM jsonb_array_elements_text(s->'required') r
             WHERE NOT v ? r LIMIT 1;
            IF err IS NOT NULL THEN
                RETURN format('%s.%s is required', path, err);
            END IF;
        END IF;
        FOR p IN SELECT key, value FROM jsonb_each(v) LOOP
            IF s->'properties' ? p.key THEN
                err := hookd.schema_errors(s->'properties'->p.key, p.value,
                                           path || '.' || p.key);
            ELSIF s ? 'additionalProperties' THEN
                err := hookd.schema_errors(s->'additionalProperties', p.value,
                                           path || '.' || p.key);
            ELSE
                err := NULL;
            END IF;
            IF err IS NOT NULL THEN
                RETURN err;
            END IF;
        END LOOP;
    WHEN 'array' THEN
        IF (s->>'minItems')::integer > jsonb_array_length(v) THEN
            RETURN format('%s must have at least %s items', path, s->>'minItems');
        END IF;
        IF (s->>'maxItems')::integer < jsonb_array_length(v) THEN
            RETURN format('%s must have at most %s items', path, s->>'maxItems');
        END IF;
        IF s ? 'items' THEN
            FOR i IN 0 .. jsonb_array_length(v) - 1 LOOP
                err := hookd.schema_errors(s->'items', v->i,
                                           format('%s[%s]', path, i));
                IF err IS NOT NULL THEN
                    RETURN err;
                END IF;
            END LOOP;
        END IF;
    WHEN 'string' THEN
        IF (s->>'minLength')::integer > length(v->>0) THEN
            RETURN format('%s must be at least %s characters', path, s->>'minLength');
        END IF;
        IF (s->>'maxLength')::integer < length(v->>0) THEN
            RETURN format('%s must be at most %s characters', path, s->>'maxLength');
        END IF;
        IF s ? 'pattern' AND NOT (v->>0) ~ (s->>'pattern') THEN
            RETURN format('%s must match %s', path, s->>'pattern');
        END IF;
    WHEN 'number' THEN
        n := (v->>0)::numeric;
        IF n < (s->>'minimum')::numeric THEN
            RETURN format('%s must be at least %s', path, s->>'minimum');
        END IF;
        IF n > (s->>'maximum')::numeric THEN
            RETURN format('%s must be at most %s', path, s->>'maximum');
        END IF;
        IF n <= (s->>'exclusiveMinimum')::numeric THEN
            RETURN format('%s must be more than %s', path, s->>'exclusiveMinimum');
        END IF;
        IF n >= (s->>'exclusiveMaximum')::numeric THEN
            RETURN format('%s must be less than %s', path, s->>'exclusiveMaximum');
        END IF;
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END
$$;
