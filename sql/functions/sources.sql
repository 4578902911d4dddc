-- Inbound sources (docs/sources.md): what nginx needs to verify a
-- provider's webhook at POST /in/<source id>, and the rules for a source's
-- options. nginx caches a lookup per worker (hookd_key_cache_ttl).

-- o_secrets: the sealed secrets that still verify, newest first, as a
-- JSON array of strings
CREATE OR REPLACE FUNCTION hookd.source_lookup(source_id text)
RETURNS TABLE (o_app_id text, o_provider text, o_secrets text,
               o_options text, o_tolerance_seconds integer)
LANGUAGE sql STABLE AS $$
    SELECT s.app_id, s.provider,
           coalesce((SELECT jsonb_agg(x->'sealed' ORDER BY o)
                       FROM jsonb_array_elements(s.secrets)
                            WITH ORDINALITY AS t(x, o)
                      WHERE x->>'expires_at' IS NULL
                         OR (x->>'expires_at')::timestamptz > now()),
                    '[]')::text,
           s.options::text, s.tolerance_seconds
      FROM hookd.sources s
     WHERE s.id = source_id
$$;

-- What is wrong with a source's options, or NULL. Only hmac, basic and
-- bearer take options: how the type and the idempotency key are found
-- (all three), and how the signature is made (hmac).
CREATE OR REPLACE FUNCTION hookd.source_options_error(provider text, options jsonb)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k        text;
    allowed  text[] := ARRAY['type_header', 'type_field', 'event_type',
                             'id_header', 'id_field', 'content'];
BEGIN
    IF jsonb_typeof(options) <> 'object' THEN
        RETURN 'options must be a JSON object';
    END IF;
    IF provider NOT IN ('hmac', 'basic', 'bearer') THEN
        IF options <> '{}' THEN
            RETURN format('a %s source takes no options', provider);
        END IF;
        RETURN NULL;
    END IF;
    IF provider = 'hmac' THEN
        allowed := allowed || ARRAY['header', 'algorithm', 'encoding', 'prefix'];
    END IF;
    SELECT key INTO k FROM jsonb_object_keys(options) key
     WHERE key <> ALL (allowed) LIMIT 1;
    IF k IS NOT NULL THEN
        RETURN format('options.%s is not an option of a %s source (it takes %s)',
                      k, provider, array_to_string(allowed, ', '));
    END IF;
    SELECT key INTO k FROM jsonb_each(options) e(key, value)
     WHERE jsonb_typeof(value) <> 'string' LIMIT 1;
    IF k IS NOT NULL THEN
        RETURN format('options.%s must be a string', k);
    END IF;
    IF provider = 'hmac' AND options->>'header' IS NULL THEN
        RETURN 'options.header is required: the header that carries the signature';
    END IF;
    FOR k IN SELECT unnest(ARRAY['header', 'type_header', 'id_header']) LOOP
        IF options->>k !~ '^[A-Za-z0-9-]{1,64}$' THEN
            RETURN format('options.%s must be a header name', k);
        END IF;
    END LOOP;
    FOR k IN SELECT unnest(ARRAY['type_field', 'id_field']) LOOP
        IF options->>k !~ '^(/[^/]{1,64}){1,8}$' THEN
            RETURN format('options.%s must be a JSON pointer such as /type', k);
        END IF;
    END LOOP;
    IF options->>'event_type' !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
        RETURN 'options.event_type must be 1 to 128 of A-Z a-z 0-9 _ . : -';
    END IF;
    IF (options ? 'type_header')::int + (options ? 'type_field')::int
       + (options ? 'event_type')::int <> 1 THEN
        RETURN 'give one of options.type_header, options.type_field or '
               'options.event_type: where the event type comes from';
    END IF;
    IF (options ? 'id_header') AND (options ? 'id_field') THEN
        RETURN 'give options.id_header or options.id_field, not both';
    END IF;
    IF options->>'algorithm' NOT IN ('sha1', 'sha256', 'sha512') THEN
        RETURN 'options.algorithm must be sha1, sha256 or sha512';
    END IF;
    IF options->>'encoding' NOT IN ('hex', 'base64') THEN
        RETURN 'options.encoding must be hex or base64';
    END IF;
    IF length(options->>'prefix') > 32 THEN
        RETURN 'options.prefix must be at most 32 characters';
    END IF;
    IF options->>'content' NOT IN ('json', 'form') THEN
        RETURN 'options.content must be json or form';
    END IF;
    RETURN NULL;
END
$$;
