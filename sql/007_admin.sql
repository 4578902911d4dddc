-- The admin API (`hookd_admin;` in nginx). nginx authenticates nothing
-- itself: it hashes the key, parses the query string and the JSON body,
-- makes any new secret (the plaintext never reaches PostgreSQL: only the
-- sealed endpoint secret or the API key's hash does) and calls
-- hookd.admin(request) once per request. Routing, authorization,
-- validation and every change happen here, in one transaction.
--
-- request: {"key": hex SHA-256 of the API key, "method": "GET", "path":
--   "/v1/apps/…", "query": {"limit": "10", …}, "body": {…} or null,
--   "new_secret": {"sealed": "v1.…"} or null,
--   "new_key": {"hash": hex SHA-256, "prefix": "hk_…"} or null}

-- Raises an error that hookd.admin answers with this status and
-- {"error": {"code": code, "message": message}}.
CREATE OR REPLACE FUNCTION hookd.api_fail(status integer, code text,
                                          message text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = message, DETAIL = code,
                          HINT = status::text;
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_error(code text, message text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('error', jsonb_build_object('code', code,
                                                          'message', message))
$$;

-- ?limit= : 1 to 250, 50 if absent
CREATE OR REPLACE FUNCTION hookd.api_limit(q jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    IF q->>'limit' IS NULL THEN
        RETURN 50;
    END IF;
    IF q->>'limit' !~ '^[0-9]{1,4}$' OR (q->>'limit')::integer NOT BETWEEN 1 AND 250 THEN
        PERFORM hookd.api_fail(400, 'invalid_query', 'limit must be an integer from 1 to 250');
    END IF;
    RETURN (q->>'limit')::integer;
END
$$;

-- a timestamp from the query string or the body, or NULL when absent
CREATE OR REPLACE FUNCTION hookd.api_time(v jsonb, name text,
                                          code text DEFAULT 'invalid_query')
RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
    IF v->name IS NULL OR v->name = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v->name) <> 'string'
       OR v->>name !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$' THEN
        PERFORM hookd.api_fail(400, code, format(
            '%s must be an RFC 3339 time such as 2026-01-31T12:00:00Z', name));
    END IF;
    RETURN (v->>name)::timestamptz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    PERFORM hookd.api_fail(400, code, format('%s is not a valid time', name));
    RETURN NULL;
END
$$;

-- {"data": items[1..lim], "next_cursor": the last id shown, or null when
-- this is the last page}; items holds up to lim + 1 rows, newest first
CREATE OR REPLACE FUNCTION hookd.api_page(items jsonb, lim integer)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_array_length(items) > lim
        THEN jsonb_build_object('data', items - lim,
                                'next_cursor', items->(lim - 1)->'id')
        ELSE jsonb_build_object('data', items, 'next_cursor', NULL) END
$$;

-- The smallest id made at time t or later (ids start with 12 hex digits of
-- milliseconds): a bound for range scans of the primary key by time.
CREATE OR REPLACE FUNCTION hookd.id_floor(prefix text, t timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT prefix || '_'
        || lpad(to_hex(greatest(0, floor(extract(epoch FROM t) * 1000))::bigint),
                12, '0')
$$;

-- Fails with 400 naming the first field of the body that is not allowed.
CREATE OR REPLACE FUNCTION hookd.api_fields(body jsonb, allowed text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
                               'the body must be a JSON object');
    END IF;
    SELECT key INTO k FROM jsonb_object_keys(body) key
     WHERE key <> ALL (allowed) LIMIT 1;
    IF k IS NOT NULL THEN
        PERFORM hookd.api_fail(400, 'invalid_request', format(
            'unknown field "%s"; allowed: %s', k, array_to_string(allowed, ', ')));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_type(body jsonb, name text, want text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT body ? name THEN
        RETURN false;
    END IF;
    IF jsonb_typeof(body->name) <> rtrim(want, '?')
       AND NOT (rtrim(want, '?') = 'integer' AND jsonb_typeof(body->name) = 'number')
       AND NOT (jsonb_typeof(body->name) = 'null' AND want LIKE '%?') THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
            format('%s must be %s', name, CASE rtrim(want, '?')
                WHEN 'object' THEN 'a JSON object'
                WHEN 'array' THEN 'an array'
                ELSE 'a ' || rtrim(want, '?') END
                || CASE WHEN want LIKE '%?' THEN ' or null' ELSE '' END));
    END IF;
    IF want IN ('integer', 'integer?') AND jsonb_typeof(body->name) = 'number'
       AND (body->>name)::numeric <> trunc((body->>name)::numeric) THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
                               format('%s must be an integer', name));
    END IF;
    RETURN true;
END
$$;


-- JSON shapes ---------------------------------------------------------------

CREATE OR REPLACE FUNCTION hookd.application_json(a hookd.applications)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'name', a.name,
        'enforce_event_types', a.enforce_event_types,
        'created_at', hookd.rfc3339(a.created_at),
        'updated_at', hookd.rfc3339(a.updated_at))
$$;

CREATE OR REPLACE FUNCTION hookd.api_key_json(k hookd.api_keys)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', k.id, 'app_id', k.app_id, 'name', k.name,
        'prefix', k.prefix, 'scopes', to_jsonb(k.scopes),
        'created_at', hookd.rfc3339(k.created_at),
        'expires_at', hookd.rfc3339(k.expires_at),
        'revoked_at', hookd.rfc3339(k.revoked_at),
        'state', CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                      WHEN k.expires_at <= now() THEN 'expired'
                      ELSE 'active' END)
$$;

CREATE OR REPLACE FUNCTION hookd.event_type_json(t hookd.event_types)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', t.name, 'description', t.description,
        'schema', t.schema, 'sample', t.sample,
        'archived', t.archived_at IS NOT NULL,
        'archived_at', hookd.rfc3339(t.archived_at),
        'created_at', hookd.rfc3339(t.created_at),
        'updated_at', hookd.rfc3339(t.updated_at))
