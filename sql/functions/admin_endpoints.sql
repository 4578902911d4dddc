-- /v1/apps/{app}/endpoints: CRUD, pause and resume, secret rotation,
-- recovery of dead letters, and health.

-- The schemes an endpoint signs with, from its live secrets: v1 (whsec_,
-- HMAC) and v1a (whsk_, Ed25519; "kind": "v1a" with its "public" whpk_).
CREATE OR REPLACE FUNCTION hookd.endpoint_signature(secrets jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg(DISTINCT coalesce(s->>'kind', 'v1'), ',')
      FROM jsonb_array_elements(secrets) s
     WHERE s->>'expires_at' IS NULL OR (s->>'expires_at')::timestamptz > now()
$$;

-- A new secret of each scheme asked for, newest first, from what nginx
-- made for the request (a whsec_ in new_secret, an Ed25519 pair in
-- new_key); 400 for a scheme that is not one.
CREATE OR REPLACE FUNCTION hookd.endpoint_new_secrets(schemes text, req jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF schemes NOT IN ('v1', 'v1a', 'v1,v1a') THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
                               'signature must be "v1", "v1a" or "v1,v1a"');
    END IF;
    RETURN CASE WHEN schemes LIKE 'v1%' AND schemes <> 'v1a'
                THEN jsonb_build_array(jsonb_build_object(
                         'sealed', req->'new_secret'->>'sealed', 'expires_at', NULL))
                ELSE '[]' END
        || CASE WHEN schemes LIKE '%v1a'
                THEN jsonb_build_array(jsonb_build_object(
                         'sealed', req->'new_key'->>'sealed', 'expires_at', NULL,
                         'kind', 'v1a', 'public', req->'new_key'->>'public'))
                ELSE '[]' END;
END
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
        'filter', ep.filter,
        -- by name only: their values are sealed
        'headers', to_jsonb(ep.header_names),
        'auth', CASE WHEN ep.auth_type IS NOT NULL
                     THEN jsonb_build_object('type', ep.auth_type) END,
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
        'signature', hookd.endpoint_signature(ep.secrets),
        'public_key', (SELECT s->>'public' FROM jsonb_array_elements(ep.secrets)
                                         WITH ORDINALITY AS x(s, o)
                        WHERE s->>'kind' = 'v1a'
                          AND (s->>'expires_at' IS NULL
                               OR (s->>'expires_at')::timestamptz > now())
                        ORDER BY o LIMIT 1),
        'created_at', hookd.rfc3339(ep.created_at),
        'updated_at', hookd.rfc3339(ep.updated_at))
$$;

-- what POST and PATCH of an endpoint take besides url
CREATE OR REPLACE FUNCTION hookd.api_endpoint_fields() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['description', 'event_types', 'labels', 'filter', 'headers',
                 'auth', 'signature', 'timeout_ms',
                 'retry_policy', 'rate_limit', 'max_in_flight', 'breaker_threshold',
                 'disable_after_failures', 'disable_after_seconds']
$$;

