-- Samples (docs/assist.md): GET …/event-types/{name}/sample?seed=N, a
-- payload that hookd.schema_check accepts, the same for the same seed.
--
-- The generator walks the schema (the subset of json_schema.sql): a value
-- of an allowed type, within its bounds, of its enum or const; an object's
-- required properties and, by the seed, some of its others; strings made
-- to look like what their property names (email, currency, *_at, *_id, …)
-- and formats say; a pattern's strings from the expression itself (literals,
-- classes, escapes, groups, alternatives, quantifiers). What no value can
-- satisfy is said, with where and why.

-- A number in [0, 1) for (seed, path, k): each place has its own stream.
CREATE OR REPLACE FUNCTION hookd.sample_rand(seed bigint, path text, k integer)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('x' || substr(md5(seed || '/' || path || '/' || k), 1, 8))::bit(32)::bigint
           / 4294967296.0
$$;

-- one of choices, by (seed, path, k)
CREATE OR REPLACE FUNCTION hookd.sample_pick(choices text[], seed bigint, path text,
                                             k integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT choices[1 + floor(hookd.sample_rand(seed, path, k)
                             * cardinality(choices))::integer]
$$;

-- hex digits, by (seed, path)
CREATE OR REPLACE FUNCTION hookd.sample_hex(seed bigint, path text, n integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(md5('hex/' || seed || '/' || path) || md5('hex2/' || seed || '/' || path), n)
$$;

-- A string that looks like what the property's name or format says.
CREATE OR REPLACE FUNCTION hookd.sample_text(key text, fmt text, seed bigint, path text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k     text := lower(coalesce(key, ''));
    when_ timestamptz := timestamptz '2026-01-05 09:00:00+00'
                         + floor(hookd.sample_rand(seed, path, 1) * 30 * 86400)
                           * interval '1 second';
BEGIN
    CASE
    WHEN fmt = 'email' OR k ~ '(^|_)e?mail(_address)?$' THEN
        RETURN hookd.sample_pick('{ada,grace,lin,alan,katherine}', seed, path, 2)
               || '@example.com';
    WHEN fmt = 'date-time' OR k ~ '(_at|_time|timestamp)$' THEN
        RETURN to_char(when_ AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    WHEN fmt = 'date' OR k ~ '(^|_)date$' THEN
        RETURN to_char(when_ AT TIME ZONE 'UTC', 'YYYY-MM-DD');
    WHEN fmt = 'uuid' THEN
        RETURN regexp_replace(hookd.sample_hex(seed, path, 32),
                              '^(.{8})(.{4})(.)(.{3})(.{4})(.{12})$', '\1-\2-4\4-8\5-\6');
    WHEN fmt IN ('uri', 'url') OR k ~ '(^|_)(url|uri|href|link|website)$' THEN
        RETURN 'https://example.com/' || coalesce(nullif(regexp_replace(k, '_?(url|uri|href|link|website)$', ''), ''), 'page')
               || '/' || hookd.sample_hex(seed, path, 6);
    WHEN fmt = 'ipv4' OR k ~ '(^|_)ip(_address)?$' THEN
        RETURN '192.0.2.' || (1 + floor(hookd.sample_rand(seed, path, 3) * 254))::integer;
    WHEN fmt = 'hostname' OR k ~ '(host|hostname|domain)$' THEN
        RETURN hookd.sample_pick('{api,shop,www}', seed, path, 4) || '.example.com';
    WHEN k ~ '(^|_)id$' THEN
        RETURN coalesce(nullif(left(regexp_replace(k, '_?id$', ''), 4), ''), 'obj')
               || '_' || hookd.sample_hex(seed, path, 12);
    WHEN k = 'currency' OR k ~ '_currency$' THEN
        RETURN hookd.sample_pick('{usd,eur,gbp}', seed, path, 5);
    WHEN k IN ('country', 'country_code') THEN
        RETURN hookd.sample_pick('{US,DE,FR,GB,JP}', seed, path, 6);
    WHEN k = 'city' THEN
        RETURN hookd.sample_pick('{Lisbon,Osaka,Denver,Berlin}', seed, path, 7);
    WHEN k ~ 'phone' THEN
        RETURN '+1555010' || lpad((floor(hookd.sample_rand(seed, path, 8) * 10000))::integer::text, 4, '0');
    WHEN k IN ('first_name', 'given_name', 'firstname') THEN
        RETURN hookd.sample_pick('{Ada,Grace,Lin,Alan}', seed, path, 9);
    WHEN k IN ('last_name', 'family_name', 'surname', 'lastname') THEN
        RETURN hookd.sample_pick('{Lovelace,Hopper,Chen,Turing}', seed, path, 9);
    WHEN k ~ '(^|_)name$' OR k = 'customer' OR k = 'user' THEN
        RETURN hookd.sample_pick('{"Ada Lovelace","Grace Hopper","Lin Chen","Alan Turing"}',
                                 seed, path, 9);
    WHEN k IN ('status', 'state') THEN
        RETURN hookd.sample_pick('{active,pending,succeeded}', seed, path, 10);
    WHEN k ~ '(description|note|message|text|title|subject|comment|body|reason)$' THEN
        RETURN hookd.sample_pick('{"Order received","Payment confirmed","Shipped today",'
                                 '"Welcome aboard"}', seed, path, 11);
    WHEN k <> '' THEN
        RETURN regexp_replace(k, '[^a-z0-9]+', '-', 'g') || '-' || hookd.sample_hex(seed, path, 4);
    ELSE
        RETURN 'sample-' || hookd.sample_hex(seed, path, 6);
    END CASE;
END
$$;

-- A string matching a pattern, made from the expression (a subset of
-- PostgreSQL's: literals, ., [classes], \d \w \s and their negations,
-- escaped characters, (groups), a|b, ? * + {n} {n,} {n,m}, ^ and $), or
-- NULL when it uses more than that. Repetitions take 1 to 3 beyond their
-- minimum, by the seed.
CREATE OR REPLACE FUNCTION hookd.sample_pattern(pattern text, seed bigint, path text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    r  record;
BEGIN
    SELECT * INTO r FROM hookd.sample_regex(pattern, 1, seed, path, 0);
    IF r.made IS NULL OR r.pos <= length(pattern) THEN
        RETURN NULL;                             -- beyond the subset, or a stray )
    END IF;
    RETURN r.made;
END
$$;

-- The printable ASCII characters one atom ([class], \d, ., an escaped
-- character) matches, letters and digits first: PostgreSQL's own regular
-- expressions judge, so every class syntax it takes is understood.
CREATE OR REPLACE FUNCTION hookd.sample_chars(atom text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(c ORDER BY c !~ '[A-Za-z0-9]', n), '{}')
      FROM generate_series(32, 126) n
     CROSS JOIN LATERAL chr(n) c
     WHERE c ~ ('^(?:' || CASE WHEN atom = '.' THEN '[A-Za-z0-9]' ELSE atom END || ')$')
$$;

-- The quantifier at pos (?, *, +, {n}, {n,}, {n,m}, lazy or not), as the
-- least and most repetitions made; none is {1}. pos moves past it; NULL
-- bounds: not a quantifier hookd makes.
CREATE OR REPLACE FUNCTION hookd.sample_quantifier(pattern text, INOUT pos integer,
                                                   OUT lo integer, OUT hi integer)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c  text := substr(pattern, pos, 1);
    m  text[];
BEGIN
    lo := 1;
    hi := 1;
    IF c = '?' THEN
        lo := 0;
    ELSIF c = '*' THEN
        lo := 0; hi := 3;
    ELSIF c = '+' THEN
        hi := 4;
    ELSIF c = '{' THEN
        m := regexp_match(substr(pattern, pos), '^(\{([0-9]{1,3})(,([0-9]{0,3}))?\})');
        IF m IS NULL THEN
            lo := NULL;
            hi := NULL;
            RETURN;
        END IF;
        lo := m[2]::integer;
        hi := CASE WHEN m[3] IS NULL THEN lo
                   WHEN m[4] = '' THEN lo + 3 ELSE m[4]::integer END;
        IF hi < lo THEN
            lo := NULL;
            hi := NULL;
            RETURN;
        END IF;
        pos := pos + length(m[1]) - 1;
    ELSE
        RETURN;
    END IF;
    pos := pos + 1;
    IF substr(pattern, pos, 1) = '?' THEN
        pos := pos + 1;                          -- lazy: made the same
    END IF;
END
$$;

-- One string of the alternatives from pos up to a closing ) or the end
-- (pos ends on it), or made NULL when the expression is beyond the subset.
-- k numbers the choices, so that each draws its own random number.
CREATE OR REPLACE FUNCTION hookd.sample_regex(pattern text, INOUT pos integer,
                                              seed bigint, path text,
                                              INOUT k integer, OUT made text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    alts    text[] := '{}'::text[];
    cur     text := '';
    c       text;
    atom    text;
    start   integer;
    q       record;
    sub     record;
    chars   text[];
    n       integer;
    m       text[];
BEGIN
    made := NULL;
    WHILE pos <= length(pattern) LOOP
        c := substr(pattern, pos, 1);
        IF c = ')' THEN
            EXIT;
        ELSIF c = '|' THEN
            alts := alts || cur;
            cur := '';
            pos := pos + 1;
            CONTINUE;
        ELSIF c IN ('^', '$') THEN
            pos := pos + 1;
            CONTINUE;
        ELSIF c IN ('*', '+', '?', '{') THEN
            RETURN;                              -- a quantifier with no atom
        END IF;

        IF c = '(' THEN
            pos := pos + 1;
            IF substr(pattern, pos, 2) = '?:' THEN
                pos := pos + 2;
            ELSIF substr(pattern, pos, 1) = '?' THEN
                RETURN;                          -- lookarounds are not made
            END IF;
            start := pos;
            sub := hookd.sample_regex(pattern, pos, seed, path, k);
            IF sub.made IS NULL OR substr(pattern, sub.pos, 1) <> ')' THEN
                RETURN;
            END IF;
            k := sub.k;
            pos := sub.pos + 1;
            q := hookd.sample_quantifier(pattern, pos);
            IF q.lo IS NULL THEN
                RETURN;
            END IF;
            pos := q.pos;
            n := q.lo + floor(hookd.sample_rand(seed, path, k) * (q.hi - q.lo + 1))::integer;
            k := k + 1;
            FOR i IN 1 .. n LOOP
                IF i > 1 THEN
                    sub := hookd.sample_regex(pattern, start, seed, path, k);
                    k := sub.k;
                END IF;
                cur := cur || sub.made;
            END LOOP;
            CONTINUE;
        END IF;

        start := pos;
        IF c = '[' THEN
            m := regexp_match(substr(pattern, pos), '^\[\^?\]?(?:\[:[a-z]+:\]|[^\]\\]|\\.)*\]');
            IF m IS NULL THEN
                RETURN;
            END IF;
            pos := pos + length(m[1]);
        ELSIF c = '\' THEN
            IF substr(pattern, pos + 1, 1) !~ '^[dDwWsS.\\/^$|?*+(){}\[\]-]$' THEN
                RETURN;                          -- back references, \m, \y: not made
            END IF;
            pos := pos + 2;
        ELSE
            pos := pos + 1;
        END IF;
        atom := substr(pattern, start, pos - start);

        q := hookd.sample_quantifier(pattern, pos);
        IF q.lo IS NULL THEN
            RETURN;
        END IF;
        pos := q.pos;
        n := q.lo + floor(hookd.sample_rand(seed, path, k) * (q.hi - q.lo + 1))::integer;
        k := k + 1;
        IF n = 0 THEN
            CONTINUE;
        END IF;

        IF atom ~ '^[^.\[\\]$' THEN
            cur := cur || repeat(atom, n);
            CONTINUE;
        END IF;
        chars := hookd.sample_chars(atom);
        IF cardinality(chars) = 0 THEN
            RETURN;                              -- only non-ASCII: not made
        END IF;
        FOR i IN 1 .. n LOOP
            cur := cur || chars[1 + floor(hookd.sample_rand(seed, path, k)
                                          * least(cardinality(chars), 36))::integer];
            k := k + 1;
        END LOOP;
    END LOOP;
    alts := alts || cur;
    made := alts[1 + floor(hookd.sample_rand(seed, path, k) * cardinality(alts))::integer];
    k := k + 1;
END
$$;

-- The types a schema allows, as generated: its "type", or what its
-- keywords imply, or what the property's name suggests.
CREATE OR REPLACE FUNCTION hookd.sample_types(s jsonb, key text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(s->'type') = 'array'
            THEN ARRAY(SELECT jsonb_array_elements_text(s->'type'))
        WHEN s ? 'type' THEN ARRAY[s->>'type']
        WHEN s ?| ARRAY['properties', 'required', 'additionalProperties'] THEN '{object}'
        WHEN s ?| ARRAY['items', 'minItems', 'maxItems'] THEN '{array}'
        WHEN s ?| ARRAY['minLength', 'maxLength', 'pattern', 'format'] THEN '{string}'
        WHEN s ?| ARRAY['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']
            THEN '{number}'
        WHEN lower(coalesce(key, '')) ~ '(amount|price|total|count|quantity|qty|size|number)$'
            THEN '{integer}'
        WHEN lower(coalesce(key, '')) ~ '^(is|has|can)_' THEN '{boolean}'
        ELSE '{string}' END
$$;

-- {"value": v} of type t for s at path, or {"why": …}
CREATE OR REPLACE FUNCTION hookd.sample_of_type(s jsonb, t text, seed bigint,
                                                path text, key text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    lo      numeric;
    hi      numeric;
    x       numeric;
    k       text := lower(coalesce(key, ''));
    minl    integer;
    maxl    integer;
    str     text;
    n       integer;
    arr     jsonb;
    obj     jsonb;
    r       jsonb;
    p       record;
BEGIN
    CASE t
    WHEN 'null' THEN
        RETURN '{"value": null}'::jsonb;
    WHEN 'boolean' THEN
        RETURN jsonb_build_object('value', hookd.sample_rand(seed, path, 0) < 0.5);
    WHEN 'integer', 'number' THEN
        lo := greatest((s->>'minimum')::numeric,
                       (s->>'exclusiveMinimum')::numeric
                           + CASE WHEN t = 'integer' THEN 1 ELSE 0 END);
        hi := least((s->>'maximum')::numeric,
                    (s->>'exclusiveMaximum')::numeric
                        - CASE WHEN t = 'integer' THEN 1 ELSE 0 END);
        IF t = 'integer' THEN
            lo := ceil(lo);
            hi := floor(hi);
        END IF;
        IF lo > hi OR (t = 'number' AND lo = hi
                       AND (s ? 'exclusiveMinimum' OR s ? 'exclusiveMaximum')) THEN
            RETURN jsonb_build_object('why', format(
                '%s: no %s lies within its bounds (%s)', path, t,
                concat_ws(', ', 'minimum ' || (s->>'minimum'),
                          'exclusiveMinimum ' || (s->>'exclusiveMinimum'),
                          'maximum ' || (s->>'maximum'),
                          'exclusiveMaximum ' || (s->>'exclusiveMaximum'))));
        END IF;
        IF lo IS NULL AND hi IS NULL THEN
            lo := CASE WHEN k ~ '(amount|price|total|balance|cost|fee)$' THEN 100
                       WHEN k ~ '(count|quantity|qty)$' THEN 1 ELSE 0 END;
            hi := CASE WHEN k ~ '(amount|price|total|balance|cost|fee)$' THEN 10000
                       WHEN k ~ '(count|quantity|qty)$' THEN 10 ELSE 1000 END;
        END IF;
        lo := coalesce(lo, hi - 1000);
        hi := coalesce(hi, lo + 1000);
        x := lo + (hi - lo) * hookd.sample_rand(seed, path, 0)::numeric;
        x := CASE WHEN t = 'integer' THEN round(x) ELSE round(x, 2) END;
        IF x < lo OR x > hi OR x <= (s->>'exclusiveMinimum')::numeric
           OR x >= (s->>'exclusiveMaximum')::numeric THEN
            x := CASE WHEN t = 'integer' THEN lo ELSE (lo + hi) / 2 END;
        END IF;
        RETURN jsonb_build_object('value', x);
    WHEN 'string' THEN
        minl := coalesce((s->>'minLength')::integer, 0);
        maxl := (s->>'maxLength')::integer;
        IF minl > maxl THEN
            RETURN jsonb_build_object('why', format(
                '%s: minLength %s is more than maxLength %s', path, minl, maxl));
        END IF;
        IF s ? 'pattern' THEN
            FOR i IN 0 .. 19 LOOP
                str := hookd.sample_pattern(s->>'pattern', seed * 20 + i, path);
                IF str IS NULL THEN
                    RETURN jsonb_build_object('why', format(
                        '%s: hookd makes strings for patterns of literals, '
                        'classes, escapes, groups, alternatives and '
                        'quantifiers; %s uses more', path, s->>'pattern'));
                END IF;
                IF str ~ (s->>'pattern') AND length(str) >= minl
                   AND (maxl IS NULL OR length(str) <= maxl) THEN
                    RETURN jsonb_build_object('value', str);
                END IF;
            END LOOP;
            RETURN jsonb_build_object('why', format(
                '%s: no string of %s to %s characters matching %s was found',
                path, minl, coalesce(maxl::text, 'any number of'), s->>'pattern'));
        END IF;
        str := hookd.sample_text(key, s->>'format', seed, path);
        IF length(str) < minl THEN
            str := str || repeat('x', minl - length(str));
        END IF;
        IF maxl IS NOT NULL AND length(str) > maxl THEN
            str := left(str, maxl);
        END IF;
        RETURN jsonb_build_object('value', str);
    WHEN 'array' THEN
        minl := coalesce((s->>'minItems')::integer, 0);
        maxl := (s->>'maxItems')::integer;
        IF minl > maxl THEN
            RETURN jsonb_build_object('why', format(
                '%s: minItems %s is more than maxItems %s', path, minl, maxl));
        END IF;
        IF minl > 1000 THEN
            RETURN jsonb_build_object('why', format(
                '%s: minItems %s is more than a sample holds (1000)', path, minl));
        END IF;
        n := minl + floor(hookd.sample_rand(seed, path, 0)
                          * (least(coalesce(maxl, minl + 3), minl + 3) - minl + 1))::integer;
        arr := '[]';
        FOR i IN 0 .. n - 1 LOOP
            r := hookd.sample_value(coalesce(s->'items', 'true'), seed,
                                    format('%s[%s]', path, i), key);
            IF r ? 'why' THEN
                IF i >= minl THEN
                    EXIT;
                END IF;
                RETURN r;
            END IF;
            arr := arr || jsonb_build_array(r->'value');
        END LOOP;
        RETURN jsonb_build_object('value', arr);
    WHEN 'object' THEN
        obj := '{}';
        FOR p IN SELECT r.name, coalesce(s->'properties'->r.name,
                                         s->'additionalProperties', 'true') AS sub,
                        coalesce(s->'properties' ? r.name, false) AS declared
                   FROM jsonb_array_elements_text(coalesce(s->'required', '[]')) r(name)
        LOOP
            IF NOT p.declared AND s->'additionalProperties' = 'false' THEN
                RETURN jsonb_build_object('why', format(
                    '%s.%s is required, but additionalProperties is false and '
                    'properties does not name it', path, p.name));
            END IF;
            r := hookd.sample_value(p.sub, seed, path || '.' || p.name, p.name);
            IF r ? 'why' THEN
                RETURN r;
            END IF;
            obj := obj || jsonb_build_object(p.name, r->'value');
        END LOOP;
        -- some of the others, by the seed
        FOR p IN SELECT e.key AS name, e.value AS sub
                   FROM jsonb_each(coalesce(s->'properties', '{}')) e
                  WHERE NOT obj ? e.key
                  ORDER BY e.key
        LOOP
            CONTINUE WHEN hookd.sample_rand(seed, path || '.' || p.name, 99) >= 0.7;
            r := hookd.sample_value(p.sub, seed, path || '.' || p.name, p.name);
            IF r ? 'value' THEN
                obj := obj || jsonb_build_object(p.name, r->'value');
            END IF;
        END LOOP;
        RETURN jsonb_build_object('value', obj);
    ELSE
        RETURN jsonb_build_object('why', format('%s: no type "%s"', path, t));
    END CASE;
END
$$;

-- {"value": v} satisfying s at path, or {"why": …} when nothing does (or
-- nothing hookd can make)
CREATE OR REPLACE FUNCTION hookd.sample_value(s jsonb, seed bigint, path text, key text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    cands   jsonb;
    fits    jsonb;
    types   text[];
    r       jsonb;
    why     text;
    start   integer;
BEGIN
    IF s = 'false' THEN
        RETURN jsonb_build_object('why', path || ' allows no value (its schema is false)');
    END IF;
    IF s = 'true' THEN
        s := '{}';
    END IF;

    IF s ? 'const' OR s ? 'enum' THEN
        cands := CASE WHEN s ? 'const' THEN jsonb_build_array(s->'const')
                      ELSE s->'enum' END;
        IF s ? 'const' AND s ? 'enum' AND NOT s->'enum' @> cands THEN
            RETURN jsonb_build_object('why', format('%s: const %s is not in enum %s',
                                                    path, s->'const', s->'enum'));
        END IF;
        IF jsonb_array_length(cands) = 0 THEN
            RETURN jsonb_build_object('why', path || ': enum is empty');
        END IF;
        SELECT coalesce(jsonb_agg(e ORDER BY n), '[]') INTO fits
          FROM jsonb_array_elements(cands) WITH ORDINALITY AS x(e, n)
         WHERE hookd.schema_check(s, e, path) IS NULL;
        IF jsonb_array_length(fits) = 0 THEN
            RETURN jsonb_build_object('why', format(
                '%s: no value of its %s satisfies its other keywords (%s)', path,
                CASE WHEN s ? 'const' THEN 'const' ELSE 'enum' END,
                hookd.schema_check(s, cands->0, path)->>'message'));
        END IF;
        RETURN jsonb_build_object('value', fits->(floor(hookd.sample_rand(seed, path, 0)
                                                        * jsonb_array_length(fits))::integer));
    END IF;

    types := hookd.sample_types(s, key);
    IF cardinality(types) = 0 THEN
        RETURN jsonb_build_object('why', path || ': type is an empty list');
    END IF;
    start := floor(hookd.sample_rand(seed, path, 7) * cardinality(types))::integer;
    FOR i IN 0 .. cardinality(types) - 1 LOOP
        r := hookd.sample_of_type(s, types[1 + (start + i) % cardinality(types)],
                                  seed, path, key);
        IF r ? 'value' AND hookd.schema_check(s, r->'value', path) IS NULL THEN
            RETURN r;
        END IF;
        why := coalesce(why, r->>'why',
                        hookd.schema_check(s, r->'value', path)->>'message');
    END LOOP;
    RETURN jsonb_build_object('why', why);
END
$$;

-- A payload for an event type's schema and a seed: {"value": …} or {"why": …}.
-- Payloads are objects: a schema without "type" is taken as an object's.
CREATE OR REPLACE FUNCTION hookd.schema_sample(schema jsonb, seed bigint)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    r  jsonb;
BEGIN
    IF jsonb_typeof(schema) = 'object' AND NOT schema ? 'type'
       AND NOT schema ?| ARRAY['const', 'enum'] THEN
        schema := schema || '{"type": "object"}';
    END IF;
    r := hookd.sample_value(schema, seed, 'payload', NULL);
    IF r ? 'value' AND jsonb_typeof(r->'value') <> 'object' THEN
        r := hookd.sample_of_type(schema, 'object', seed, 'payload', NULL);
        IF r ? 'value' AND hookd.schema_check(schema, r->'value', 'payload') IS NOT NULL THEN
            RETURN jsonb_build_object('why', 'payload: an event''s payload is an '
                                      'object, and this schema allows no object');
        END IF;
    END IF;
    RETURN r;
END
$$;
