-- The live tail (docs/portal.md, "The live tail"). Every committed batch of
-- events and of attempts tells the channel hookd_tail which ids it made,
-- one notification per 100 ids; nginx's workers listen, each keeping the
-- ids in commit order (the order PostgreSQL delivers notifications in),
-- and fetch, once per notification and never per client, the messages of
-- the applications someone tails. A revoked API key or portal session is
-- told to the same channel, so that the streams it opened end.
--
-- A notification is "e" (events) or "d" (attempts), then one line per
-- application: its id and the ids made, space-separated; or
-- "r <hex SHA-256 of the credential>".

CREATE OR REPLACE FUNCTION hookd.tail_notify(kind text, apps text[], ids text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    payload  text;
    n        integer := 0;
BEGIN
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    -- 100 ids of 32 characters and their applications stay well inside
    -- the 8000 bytes a notification holds
    FOR payload IN
        SELECT kind || E'\n' || string_agg(y.line, E'\n')
          FROM (SELECT x.chunk, x.app || ' ' || string_agg(x.id, ' ' ORDER BY x.o) AS line
                  FROM (SELECT u.app, u.id, u.o, (u.o - 1) / 100 AS chunk
                          FROM unnest(apps, ids) WITH ORDINALITY AS u(app, id, o)) x
                 GROUP BY x.chunk, x.app) y
         GROUP BY y.chunk
         ORDER BY y.chunk
    LOOP
        PERFORM pg_notify('hookd_tail', payload);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- Streams opened with this credential (an API key's or a portal session's
-- hash) end, and nginx forgets it from its key cache.
CREATE OR REPLACE FUNCTION hookd.credential_revoked(hash bytea)
RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify('hookd_tail', 'r ' || encode(hash, 'hex'))
$$;

-- A tail message's data: an event (its payload when its JSON is at most
-- 16 KiB, else "payload_truncated": true), or an attempt with what it led
-- to ("outcome": succeeded, retrying or failed, the dead letter).
CREATE OR REPLACE FUNCTION hookd.tail_event_json(e hookd.events)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', e.id, 'event_type', e.event_type,
               'source', e.source, 'labels', e.labels,
               'received_at', hookd.rfc3339(e.received_at))
        || CASE WHEN octet_length(e.payload::text) <= 16384
                THEN jsonb_build_object('payload', e.payload)
                ELSE jsonb_build_object('payload_truncated', true) END
$$;

CREATE OR REPLACE FUNCTION hookd.tail_attempt_json(x hookd.attempts,
                                                  d hookd.deliveries)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', x.id, 'delivery_id', x.delivery_id,
        'event_id', d.event_id, 'endpoint_id', d.endpoint_id,
        'attempt_number', x.attempt_number,
        'started_at', hookd.rfc3339(x.started_at),
        'duration_ms', x.duration_ms, 'status_code', x.status_code,
        'error', x.error, 'error_class', x.error_class,
        'outcome', CASE WHEN x.error_class = 'SUCCEEDED' THEN 'succeeded'
                        WHEN d.status = 'failed'
                             AND d.attempt_count = x.attempt_number THEN 'failed'
                        ELSE 'retrying' END,
        'next_attempt_at', CASE WHEN x.error_class <> 'SUCCEEDED'
                                     AND d.status = 'pending'
                                     AND d.attempt_count = x.attempt_number
                                THEN hookd.rfc3339(d.next_attempt_at) END)
$$;

-- What nginx fetches for its tail clients: items are lines of
-- "<e or d> <application id> <id>", answered in their order with what a
-- client's scope is checked against (an event's labels, an attempt's
-- endpoint's label filter) and the message's data. Ids no longer stored
-- (retention) are left out.
CREATE OR REPLACE FUNCTION hookd.tail_fetch(items text)
RETURNS TABLE (o_app_id text, o_id text, o_event text, o_labels text,
               o_data text)
