-- What hookd's housekeeping tick runs besides the notification outbox.

-- Retention: removes up to `batch` events received more than
-- older_than_seconds ago whose deliveries are all finished, with their
-- deliveries and attempts (sql/functions/cascade.sql), and sent notifications
-- as old. Each call is one short transaction that locks only the rows it
-- removes (SKIP LOCKED: it never waits); hookd calls it again while it
-- returns a full batch. Events still being delivered wait for their
-- deliveries to end. Stats minutes and portal sessions that ended as long
-- ago go too.
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
                      AND d.status = 'pending')
             ORDER BY e.id
             LIMIT batch - removed
               FOR UPDATE SKIP LOCKED
        )
        DELETE FROM hookd.events e USING doomed
         WHERE e.app_id = doomed.app_id AND e.id = doomed.id;
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
    END LOOP;

    -- the stats of minutes as old
    DELETE FROM hookd.stats_minutes
     WHERE (app_id, endpoint_id, minute) IN (
           SELECT app_id, endpoint_id, minute FROM hookd.stats_minutes
            WHERE minute < cutoff LIMIT batch);

    -- portal sessions that ended (expired or revoked) as long ago
    DELETE FROM hookd.portal_sessions
     WHERE coalesce(revoked_at, expires_at) < cutoff
       AND (app_id, id) IN (SELECT app_id, id FROM hookd.portal_sessions
                             WHERE coalesce(revoked_at, expires_at) < cutoff
                             LIMIT batch);

    DELETE FROM hookd.notifications
     WHERE sent_at < cutoff
       AND id IN (SELECT id FROM hookd.notifications WHERE sent_at < cutoff
                   LIMIT batch);
    RETURN removed;
END
$$;