-- The jsonpath compiled from body's filter. A regex PostgreSQL cannot
-- compile is found here (jsonpath's input compiles it): 400 invalid_filter.
CREATE OR REPLACE FUNCTION hookd.api_filter_path(body jsonb)
RETURNS jsonpath LANGUAGE plpgsql AS $$
BEGIN
    IF nullif(nullif(body->'filter', 'null'), '{}') IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(body->'filter_path') <> 'string' THEN
        PERFORM hookd.api_fail(500, 'internal', 'the filter was not compiled');
    END IF;
    RETURN (body->>'filter_path')::jsonpath;
EXCEPTION WHEN invalid_regular_expression OR syntax_error THEN
    PERFORM hookd.api_fail(400, 'invalid_filter', format(
        'filter: %s (a $regex is a POSIX regular expression)', SQLERRM));
    RETURN NULL;
END
$$;

-- applies the endpoint fields of body to ep and its subscriptions
CREATE OR REPLACE FUNCTION hookd.api_endpoint_apply(body jsonb, ep hookd.endpoints,
                                                    creating boolean)
RETURNS hookd.endpoints LANGUAGE plpgsql AS $$
DECLARE
    pattern  text;
    filter   jsonb;
    types    jsonb;
    err      text;
BEGIN
    PERFORM hookd.api_fields(body, ARRAY['url', 'filter_path']
                                   || hookd.api_endpoint_fields());
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
        ep.timeout_ms := hookd.api_bounded(body, 'timeout_ms');
    END IF;
    IF hookd.api_type(body, 'retry_policy', 'object') THEN
        err := hookd.retry_policy_error(body->'retry_policy');
        IF err IS NOT NULL THEN
            PERFORM hookd.api_fail(400, 'invalid_request', err);
        END IF;
        ep.retry_policy := body->'retry_policy';
    END IF;
    IF hookd.api_type(body, 'rate_limit', 'number?') THEN
        ep.rate_limit := hookd.api_bounded(body, 'rate_limit');
    END IF;
    IF hookd.api_type(body, 'max_in_flight', 'integer?') THEN
        ep.max_in_flight := hookd.api_bounded(body, 'max_in_flight');
    END IF;
    IF hookd.api_type(body, 'breaker_threshold', 'integer') THEN
        ep.breaker_threshold := hookd.api_bounded(body, 'breaker_threshold');
    END IF;
    IF hookd.api_type(body, 'disable_after_failures', 'integer') THEN
        ep.disable_after_failures := hookd.api_bounded(body,
                                                       'disable_after_failures');
    END IF;
    IF hookd.api_type(body, 'disable_after_seconds', 'number') THEN
        ep.disable_after_seconds := hookd.api_bounded(body,
                                                      'disable_after_seconds');
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

    IF body ? 'filter' THEN
        -- filter_path: what nginx compiled the filter to (shared/hookd_filter.c)
        ep.filter := nullif(nullif(body->'filter', 'null'), '{}');
        ep.filter_path := hookd.api_filter_path(body);
        IF ep.filter IS NULL THEN
            ep.filter_path := NULL;
        END IF;
    END IF;

    -- as nginx sealed them (ngx_http_hookd_admin.c): {"sealed", "names"}
    -- and {"sealed", "type"}; null removes
    IF body ? 'headers' THEN
        ep.headers_sealed := body->'headers'->>'sealed';
        ep.header_names := coalesce(ARRAY(SELECT jsonb_array_elements_text(
                               nullif(body->'headers', 'null')->'names')), '{}');
    END IF;
    IF body ? 'auth' THEN
        ep.auth_sealed := body->'auth'->>'sealed';
        ep.auth_type := body->'auth'->>'type';
    END IF;
    IF ep.auth_type IS NOT NULL
       AND 'authorization' = ANY (SELECT lower(n) FROM unnest(ep.header_names) n) THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
            'an Authorization header beside auth: give one or the other');
    END IF;

    UPDATE hookd.endpoints e
           SET url = ep.url, description = ep.description, timeout_ms = ep.timeout_ms,
               filter = ep.filter, filter_path = ep.filter_path,
               headers_sealed = ep.headers_sealed, header_names = ep.header_names,
               auth_sealed = ep.auth_sealed, auth_type = ep.auth_type,
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
                       AND hookd.portal_sees_endpoint(e.app_id, e.id)
                       AND (q->>'status' IS NULL OR e.status = q->>'status')
                       AND (q->>'cursor' IS NULL OR e.id < q->>'cursor')
                     ORDER BY e.id DESC LIMIT lim + 1) x;
            RETURN;
        ELSIF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'endpoints takes GET and POST');
        END IF;
        -- inserted with its defaults, then shaped by the same code as PATCH;
        -- a bad field rolls the insert back with the rest of the request
        PERFORM hookd.api_fields(body, ARRAY['url', 'filter_path']::text[]
                                       || hookd.api_endpoint_fields());
        IF NOT hookd.api_type(body, 'url', 'string') THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'url is required');
        END IF;
        IF body ? 'signature' AND jsonb_typeof(body->'signature') <> 'string' THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'signature must be "v1", "v1a" or "v1,v1a"');
        END IF;
        INSERT INTO hookd.endpoints (app_id, url, secrets)
        VALUES (a.id, 'http://placeholder.invalid', hookd.endpoint_new_secrets(
                    coalesce(body->>'signature', 'v1'), req))
        RETURNING * INTO ep;
        ep := hookd.api_endpoint_apply(body, ep, true);
        status := 201;
        -- "secret": null is where nginx shows the whsec_ it made, if stored
        reply := hookd.endpoint_json(ep) || CASE
            WHEN hookd.endpoint_signature(ep.secrets) LIKE 'v1%'
                 AND hookd.endpoint_signature(ep.secrets) <> 'v1a'
            THEN jsonb_build_object('secret', NULL) ELSE '{}' END;
        RETURN;
    END IF;

    SELECT * INTO ep FROM hookd.endpoints e
     WHERE e.app_id = a.id AND e.id = seg[5]
       AND hookd.portal_sees_endpoint(e.app_id, e.id);
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no endpoint "%s"', seg[5]));
    END IF;

    IF cardinality(seg) = 5 THEN
        IF method = 'GET' THEN
            status := 200;
        ELSIF method = 'PATCH' THEN
            ep := hookd.api_endpoint_apply(body, ep, false);
            status := 200;
            -- a new scheme signs at once with a secret of its own; one
            -- dropped stops at once (rotate to change a secret with grace)
            IF body ? 'signature' THEN
                IF jsonb_typeof(body->'signature') <> 'string' THEN
                    PERFORM hookd.api_fail(400, 'invalid_request',
                        'signature must be "v1", "v1a" or "v1,v1a"');
                END IF;
                UPDATE hookd.endpoints e
                   SET secrets = (SELECT coalesce(jsonb_agg(fresh.s), '[]')
                                    FROM jsonb_array_elements(hookd.endpoint_new_secrets(
                                             body->>'signature', req)) fresh(s)
                                   WHERE NOT EXISTS (
                                         SELECT 1 FROM jsonb_array_elements(e.secrets) kept(s)
                                          WHERE coalesce(kept.s->>'kind', 'v1')
                                                = coalesce(fresh.s->>'kind', 'v1')
                                            AND (kept.s->>'expires_at' IS NULL OR
                                                 (kept.s->>'expires_at')::timestamptz > now())))
                              || coalesce((SELECT jsonb_agg(kept.s)
                                             FROM jsonb_array_elements(e.secrets) kept(s)
                                   WHERE position(coalesce(kept.s->>'kind', 'v1')
                                                  IN body->>'signature') > 0
                                     AND (coalesce(kept.s->>'kind', 'v1') = 'v1a'
                                          OR body->>'signature' <> 'v1a')), '[]'),
                       updated_at = now()
                 WHERE e.app_id = a.id AND e.id = ep.id
                 RETURNING * INTO ep;
                reply := hookd.endpoint_json(ep) || CASE
                    WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(ep.secrets) x
                                  WHERE x->>'sealed' = req->'new_secret'->>'sealed')
                    THEN jsonb_build_object('secret', NULL) ELSE '{}' END;
                RETURN;
            END IF;
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

    -- a filter tried on a payload: the endpoint's, or one given to try
    IF cardinality(seg) = 7 AND action = 'filter' AND seg[7] = 'test' THEN
        IF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'filter/test takes POST');
        END IF;
        PERFORM hookd.api_fields(body, ARRAY['payload', 'filter', 'filter_path']);
        IF NOT hookd.api_type(body, 'payload', 'object') THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                                   'payload is required: the event payload to try');
        END IF;
        status := 200;
        reply := jsonb_build_object('matches', coalesce(body->'payload' @@ CASE
            WHEN body ? 'filter' THEN hookd.api_filter_path(body)
            ELSE ep.filter_path END, true));
        RETURN;
    END IF;

    IF cardinality(seg) <> 6 OR action NOT IN ('pause', 'resume', 'rotate-secret',
                                                'recover', 'test', 'health',
                                                'diagnosis') THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF action = 'diagnosis' THEN
        IF method <> 'GET' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'diagnosis takes GET');
        END IF;
        PERFORM hookd.assist_want(ep.app_id, 'diagnosis', ep.id);
        status := 200;
        reply := hookd.endpoint_diagnosis(ep) || jsonb_build_object(
            'assist', hookd.assist_latest(ep.app_id, 'diagnosis', ep.id));
        RETURN;
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
            'pending', (SELECT count(*) FROM hookd.queue q
                         WHERE q.app_id = ep.app_id AND q.endpoint_id = ep.id),
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
        -- a new secret of each scheme the endpoint signs with
        UPDATE hookd.endpoints e
           SET secrets = hookd.secrets_rotated(hookd.endpoint_new_secrets(
                             hookd.endpoint_signature(e.secrets), req), e.secrets, grace),
               updated_at = now()
         WHERE e.app_id = a.id AND e.id = ep.id RETURNING * INTO ep;
        status := 200;
        reply := jsonb_build_object('endpoint_id', ep.id,
            'public_key', hookd.endpoint_json(ep)->'public_key',
            'old_secrets_expire_at', CASE WHEN grace > 0 THEN
                hookd.rfc3339(now() + make_interval(secs => grace)) END)
            || CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(ep.secrets) s
                                  WHERE s->>'sealed' = req->'new_secret'->>'sealed')
                    THEN jsonb_build_object('secret', NULL) ELSE '{}' END;
    WHEN 'recover' THEN
        PERFORM hookd.api_fields(body, ARRAY['since', 'until']);
        since := hookd.api_time(body, 'since', 'invalid_request');
        IF since IS NULL THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'since is required: the RFC 3339 time from which failed deliveries are retried');
        END IF;
        SELECT hookd.retry_deliveries(a.id, coalesce(array_agg(d.id), '{}'))
          INTO n
          FROM hookd.dead_letter_queue x
          JOIN hookd.deliveries d
            ON d.app_id = x.app_id AND d.id = x.delivery_id
         WHERE x.app_id = a.id AND x.endpoint_id = ep.id
           AND d.status = 'failed' AND d.created_at >= since
           AND (body->>'until' IS NULL
                OR d.created_at < hookd.api_time(body, 'until', 'invalid_request'));
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
        -- carrying a portal session's labels, the test shows in its view
        INSERT INTO hookd.events (app_id, event_type, payload, labels, source)
        VALUES (a.id, coalesce(body->>'event_type', 'hookd.test'),
                coalesce(body->'payload',
                         jsonb_build_object('message', 'a test event from hookd')),
                coalesce(hookd.portal_labels(), '{}'), 'test')
        RETURNING * INTO ev;
        PERFORM hookd.tail_notify('e', ARRAY[a.id], ARRAY[ev.id]);
        INSERT INTO hookd.deliveries (app_id, event_id, endpoint_id)
        VALUES (a.id, ev.id, ep.id) RETURNING * INTO dl;
        PERFORM hookd.enqueue(a.id, ARRAY[dl.id]);
        status := 202;
        reply := jsonb_build_object('event_id', ev.id, 'delivery_id', dl.id,
                                    'endpoint_status', ep.status);
    END CASE;
END
$$;
