-- /v1/apps/{app}/deliveries: dead letters, attempts, retries.

-- A pending delivery is in_flight while a hookd holds its lease in the
-- queue (sql/functions/queue.sql).
CREATE OR REPLACE FUNCTION hookd.delivery_status(d hookd.deliveries)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.status = 'pending' AND EXISTS (
                    SELECT 1 FROM hookd.queue q
                     WHERE q.app_id = d.app_id AND q.endpoint_id = d.endpoint_id
                       AND q.delivery_id = d.id AND q.lease_owner IS NOT NULL
                       AND q.due_at > now())
                THEN 'in_flight' ELSE d.status END
$$;

CREATE OR REPLACE FUNCTION hookd.delivery_json(d hookd.deliveries)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', d.id, 'app_id', d.app_id,
        'event_id', d.event_id, 'endpoint_id', d.endpoint_id,
        'status', hookd.delivery_status(d), 'attempt_count', d.attempt_count,
        'next_attempt_at', CASE WHEN d.status = 'pending'
                                THEN hookd.rfc3339(d.next_attempt_at) END,
        'last_error', d.last_error,
        'created_at', hookd.rfc3339(d.created_at),
        'updated_at', hookd.rfc3339(d.updated_at))
$$;

CREATE OR REPLACE FUNCTION hookd.attempt_json(a hookd.attempts)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'attempt_number', a.attempt_number,
        'started_at', hookd.rfc3339(a.started_at),
        'duration_ms', a.duration_ms, 'status_code', a.status_code,
        'error', a.error, 'error_class', a.error_class,
        'response_body', a.response_body, 'worker', a.worker)
$$;

CREATE OR REPLACE FUNCTION hookd.api_deliveries(a hookd.applications,
                                                method text, seg text[], q jsonb,
                                                body jsonb,
                                                OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lim     integer;
    dl      hookd.deliveries;
    since   timestamptz;
    until_  timestamptz;
    n       bigint;
    wanted  text;
BEGIN
    IF cardinality(seg) = 4 THEN
        IF method <> 'GET' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'deliveries take GET');
        END IF;
        lim := hookd.api_limit(q);
        IF q->>'status' IS NOT NULL AND q->>'status' NOT IN
           ('pending', 'in_flight', 'succeeded', 'failed', 'cancelled') THEN
            PERFORM hookd.api_fail(400, 'invalid_query',
                'status must be pending, in_flight, succeeded, failed or cancelled');
        END IF;
        since := hookd.api_time(q, 'since');
        until_ := hookd.api_time(q, 'until');
        SELECT 200, hookd.api_page(coalesce(jsonb_agg(hookd.delivery_json(x)
                                                      ORDER BY x.id DESC), '[]'), lim)
          INTO status, reply
          FROM (SELECT * FROM hookd.deliveries d
                 WHERE d.app_id = a.id
                   AND hookd.portal_sees_endpoint(d.app_id, d.endpoint_id)
                   AND (q->>'cursor' IS NULL OR d.id < q->>'cursor')
                   AND (q->>'status' IS NULL
                        OR hookd.delivery_status(d) = q->>'status')
                   AND (q->>'endpoint_id' IS NULL OR d.endpoint_id = q->>'endpoint_id')
                   AND (since IS NULL OR d.created_at >= since)
                   AND (until_ IS NULL OR d.created_at < until_)
                 ORDER BY d.id DESC LIMIT lim + 1) x;
        RETURN;
    END IF;

    IF cardinality(seg) = 5 AND seg[5] = 'retry' THEN
        IF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'deliveries/retry takes POST');
        END IF;
        body := coalesce(body, '{}');
        PERFORM hookd.api_fields(body, ARRAY['status', 'endpoint_id', 'since', 'until']);
        wanted := coalesce(body->>'status', 'failed');
        IF wanted NOT IN ('failed', 'cancelled') THEN
            PERFORM hookd.api_fail(400, 'invalid_request', 'status must be failed or cancelled');
        END IF;
        PERFORM hookd.api_type(body, 'endpoint_id', 'string');
        since := hookd.api_time(body, 'since', 'invalid_request');
        until_ := hookd.api_time(body, 'until', 'invalid_request');
        -- dead letters through their queue; cancelled ones are rare
        SELECT hookd.retry_deliveries(a.id, coalesce(array_agg(d.id), '{}'))
          INTO n
          FROM hookd.deliveries d
         WHERE d.app_id = a.id AND d.status = wanted
           AND (wanted <> 'failed' OR (d.app_id, d.id) IN (
                   SELECT x.app_id, x.delivery_id
                     FROM hookd.dead_letter_queue x
                    WHERE x.app_id = a.id
                      AND (body->>'endpoint_id' IS NULL
                           OR x.endpoint_id = body->>'endpoint_id')))
           AND hookd.portal_sees_endpoint(d.app_id, d.endpoint_id)
           AND (body->>'endpoint_id' IS NULL OR d.endpoint_id = body->>'endpoint_id')
           AND (since IS NULL OR d.created_at >= since)
           AND (until_ IS NULL OR d.created_at < until_);
        status := 202;
        reply := jsonb_build_object('retried', n);
        RETURN;
    END IF;

    SELECT * INTO dl FROM hookd.deliveries d
     WHERE d.app_id = a.id AND d.id = seg[5]
       AND hookd.portal_sees_endpoint(d.app_id, d.endpoint_id);
    IF NOT FOUND THEN
        PERFORM hookd.api_fail(404, 'not_found', format('no delivery "%s"', seg[5]));
    END IF;
    IF cardinality(seg) = 5 THEN
        IF method <> 'GET' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'a delivery takes GET');
        END IF;
        status := 200;
        reply := hookd.delivery_json(dl) || jsonb_build_object('attempts',
            coalesce((SELECT jsonb_agg(hookd.attempt_json(x) ORDER BY x.attempt_number)
                        FROM hookd.attempts x
                       WHERE x.app_id = dl.app_id AND x.delivery_id = dl.id), '[]'));
    ELSIF cardinality(seg) = 6 AND seg[6] = 'retry' THEN
        IF method <> 'POST' THEN
            PERFORM hookd.api_fail(405, 'method_not_allowed', 'retry takes POST');
        END IF;
        IF dl.status = 'pending' THEN
            PERFORM hookd.api_fail(409, 'delivery_pending', format(
                'delivery %s is %s already; it will be attempted without a retry',
                dl.id, hookd.delivery_status(dl)));
        END IF;
        PERFORM hookd.retry_deliveries(a.id, ARRAY[dl.id]);
        SELECT * INTO dl FROM hookd.deliveries d
         WHERE d.app_id = a.id AND d.id = dl.id;
        status := 202;
        reply := hookd.delivery_json(dl);
    ELSE
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
END
$$;
