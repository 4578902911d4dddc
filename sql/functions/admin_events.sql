-- /v1/apps/{app}/events.

CREATE OR REPLACE FUNCTION hookd.event_json(e hookd.events)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', e.id, 'app_id', e.app_id,
        'event_type', e.event_type, 'payload', e.payload, 'labels', e.labels,
        'idempotency_key', e.idempotency_key, 'source', e.source,
        'received_at', hookd.rfc3339(e.received_at))
$$;

-- events and deliveries: newest first, by id (ids sort by creation time)
CREATE OR REPLACE FUNCTION hookd.api_events(a hookd.applications,
                                            method text, seg text[], q jsonb,
                                            OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim     integer;
    ev      hookd.events;
    wanted  jsonb;
    since   timestamptz;
    until_  timestamptz;
BEGIN
    IF method <> 'GET' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'events take GET');
    END IF;
    IF cardinality(seg) = 4 THEN
        lim := hookd.api_limit(q);
        since := hookd.api_time(q, 'since');
        until_ := hookd.api_time(q, 'until');
        SELECT jsonb_object_agg(substr(key, 7), value) INTO wanted
          FROM jsonb_each(q) WHERE key LIKE 'label.%';
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.event_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.events e
                 WHERE e.app_id = a.id
                   AND hookd.portal_sees_event(e.labels)
                   AND (q->>'cursor' IS NULL OR e.id < q->>'cursor')
                   AND (q->>'event_type' IS NULL OR e.event_type = q->>'event_type')
                   AND (q->>'source' IS NULL OR e.source = q->>'source')
                   AND (wanted IS NULL OR e.labels @> wanted)
                   AND (since IS NULL OR e.received_at >= since)
                   AND (until_ IS NULL OR e.received_at < until_)
                   -- the same bounds on the id, for the primary key: an id
                   -- is made a little after its event's received_at
                   AND (since IS NULL OR e.id >= hookd.id_floor('evt', since))
                   AND (until_ IS NULL OR e.id < hookd.id_floor('evt',
                                                   until_ + interval '1 minute'))
                 ORDER BY e.id DESC LIMIT lim + 1) x;
        RETURN;
    END IF;

    SELECT * INTO ev FROM hookd.events e
     WHERE e.app_id = a.id AND e.id = seg[5] AND hookd.portal_sees_event(e.labels);
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no event "%s"', seg[5]));
    END IF;
    IF cardinality(seg) = 5 THEN
        status := 200;
        reply := hookd.event_json(ev);
    ELSIF cardinality(seg) = 6 AND seg[6] = 'deliveries' THEN
        lim := hookd.api_limit(q);
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.delivery_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.deliveries d
                 WHERE d.app_id = a.id AND d.event_id = ev.id
                   AND hookd.portal_sees_endpoint(d.app_id, d.endpoint_id)
                   AND (q->>'cursor' IS NULL OR d.id < q->>'cursor')
                 ORDER BY d.id DESC LIMIT lim + 1) x;
    ELSE
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
END
$$;