$$;

CREATE OR REPLACE FUNCTION hookd.endpoint_json(ep hookd.endpoints)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', ep.id, 'app_id', ep.app_id,
        'url', ep.url, 'description', ep.description, 'status', ep.status,
        'disabled_reason', ep.disabled_reason,
        'disabled_at', hookd.rfc3339(ep.disabled_at),
        'event_types', coalesce((SELECT jsonb_agg(DISTINCT s.event_type_pattern)
                                   FROM hookd.subscriptions s
                                  WHERE s.app_id = ep.app_id
                                    AND s.endpoint_id = ep.id), '[]'),
        'labels', coalesce((SELECT s.label_filter FROM hookd.subscriptions s
                             WHERE s.app_id = ep.app_id AND s.endpoint_id = ep.id
                             LIMIT 1), '{}'),
        'timeout_ms', ep.timeout_ms, 'retry_policy', ep.retry_policy,
        'rate_limit', ep.rate_limit, 'max_in_flight', ep.max_in_flight,
        'breaker_threshold', ep.breaker_threshold,
        'disable_after_failures', ep.disable_after_failures,
        'disable_after_seconds', ep.disable_after_seconds,
        'breaker', jsonb_build_object('state', ep.breaker_state,
            'until', hookd.rfc3339(ep.breaker_until),
            'consecutive_failures', ep.consecutive_failures),
        'secrets', (SELECT count(*) FROM jsonb_array_elements(ep.secrets) s
                     WHERE s->>'expires_at' IS NULL
                        OR (s->>'expires_at')::timestamptz > now()),
        'created_at', hookd.rfc3339(ep.created_at),
        'updated_at', hookd.rfc3339(ep.updated_at))
$$;

CREATE OR REPLACE FUNCTION hookd.event_json(e hookd.events)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', e.id, 'app_id', e.app_id,
        'event_type', e.event_type, 'payload', e.payload, 'labels', e.labels,
        'idempotency_key', e.idempotency_key, 'source', e.source,
        'received_at', hookd.rfc3339(e.received_at))
$$;

CREATE OR REPLACE FUNCTION hookd.delivery_json(d hookd.deliveries)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', d.id, 'app_id', d.app_id,
        'event_id', d.event_id, 'endpoint_id', d.endpoint_id,
        'status', d.status, 'attempt_count', d.attempt_count,
        'next_attempt_at', CASE WHEN d.status IN ('pending', 'in_flight')
                                THEN hookd.rfc3339(d.next_attempt_at) END,
        'last_error', d.last_error,
        'created_at', hookd.rfc3339(d.created_at),
        'updated_at', hookd.rfc3339(d.updated_at))
$$;

CREATE OR REPLACE FUNCTION hookd.attempt_json(a hookd.attempts)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'attempt_number', a.attempt_number,
        'started_at', hookd.rfc3339(a.started_at),
        'duration_ms', a.duration_ms, 'status_code', a.status_code,
        'error', a.error, 'error_class', a.error_class,
        'response_body', a.response_body, 'worker', a.worker)
$$;


-- JSON Schema, the supported subset ----------------------------------------
-- type (a name or a list), enum, const, properties, required,
-- additionalProperties (boolean or schema), items, minItems, maxItems,
-- minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum,
-- exclusiveMaximum; annotations (title, description, default, examples,
-- format, $schema, $id, $comment) are accepted and ignored.

-- the first keyword outside the subset, with its path, or NULL
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


-- Resources -----------------------------------------------------------------

-- The application named by id or name, if this key may manage it; a key of
-- another application gets the same 404 as a name that does not exist.
CREATE OR REPLACE FUNCTION hookd.api_app(k hookd.api_keys, ref text)
RETURNS hookd.applications LANGUAGE plpgsql AS $$
DECLARE
    a hookd.applications;
