-- Fan-out: which endpoints an event goes to. hookd.ingest inserts one
-- delivery per enabled or paused endpoint whose payload filter the event's
-- payload satisfies (payload @@ endpoints.filter_path, docs/routing.md) and
-- with a subscription whose pattern matches the event's type and whose
-- label filter the event's labels contain (events.labels @>
-- subscriptions.label_filter); so does hookd.assist_apply for an event
-- whose label the assist backend changed.

-- 'invoice.paid' matches itself, 'invoice.*' every type below 'invoice.',
-- '*' everything.
CREATE OR REPLACE FUNCTION hookd.type_matches(pattern text, event_type text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pattern = '*'
        OR pattern = event_type
        OR (right(pattern, 2) = '.*'
            AND starts_with(event_type, left(pattern, -1)))
$$;

-- Those endpoints, for one event, and whether the delivery to each waits
-- held (sql/functions/queue.sql). A SQL function of one SELECT, so that
-- PostgreSQL inlines it into the statement that calls it: ingest's batch
-- plans it as if it were written out there.
CREATE OR REPLACE FUNCTION hookd.fanout_endpoints(for_app text, of_type text,
                                                  with_payload jsonb,
                                                  with_labels jsonb)
RETURNS TABLE (endpoint_id text, held boolean) LANGUAGE sql STABLE AS $$
    SELECT ep.id, hookd.endpoint_holds(ep.status, ep.breaker_state)
      FROM hookd.endpoints ep
     WHERE ep.app_id = for_app AND ep.status <> 'disabled'
       AND (ep.filter_path IS NULL OR with_payload @@ ep.filter_path)
       AND EXISTS (
           SELECT 1 FROM hookd.subscriptions s
            WHERE s.app_id = ep.app_id AND s.endpoint_id = ep.id
              AND hookd.type_matches(s.event_type_pattern, of_type)
              AND with_labels @> s.label_filter)
$$;
