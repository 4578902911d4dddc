-- /v1/apps/{app}/sources: CRUD and secret rotation (docs/sources.md). The
-- secret reaches PostgreSQL only sealed: new_secret is {"sealed", and what
-- the plaintext is like: "generated" (made by nginx, shown once), "whsec"
-- (a well-formed whsec_ secret), "colon" (holds a ':')}. hookd's CLI calls
-- hookd.source_create and hookd.source_rotate the same way.

CREATE OR REPLACE FUNCTION hookd.source_json(s hookd.sources)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', s.id, 'name', s.name,
        'provider', s.provider, 'path', '/in/' || s.id,
        'tolerance_seconds', s.tolerance_seconds, 'options', s.options,
        'secrets', (SELECT count(*) FROM jsonb_array_elements(s.secrets) x
                     WHERE x->>'expires_at' IS NULL
                        OR (x->>'expires_at')::timestamptz > now()),
        'created_at', hookd.rfc3339(s.created_at),
        'updated_at', hookd.rfc3339(s.updated_at))
$$;

-- A provider's secret is the provider's: pasted, never made here, but for
-- a standard source (a whsec_ secret hookd may generate).
CREATE OR REPLACE FUNCTION hookd.source_secret_check(provider text,
                                                    new_secret jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF new_secret->>'sealed' IS NULL THEN
        PERFORM hookd.api_fail(400, 'invalid_request', 'secret is required');
    END IF;
    IF (new_secret->>'generated')::boolean AND provider <> 'standard' THEN
        PERFORM hookd.api_fail(400, 'invalid_request', format(
            'secret is required: paste the signing secret that %s shows for '
            'this webhook (only a standard source can have one made)', provider));
    END IF;
    IF provider = 'standard' AND NOT (new_secret->>'whsec')::boolean THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
            'a standard source''s secret is whsec_ followed by the base64 of '
            '24 to 64 bytes');
    END IF;
    IF provider = 'basic' AND NOT (new_secret->>'colon')::boolean THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
            'a basic source''s secret is user:password');
    END IF;
END
$$;

-- name, tolerance_seconds and options, checked and set
CREATE OR REPLACE FUNCTION hookd.source_apply(body jsonb, s hookd.sources)
RETURNS hookd.sources LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    IF hookd.api_type(body, 'name', 'string') THEN
        IF body->>'name' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'name must be 1 to 63 of A-Z a-z 0-9 _ . -, starting with a '
                'letter or digit');
        END IF;
        s.name := body->>'name';
    END IF;
    IF hookd.api_type(body, 'tolerance_seconds', 'integer') THEN
        IF (body->>'tolerance_seconds')::numeric NOT BETWEEN 1 AND 86400
           OR (body->>'tolerance_seconds')::numeric
              <> round((body->>'tolerance_seconds')::numeric) THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'tolerance_seconds must be a whole number from 1 to 86400');
        END IF;
        s.tolerance_seconds := (body->>'tolerance_seconds')::integer;
    END IF;
    IF hookd.api_type(body, 'options', 'object') THEN
        s.options := body->'options';
    END IF;
    why := hookd.source_options_error(s.provider, s.options);
    IF why IS NOT NULL THEN
        PERFORM hookd.api_fail(400, 'invalid_request', why);
    END IF;
    IF EXISTS (SELECT 1 FROM hookd.sources x WHERE x.app_id = s.app_id
                  AND x.name = s.name AND x.id IS DISTINCT FROM s.id) THEN
        PERFORM hookd.api_fail(409, 'conflict',
                               format('a source named "%s" exists', s.name));
    END IF;
    s.updated_at := now();
    RETURN s;
END
$$;

CREATE OR REPLACE FUNCTION hookd.source_create(app_id text, body jsonb,
                                              new_secret jsonb)
RETURNS hookd.sources LANGUAGE plpgsql AS $$
DECLARE
    s hookd.sources;
BEGIN
    PERFORM hookd.api_fields(body, ARRAY['name', 'provider', 'secret',
                                         'tolerance_seconds', 'options']);
    IF NOT hookd.api_type(body, 'name', 'string') THEN
        PERFORM hookd.api_fail(400, 'invalid_request', 'name is required');
    END IF;
    IF NOT hookd.api_type(body, 'provider', 'string')
       OR body->>'provider' NOT IN ('stripe', 'github', 'shopify', 'slack',
                                    'standard', 'hmac', 'basic', 'bearer') THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
            'provider must be stripe, github, shopify, slack, standard, hmac, '
            'basic or bearer');
    END IF;
    PERFORM hookd.source_secret_check(body->>'provider', new_secret);
    s.app_id := source_create.app_id;
    s.id := hookd.new_id('src');
    s.provider := body->>'provider';
    s.options := '{}';
    s.tolerance_seconds := 300;
    s.created_at := now();
    s := hookd.source_apply(body, s);
    s.secrets := jsonb_build_array(jsonb_build_object(
                     'sealed', new_secret->>'sealed', 'expires_at', NULL));
    INSERT INTO hookd.sources SELECT s.*;
    RETURN s;