BEGIN
    SELECT * INTO a FROM hookd.applications
     WHERE (id = ref OR name = ref)
       AND (k.app_id IS NULL OR id = k.app_id)
     ORDER BY id = ref DESC LIMIT 1;
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no application "%s"', ref));
    END IF;
    RETURN a;
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_applications(k hookd.api_keys, method text,
                                                  q jsonb, body jsonb,
                                                  OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim  integer;
    a    hookd.applications;
BEGIN
    IF method = 'GET' THEN
        lim := hookd.api_limit(q);
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.application_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.applications ap
                 WHERE (k.app_id IS NULL OR ap.id = k.app_id)
                   AND (q->>'cursor' IS NULL OR ap.id < q->>'cursor')
                 ORDER BY ap.id DESC LIMIT lim + 1) x;
        RETURN;
    END IF;
    IF method <> 'POST' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', '/v1/apps takes GET and POST');
    END IF;
    IF k.app_id IS NOT NULL THEN
        PERFORM hookd.api_fail(403, 'forbidden',
            'an application''s admin key cannot create applications; use an operator key');
    END IF;
    PERFORM hookd.api_fields(body, ARRAY['name', 'enforce_event_types']);
    IF NOT hookd.api_type(body, 'name', 'string')
       OR body->>'name' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
            'name is required: 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit');
    END IF;
    IF body->>'name' ~ '^app_' THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
                               'name must not start with "app_", which ids use');
    END IF;
    PERFORM hookd.api_type(body, 'enforce_event_types', 'boolean');
    IF EXISTS (SELECT 1 FROM hookd.applications WHERE name = body->>'name') THEN
        PERFORM hookd.api_fail(409, 'conflict',
            format('an application named "%s" already exists', body->>'name'));
    END IF;
    INSERT INTO hookd.applications (name, enforce_event_types)
    VALUES (body->>'name', coalesce((body->>'enforce_event_types')::boolean, false))
    RETURNING * INTO a;
    status := 201;
    reply := hookd.application_json(a);
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_application(a hookd.applications,
                                                 method text, q jsonb, body jsonb,
                                                 OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    IF method = 'GET' THEN
        status := 200;
        reply := hookd.application_json(a);
    ELSIF method = 'PATCH' THEN
        PERFORM hookd.api_fields(body, ARRAY['name', 'enforce_event_types']);
        IF hookd.api_type(body, 'name', 'string') THEN
            IF body->>'name' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'
               OR body->>'name' ~ '^app_' THEN
                PERFORM hookd.api_fail(400, 'invalid_request',
                    'name must be 1 to 63 letters, digits, "_", "." or "-", not starting with "app_"');
            END IF;
            IF EXISTS (SELECT 1 FROM hookd.applications
                        WHERE name = body->>'name' AND id <> a.id) THEN
                PERFORM hookd.api_fail(409, 'conflict',
                    format('an application named "%s" already exists', body->>'name'));
            END IF;
        END IF;
        PERFORM hookd.api_type(body, 'enforce_event_types', 'boolean');
        UPDATE hookd.applications ap
           SET name = coalesce(body->>'name', ap.name),
               enforce_event_types = coalesce((body->>'enforce_event_types')::boolean,
                                              ap.enforce_event_types),
               updated_at = now()
         WHERE ap.id = a.id
        RETURNING * INTO a;
        status := 200;
        reply := hookd.application_json(a);
    ELSIF method = 'DELETE' THEN
        IF coalesce(q->>'force', 'false') NOT IN ('true', 'false') THEN
            PERFORM hookd.api_fail(400, 'invalid_query', 'force must be true or false');
        END IF;
        IF coalesce(q->>'force', 'false') <> 'true' AND EXISTS (
               SELECT 1 FROM hookd.deliveries d
                WHERE d.app_id = a.id AND d.status IN ('pending', 'in_flight')) THEN
            PERFORM hookd.api_fail(409, 'pending_deliveries',
                'the application still has pending deliveries; wait for them, '
                'or delete with ?force=true to drop them');
        END IF;
        DELETE FROM hookd.applications WHERE id = a.id;
        status := 204;
    ELSE
        PERFORM hookd.api_fail(405, 'method_not_allowed',
                               'an application takes GET, PATCH and DELETE');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_keys_route(a hookd.applications,
                                                method text, seg text[], q jsonb,
                                                body jsonb, req jsonb,
                                                OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim     integer;
    nk      hookd.api_keys;
    scopes  text[];
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method = 'GET' THEN
            lim := hookd.api_limit(q);
            SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.api_key_json(x)
                                                          ORDER BY x.id DESC), '[]'), lim)
              INTO status, reply
              FROM (SELECT * FROM hookd.api_keys ak
                     WHERE ak.app_id = a.id
                       AND (q->>'cursor' IS NULL OR ak.id < q->>'cursor')
                     ORDER BY ak.id DESC LIMIT lim + 1) x;
            RETURN;
        ELSIF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'api-keys takes GET and POST');
        END IF;
        PERFORM hookd.api_fields(body, ARRAY['name', 'scopes', 'expires_at']);
        IF hookd.api_type(body, 'scopes', 'array') THEN
            SELECT array_agg(DISTINCT s ORDER BY s) INTO scopes
              FROM jsonb_array_elements_text(body->'scopes') s;
            IF scopes IS NULL OR NOT scopes <@ ARRAY['admin', 'ingest'] THEN
                PERFORM hookd.api_fail(400, 'invalid_request',
                    'scopes must be a non-empty list of "ingest" and "admin"');
            END IF;
        ELSE
            scopes := ARRAY['ingest'];
        END IF;
        IF hookd.api_type(body, 'name', 'string?') AND length(body->>'name') > 200 THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'name must be at most 200 characters');
        END IF;
        IF hookd.api_time(body, 'expires_at', 'invalid_request') <= now() THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'expires_at must be in the future');
        END IF;
        INSERT INTO hookd.api_keys (app_id, key_hash, prefix, scopes, name, expires_at)
        VALUES (a.id, decode(req->'new_key'->>'hash', 'hex'),
                req->'new_key'->>'prefix', scopes, body->>'name',
                hookd.api_time(body, 'expires_at', 'invalid_request'))
        RETURNING * INTO nk;
        status := 201;
        reply := hookd.api_key_json(nk);
        RETURN;
    END IF;

    IF cardinality(seg) <> 5 THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF method <> 'DELETE' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'an API key takes DELETE (revoke)');
    END IF;
    UPDATE hookd.api_keys ak SET revoked_at = coalesce(ak.revoked_at, now())
     WHERE ak.app_id = a.id AND ak.id = seg[5]
    RETURNING * INTO nk;
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no API key "%s"', seg[5]));
    END IF;
    status := 204;
