-- state: 'active', 'revoked' or 'expired'; no row for an unknown key. A
-- portal session's token (hkp_) answers with the scope 'portal'.
CREATE OR REPLACE FUNCTION hookd.key_lookup(hash bytea)
RETURNS TABLE (o_key_id text, o_app_id text, o_scopes text, o_state text)
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.app_id, array_to_string(k.scopes, ','),
           CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                WHEN k.expires_at <= now() THEN 'expired'
                ELSE 'active' END
      FROM hookd.api_keys k
     WHERE k.key_hash = hash
    UNION ALL
    SELECT p.id, p.app_id, 'portal',
           CASE WHEN p.revoked_at IS NOT NULL THEN 'revoked'
                WHEN p.expires_at <= now() THEN 'expired'
                ELSE 'active' END
      FROM hookd.portal_sessions p
     WHERE p.token_hash = hash
$$;

-- One nginx worker's group commit: the events of many requests (and of
-- many applications), each with its deliveries (the fan-out), in one
-- transaction with one NOTIFY.
--
-- batch: [{"app_id": …, "idempotency_key": … or null, "request_hash": hex
-- SHA-256 of the request body, "source": … or null (for 'api'), "classes":
-- {"hookd.provider": …, "hookd.category": …} or absent, "body": the
-- validated request body}, …]
--
-- One row per item, in order (nginx matches them to its requests by
-- position): o_status is
--   'created'          stored, o_id is the new event;
--   'replayed'         same idempotency key and body as a stored event,
--                      which o_id, o_event_type and o_received_at describe;
--   'conflict'         same idempotency key, another body;
--   'unknown_type' or 'schema_mismatch'
--                      refused under the application's
--                      enforce_event_types, o_message says why;
--   'no_application'   the key's application was deleted meanwhile;
--   'invalid'          this item could not be stored (o_message: why).
-- A refused item's o_hint says what to send instead (hints.sql).
--
-- The batch is shared by applications, so one item's failure is confined
-- to it: the whole batch is stored by one statement (hookd.ingest_items);
-- when that statement fails on some item's data, each item is stored again
-- alone, in a subtransaction of its own, and only the one that fails is
-- 'invalid'; every other item ends as if it had been alone. Errors that are
-- no item's doing (see hookd.transient_error) fail the batch, for nginx to
-- answer 503.
CREATE OR REPLACE FUNCTION hookd.ingest(batch jsonb)
RETURNS TABLE (o_n integer, o_status text, o_id text, o_event_type text,
               o_received_at text, o_message text, o_hint text)
LANGUAGE plpgsql AS $$
DECLARE
    item   jsonb;
    pos    integer;
    state  text;
    msg    text;
