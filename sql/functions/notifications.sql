-- Operator notifications: an outbox that hookd.complete and the
-- dead-letter check fill, and that hookd's housekeeping tick sends (a JSON
-- POST and/or an email) at a bounded rate. A notification not yet sent
-- absorbs repeats of itself (same endpoint and kind) instead of adding rows.

CREATE OR REPLACE FUNCTION hookd.notify_operator(app text, endpoint text,
                                                 what text, msg text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO hookd.notifications AS n (app_id, endpoint_id, kind, message)
    VALUES (app, endpoint, what, msg)
    ON CONFLICT (app_id, endpoint_id, kind) WHERE sent_at IS NULL
    DO UPDATE SET repeats = n.repeats + 1, message = excluded.message
$$;

-- Endpoints with at least `threshold` deliveries dead-lettered within the
-- last `window_seconds` get a dead_letters notification, at most one per
-- window. hookd calls it on its notification tick.
CREATE OR REPLACE FUNCTION hookd.notice_dead_letters(threshold integer,
                                                     window_seconds double precision)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r        record;
    noticed  integer := 0;
BEGIN
    FOR r IN
        SELECT x.app_id, x.endpoint_id, count(*) AS n
          FROM hookd.dead_letter_queue x
         WHERE x.failed_at > now() - make_interval(secs => window_seconds)
         GROUP BY x.app_id, x.endpoint_id
        HAVING count(*) >= threshold
    LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM hookd.notifications n
             WHERE n.app_id = r.app_id AND n.endpoint_id = r.endpoint_id
               AND n.kind = 'dead_letters'
               AND n.created_at > now() - make_interval(secs => window_seconds));
        PERFORM hookd.notify_operator(r.app_id, r.endpoint_id, 'dead_letters',
            format('%s deliveries to endpoint %s went to the dead-letter state '
                   'in the last %s minutes', r.n, r.endpoint_id,
                   round(window_seconds / 60)));
        noticed := noticed + 1;
    END LOOP;
    RETURN noticed;
END
$$;

CREATE OR REPLACE FUNCTION hookd.take_notifications(n integer)
RETURNS TABLE (o_id text, o_kind text, o_app_id text, o_endpoint_id text,
               o_message text, o_repeats integer, o_created_at text)
LANGUAGE sql AS $$
    UPDATE hookd.notifications x
       SET tries = x.tries + 1,
           next_try_at = now() + make_interval(secs => 60 * least(60, 2 ^ x.tries))
      FROM (SELECT id FROM hookd.notifications
             WHERE sent_at IS NULL AND next_try_at <= now() AND tries < 10
             ORDER BY next_try_at
             LIMIT n
               FOR UPDATE SKIP LOCKED) due
     WHERE x.id = due.id
    RETURNING x.id, x.kind, x.app_id, x.endpoint_id, x.message, x.repeats,
              hookd.rfc3339(x.created_at)
$$;

-- ids: a JSON array of notification ids; error NULL when they were sent
CREATE OR REPLACE FUNCTION hookd.notifications_done(ids jsonb, error text)
RETURNS integer LANGUAGE sql AS $$
    WITH done AS (
        UPDATE hookd.notifications x
           SET sent_at = CASE WHEN error IS NULL THEN now() END,
               last_error = error
         WHERE x.id IN (SELECT jsonb_array_elements_text(ids))
        RETURNING 1)
    SELECT count(*)::integer FROM done
$$;