END
$$;

-- The new secret verifies at once; the ones before keep verifying for
-- grace seconds (0: not at all), as a provider's own rotation does.
CREATE OR REPLACE FUNCTION hookd.source_rotate(s hookd.sources,
                                              new_secret jsonb,
                                              grace double precision)
RETURNS hookd.sources LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hookd.source_secret_check(s.provider, new_secret);
    IF grace IS NULL OR grace NOT BETWEEN 0 AND 2592000 THEN
        PERFORM hookd.api_fail(400, 'invalid_request',
                               'grace_seconds must be from 0 to 2592000 (30 days)');
    END IF;
    UPDATE hookd.sources x
       SET secrets = hookd.secrets_rotated(jsonb_build_array(jsonb_build_object(
                         'sealed', new_secret->>'sealed', 'expires_at', NULL)),
                         x.secrets, grace),
           updated_at = now()
     WHERE x.app_id = s.app_id AND x.id = s.id
    RETURNING * INTO s;
    RETURN s;
END
$$;

-- a rotation's answer: the source, and when its old secrets stop verifying
CREATE OR REPLACE FUNCTION hookd.source_rotation_json(s hookd.sources,
                                                     grace double precision)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT hookd.source_json(s) || jsonb_build_object('old_secrets_expire_at',
        CASE WHEN grace > 0
             THEN hookd.rfc3339(now() + make_interval(secs => grace)) END)
$$;

CREATE OR REPLACE FUNCTION hookd.api_sources(a hookd.applications,
                                             method text, seg text[], q jsonb,
                                             body jsonb, req jsonb,
                                             OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim    integer;
    s      hookd.sources;
    grace  double precision;
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method = 'GET' THEN
            lim := hookd.api_limit(q);
            SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.source_json(x)
                                                          ORDER BY x.id DESC), '[]'), lim)
              INTO status, reply
              FROM (SELECT * FROM hookd.sources x
                     WHERE x.app_id = a.id
                       AND (q->>'cursor' IS NULL OR x.id < q->>'cursor')
                     ORDER BY x.id DESC LIMIT lim + 1) x;
            RETURN;
        ELSIF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'sources takes GET and POST');
        END IF;
        s := hookd.source_create(a.id, body, req->'new_secret');
        status := 201;
        -- "secret": null is where nginx shows a secret it made
        reply := hookd.source_json(s) || CASE
            WHEN (req->'new_secret'->>'generated')::boolean
            THEN jsonb_build_object('secret', NULL) ELSE '{}' END;
        RETURN;
    END IF;

    SELECT * INTO s FROM hookd.sources x WHERE x.app_id = a.id AND x.id = seg[5];
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no source "%s"', seg[5]));
    END IF;

    IF cardinality(seg) = 5 THEN
        IF method = 'GET' THEN
            status := 200;
        ELSIF method = 'PATCH' THEN
            PERFORM hookd.api_fields(body, ARRAY['name', 'tolerance_seconds',
                                                 'options']);
            s := hookd.source_apply(body, s);
            UPDATE hookd.sources x
               SET name = s.name, tolerance_seconds = s.tolerance_seconds,
                   options = s.options, updated_at = s.updated_at
             WHERE x.app_id = s.app_id AND x.id = s.id;
            status := 200;
        ELSIF method = 'DELETE' THEN
            DELETE FROM hookd.sources x WHERE x.app_id = a.id AND x.id = s.id;
            status := 204;
            RETURN;
        ELSE
            PERFORM hookd.api_fail(405, 'method_not_allowed',
                                   'a source takes GET, PATCH and DELETE');
        END IF;
        reply := hookd.source_json(s);
        RETURN;
    END IF;

    IF cardinality(seg) <> 6 OR seg[6] <> 'rotate-secret' THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF method <> 'POST' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'rotate-secret takes POST');
    END IF;
    body := coalesce(body, '{}');
    PERFORM hookd.api_fields(body, ARRAY['secret', 'grace_seconds']);
    grace := 86400;
    IF hookd.api_type(body, 'grace_seconds', 'number') THEN
        grace := (body->>'grace_seconds')::double precision;
    END IF;
    s := hookd.source_rotate(s, req->'new_secret', grace);
    status := 200;
    reply := hookd.source_rotation_json(s, grace) || CASE
        WHEN (req->'new_secret'->>'generated')::boolean
        THEN jsonb_build_object('secret', NULL) ELSE '{}' END;
END
$$;