BEGIN
    BEGIN
        -- the items' rows are appended only once the statement succeeded
        RETURN QUERY SELECT * FROM hookd.ingest_items(batch);
        RETURN;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
        IF hookd.transient_error(state) THEN
            RAISE;
        END IF;
    END;

    FOR item, pos IN
        SELECT t.value, (t.ord - 1)::integer
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS t(value, ord)
    LOOP
        BEGIN
            SELECT pos, i.o_status, i.o_id, i.o_event_type, i.o_received_at,
                   i.o_message, i.o_hint
              INTO o_n, o_status, o_id, o_event_type, o_received_at,
                   o_message, o_hint
              FROM hookd.ingest_items(jsonb_build_array(item)) i;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE,
                                    msg = MESSAGE_TEXT;
            IF hookd.transient_error(state) THEN
                RAISE;
            END IF;
            o_n := pos;
            o_status := 'invalid';
            o_id := NULL;
            o_event_type := item->'body'->>'event_type';
            o_received_at := NULL;
            o_message := format('this event cannot be stored: %s', msg);
            o_hint := 'correct the value PostgreSQL names (text it cannot '
                      'store, such as \u0000, or a value out of its range) '
                      'and send the event again; only this event was refused';
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Errors that say nothing about the data of a statement: the connection,
-- a read-only server (a failover under way), a deadlock or serialization
-- failure, exhausted resources, a lock not granted, a shutdown or cancel,
-- the system. A batch that meets one fails whole, to be sent again.
CREATE OR REPLACE FUNCTION hookd.transient_error(sqlstate text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(sqlstate, 2) IN ('08', '25', '40', '53', '55', '57', '58',
                                 'F0', 'XX')
$$;

-- The batch as one statement: PostgreSQL sets up each INSERT once per batch,
-- not once per event (docs/benchmarks.md, "A set-based hookd.ingest").
-- Rows as hookd.ingest's, but for 'invalid'.
CREATE OR REPLACE FUNCTION hookd.ingest_items(batch jsonb)
RETURNS TABLE (o_n integer, o_status text, o_id text, o_event_type text,
               o_received_at text, o_message text, o_hint text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
    WITH items AS (
        SELECT (t.ord - 1)::integer AS n, t.item,
               t.item->>'app_id' AS app_id, t.item->>'idempotency_key' AS ikey,
               coalesce(t.item->>'source', 'api') AS source,
               t.item->'body'->>'event_type' AS event_type,
               hookd.new_id('evt') AS id
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS t(item, ord)
    ), checked AS (
        -- the schema is checked once: its first error is also the message;
        -- what a source verified is stored whatever its type
        SELECT i.*, a.id IS NULL AS no_app,
               coalesce(a.enforce_event_types, false) AND i.source = 'api'
                   AS enforced,
               et.name AS type_name,
               CASE WHEN et.schema IS NOT NULL
                    THEN hookd.schema_check(et.schema, i.item->'body'->'payload',
                                            'payload') END AS schema_error
          FROM items i
          LEFT JOIN hookd.applications a ON a.id = i.app_id
          LEFT JOIN hookd.event_types et
                 ON a.enforce_event_types AND i.source = 'api'
                AND et.app_id = i.app_id
                AND et.name = i.event_type AND et.archived_at IS NULL
    ), judged AS (
        SELECT c.*,
               CASE WHEN c.no_app THEN 'no_application'
                    WHEN NOT c.enforced THEN NULL
                    WHEN c.type_name IS NULL THEN 'unknown_type'
                    WHEN c.schema_error IS NOT NULL THEN 'schema_mismatch'
                    END AS refused
          FROM checked c
    ), ins AS (
        INSERT INTO hookd.events AS e
               (app_id, id, event_type, payload, labels, idempotency_key,
                request_hash, source)
        SELECT j.app_id, j.id, j.event_type, j.item->'body'->'payload',
               -- the classifier's labels (docs/assist.md); the producer's win
               coalesce(j.item->'classes', '{}')
                   || coalesce(nullif(j.item->'body'->'labels', 'null'), '{}'),
               j.ikey, decode(j.item->>'request_hash', 'hex'), j.source
          FROM judged j
         WHERE j.refused IS NULL
         ORDER BY j.n
        ON CONFLICT (app_id, source, idempotency_key)
           WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING e.app_id, e.id, e.event_type, e.payload, e.labels,
                  e.idempotency_key, e.source, e.request_hash, e.received_at
    ), queued AS (
        -- left "other" by the classifier, for a hookd with an assist
        -- backend to ask about (sql/functions/assist.sql); the test is made
        -- once per statement, and is false without such a hookd
        INSERT INTO hookd.assist_queue (app_id, event_id)
        SELECT ins.app_id, ins.id
          FROM ins JOIN judged j ON j.id = ins.id
         WHERE (SELECT hookd.assist_active())
           AND ins.labels->>'hookd.category' = 'other'
           AND j.item->'classes'->>'hookd.category' = 'other'
           AND NOT coalesce(j.item->'body'->'labels' ? 'hookd.category', false)
        ON CONFLICT DO NOTHING
    ), fanned AS MATERIALIZED (
        SELECT ins.app_id, ins.id AS event_id, f.endpoint_id, f.held,
               hookd.new_id('dlv') AS id
          FROM ins
         CROSS JOIN LATERAL hookd.fanout_endpoints(ins.app_id, ins.event_type,
                                                   ins.payload, ins.labels) f
    ), fan AS (
        INSERT INTO hookd.deliveries (app_id, id, event_id, endpoint_id)
        SELECT f.app_id, f.id, f.event_id, f.endpoint_id
          FROM fanned f
    ), enqueued AS (
        -- the queue (sql/functions/queue.sql): held when the endpoint holds
        INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id, event_id,
                                 due_at)
        SELECT f.app_id, f.endpoint_id, f.id, f.event_id,
               CASE WHEN f.held THEN 'infinity'::timestamptz ELSE now() END
          FROM fanned f
    ), woken AS (
        -- one wake-up per transaction, never one per event
        SELECT pg_notify('hookd_deliveries', '')
         WHERE EXISTS (SELECT 1 FROM fanned f WHERE NOT f.held)
    ), tailed AS (
        -- what the live tail fetches (sql/functions/tail.sql)
        SELECT hookd.tail_notify('e', array_agg(t.app_id), array_agg(t.id)) AS n
          FROM ins t
    )
    SELECT j.n, j.app_id, j.ikey, j.source,
           decode(j.item->>'request_hash', 'hex') AS hash,
           CASE WHEN j.refused IS NOT NULL THEN j.refused
                WHEN mine.id IS NOT NULL THEN 'created'
                WHEN orig.id IS NULL THEN 'unseen'
                WHEN orig.request_hash = decode(j.item->>'request_hash', 'hex') THEN 'replayed'
                ELSE 'conflict' END AS status,
           coalesce(mine.id, orig.id) AS id,
           coalesce(mine.event_type, orig.event_type, j.event_type)
               AS event_type,
           hookd.rfc3339(coalesce(mine.received_at, orig.received_at))
               AS received_at,
           CASE j.refused
               WHEN 'unknown_type' THEN format('event type "%s" is not registered '
                   'for this application, which accepts registered types only; '
                   'register it under /v1/apps/{app}/event-types', j.event_type)
               WHEN 'schema_mismatch' THEN format('the payload does not match the '
                   'schema of "%s": %s', j.type_name, j.schema_error->>'message')
               WHEN 'no_application' THEN 'the application of this API key was '
                   'deleted'
               END AS message,
           CASE j.refused
               WHEN 'unknown_type' THEN hookd.unknown_type_hint(j.app_id, j.event_type)
               WHEN 'schema_mismatch' THEN j.schema_error->>'hint'
               END AS hint
      FROM judged j
      LEFT JOIN ins mine ON mine.id = j.id
      -- a replay: the stored event, committed earlier or made by an
      -- earlier item of this very batch
      LEFT JOIN LATERAL (
           SELECT x.id, x.event_type, x.request_hash, x.received_at
             FROM (SELECT s.id, s.event_type, s.request_hash, s.received_at
                     FROM ins s
                    WHERE mine.id IS NULL AND j.ikey IS NOT NULL
                      AND s.app_id = j.app_id AND s.source = j.source
                      AND s.idempotency_key = j.ikey
                   UNION ALL
                   SELECT e.id, e.event_type, e.request_hash, e.received_at
                     FROM hookd.events e
                    WHERE mine.id IS NULL AND j.ikey IS NOT NULL
                      AND e.app_id = j.app_id AND e.source = j.source
                      AND e.idempotency_key = j.ikey) x
            LIMIT 1) orig ON mine.id IS NULL AND j.refused IS NULL
     CROSS JOIN (SELECT count(*) FROM woken) w
     CROSS JOIN tailed
     ORDER BY j.n
    LOOP
        o_n := r.n;
        o_status := r.status;
        o_id := r.id;
        o_event_type := r.event_type;
        o_received_at := r.received_at;
        o_message := r.message;
        o_hint := r.hint;

        IF r.status = 'unseen' THEN
            -- Another transaction inserted this key while the statement
            -- ran: ON CONFLICT waited for it to commit, but the statement
            -- reads with the snapshot it started with. A new statement
            -- sees the committed event; without this, a concurrent repeat
            -- of the same request would get 409 instead of its replay.
            SELECT CASE WHEN e.request_hash = r.hash THEN 'replayed'
                        ELSE 'conflict' END,
                   e.id, e.event_type, hookd.rfc3339(e.received_at)
              INTO o_status, o_id, o_event_type, o_received_at
              FROM hookd.events e
             WHERE e.app_id = r.app_id AND e.source = r.source
               AND e.idempotency_key = r.ikey;

            IF NOT FOUND THEN
                o_status := 'conflict';
            END IF;
        END IF;

        RETURN NEXT;
    END LOOP;
END
$$;