LANGUAGE sql STABLE AS $$
    WITH wanted AS (
        SELECT split_part(t.l, ' ', 1) AS kind, split_part(t.l, ' ', 2) AS app_id,
               split_part(t.l, ' ', 3) AS id, t.o
          FROM regexp_split_to_table(items, E'\n') WITH ORDINALITY AS t(l, o)
    )
    SELECT m.app_id, m.id, m.event, m.labels, m.data
      FROM (SELECT w.o, w.app_id, w.id, 'event' AS event, e.labels::text AS labels,
                   hookd.tail_event_json(e)::text AS data
              FROM wanted w
              JOIN hookd.events e ON e.app_id = w.app_id AND e.id = w.id
             WHERE w.kind = 'e'
            UNION ALL
            SELECT w.o, w.app_id, w.id, 'attempt',
                   coalesce((SELECT s.label_filter FROM hookd.subscriptions s
                              WHERE s.app_id = d.app_id AND s.endpoint_id = d.endpoint_id
                              LIMIT 1), '{}')::text,
                   hookd.tail_attempt_json(x, d)::text
              FROM wanted w
              JOIN hookd.attempts x ON x.app_id = w.app_id AND x.id = w.id
              JOIN hookd.deliveries d ON d.app_id = x.app_id AND d.id = x.delivery_id
             WHERE w.kind = 'd') m
     ORDER BY m.o
$$;

-- GET /v1/apps/{app}/tail, which nginx turns into the stream: who may tail
-- (the application, the labels a portal session is narrowed to, when the
-- credential expires) and, when nginx no longer holds the Last-Event-ID
-- among the ids it has seen (req.tail.from), the replay from PostgreSQL:
-- what was stored from 5 seconds before that id on (the overlap: ids are
-- made before their transaction commits), the id itself left out, at most
-- the newest 1000 (the depth; "gap" says there were more).
CREATE OR REPLACE FUNCTION hookd.api_tail(a hookd.applications, method text,
                                          seg text[], req jsonb,
                                          expires_at timestamptz,
                                          OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    cursor  text := req->'tail'->>'from';
    floor_  text;
    rows_   jsonb := '[]'::jsonb;
    more    boolean := false;
BEGIN
    IF cardinality(seg) <> 4 THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF method <> 'GET' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'the tail takes GET');
    END IF;
    IF req->'tail' IS NULL THEN
        PERFORM hookd.api_fail(404, 'not_found', 'the tail is served by nginx''s hookd_admin locations');
    END IF;
    IF cursor IS NOT NULL THEN
        IF cursor !~ '^(evt|att)_[0-9a-f]{28}$' THEN
            PERFORM hookd.api_fail(400, 'invalid_request',
                'Last-Event-ID must be the id of a message this stream sent (evt_… or att_…)');
        END IF;
        floor_ := lpad(to_hex(greatest(0, ('x' || substr(cursor, 5, 12))::bit(48)::bigint - 5000)),
                       12, '0');
        WITH m AS (
            SELECT e.id, 'event' AS event, hookd.tail_event_json(e)::text AS data
              FROM hookd.events e
             WHERE e.app_id = a.id AND e.id >= 'evt_' || floor_ AND e.id <> cursor
               AND hookd.portal_sees_event(e.labels)
            UNION ALL
            SELECT x.id, 'attempt', hookd.tail_attempt_json(x, d)::text
              FROM hookd.attempts x
              JOIN hookd.deliveries d ON d.app_id = x.app_id AND d.id = x.delivery_id
             WHERE x.app_id = a.id AND x.id >= 'att_' || floor_ AND x.id <> cursor
               AND hookd.portal_sees_endpoint(d.app_id, d.endpoint_id)
        ), newest AS (
            SELECT * FROM m ORDER BY substr(m.id, 5) DESC LIMIT 1001
        )
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', n.id, 'event', n.event,
                                                     'data', n.data)
                                  ORDER BY substr(n.id, 5)) FILTER (WHERE n.r <= 1000), '[]'),
               count(*) > 1000
          INTO rows_, more
          FROM (SELECT newest.*, row_number() OVER (ORDER BY substr(newest.id, 5) DESC) AS r
                  FROM newest) n;
    END IF;
    status := 200;
    reply := jsonb_build_object('app_id', a.id, 'labels', hookd.portal_labels(),
        'expires_in', extract(epoch FROM expires_at - now()),
        'replay', rows_, 'gap', more);
END
$$;
