-- The assist backend (docs/assist.md, "A backend"): what hookd (worker/
-- assist.c) takes to ask an OpenAI-compatible backend about, and what it
-- stores of the answers, each checked here before it is kept. Only the
-- structure of payloads (keys, types, sizes) leaves the database unless
-- hookd is configured with assist_send_values.

CREATE OR REPLACE FUNCTION hookd.assist_categories()
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '{billing,code,alerts,identity,commerce,messaging,infrastructure,other}'::text[]
$$;

-- a hookd with a backend says so; ingest queues "other" events meanwhile
CREATE OR REPLACE FUNCTION hookd.assist_backend_alive()
RETURNS void LANGUAGE sql AS $$
    INSERT INTO hookd.assist_state (backend_until) VALUES (now() + interval '2 minutes')
    ON CONFLICT (one) DO UPDATE SET backend_until = excluded.backend_until
$$;

CREATE OR REPLACE FUNCTION hookd.assist_active()
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM hookd.assist_state WHERE backend_until > now())
$$;

-- A value's shape without its content: objects by key (at most 100), an
-- array as its length and its first element's shape, strings as their
-- length; four levels down.
CREATE OR REPLACE FUNCTION hookd.json_structure(v jsonb, depth integer DEFAULT 0)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'object' THEN CASE WHEN depth >= 4 THEN '"object"'::jsonb ELSE
            coalesce((SELECT jsonb_object_agg(k, hookd.json_structure(v->k, depth + 1))
                        FROM (SELECT k FROM jsonb_object_keys(v) k ORDER BY k LIMIT 100) x),
                     '{}') END
        WHEN 'array' THEN jsonb_build_object('array', jsonb_array_length(v),
            'of', CASE WHEN depth >= 4 OR jsonb_array_length(v) = 0 THEN NULL
                       ELSE hookd.json_structure(v->0, depth + 1) END)
        WHEN 'string' THEN to_jsonb(format('string(%s)', length(v->>0)))
        ELSE to_jsonb(jsonb_typeof(v)) END
$$;