END
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

    IF cardinality(seg) <> 5 THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    SELECT * INTO t FROM hookd.event_types WHERE app_id = a.id AND name = seg[5];
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no event type "%s"', seg[5]));
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

-- what POST and PATCH of an endpoint take besides url
CREATE OR REPLACE FUNCTION hookd.api_endpoint_fields() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['description', 'event_types', 'labels', 'timeout_ms',
                 'retry_policy', 'rate_limit', 'max_in_flight', 'breaker_threshold',
                 'disable_after_failures', 'disable_after_seconds']
$$;

-- applies the endpoint fields of body to ep and its subscriptions
CREATE OR REPLACE FUNCTION hookd.api_endpoint_apply(body jsonb, ep hookd.endpoints,
                                                    creating boolean)
RETURNS hookd.endpoints LANGUAGE plpgsql AS $$
DECLARE
    pattern  text;
    filter   jsonb;
    types    jsonb;
    k        text;
BEGIN
    PERFORM hookd.api_fields(body, ARRAY['url'] || hookd.api_endpoint_fields());
    IF hookd.api_type(body, 'url', 'string') THEN
        IF body->>'url' !~* '^https?://[^/?#\s]+[^\s]*$' OR length(body->>'url') > 2048 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'url must be an http:// or https:// URL with a host, at most 2048 characters');
        END IF;
        ep.url := body->>'url';
    END IF;
    IF hookd.api_type(body, 'description', 'string') THEN
        IF length(body->>'description') > 2000 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'description must be at most 2000 characters');
        END IF;
        ep.description := body->>'description';
    END IF;
    IF hookd.api_type(body, 'timeout_ms', 'integer') THEN
        IF (body->>'timeout_ms')::numeric NOT BETWEEN 100 AND 300000 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'timeout_ms must be from 100 to 300000');
        END IF;
        ep.timeout_ms := (body->>'timeout_ms')::integer;
    END IF;
    IF hookd.api_type(body, 'retry_policy', 'object') THEN
        FOR k IN SELECT jsonb_object_keys(body->'retry_policy') LOOP
            IF k NOT IN ('strategy', 'base_seconds', 'cap_seconds',
                         'max_attempts', 'max_age_seconds') THEN
                PERFORM hookd.api_fail(400, 'invalid_request', format(
                    'retry_policy.%s is unknown; allowed: strategy, base_seconds, '
                    'cap_seconds, max_attempts, max_age_seconds', k));
            END IF;
        END LOOP;
        IF body->'retry_policy' ? 'strategy'
           AND body->'retry_policy'->>'strategy' NOT IN ('exponential', 'constant') THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'retry_policy.strategy must be "exponential" or "constant"');
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_each(body->'retry_policy') e
                    WHERE e.key <> 'strategy'
                      AND (jsonb_typeof(e.value) <> 'number' OR (e.value::text)::numeric <= 0)) THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'retry_policy numbers must be positive');
        END IF;
        IF body->'retry_policy' ? 'max_attempts'
           AND NOT hookd.json_type_is(body->'retry_policy'->'max_attempts', 'integer') THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'retry_policy.max_attempts must be an integer');
        END IF;
        ep.retry_policy := body->'retry_policy';
    END IF;
    IF hookd.api_type(body, 'rate_limit', 'number?') THEN
        IF (body->>'rate_limit')::numeric <= 0 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'rate_limit must be a positive number of deliveries per second, or null');
        END IF;
        ep.rate_limit := (body->>'rate_limit')::double precision;
    END IF;
    IF hookd.api_type(body, 'max_in_flight', 'integer?') THEN
        IF (body->>'max_in_flight')::numeric < 1 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'max_in_flight must be at least 1, or null');
        END IF;
        ep.max_in_flight := (body->>'max_in_flight')::integer;
    END IF;
    IF hookd.api_type(body, 'breaker_threshold', 'integer') THEN
        IF (body->>'breaker_threshold')::numeric < 1 THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'breaker_threshold must be at least 1');
        END IF;
        ep.breaker_threshold := (body->>'breaker_threshold')::integer;
    END IF;
    IF hookd.api_type(body, 'disable_after_failures', 'integer') THEN
        IF (body->>'disable_after_failures')::numeric < 1 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'disable_after_failures must be at least 1');
        END IF;
        ep.disable_after_failures := (body->>'disable_after_failures')::integer;
    END IF;
    IF hookd.api_type(body, 'disable_after_seconds', 'number') THEN
        IF (body->>'disable_after_seconds')::numeric <= 0 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'disable_after_seconds must be positive');
        END IF;
        ep.disable_after_seconds := (body->>'disable_after_seconds')::double precision;
    END IF;

    IF hookd.api_type(body, 'event_types', 'array') THEN
        FOR pattern IN SELECT jsonb_array_elements(body->'event_types')::text LOOP
            IF pattern !~ '^"(\*|[A-Za-z0-9_.:-]{1,128}(\.\*)?)"$' THEN
                PERFORM hookd.api_fail(400, 'invalid_request', format(
                    'event_types: %s is not an event type, "prefix.*" or "*"', pattern));
            END IF;
        END LOOP;
        IF jsonb_array_length(body->'event_types') = 0 THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'event_types must name at least one type, or "*"');
        END IF;
    END IF;
    IF hookd.api_type(body, 'labels', 'object') THEN
        IF EXISTS (SELECT 1 FROM jsonb_each(body->'labels') e
                    WHERE jsonb_typeof(e.value) <> 'string') THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'labels values must be strings');
        END IF;
    END IF;

    UPDATE hookd.endpoints e
           SET url = ep.url, description = ep.description, timeout_ms = ep.timeout_ms,
               retry_policy = ep.retry_policy, rate_limit = ep.rate_limit,
               max_in_flight = ep.max_in_flight, breaker_threshold = ep.breaker_threshold,
               disable_after_failures = ep.disable_after_failures,
               disable_after_seconds = ep.disable_after_seconds,
               updated_at = now()
     WHERE e.app_id = ep.app_id AND e.id = ep.id
    RETURNING * INTO ep;

    IF creating OR body ? 'event_types' OR body ? 'labels' THEN
        SELECT coalesce(body->'event_types',
                        (SELECT jsonb_agg(DISTINCT s.event_type_pattern)
                           FROM hookd.subscriptions s
                          WHERE s.app_id = ep.app_id AND s.endpoint_id = ep.id),
                        '["*"]'),
               coalesce(body->'labels',
                        (SELECT s.label_filter FROM hookd.subscriptions s
                          WHERE s.app_id = ep.app_id AND s.endpoint_id = ep.id LIMIT 1),
                        '{}')
          INTO types, filter;
        DELETE FROM hookd.subscriptions s WHERE s.app_id = ep.app_id AND s.endpoint_id = ep.id;
        INSERT INTO hookd.subscriptions (app_id, endpoint_id, event_type_pattern, label_filter)
        SELECT DISTINCT ep.app_id, ep.id, t, filter
          FROM jsonb_array_elements_text(types) t;
    END IF;
    RETURN ep;
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_health_window(ep hookd.endpoints, hours integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'attempts', count(*),
        'succeeded', count(*) FILTER (WHERE a.error_class = 'SUCCEEDED'),
        'failed', count(*) FILTER (WHERE a.error_class <> 'SUCCEEDED'),
        'success_rate', CASE WHEN count(*) = 0 THEN NULL
            ELSE round(count(*) FILTER (WHERE a.error_class = 'SUCCEEDED')::numeric
                       / count(*), 4) END,
        'latency_ms', jsonb_build_object(
            'p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms),
            'p95', percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms),
            'p99', percentile_cont(0.99) WITHIN GROUP (ORDER BY a.duration_ms)))
      FROM hookd.attempts a
     WHERE a.app_id = ep.app_id AND a.endpoint_id = ep.id
       AND a.started_at > now() - make_interval(hours => hours)
