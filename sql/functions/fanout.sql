-- Fan-out: which endpoints an event goes to. hookd.ingest inserts one
-- delivery per enabled or paused endpoint whose payload filter the event's
-- payload satisfies (payload @@ endpoints.filter_path, docs/routing.md) and
-- with a subscription whose pattern matches the event's type and whose
-- label filter the event's labels contain (events.labels @>
-- subscriptions.label_filter).

-- 'invoice.paid' matches itself, 'invoice.*' every type below 'invoice.',
-- '*' everything.
CREATE OR REPLACE FUNCTION hookd.type_matches(pattern text, event_type text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pattern = '*'
        OR pattern = event_type
        OR (right(pattern, 2) = '.*'
            AND starts_with(event_type, left(pattern, -1)))
$$;