-- A classified event set anew: its label, and one more fan-out to the
-- endpoints the new label lets in (hookd.fanout_endpoints) that have no
-- delivery of it yet. The number of deliveries made.
CREATE OR REPLACE FUNCTION hookd.assist_apply(app text, ids text[], category text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    made  text[];
BEGIN
    WITH changed AS (
        UPDATE hookd.events e
           SET labels = e.labels || jsonb_build_object('hookd.category', category)
         WHERE e.app_id = app AND e.id = ANY (ids)
           AND e.labels->>'hookd.category' = 'other'
        RETURNING e.app_id, e.id, e.event_type, e.payload, e.labels
    ), fan AS (
        INSERT INTO hookd.deliveries (app_id, event_id, endpoint_id)
        SELECT c.app_id, c.id, f.endpoint_id
          FROM changed c
         CROSS JOIN LATERAL hookd.fanout_endpoints(c.app_id, c.event_type,
                                                   c.payload, c.labels) f
         WHERE NOT EXISTS (
               SELECT 1 FROM hookd.deliveries d
                WHERE d.event_id = c.id AND d.app_id = c.app_id
                  AND d.endpoint_id = f.endpoint_id)
        RETURNING id
    )
    SELECT array_agg(id) INTO made FROM fan;
    RETURN hookd.enqueue(app, coalesce(made, '{}'));
END
$$;

-- Up to groups payload shapes to ask about: the queued events, grouped by
-- application, type and structure. Shapes already answered are applied
-- here and not returned; those beyond groups stay queued for a later call
-- (the hourly budget); a day in the queue is the most.
CREATE OR REPLACE FUNCTION hookd.assist_take_events(groups integer, send_values boolean)
RETURNS TABLE (o_app_id text, o_event_type text, o_fingerprint text,
               o_provider text, o_structure jsonb, o_payload jsonb,
               o_event_ids text[])
LANGUAGE plpgsql AS $$
DECLARE
    r      record;
    taken  integer := 0;
BEGIN
    DELETE FROM hookd.assist_queue WHERE queued_at < now() - interval '1 day';
    -- shapes not seen for a month are forgotten (asked about again if seen)
    DELETE FROM hookd.assist_classes WHERE answered_at < now() - interval '30 days';
    FOR r IN
        WITH q AS (
            SELECT q.app_id, q.event_id FROM hookd.assist_queue q
             ORDER BY q.queued_at LIMIT 500
               FOR UPDATE SKIP LOCKED
        ), gone AS (
            -- events deleted meanwhile
            DELETE FROM hookd.assist_queue x USING q
             WHERE x.app_id = q.app_id AND x.event_id = q.event_id
               AND NOT EXISTS (SELECT 1 FROM hookd.events e
                                WHERE e.app_id = q.app_id AND e.id = q.event_id)
        ), ev AS (
            SELECT q.app_id, q.event_id, e.event_type, e.payload,
                   e.labels->>'hookd.provider' AS provider,
                   hookd.json_structure(e.payload) AS structure
              FROM q JOIN hookd.events e ON e.app_id = q.app_id AND e.id = q.event_id
        ), shaped AS (
            -- a shape is the structure without its sizes
            SELECT ev.*, md5(ev.event_type || regexp_replace(regexp_replace(
                       ev.structure::text, '"string\(\d+\)"', '"string"', 'g'),
                       '"array": \d+', '"array"', 'g')) AS fp
              FROM ev
        ), g AS (
            SELECT s.app_id, s.event_type, s.fp,
                   min(s.provider) AS provider, (array_agg(s.structure))[1] AS structure,
                   (array_agg(s.payload))[1] AS payload, array_agg(s.event_id) AS ids
              FROM shaped s GROUP BY s.app_id, s.event_type, s.fp
        )
        SELECT g.*, c.category, c.answered_at, c.app_id IS NOT NULL AS cached
          FROM g LEFT JOIN hookd.assist_classes c
            ON c.app_id = g.app_id AND c.event_type = g.event_type AND c.fingerprint = g.fp
    LOOP
        IF r.cached AND (r.category IS NOT NULL OR r.answered_at > now() - interval '1 hour') THEN
            IF r.category IS NOT NULL AND r.category <> 'other' THEN
                PERFORM hookd.assist_apply(r.app_id, r.ids, r.category);
            END IF;
        ELSIF taken < groups THEN
            taken := taken + 1;
            o_app_id := r.app_id;
            o_event_type := r.event_type;
            o_fingerprint := r.fp;
            o_provider := r.provider;
            o_structure := r.structure;
            o_payload := CASE WHEN send_values THEN r.payload END;
            o_event_ids := r.ids;
            RETURN NEXT;
        ELSE
            CONTINUE;
        END IF;
        DELETE FROM hookd.assist_queue x
         WHERE x.app_id = r.app_id AND x.event_id = ANY (r.ids);
    END LOOP;
END
$$;

-- The backend's category for a shape (NULL: no usable answer), kept and
-- applied to the events it was asked for. The deliveries made, or -1 when
-- the answer was not a category.
CREATE OR REPLACE FUNCTION hookd.assist_classified(app text, type_name text,
                                                   shape text, answer text,
                                                   model_name text, ids text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    usable  boolean := answer = ANY (hookd.assist_categories());
BEGIN
    INSERT INTO hookd.assist_classes AS c
           (app_id, event_type, fingerprint, category, model)
    SELECT app, type_name, shape, CASE WHEN usable THEN answer END, model_name
     WHERE EXISTS (SELECT 1 FROM hookd.applications a WHERE a.id = app)
    ON CONFLICT (app_id, event_type, fingerprint) DO UPDATE
       SET category = excluded.category, model = excluded.model, answered_at = now();
    IF NOT coalesce(usable, false) THEN
        RETURN -1;
    END IF;
    IF answer = 'other' THEN
        RETURN 0;
    END IF;
    RETURN hookd.assist_apply(app, ids, answer);
END
$$;

-- Someone read a diagnosis, summary or sample: hookd may ask the backend
-- for its words. Nothing is written while no hookd has a backend.
CREATE OR REPLACE FUNCTION hookd.assist_want(app text, kind text, subject text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO hookd.assist_answers (app_id, kind, subject)
    SELECT app, kind, subject WHERE hookd.assist_active()
    ON CONFLICT (app_id, kind, subject) DO UPDATE SET wanted_at = now()
$$;

-- the latest stored answer with its age, or NULL
CREATE OR REPLACE FUNCTION hookd.assist_latest(app text, kind text, subject text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT x.answer || jsonb_build_object('model', x.model,
               'answered_at', hookd.rfc3339(x.answered_at),
               'age_seconds', floor(extract(epoch FROM now() - x.answered_at))::bigint)
      FROM hookd.assist_answers x
     WHERE x.app_id = app AND x.kind = assist_latest.kind AND x.subject = assist_latest.subject
       AND x.answer IS NOT NULL
$$;

-- what a diagnosis, a summary or a sample asks the backend about: the
-- deterministic answer's structure and words, without URLs' paths and
-- queries, or receivers' errors and bodies unless send_values
CREATE OR REPLACE FUNCTION hookd.assist_input(app text, kind text, subject text,
                                              send_values boolean)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    d  jsonb;
BEGIN
    IF kind = 'diagnosis' THEN
        SELECT hookd.endpoint_diagnosis(ep) INTO d
          FROM hookd.endpoints ep WHERE ep.app_id = app AND ep.id = subject;
        RETURN jsonb_build_object(
            'endpoint_host', substring(d->>'url' from '^[a-zA-Z]+://(?:[^@/?#]*@)?([^/?#]*)'),
            'status', d->'status', 'breaker', d->'breaker', 'window', d->'window',
            'findings', (SELECT coalesce(jsonb_agg(f - 'example' || CASE WHEN send_values
                            THEN jsonb_build_object('example', f->'example') ELSE '{}' END), '[]')
                           FROM jsonb_array_elements(d->'findings') f),
            'text', d->'text');
    ELSIF kind = 'summary' THEN
        SELECT hookd.app_summary(a) INTO d FROM hookd.applications a WHERE a.id = app;
        -- its text and actions name whole URLs: left out, the parts kept
        RETURN (d - 'failing' - 'app_id' - 'generated_at' - 'text' - 'actions')
               || jsonb_build_object(
            'failing', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                            'endpoint_host', substring(f->>'url' from '^[a-zA-Z]+://(?:[^@/?#]*@)?([^/?#]*)'),
                            'status', f->'status', 'failing_since', f->'failing_since',
                            'waiting', f->'waiting', 'failed_1h', f->'failed_1h',
                            'cause', (f->'cause') - 'example')), '[]')
                          FROM jsonb_array_elements(d->'failing') f));
    ELSE
        SELECT jsonb_build_object('event_type', et.name, 'schema', et.schema) INTO d
          FROM hookd.event_types et
         WHERE et.app_id = app AND et.name = subject AND et.schema IS NOT NULL;
        RETURN d;
    END IF;
