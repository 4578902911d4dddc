-- Summary (docs/assist.md): GET /v1/apps/{app}/summary, an application's
-- health in plain words and as data: what is failing and since when, what
-- waits, what to do. Rates come from hookd.stats_minutes (the last 60
-- closed minutes), what waits from the deliveries themselves, the causes
-- from each failing endpoint's diagnosis (sql/functions/diagnosis.sql).

CREATE OR REPLACE FUNCTION hookd.app_summary(a hookd.applications)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    eps       jsonb;
    failing   jsonb := '[]'::jsonb;
    e         record;
    diag      jsonb;
    totals    record;
    waiting   bigint;
    oldest    timestamptz;
    dead      bigint;
    state     text;
    actions   jsonb := '[]'::jsonb;
    text_     text;
BEGIN
    -- the hour's figures, from the per-minute stats (endpoint '' is the app)
    SELECT coalesce(sum(s.events), 0) AS events,
           coalesce(sum(s.attempts), 0) AS attempts,
           coalesce(sum(s.succeeded), 0) AS succeeded,
           coalesce(sum(s.failed), 0) AS failed,
           coalesce(sum(s.dead_lettered), 0) AS dead_lettered
      INTO totals
      FROM hookd.stats_minutes s
     WHERE s.app_id = a.id AND s.endpoint_id = ''
       AND s.minute >= date_trunc('minute', now()) - interval '60 minutes'
       AND hookd.portal_labels() IS NULL;

    SELECT jsonb_agg(x ORDER BY (x->>'failed_1h')::bigint DESC, x->>'endpoint_id')
      INTO eps
      FROM (SELECT jsonb_build_object(
                   'endpoint_id', ep.id, 'url', ep.url, 'status', ep.status,
                   'disabled_reason', ep.disabled_reason, 'breaker', ep.breaker_state,
                   'failing_since', hookd.rfc3339(ep.failing_since),
                   'waiting', w.n, 'oldest_waiting_since', hookd.rfc3339(w.oldest),
                   'dead_letters', dl.n,
                   'failed_1h', coalesce(st.failed, 0),
                   'attempts_1h', coalesce(st.attempts, 0),
                   'unhealthy', ep.status <> 'enabled' OR ep.breaker_state <> 'closed'
                                OR ep.failing_since IS NOT NULL
                                OR coalesce(st.failed, 0) > 0) AS x
              FROM hookd.endpoints ep
              LEFT JOIN LATERAL (
                   -- delivery ids begin with the time they were made
                   SELECT count(*) AS n,
                          (SELECT d.created_at FROM hookd.deliveries d
                            WHERE d.app_id = ep.app_id
                              AND d.id = min(q.delivery_id)) AS oldest
                     FROM hookd.queue q
                    WHERE q.app_id = ep.app_id AND q.endpoint_id = ep.id) w ON true
              LEFT JOIN LATERAL (
                   SELECT count(*) AS n FROM hookd.dead_letter_queue x
                    WHERE x.endpoint_id = ep.id AND x.app_id = ep.app_id) dl ON true
              LEFT JOIN LATERAL (
                   SELECT sum(s.failed) AS failed, sum(s.attempts) AS attempts
                     FROM hookd.stats_minutes s
                    WHERE s.app_id = ep.app_id AND s.endpoint_id = ep.id
                      AND s.minute >= date_trunc('minute', now()) - interval '60 minutes'
                   ) st ON true
             WHERE ep.app_id = a.id AND hookd.portal_sees_endpoint(ep.app_id, ep.id)) y;
    eps := coalesce(eps, '[]');

    SELECT coalesce(sum((x->>'waiting')::bigint), 0),
           min((x->>'oldest_waiting_since')::timestamptz),
           coalesce(sum((x->>'dead_letters')::bigint), 0)
      INTO waiting, oldest, dead
      FROM jsonb_array_elements(eps) x;

    -- the ten worst, each with its diagnosis's first finding
    FOR e IN SELECT x FROM jsonb_array_elements(eps) x
              WHERE (x->>'unhealthy')::boolean LIMIT 10 LOOP
        SELECT hookd.endpoint_diagnosis(ep) INTO diag
          FROM hookd.endpoints ep
         WHERE ep.app_id = a.id AND ep.id = e.x->>'endpoint_id';
        failing := failing || jsonb_build_array((e.x - 'unhealthy' - 'dead_letters')
            || jsonb_build_object('cause', diag->'findings'->0));
        IF diag->'findings'->0 IS NOT NULL THEN
            actions := actions || jsonb_build_array(format('%s: %s', e.x->>'url',
                                                           diag->'findings'->0->>'fix'));
        ELSIF e.x->>'status' = 'paused' THEN
            actions := actions || jsonb_build_array(format(
                '%s is paused: POST …/endpoints/%s/resume when its receiver is ready.',
                e.x->>'url', e.x->>'endpoint_id'));
        END IF;
    END LOOP;
    IF dead > 0 THEN
        actions := actions || jsonb_build_array(format(
            '%s deliveries are dead letters: once the cause is fixed, replay them with '
            'POST …/endpoints/{id}/recover or POST …/deliveries/retry.', dead));
    END IF;

    state := CASE
        WHEN jsonb_array_length(eps) = 0 THEN 'no_endpoints'
        WHEN jsonb_array_length(failing) = 0 THEN 'healthy'
        WHEN jsonb_array_length(failing) = jsonb_array_length(eps) THEN 'failing'
        ELSE 'degraded' END;

    text_ := CASE state
        WHEN 'no_endpoints' THEN 'No endpoints: events are stored and go nowhere. '
                                 'Add one under /endpoints.'
        WHEN 'healthy' THEN format('All %s endpoints are delivering.',
                                   jsonb_array_length(eps))
        ELSE format('%s of %s endpoints are failing. ', jsonb_array_length(failing),
                    jsonb_array_length(eps))
             || (SELECT string_agg(format('%s%s%s.', f->>'url',
                        CASE WHEN f->>'failing_since' IS NOT NULL
                             THEN ' has failed since ' || (f->>'failing_since')
                             ELSE ' is ' || (f->>'status') END,
                        coalesce(': ' || (f->'cause'->>'summary'), '')), ' ')
                   FROM jsonb_array_elements(failing) f)
        END;
    IF hookd.portal_labels() IS NULL AND totals.attempts > 0 THEN
        text_ := text_ || format(' In the last hour: %s events, %s of %s attempts '
                                 'succeeded.', totals.events, totals.succeeded,
                                 totals.attempts);
    END IF;
    IF waiting > 0 THEN
        text_ := text_ || format(' %s deliveries wait, the oldest since %s.', waiting,
                                 hookd.rfc3339(oldest));
    END IF;
    IF dead > 0 THEN
        text_ := text_ || format(' %s are dead letters.', dead);
    END IF;
    IF jsonb_array_length(actions) > 0 THEN
        text_ := text_ || ' What to do: ' || (SELECT string_agg(x, ' ')
                                                FROM jsonb_array_elements_text(actions) x);
    END IF;

    RETURN jsonb_build_object(
        'app_id', a.id, 'status', state, 'generated_at', hookd.rfc3339(now()),
        'last_hour', CASE WHEN hookd.portal_labels() IS NULL THEN jsonb_build_object(
                         'events', totals.events, 'attempts', totals.attempts,
                         'succeeded', totals.succeeded, 'failed', totals.failed,
                         'dead_lettered', totals.dead_lettered) END,
        'deliveries', jsonb_build_object('waiting', waiting,
                                         'oldest_waiting_since', hookd.rfc3339(oldest),
                                         'dead_letters', dead),
        'endpoints', jsonb_build_object(
            'total', jsonb_array_length(eps),
            'failing', jsonb_array_length(failing),
            'paused', (SELECT count(*) FROM jsonb_array_elements(eps) x
                        WHERE x->>'status' = 'paused'),
            'disabled', (SELECT count(*) FROM jsonb_array_elements(eps) x
                          WHERE x->>'status' = 'disabled'),
            'breaker_open', (SELECT count(*) FROM jsonb_array_elements(eps) x
                              WHERE x->>'breaker' <> 'closed')),
        'failing', failing,
        'actions', actions,
        'text', text_);
END
$$;

CREATE OR REPLACE FUNCTION hookd.api_summary(a hookd.applications, method text,
                                             seg text[],
                                             OUT status integer, OUT reply jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(seg) <> 4 THEN
        PERFORM hookd.api_fail(404, 'not_found', 'no such route');
    END IF;
    IF method <> 'GET' THEN
        PERFORM hookd.api_fail(405, 'method_not_allowed', 'summary takes GET');
    END IF;
    PERFORM hookd.assist_want(a.id, 'summary', a.id);
    status := 200;
    reply := hookd.app_summary(a) || jsonb_build_object(
        'assist', hookd.assist_latest(a.id, 'summary', a.id));
END
$$;
