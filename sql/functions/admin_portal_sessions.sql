-- /v1/apps/{app}/portal-sessions, and what a portal session may do
-- (docs/portal.md). hookd.admin lets a session's token reach only the
-- routes of hookd.portal_route; the routes it reaches ask
-- hookd.portal_labels() to narrow what they show to one customer.

CREATE OR REPLACE FUNCTION hookd.portal_session_json(p hookd.portal_sessions)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'app_id', p.app_id,
        'prefix', p.prefix, 'read_only', p.read_only, 'labels', p.labels,
        'created_at', hookd.rfc3339(p.created_at),
        'expires_at', hookd.rfc3339(p.expires_at),
        'revoked_at', hookd.rfc3339(p.revoked_at),
        'state', CASE WHEN p.revoked_at IS NOT NULL THEN 'revoked'
                      WHEN p.expires_at <= now() THEN 'expired'
                      ELSE 'active' END)
$$;

-- The labels the current request's portal session is narrowed to, or NULL
-- (an API key, or a session of the whole application). hookd.admin sets
-- them for its transaction only.
CREATE OR REPLACE FUNCTION hookd.portal_labels() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('hookd.portal_labels', true), '')::jsonb
$$;

-- Whether the request may see this endpoint: always, but for a session
-- narrowed by labels, which sees the endpoints whose label filter carries
-- them (an endpoint that takes every event would show it everyone's).
CREATE OR REPLACE FUNCTION hookd.portal_sees_endpoint(app text, endpoint text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT hookd.portal_labels() IS NULL OR EXISTS (
        SELECT 1 FROM hookd.subscriptions s
         WHERE s.app_id = app AND s.endpoint_id = endpoint
           AND s.label_filter @> hookd.portal_labels())
$$;

CREATE OR REPLACE FUNCTION hookd.portal_sees_event(labels jsonb)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT hookd.portal_labels() IS NULL OR labels @> hookd.portal_labels()
$$;

-- What a portal session may ask, before routing: 404 for what it never
-- sees (keys, sources, portal sessions, other applications), 403 for a
-- change it may not make. A body that a session narrowed by labels sends
-- to make or change an endpoint gets the session's labels (it may add its
-- own); the body to route is returned.
CREATE OR REPLACE FUNCTION hookd.portal_route(p hookd.portal_sessions,
                                             method text, seg text[],
                                             body jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n integer := cardinality(seg);
BEGIN
    IF n >= 4 AND seg[4] NOT IN ('event-types', 'endpoints', 'events',
                                 'deliveries', 'stats', 'summary', 'tail') THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF method = 'GET'
       OR (method = 'POST' AND n = 7 AND seg[4] = 'endpoints'
           AND seg[6] = 'filter' AND seg[7] = 'test') THEN
        NULL;
    ELSIF n <= 3 OR seg[4] = 'event-types' THEN
        PERFORM hookd.api_fail(403, 'forbidden',
            'a portal session reads the application and its event types; '
            'it cannot change them');
    ELSIF p.read_only THEN
        PERFORM hookd.api_fail(403, 'forbidden',
            'this portal session is read-only');
    END IF;

    IF p.labels <> '{}' AND seg[4] = 'endpoints'
       AND ((method = 'POST' AND n = 4) OR (method = 'PATCH' AND n = 5))
       AND jsonb_typeof(body) = 'object' THEN
        IF NOT body ? 'labels' THEN
            IF method = 'POST' THEN
                body := body || jsonb_build_object('labels', p.labels);
            END IF;
        ELSIF jsonb_typeof(body->'labels') <> 'object'
              OR NOT body->'labels' @> p.labels THEN
            PERFORM hookd.api_fail(403, 'forbidden', format(
                'labels must include this portal session''s labels %s',
                p.labels));
        END IF;
    END IF;

    PERFORM set_config('hookd.portal_labels',
                       CASE WHEN p.labels <> '{}' THEN p.labels::text ELSE '' END,
                       true);
    RETURN body;
END
$$;

-- /v1/apps/{app}/portal-sessions: an application's admin key or an
-- operator's makes, lists and revokes them; nginx makes the token and
-- shows it once.
CREATE OR REPLACE FUNCTION hookd.api_portal_sessions(a hookd.applications,
                                                     method text, seg text[],
                                                     q jsonb, body jsonb,
                                                     req jsonb,
                                                     OUT status integer,
                                                     OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim  integer;
    p    hookd.portal_sessions;
    ttl  numeric := 3600;
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method = 'GET' THEN
            lim := hookd.api_limit(q);
            SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.portal_session_json(x)
                                                          ORDER BY x.id DESC), '[]'), lim)
              INTO status, reply
              FROM (SELECT * FROM hookd.portal_sessions ps
                     WHERE ps.app_id = a.id
                       AND (q->>'cursor' IS NULL OR ps.id < q->>'cursor')
                     ORDER BY ps.id DESC LIMIT lim + 1) x;
            RETURN;
        ELSIF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed',
                                   'portal-sessions takes GET and POST');
        END IF;
        body := coalesce(body, '{}');
        PERFORM hookd.api_fields(body, ARRAY['ttl_seconds', 'read_only', 'labels']);
        IF hookd.api_type(body, 'ttl_seconds', 'integer') THEN
            ttl := (body->>'ttl_seconds')::numeric;
            IF ttl NOT BETWEEN 60 AND 604800 THEN
                PERFORM hookd.api_fail(400, 'invalid_request',
                    'ttl_seconds must be an integer from 60 to 604800 (7 days)');
            END IF;
        END IF;
        PERFORM hookd.api_type(body, 'read_only', 'boolean');
        IF hookd.api_type(body, 'labels', 'object') AND EXISTS (
               SELECT 1 FROM jsonb_each(body->'labels') e
                WHERE jsonb_typeof(e.value) <> 'string') THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'labels values must be strings');
        END IF;
        INSERT INTO hookd.portal_sessions (app_id, token_hash, prefix, read_only,
                                           labels, expires_at)
        VALUES (a.id, decode(req->'new_key'->>'hash', 'hex'), req->'new_key'->>'prefix',
                coalesce((body->>'read_only')::boolean, false),
                coalesce(body->'labels', '{}'),
                now() + make_interval(secs => ttl::double precision))
        RETURNING * INTO p;
        status := 201;
        reply := hookd.portal_session_json(p);
        RETURN;
    END IF;

    SELECT * INTO p FROM hookd.portal_sessions ps
     WHERE ps.app_id = a.id AND ps.id = seg[5];
    IF cardinality(seg) <> 5 OR NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found',
                               format('no portal session "%s"', seg[5]));
    END IF;
    IF method = 'GET' THEN
        status := 200;
        reply := hookd.portal_session_json(p);
    ELSIF method = 'DELETE' THEN
        UPDATE hookd.portal_sessions ps SET revoked_at = coalesce(ps.revoked_at, now())
         WHERE ps.app_id = a.id AND ps.id = p.id;
        PERFORM hookd.credential_revoked(p.token_hash);
        status := 204;
    ELSE
        PERFORM hookd.api_fail(405, 'method_not_allowed',
                               'a portal session takes GET and DELETE (revoke)');
    END IF;
END
$$;
