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
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT hookd.schema_check(s, v, path)->>'message'
$$;

-- The same as {"message": …, "hint": …}: the hint says what to send instead
-- (sql/functions/hints.sql); built only once something is wrong.
CREATE OR REPLACE FUNCTION hookd.schema_check(s jsonb, v jsonb, path text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    p      record;
    err    jsonb;
    n      numeric;
    fixed  jsonb;
    near   text;
    want   text;
    lo     text;
    hi     text;
BEGIN
    IF s = 'true' THEN
        RETURN NULL;
    ELSIF s = 'false' THEN
        RETURN jsonb_build_object('message', path || ' is not allowed',
                                  'hint', format('leave %s out', path));
    END IF;

    IF s ? 'type' AND NOT EXISTS (
           SELECT 1 FROM jsonb_array_elements_text(
               CASE WHEN jsonb_typeof(s->'type') = 'array' THEN s->'type'
                    ELSE jsonb_build_array(s->'type') END) t
            WHERE hookd.json_type_is(v, t)) THEN
        want := CASE WHEN jsonb_typeof(s->'type') = 'array'
                     THEN (SELECT string_agg(t, ' or ')
                             FROM jsonb_array_elements_text(s->'type') t)
                     ELSE s->>'type' END;
        SELECT f INTO fixed
          FROM jsonb_array_elements_text(
                   CASE WHEN jsonb_typeof(s->'type') = 'array' THEN s->'type'
                        ELSE jsonb_build_array(s->'type') END) t
         CROSS JOIN LATERAL hookd.json_as_type(v, t) f
         WHERE f IS NOT NULL
         LIMIT 1;
        RETURN jsonb_build_object(
            'message', format('%s must be of type %s', path, want),
            'hint', CASE
                WHEN fixed IS NOT NULL THEN format('send %s as %s', path, fixed)
                WHEN want = 'integer' AND jsonb_typeof(v) = 'number'
                    THEN format('send %s as a whole number, such as %s', path,
                                round((v::text)::numeric))
                ELSE format('send %s as %s, such as %s', path, want,
                            hookd.schema_example(s)) END);
    END IF;
    IF s ? 'const' AND v <> s->'const' THEN
        RETURN jsonb_build_object(
            'message', format('%s must be %s', path, s->'const'),
            'hint', format('send %s as %s', path, s->'const'));
    END IF;
    IF s ? 'enum' AND NOT (s->'enum' @> jsonb_build_array(v)
                          AND EXISTS (SELECT 1 FROM jsonb_array_elements(s->'enum') e
                                       WHERE e = v)) THEN
        near := CASE WHEN jsonb_typeof(v) = 'string' THEN hookd.closest(v->>0,
                    ARRAY(SELECT e FROM jsonb_array_elements_text(s->'enum') e
                           LIMIT 256)) END;
        RETURN jsonb_build_object(
            'message', format('%s must be one of %s', path, s->'enum'),
            'hint', CASE WHEN near IS NOT NULL
                         THEN format('send %s as %s (one of %s)', path,
                                     to_jsonb(near), s->'enum')
                         ELSE format('send %s as one of %s', path, s->'enum') END);
    END IF;

    CASE jsonb_typeof(v)
    WHEN 'object' THEN
        IF s ? 'required' THEN
            SELECT r INTO near FROM jsonb_array_elements_text(s->'required') r
             WHERE NOT v ? r LIMIT 1;
            IF near IS NOT NULL THEN
                -- a key sent under a name close to the missing one
                want := hookd.closest(near, ARRAY(
                            SELECT k FROM jsonb_object_keys(v) k
                             WHERE NOT coalesce(s->'properties' ? k, false)
                             LIMIT 1000));
                RETURN jsonb_build_object(
                    'message', format('%s.%s is required', path, near),
                    'hint', CASE WHEN want IS NOT NULL
                                 THEN format('rename %s.%s to %s.%s', path,
                                             want, path, near)
                                 ELSE format('add %s.%s, such as "%s": %s', path,
                                             near, near, hookd.schema_example(
                                                 s->'properties'->near)) END);
            END IF;
        END IF;
        FOR p IN SELECT key, value FROM jsonb_each(v) LOOP
            IF s->'properties' ? p.key THEN
                err := hookd.schema_check(s->'properties'->p.key, p.value,
                                          path || '.' || p.key);
            ELSIF s->'additionalProperties' = 'false' THEN
                near := hookd.closest(p.key, ARRAY(
                            SELECT k FROM jsonb_object_keys(s->'properties') k
                             WHERE NOT v ? k LIMIT 1000));
                err := jsonb_build_object(
                    'message', format('%s.%s is not allowed', path, p.key),
                    'hint', CASE WHEN near IS NOT NULL
                                 THEN format('rename %s.%s to %s.%s', path,
                                             p.key, path, near)
                                 ELSE format('leave %s.%s out; the schema '
                                             'allows %s', path, p.key,
                                             coalesce((SELECT string_agg(k, ', ' ORDER BY k)
                                                 FROM jsonb_object_keys(
                                                     s->'properties') k),
                                                 'no other keys')) END);
            ELSIF s ? 'additionalProperties' THEN
                err := hookd.schema_check(s->'additionalProperties', p.value,
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
            RETURN jsonb_build_object(
                'message', format('%s must have at least %s items', path, s->>'minItems'),
                'hint', format('send at least %s items in %s (it has %s)',
                               s->>'minItems', path, jsonb_array_length(v)));
        END IF;
        IF (s->>'maxItems')::integer < jsonb_array_length(v) THEN
            RETURN jsonb_build_object(
                'message', format('%s must have at most %s items', path, s->>'maxItems'),
                'hint', format('send at most %s items in %s (it has %s); '
                               'split the rest into more events',
                               s->>'maxItems', path, jsonb_array_length(v)));
        END IF;
        IF s ? 'items' THEN
            FOR i IN 0 .. jsonb_array_length(v) - 1 LOOP
                err := hookd.schema_check(s->'items', v->i,
                                          format('%s[%s]', path, i));
                IF err IS NOT NULL THEN
                    RETURN err;
                END IF;
            END LOOP;
        END IF;
    WHEN 'string' THEN
        IF (s->>'minLength')::integer > length(v->>0) THEN
            RETURN jsonb_build_object(
                'message', format('%s must be at least %s characters', path, s->>'minLength'),
                'hint', format('send at least %s characters in %s (it has %s)',
                               s->>'minLength', path, length(v->>0)));
        END IF;
        IF (s->>'maxLength')::integer < length(v->>0) THEN
            RETURN jsonb_build_object(
                'message', format('%s must be at most %s characters', path, s->>'maxLength'),
                'hint', format('shorten %s to %s characters (it has %s)',
                               path, s->>'maxLength', length(v->>0)));
        END IF;
        IF s ? 'pattern' AND NOT (v->>0) ~ (s->>'pattern') THEN
            RETURN jsonb_build_object(
                'message', format('%s must match %s', path, s->>'pattern'),
                'hint', format('send %s as a string that matches the regular '
                               'expression %s%s', path, s->>'pattern',
                               CASE WHEN s ? 'examples' OR s ? 'default'
                                    THEN format(', such as %s',
                                                hookd.schema_example(s)) ELSE '' END));
        END IF;
    WHEN 'number' THEN
        n := (v->>0)::numeric;
        IF n < (s->>'minimum')::numeric OR n > (s->>'maximum')::numeric
           OR n <= (s->>'exclusiveMinimum')::numeric
           OR n >= (s->>'exclusiveMaximum')::numeric THEN
            lo := CASE WHEN s ? 'minimum' THEN 'at least ' || (s->>'minimum')
                       WHEN s ? 'exclusiveMinimum'
                           THEN 'more than ' || (s->>'exclusiveMinimum') END;
            hi := CASE WHEN s ? 'maximum' THEN 'at most ' || (s->>'maximum')
                       WHEN s ? 'exclusiveMaximum'
                           THEN 'less than ' || (s->>'exclusiveMaximum') END;
            RETURN jsonb_build_object(
                'message', CASE
                    WHEN n < (s->>'minimum')::numeric
                        THEN format('%s must be at least %s', path, s->>'minimum')
                    WHEN n > (s->>'maximum')::numeric
                        THEN format('%s must be at most %s', path, s->>'maximum')
                    WHEN n <= (s->>'exclusiveMinimum')::numeric
                        THEN format('%s must be more than %s', path, s->>'exclusiveMinimum')
                    ELSE format('%s must be less than %s', path, s->>'exclusiveMaximum')
                    END,
                'hint', format('send %s as a number %s (it is %s)', path,
                               concat_ws(' and ', lo, hi), n));
        END IF;
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END
$$;