END
$$;

-- Up to n wanted answers whose input changed since the last one (or that
-- have none), read in the last 15 minutes and not taken in the last 10.
CREATE OR REPLACE FUNCTION hookd.assist_take_wanted(n integer, send_values boolean)
RETURNS TABLE (o_app_id text, o_kind text, o_subject text, o_input jsonb,
               o_input_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    r      record;
    input  jsonb;
    hash   text;
    taken  integer := 0;
BEGIN
    DELETE FROM hookd.assist_answers WHERE wanted_at < now() - interval '7 days';
    FOR r IN
        SELECT * FROM hookd.assist_answers x
         WHERE x.wanted_at > now() - interval '15 minutes'
           AND (x.taken_at IS NULL OR x.taken_at < now() - interval '10 minutes')
         ORDER BY x.wanted_at DESC
         LIMIT 50
           FOR UPDATE SKIP LOCKED
    LOOP
        EXIT WHEN taken >= n;
        input := hookd.assist_input(r.app_id, r.kind, r.subject, send_values);
        -- what changes by the second (times, the window) is not a change
        hash := md5(coalesce(jsonb_path_query_array(input,
                    'strict $.**.kind')::text, '') || coalesce(input->>'status', '')
                    || coalesce(input->'schema', 'null')::text
                    || coalesce(jsonb_path_query_array(input, 'strict $.**.attempts')::text, ''));
        UPDATE hookd.assist_answers x SET taken_at = now()
         WHERE x.app_id = r.app_id AND x.kind = r.kind AND x.subject = r.subject;
        CONTINUE WHEN input IS NULL
                   OR (r.answer IS NOT NULL AND r.input_hash = hash);
        taken := taken + 1;
        o_app_id := r.app_id;
        o_kind := r.kind;
        o_subject := r.subject;
        o_input := input;
        o_input_hash := hash;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The backend's answer, kept when it is what was asked for: words (a
-- diagnosis or summary: "text", 1 to 4000 characters, no control
-- characters but newlines) or a sample that the type's schema accepts.
CREATE OR REPLACE FUNCTION hookd.assist_answered(app text, kind text, subject text,
                                                 input_hash text, answer jsonb,
                                                 model text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    kept  jsonb;
BEGIN
    IF kind IN ('diagnosis', 'summary') THEN
        IF jsonb_typeof(answer->'text') = 'string'
           AND length(answer->>'text') BETWEEN 1 AND 4000
           AND answer->>'text' !~ '[\x01-\x09\x0b-\x1f\x7f]' THEN
            kept := jsonb_build_object('text', answer->'text');
        END IF;
    ELSIF jsonb_typeof(answer->'sample') = 'object'
          AND EXISTS (SELECT 1 FROM hookd.event_types et
                       WHERE et.app_id = app AND et.name = subject
                         AND et.schema IS NOT NULL
                         AND hookd.schema_check(et.schema, answer->'sample',
                                                'payload') IS NULL) THEN
        kept := jsonb_build_object('sample', answer->'sample');
    END IF;
    IF kept IS NULL THEN
        RETURN false;
    END IF;
    UPDATE hookd.assist_answers x
       SET answer = kept, model = assist_answered.model,
           input_hash = assist_answered.input_hash, answered_at = now()
     WHERE x.app_id = app AND x.kind = assist_answered.kind
       AND x.subject = assist_answered.subject;
    RETURN true;
END
$$;
