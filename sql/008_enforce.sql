-- Ingest that honours an application's enforce_event_types: the event's
-- type must be registered and not archived, and its payload must match
-- the type's schema. A refused item is reported, not stored:
-- o_status 'unknown_type' or 'schema_mismatch' with o_message saying why.
-- The result gains a column, so the function is replaced whole (nginx
-- prepares its statement again when it reconnects; reload nginx after
-- `hookd migrate`).
DROP FUNCTION IF EXISTS hookd.ingest(jsonb);

CREATE FUNCTION hookd.ingest(batch jsonb)
RETURNS TABLE (o_n integer, o_status text, o_id text, o_event_type text,
               o_received_at text, o_message text)
LANGUAGE plpgsql AS $$
DECLARE
    item        jsonb;
    ev          hookd.events;
    et          hookd.event_types;
    fanned_out  bigint := 0;
    n_rows      bigint;
    last_app    text;
    enforce     boolean := false;
BEGIN
    o_n := 0;
    FOR item IN SELECT value FROM jsonb_array_elements(batch) LOOP
        o_message := NULL;

        -- batches mostly hold one application's events: look it up once
        IF item->>'a' IS DISTINCT FROM last_app THEN
            SELECT a.enforce_event_types INTO enforce
              FROM hookd.applications a WHERE a.id = item->>'a';
            last_app := item->>'a';
        END IF;

        IF enforce THEN
            SELECT * INTO et FROM hookd.event_types t
             WHERE t.app_id = item->>'a' AND t.name = item->'b'->>'event_type'
               AND t.archived_at IS NULL;
            IF NOT FOUND THEN
                o_status := 'unknown_type';
                o_message := format('event type "%s" is not registered for '
                    'this application, which accepts registered types only; '
                    'register it under /v1/apps/{app}/event-types',
                    item->'b'->>'event_type');
            ELSIF et.schema IS NOT NULL THEN
                o_message := hookd.schema_errors(et.schema, item->'b'->'payload',
                                                 'payload');
                IF o_message IS NOT NULL THEN
                    o_status := 'schema_mismatch';
                    o_message := format('the payload does not match the schema '
                        'of "%s": %s', et.name, o_message);
                END IF;
            END IF;
            IF o_message IS NOT NULL THEN
                o_id := NULL;
                o_event_type := item->'b'->>'event_type';
                o_received_at := NULL;
                RETURN NEXT;
                o_n := o_n + 1;
                CONTINUE;
            END IF;
        END IF;

        INSERT INTO hookd.events AS e
               (app_id, event_type, payload, labels, idempotency_key,
                request_hash, source)
        VALUES (item->>'a',
                item->'b'->>'event_type',
                item->'b'->'payload',
                coalesce(nullif(item->'b'->'labels', 'null'), '{}'),
                item->>'i',
                decode(item->>'h', 'hex'),
                coalesce(item->>'s', 'api'))
        ON CONFLICT (app_id, idempotency_key)
           WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING * INTO ev;

        IF FOUND THEN
            INSERT INTO hookd.deliveries (app_id, event_id, endpoint_id)
            SELECT ev.app_id, ev.id, ep.id
              FROM hookd.endpoints ep
             WHERE ep.app_id = ev.app_id
               AND ep.status <> 'disabled'
               AND EXISTS (
                   SELECT 1 FROM hookd.subscriptions s
                    WHERE s.app_id = ep.app_id
                      AND s.endpoint_id = ep.id
                      AND hookd.type_matches(s.event_type_pattern, ev.event_type)
                      AND ev.labels @> s.label_filter);
            GET DIAGNOSTICS n_rows = ROW_COUNT;
            fanned_out := fanned_out + n_rows;
            o_status := 'created';
        ELSE
            SELECT * INTO ev FROM hookd.events e
             WHERE e.app_id = item->>'a'
               AND e.idempotency_key = item->>'i';
            o_status := CASE WHEN ev.request_hash = decode(item->>'h', 'hex')
                             THEN 'replayed' ELSE 'conflict' END;
        END IF;

        o_id := ev.id;
        o_event_type := ev.event_type;
        o_received_at := hookd.rfc3339(ev.received_at);
        RETURN NEXT;
        o_n := o_n + 1;
    END LOOP;

    -- one wake-up per transaction, never one per event
    IF fanned_out > 0 THEN
        PERFORM pg_notify('hookd_deliveries', '');
    END IF;
END
$$;