$$;

CREATE OR REPLACE FUNCTION hookd.api_endpoints(a hookd.applications,
                                               method text, seg text[], q jsonb,
                                               body jsonb, req jsonb,
                                               OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim     integer;
    ep      hookd.endpoints;
    ev      hookd.events;
    dl      hookd.deliveries;
    since   timestamptz;
    n       bigint;
    grace   double precision;
    action  text := seg[6];
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method = 'GET' THEN
            lim := hookd.api_limit(q);
            IF q->>'status' IS NOT NULL
               AND q->>'status' NOT IN ('enabled', 'paused', 'disabled') THEN
                PERFORM hookd.api_fail(400, 'invalid_query',
                                       'status must be enabled, paused or disabled');
            END IF;
            SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.endpoint_json(x)
                                                          ORDER BY x.id DESC), '[]'), lim)
              INTO status, reply
              FROM (SELECT * FROM hookd.endpoints e
                     WHERE e.app_id = a.id
                       AND (q->>'status' IS NULL OR e.status = q->>'status')
                       AND (q->>'cursor' IS NULL OR e.id < q->>'cursor')
                     ORDER BY e.id DESC LIMIT lim + 1) x;
            RETURN;
        ELSIF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'endpoints takes GET and POST');
        END IF;
        -- inserted with its defaults, then shaped by the same code as PATCH;
        -- a bad field rolls the insert back with the rest of the request
        PERFORM hookd.api_fields(body, ARRAY['url']::text[]
                                       || hookd.api_endpoint_fields());
        IF NOT hookd.api_type(body, 'url', 'string') THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'url is required');
        END IF;
        INSERT INTO hookd.endpoints (app_id, url, secrets)
        VALUES (a.id, 'http://placeholder.invalid', jsonb_build_array(jsonb_build_object(
                    'sealed', req->'new_secret'->>'sealed', 'expires_at', NULL)))
        RETURNING * INTO ep;
        ep := hookd.api_endpoint_apply(body, ep, true);
        status := 201;
        reply := hookd.endpoint_json(ep);
        RETURN;
    END IF;

    SELECT * INTO ep FROM hookd.endpoints e WHERE e.app_id = a.id AND e.id = seg[5];
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no endpoint "%s"', seg[5]));
    END IF;

    IF cardinality(seg) = 5 THEN
        IF method = 'GET' THEN
            status := 200;
        ELSIF method = 'PATCH' THEN
            ep := hookd.api_endpoint_apply(body, ep, false);
            status := 200;
        ELSIF method = 'DELETE' THEN
            DELETE FROM hookd.endpoints e WHERE e.app_id = a.id AND e.id = ep.id;
            status := 204;
            RETURN;
        ELSE
            PERFORM hookd.api_fail(405, 'method_not_allowed',
                                   'an endpoint takes GET, PATCH and DELETE');
        END IF;
        reply := hookd.endpoint_json(ep);
        RETURN;
    END IF;

    IF cardinality(seg) <> 6 OR action NOT IN ('pause', 'resume', 'rotate-secret',
                                                'recover', 'test', 'health') THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF action = 'health' THEN
        IF method <> 'GET' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'health takes GET');
        END IF;
        status := 200;
        reply := jsonb_build_object('endpoint_id', ep.id, 'status', ep.status,
            'disabled_reason', ep.disabled_reason,
            'breaker', jsonb_build_object('state', ep.breaker_state,
                'until', hookd.rfc3339(ep.breaker_until),
                'consecutive_failures', ep.consecutive_failures),
            'failure_streak', ep.failure_streak,
            'failing_since', hookd.rfc3339(ep.failing_since),
            'last_error', (SELECT jsonb_build_object('at', hookd.rfc3339(x.started_at),
                                  'status_code', x.status_code, 'error', x.error,
                                  'error_class', x.error_class)
                             FROM hookd.attempts x
                            WHERE x.app_id = ep.app_id AND x.endpoint_id = ep.id
                              AND x.error_class <> 'SUCCEEDED'
                            ORDER BY x.started_at DESC LIMIT 1),
            'pending', (SELECT count(*) FROM hookd.deliveries d
                         WHERE d.app_id = ep.app_id AND d.endpoint_id = ep.id
                           AND d.status IN ('pending', 'in_flight')),
            'last_1h', hookd.api_health_window(ep, 1),
            'last_24h', hookd.api_health_window(ep, 24));
        RETURN;
    END IF;
    IF method <> 'POST' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', format('%s takes POST', action));
    END IF;
    body := coalesce(body, '{}');

    CASE action
    WHEN 'pause' THEN
        PERFORM hookd.api_fields(body, ARRAY[]::text[]);
        IF ep.status = 'disabled' THEN
            PERFORM hookd.api_fail(409, 'endpoint_disabled',
                                   'a disabled endpoint cannot be paused; resume it first');
        END IF;
        UPDATE hookd.endpoints e SET status = 'paused', updated_at = now()
         WHERE e.app_id = a.id AND e.id = ep.id RETURNING * INTO ep;
        status := 200;
        reply := hookd.endpoint_json(ep);
    WHEN 'resume' THEN
        PERFORM hookd.api_fields(body, ARRAY[]::text[]);
        -- a fresh start: the failures that disabled it are forgiven
        UPDATE hookd.endpoints e
           SET status = 'enabled', disabled_reason = NULL, disabled_at = NULL,
               breaker_state = 'closed', breaker_until = NULL, breaker_opens = 0,
               consecutive_failures = 0, failure_streak = 0, failing_since = NULL,
               updated_at = now()
         WHERE e.app_id = a.id AND e.id = ep.id RETURNING * INTO ep;
        PERFORM pg_notify('hookd_deliveries', '');
        status := 200;
        reply := hookd.endpoint_json(ep);
    WHEN 'rotate-secret' THEN
        PERFORM hookd.api_fields(body, ARRAY['grace_seconds']);
        grace := 86400;
        IF hookd.api_type(body, 'grace_seconds', 'number') THEN
            IF (body->>'grace_seconds')::numeric NOT BETWEEN 0 AND 2592000 THEN
                PERFORM hookd.api_fail(400, 'invalid_request',
                                       'grace_seconds must be from 0 to 2592000 (30 days)');
            END IF;
            grace := (body->>'grace_seconds')::double precision;
        END IF;
        UPDATE hookd.endpoints e
           SET secrets = jsonb_build_array(jsonb_build_object(
                             'sealed', req->'new_secret'->>'sealed', 'expires_at', NULL))
               || coalesce((SELECT jsonb_agg(CASE WHEN s->>'expires_at' IS NULL
                        THEN jsonb_set(s, '{expires_at}', to_jsonb(hookd.rfc3339(
                             now() + make_interval(secs => grace))))
                        ELSE s END)
                      FROM jsonb_array_elements(e.secrets) s
                     WHERE grace > 0
                       AND (s->>'expires_at' IS NULL
                            OR (s->>'expires_at')::timestamptz > now())), '[]'),
               updated_at = now()
         WHERE e.app_id = a.id AND e.id = ep.id RETURNING * INTO ep;
        status := 200;
        reply := jsonb_build_object('endpoint_id', ep.id,
            'old_secrets_expire_at', CASE WHEN grace > 0 THEN
                hookd.rfc3339(now() + make_interval(secs => grace)) END);
    WHEN 'recover' THEN
        PERFORM hookd.api_fields(body, ARRAY['since', 'until']);
        since := hookd.api_time(body, 'since', 'invalid_request');
        IF since IS NULL THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'since is required: the RFC 3339 time from which failed deliveries are retried');
        END IF;
        UPDATE hookd.deliveries d
           SET status = 'pending', next_attempt_at = now(), updated_at = now()
         WHERE d.app_id = a.id AND d.endpoint_id = ep.id AND d.status = 'failed'
           AND d.created_at >= since
           AND (body->>'until' IS NULL
                OR d.created_at < hookd.api_time(body, 'until', 'invalid_request'));
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            PERFORM pg_notify('hookd_deliveries', '');
        END IF;
        status := 202;
        reply := jsonb_build_object('recovered', n);
    WHEN 'test' THEN
        PERFORM hookd.api_fields(body, ARRAY['event_type', 'payload']);
        IF hookd.api_type(body, 'event_type', 'string')
           AND body->>'event_type' !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'event_type must be 1 to 128 letters, digits, "_", ".", ":" or "-"');
        END IF;
        PERFORM hookd.api_type(body, 'payload', 'object');
        -- a disabled endpoint is sent nothing: the test would wait forever
        IF ep.status = 'disabled' THEN
            PERFORM hookd.api_fail(409, 'endpoint_disabled',
                'the endpoint is disabled; resume it first');
        END IF;
        INSERT INTO hookd.events (app_id, event_type, payload, source)
        VALUES (a.id, coalesce(body->>'event_type', 'hookd.test'),
                coalesce(body->'payload',
                         jsonb_build_object('message', 'a test event from hookd')),
                'test')
        RETURNING * INTO ev;
        INSERT INTO hookd.deliveries (app_id, event_id, endpoint_id)
        VALUES (a.id, ev.id, ep.id) RETURNING * INTO dl;
        PERFORM pg_notify('hookd_deliveries', '');
        status := 202;
        reply := jsonb_build_object('event_id', ev.id, 'delivery_id', dl.id,
                                    'endpoint_status', ep.status);
    END CASE;
