-- /v1/apps/{app}/api-keys.

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
    PERFORM hookd.credential_revoked(nk.key_hash);
    status := 204;
END
$$;
