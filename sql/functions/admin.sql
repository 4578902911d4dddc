-- The admin API (`hookd_admin;` in nginx). nginx authenticates nothing
-- itself: it hashes the key, parses the query string and the JSON body,
-- makes any new secret (the plaintext never reaches PostgreSQL: only the
-- sealed endpoint secret or the API key's hash does) and calls
-- hookd.admin(request) once per request. Routing, authorization,
-- validation and every change happen here, in one transaction; each
-- resource has its file (admin_<resource>.sql), and this one holds the
-- router and what the resources share.
--
-- request: {"key": hex SHA-256 of the API key or portal session token,
--   "method": "GET", "path": "/v1/apps/…", "query": {"limit": "10", …},
--   "body": {…} or null, "new_secret": {"sealed": "v1.…"} or null,
--   "new_key": {"hash": hex SHA-256, "prefix": "hk_…"} or null,
--   "tail": {"from": a Last-Event-ID} or {} for the live tail, or null}
--
-- A portal session's token (sql/functions/admin_portal_sessions.sql) is
-- authorized as an admin key of its application would be, then kept to
-- the routes of hookd.portal_route.

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

-- A rotation of sealed secrets (endpoints', sources'): the new ones first,
-- then those still valid, which expire grace seconds from now unless they
-- expire sooner; grace 0 drops them.
CREATE OR REPLACE FUNCTION hookd.secrets_rotated(fresh jsonb, secrets jsonb,
                                                grace double precision)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT fresh || coalesce((
        SELECT jsonb_agg(CASE WHEN s->>'expires_at' IS NULL
                              THEN jsonb_set(s, '{expires_at}', to_jsonb(hookd.rfc3339(
                                   now() + make_interval(secs => grace))))
                              ELSE s END)
          FROM jsonb_array_elements(secrets) s
         WHERE grace > 0
           AND (s->>'expires_at' IS NULL OR (s->>'expires_at')::timestamptz > now())),
        '[]')
$$;

-- Fails with 400 naming the first field of the body that is not allowed
-- (filter_path, which only nginx writes, is not listed as one to send).
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
            'unknown field "%s"; allowed: %s', k,
            array_to_string(array_remove(allowed, 'filter_path'), ', ')));
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

-- body->name within its bounds (sql/functions/bounds.sql), NULL for JSON
-- null; 400 naming the field and its bounds otherwise.
CREATE OR REPLACE FUNCTION hookd.api_bounded(body jsonb, name text)
RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    err text;
BEGIN
    IF jsonb_typeof(body->name) = 'null' THEN
        RETURN NULL;
    END IF;
    err := hookd.bound_error(name, body->name);
    IF err IS NOT NULL THEN
        PERFORM hookd.api_fail(400, 'invalid_request', err);
    END IF;
    RETURN (body->>name)::numeric;
END
$$;

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

CREATE OR REPLACE FUNCTION hookd.admin(req jsonb)
RETURNS TABLE (o_status integer, o_body text)
LANGUAGE plpgsql AS $$
DECLARE
    k       hookd.api_keys;
    p       hookd.portal_sessions;
    portal  boolean := false;
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
        SELECT * INTO p FROM hookd.portal_sessions
         WHERE token_hash = decode(req->>'key', 'hex');
        IF NOT FOUND THEN
            RETURN QUERY SELECT 401, hookd.api_error('unauthorized', 'unknown API key')::text;
            RETURN;
        ELSIF p.revoked_at IS NOT NULL THEN
            RETURN QUERY SELECT 403, hookd.api_error('forbidden',
                                                     'this portal session was revoked')::text;
            RETURN;
        ELSIF p.expires_at <= now() THEN
            RETURN QUERY SELECT 403, hookd.api_error('forbidden',
                                                     'this portal session has expired')::text;
            RETURN;
        END IF;
        portal := true;
        k.app_id := p.app_id;
        k.scopes := ARRAY['admin'];
        k.expires_at := p.expires_at;
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
        IF portal THEN
            body := hookd.portal_route(p, method, seg, body);
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
            ELSIF seg[4] = 'sources' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_sources(a, method, seg, q, body, req);
            ELSIF seg[4] = 'portal-sessions' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_portal_sessions(a, method, seg, q, body, req);
            ELSIF seg[4] = 'stats' THEN
                SELECT * INTO o_status, reply FROM hookd.api_stats(a, method, seg, q);
            ELSIF seg[4] = 'summary' THEN
                SELECT * INTO o_status, reply FROM hookd.api_summary(a, method, seg);
            ELSIF seg[4] = 'tail' THEN
                SELECT * INTO o_status, reply
                  FROM hookd.api_tail(a, method, seg, req, k.expires_at);
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
