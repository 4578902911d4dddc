-- What hookd's housekeeping tick runs: sending the notification outbox,
-- and retention.

-- A notification is taken for sending with a lease: next_try_at moves out
-- (longer after each failed try), so that another hookd leaves it alone
-- meanwhile and a failed send is tried again later. After 10 tries it
-- stays unsent, with the last error, for an operator to read.
ALTER TABLE hookd.notifications
    ADD COLUMN IF NOT EXISTS tries integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS next_try_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS last_error text;
CREATE INDEX IF NOT EXISTS notifications_due
    ON hookd.notifications (next_try_at) WHERE sent_at IS NULL;

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

-- Retention: removes up to `batch` events received more than
-- older_than_seconds ago whose deliveries are all finished, with their
-- deliveries and attempts (foreign keys cascade), and sent notifications
-- as old. Each call is one short transaction that locks only the rows it
-- removes (SKIP LOCKED: it never waits); hookd calls it again while it
-- returns a full batch. Events still being delivered wait for their
-- deliveries to end.
CREATE OR REPLACE FUNCTION hookd.purge(older_than_seconds double precision,
                                      batch integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    cutoff   timestamptz := now() - make_interval(secs => older_than_seconds);
    app      text;
    removed  integer := 0;
    n        integer;
BEGIN
    -- per application, oldest first along the primary key: an event id
    -- starts with the time it was made, just after its received_at, so the
    -- ids below id_floor(cutoff) are old events (those of the last
    -- milliseconds before the cutoff wait for the next round)
    FOR app IN SELECT id FROM hookd.applications ORDER BY id LOOP
        EXIT WHEN removed >= batch;
        WITH doomed AS (
            SELECT e.app_id, e.id
              FROM hookd.events e
             WHERE e.app_id = app AND e.id < hookd.id_floor('evt', cutoff)
               AND e.received_at < cutoff
               AND NOT EXISTS (
                   SELECT 1 FROM hookd.deliveries d
                    WHERE d.app_id = e.app_id AND d.event_id = e.id
                      AND d.status IN ('pending', 'in_flight'))
             ORDER BY e.id
             LIMIT batch - removed
               FOR UPDATE SKIP LOCKED)
        DELETE FROM hookd.events e USING doomed
         WHERE e.app_id = doomed.app_id AND e.id = doomed.id;
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
    END LOOP;

    DELETE FROM hookd.notifications
     WHERE sent_at < cutoff
       AND id IN (SELECT id FROM hookd.notifications WHERE sent_at < cutoff
                   LIMIT batch);
    RETURN removed;
END
$$;
