-- Ingest: API key lookup, subscription matching and the batched insert of
-- events with their deliveries. nginx calls these through prepared
-- statements; the whole batch is one transaction and one NOTIFY.

-- 'invoice.paid' matches itself, 'invoice.*' every type below 'invoice.',
-- '*' everything.
CREATE OR REPLACE FUNCTION hookd.type_matches(pattern text, event_type text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pattern = '*'
        OR pattern = event_type
        OR (right(pattern, 2) = '.*'
            AND starts_with(event_type, left(pattern, -1)))
$$;

-- state: 'active', 'revoked' or 'expired'; no row for an unknown key.
CREATE OR REPLACE FUNCTION hookd.key_lookup(hash bytea)
RETURNS TABLE (o_key_id text, o_app_id text, o_scopes text, o_state text)
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.app_id, array_to_string(k.scopes, ','),
           CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                WHEN k.expires_at <= now() THEN 'expired'
                ELSE 'active' END
      FROM hookd.api_keys k
     WHERE k.key_hash = hash
$$;

-- batch: [{"a": app_id, "i": idempotency key or null, "h": hex SHA-256 of
-- the body, "s": source or null, "b": the validated request body}, …]
-- One row per item, in order: o_status is 'created', 'replayed' (same
-- idempotency key and body) or 'conflict' (same key, other body); the
-- event's id, type and receive time describe the original on a replay.
CREATE OR REPLACE FUNCTION hookd.ingest(batch jsonb)
RETURNS TABLE (o_n integer, o_status text, o_id text, o_event_type text,
               o_received_at text)
LANGUAGE plpgsql AS $$
DECLARE
    item        jsonb;
    ev          hookd.events;
    fanned_out  bigint := 0;
    n_rows      bigint;
BEGIN
    o_n := 0;
    FOR item IN SELECT value FROM jsonb_array_elements(batch) LOOP
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
