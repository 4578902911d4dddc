-- /v1/apps/{app}/event-types.

CREATE OR REPLACE FUNCTION hookd.event_type_json(t hookd.event_types)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', t.name, 'description', t.description,
        'schema', t.schema, 'sample', t.sample,
        'archived', t.archived_at IS NOT NULL,
        'archived_at', hookd.rfc3339(t.archived_at),
        'created_at', hookd.rfc3339(t.created_at),
        'updated_at', hookd.rfc3339(t.updated_at))
$$;

-- checks and stores description, schema and sample of an event type
CREATE OR REPLACE FUNCTION hookd.api_event_type_check(body jsonb, t hookd.event_types)
RETURNS hookd.event_types LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    IF hookd.api_type(body, 'description', 'string') THEN
        IF length(body->>'description') > 2000 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'description must be at most 2000 characters');
        END IF;
        t.description := body->>'description';
    END IF;
    IF hookd.api_type(body, 'schema', 'object?') THEN
        why := CASE WHEN body->'schema' <> 'null'
                    THEN hookd.schema_unsupported(body->'schema') END;
        IF why IS NOT NULL THEN
            PERFORM hookd.api_fail(400, 'invalid_schema', why);
        END IF;
        t.schema := nullif(body->'schema', 'null');
    END IF;
    IF hookd.api_type(body, 'sample', 'object?') THEN
        t.sample := nullif(body->'sample', 'null');
    END IF;
    IF t.schema IS NOT NULL AND t.sample IS NOT NULL THEN
        why := hookd.schema_errors(t.schema, t.sample, 'sample');
        IF why IS NOT NULL THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'the sample does not match the schema: ' || why);
        END IF;
    END IF;
    RETURN t;
END
$$;

-- GET …/event-types/{name}/sample?seed=N (sql/functions/samples.sql): a
-- payload valid for the type's schema, the same for the same seed; with no
-- schema, the stored sample.
CREATE OR REPLACE FUNCTION hookd.api_event_type_sample(t hookd.event_types,
                                                       method text, q jsonb,
                                                       OUT status integer,
                                                       OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    seed  bigint;
    r     jsonb;
BEGIN
    IF method <> 'GET' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'a sample is read with GET');
    END IF;
    IF coalesce(q->>'seed', '0') !~ '^[0-9]{1,9}$' THEN
        PERFORM hookd.api_fail(400, 'invalid_query',
                               'seed must be an integer from 0 to 999999999');
    END IF;
    seed := coalesce(q->>'seed', '0')::bigint;
    IF t.schema IS NULL THEN
        IF t.sample IS NULL THEN
            PERFORM hookd.api_fail(404, 'not_found', format(
                'event type "%s" has neither a schema to make a sample from nor '
                'a stored sample; PATCH it with one', t.name));
        END IF;
        status := 200;
        reply := jsonb_build_object('event_type', t.name, 'from', 'stored',
                                    'seed', NULL, 'sample', t.sample);
        RETURN;
    END IF;
    r := hookd.schema_sample(t.schema, seed);
    IF r ? 'why' THEN
        PERFORM hookd.api_fail(422, 'unsatisfiable_schema', format(
            'no payload can be made for the schema of "%s": %s', t.name, r->>'why'));
    END IF;
    PERFORM hookd.assist_want(t.app_id, 'sample', t.name);
    status := 200;
    reply := jsonb_build_object('event_type', t.name, 'from', 'schema',
                                'seed', seed, 'sample', r->'value',
                                'assist', hookd.assist_latest(t.app_id, 'sample', t.name));
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_event_types(a hookd.applications,
                                                 method text, seg text[], q jsonb,
                                                 body jsonb,
                                                 OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim  integer;
    t    hookd.event_types;
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method = 'GET' THEN
            lim := hookd.api_limit(q);
            IF coalesce(q->>'archived', 'false') NOT IN ('true', 'false') THEN
                PERFORM hookd.api_fail(400, 'invalid_query', 'archived must be true or false');
            END IF;
            -- by name: the cursor is the last name shown
            SELECT 200, CASE WHEN count(*) > lim
                    THEN jsonb_build_object('data', jsonb_agg(hookd.event_type_json(x)
                                                              ORDER BY x.name) - lim,
                                            'next_cursor', (array_agg(x.name ORDER BY x.name))[lim])
                    ELSE jsonb_build_object('data', coalesce(jsonb_agg(hookd.event_type_json(x)
                                                                       ORDER BY x.name), '[]'),
                                            'next_cursor', NULL) END
              INTO status, reply
              FROM (SELECT * FROM hookd.event_types et
                     WHERE et.app_id = a.id
                       AND (q->>'archived' = 'true' OR et.archived_at IS NULL)
                       AND (q->>'cursor' IS NULL OR et.name > q->>'cursor')
                     ORDER BY et.name LIMIT lim + 1) x;
            RETURN;
        ELSIF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'event-types takes GET and POST');
        END IF;
        PERFORM hookd.api_fields(body, ARRAY['name', 'description', 'schema', 'sample']);
        IF NOT hookd.api_type(body, 'name', 'string')
           OR body->>'name' !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'name is required: 1 to 128 letters, digits, "_", ".", ":" or "-"');
        END IF;
        IF EXISTS (SELECT 1 FROM hookd.event_types
                    WHERE app_id = a.id AND name = body->>'name') THEN
            PERFORM hookd.api_fail(409, 'conflict',
                format('event type "%s" already exists', body->>'name'));
        END IF;
        t.app_id := a.id;
        t.name := body->>'name';
        t.description := '';
        t.created_at := now();
        t.updated_at := now();
        t := hookd.api_event_type_check(body, t);
        INSERT INTO hookd.event_types SELECT t.* RETURNING * INTO t;
        status := 201;
        reply := hookd.event_type_json(t);
        RETURN;
    END IF;

    IF cardinality(seg) NOT IN (5, 6)
       OR (cardinality(seg) = 6 AND seg[6] <> 'sample') THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    SELECT * INTO t FROM hookd.event_types WHERE app_id = a.id AND name = seg[5];
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no event type "%s"', seg[5]));
    END IF;
    IF cardinality(seg) = 6 THEN
        SELECT * INTO status, reply FROM hookd.api_event_type_sample(t, method, q);
        RETURN;
    END IF;
    IF method = 'GET' THEN
        status := 200;
    ELSIF method = 'PATCH' THEN
        PERFORM hookd.api_fields(body, ARRAY['description', 'schema', 'sample', 'archived']);
        t := hookd.api_event_type_check(body, t);
        IF hookd.api_type(body, 'archived', 'boolean') THEN
            t.archived_at := CASE WHEN (body->>'archived')::boolean
                                  THEN coalesce(t.archived_at, now()) END;
        END IF;
        UPDATE hookd.event_types et
           SET description = t.description, schema = t.schema, sample = t.sample,
               archived_at = t.archived_at, updated_at = now()
         WHERE et.app_id = a.id AND et.name = t.name
        RETURNING * INTO t;
        status := 200;
    ELSIF method = 'DELETE' THEN
        UPDATE hookd.event_types et
           SET archived_at = coalesce(et.archived_at, now()), updated_at = now()
         WHERE et.app_id = a.id AND et.name = t.name;
        status := 204;
        RETURN;
    ELSE
        PERFORM hookd.api_fail(405, 'method_not_allowed',
                               'an event type takes GET, PATCH and DELETE (archive)');
    END IF;
    reply := hookd.event_type_json(t);
END
$$;
