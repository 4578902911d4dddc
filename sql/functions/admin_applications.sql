-- /v1/apps and /v1/apps/{app}.

CREATE OR REPLACE FUNCTION hookd.application_json(a hookd.applications)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'name', a.name,
        'enforce_event_types', a.enforce_event_types,
        'created_at', hookd.rfc3339(a.created_at),
        'updated_at', hookd.rfc3339(a.updated_at))
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
               SELECT 1 FROM hookd.queue q WHERE q.app_id = a.id) THEN
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