END
$$;

-- events and deliveries: newest first, by id (ids sort by creation time)
CREATE OR REPLACE FUNCTION hookd.api_events(a hookd.applications,
                                            method text, seg text[], q jsonb,
                                            OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim     integer;
    ev      hookd.events;
    wanted  jsonb;
    since   timestamptz;
    until_  timestamptz;
BEGIN
    IF method <> 'GET' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'events take GET');
    END IF;
    IF cardinality(seg) = 4 THEN
        lim := hookd.api_limit(q);
        since := hookd.api_time(q, 'since');
        until_ := hookd.api_time(q, 'until');
        SELECT jsonb_object_agg(substr(key, 7), value) INTO wanted
          FROM jsonb_each(q) WHERE key LIKE 'label.%';
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.event_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.events e
                 WHERE e.app_id = a.id
                   AND (q->>'cursor' IS NULL OR e.id < q->>'cursor')
                   AND (q->>'event_type' IS NULL OR e.event_type = q->>'event_type')
                   AND (wanted IS NULL OR e.labels @> wanted)
                   AND (since IS NULL OR e.received_at >= since)
                   AND (until_ IS NULL OR e.received_at < until_)
                   -- the same bounds on the id, for the primary key: an id
                   -- is made a little after its event's received_at
                   AND (since IS NULL OR e.id >= hookd.id_floor('evt', since))
                   AND (until_ IS NULL OR e.id < hookd.id_floor('evt',
                                                   until_ + interval '1 minute'))
                 ORDER BY e.id DESC LIMIT lim + 1) x;
        RETURN;
    END IF;

    SELECT * INTO ev FROM hookd.events e WHERE e.app_id = a.id AND e.id = seg[5];
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no event "%s"', seg[5]));
    END IF;
    IF cardinality(seg) = 5 THEN
        status := 200;
        reply := hookd.event_json(ev);
    ELSIF cardinality(seg) = 6 AND seg[6] = 'deliveries' THEN
        lim := hookd.api_limit(q);
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.delivery_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.deliveries d
                 WHERE d.app_id = a.id AND d.event_id = ev.id
                   AND (q->>'cursor' IS NULL OR d.id < q->>'cursor')
                 ORDER BY d.id DESC LIMIT lim + 1) x;
    ELSE
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_deliveries(a hookd.applications,
                                                method text, seg text[], q jsonb,
                                                body jsonb,
                                                OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim     integer;
    dl      hookd.deliveries;
    since   timestamptz;
    until_  timestamptz;
    n       bigint;
    wanted  text;
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method <> 'GET' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'deliveries take GET');
        END IF;
        lim := hookd.api_limit(q);
        IF q->>'status' IS NOT NULL AND q->>'status' NOT IN
           ('pending', 'in_flight', 'succeeded', 'failed', 'cancelled') THEN
            PERFORM hookd.api_fail(400, 'invalid_query',
                'status must be pending, in_flight, succeeded, failed or cancelled');
        END IF;
        since := hookd.api_time(q, 'since');
        until_ := hookd.api_time(q, 'until');
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.delivery_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.deliveries d
                 WHERE d.app_id = a.id
                   AND (q->>'cursor' IS NULL OR d.id < q->>'cursor')
                   AND (q->>'status' IS NULL OR d.status = q->>'status')
                   AND (q->>'endpoint_id' IS NULL OR d.endpoint_id = q->>'endpoint_id')
                   AND (since IS NULL OR d.created_at >= since)
                   AND (until_ IS NULL OR d.created_at < until_)
                 ORDER BY d.id DESC LIMIT lim + 1) x;
        RETURN;
    END IF;

    IF cardinality(seg) = 5 AND seg[5] = 'retry' THEN
        IF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'deliveries/retry takes POST');
        END IF;
        body := coalesce(body, '{}');
        PERFORM hookd.api_fields(body, ARRAY['status', 'endpoint_id', 'since', 'until']);
        wanted := coalesce(body->>'status', 'failed');
        IF wanted NOT IN ('failed', 'cancelled') THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'status must be failed or cancelled');
        END IF;
        PERFORM hookd.api_type(body, 'endpoint_id', 'string');
        since := hookd.api_time(body, 'since', 'invalid_request');
        until_ := hookd.api_time(body, 'until', 'invalid_request');
        UPDATE hookd.deliveries d
           SET status = 'pending', next_attempt_at = now(), updated_at = now()
         WHERE d.app_id = a.id AND d.status = wanted
           AND (body->>'endpoint_id' IS NULL OR d.endpoint_id = body->>'endpoint_id')
           AND (since IS NULL OR d.created_at >= since)
           AND (until_ IS NULL OR d.created_at < until_);
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            PERFORM pg_notify('hookd_deliveries', '');
        END IF;
        status := 202;
        reply := jsonb_build_object('retried', n);
        RETURN;
    END IF;

    SELECT * INTO dl FROM hookd.deliveries d WHERE d.app_id = a.id AND d.id = seg[5];
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no delivery "%s"', seg[5]));
    END IF;
    IF cardinality(seg) = 5 THEN
        IF method <> 'GET' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'a delivery takes GET');
        END IF;
        status := 200;
        reply := hookd.delivery_json(dl) || jsonb_build_object('attempts',
            coalesce((SELECT jsonb_agg(hookd.attempt_json(x) ORDER BY x.attempt_number)
                        FROM hookd.attempts x
                       WHERE x.app_id = dl.app_id AND x.delivery_id = dl.id), '[]'));
    ELSIF cardinality(seg) = 6 AND seg[6] = 'retry' THEN
        IF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'retry takes POST');
        END IF;
        IF dl.status IN ('pending', 'in_flight') THEN
            PERFORM hookd.api_fail(409, 'delivery_pending', format(
                'delivery %s is %s already; it will be attempted without a retry',
                dl.id, dl.status));
        END IF;
        UPDATE hookd.deliveries d
           SET status = 'pending', next_attempt_at = now(), updated_at = now()
         WHERE d.app_id = a.id AND d.id = dl.id RETURNING * INTO dl;
        PERFORM pg_notify('hookd_deliveries', '');
        status := 202;
        reply := hookd.delivery_json(dl);
    ELSE
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
END
$$;


-- The router ----------------------------------------------------------------

CREATE OR REPLACE FUNCTION hookd.admin(req jsonb)
RETURNS TABLE (o_status integer, o_body text)
LANGUAGE plpgsql AS $$
DECLARE
    k       hookd.api_keys;
    a       hookd.applications;
    seg     text[];
    method  text := req->>'method';
    q       jsonb := coalesce(req->'query', '{}');
    body    jsonb := nullif(req->'body', 'null');
    reply   jsonb;
    m       text;
    d       text;
    h       text;
BEGIN
    SELECT * INTO k FROM hookd.api_keys WHERE key_hash = decode(req->>'key', 'hex');
    IF NOT FOUND THEN
        RETURN QUERY SELECT 401, hookd.api_error('unauthorized', 'unknown API key')::text;
        RETURN;
    ELSIF k.revoked_at IS NOT NULL THEN
        RETURN QUERY SELECT 403, hookd.api_error('forbidden', 'this API key was revoked')::text;
        RETURN;
    ELSIF k.expires_at <= now() THEN
        RETURN QUERY SELECT 403, hookd.api_error('forbidden', 'this API key has expired')::text;
        RETURN;
    ELSIF NOT 'admin' = ANY (k.scopes) THEN
        RETURN QUERY SELECT 403, hookd.api_error('forbidden',
                                                 'this API key has no admin scope')::text;
        RETURN;
    END IF;

    seg := string_to_array(trim(both '/' FROM req->>'path'), '/');

    BEGIN
        IF cardinality(seg) < 2 OR seg[1] <> 'v1' OR seg[2] <> 'apps' THEN
            PERFORM hookd.api_fail(404, 'not_found', 'no such route');
        END IF;
        IF cardinality(seg) = 2 THEN
            SELECT * INTO o_status, reply FROM hookd.api_applications(k, method, q, body);
        ELSE
            a := hookd.api_app(k, seg[3]);
            IF cardinality(seg) = 3 THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_application(a, method, q, body);
            ELSIF seg[4] = 'api-keys' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_keys_route(a, method, seg, q, body, req);
            ELSIF seg[4] = 'event-types' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_event_types(a, method, seg, q, body);
            ELSIF seg[4] = 'endpoints' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_endpoints(a, method, seg, q, body, req);
            ELSIF seg[4] = 'events' THEN
                SELECT * INTO o_status, reply FROM hookd.api_events(a, method, seg, q);
            ELSIF seg[4] = 'deliveries' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_deliveries(a, method, seg, q, body);
            ELSE
                PERFORM hookd.api_fail(404, 'not_found', 'no such route');
            END IF;
        END IF;
    EXCEPTION
        WHEN raise_exception THEN
            GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                                    h = PG_EXCEPTION_HINT;
            o_status := h::integer;
            reply := hookd.api_error(d, m);
        WHEN check_violation OR not_null_violation OR string_data_right_truncation
             OR numeric_value_out_of_range OR invalid_text_representation THEN
            GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
            o_status := 400;
            reply := hookd.api_error('invalid_request', m);
        WHEN unique_violation THEN
            o_status := 409;
            reply := hookd.api_error('conflict', 'it exists already');
    END;
    o_body := reply::text;
    RETURN NEXT;
END
$$;
