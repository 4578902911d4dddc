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

-- The queue's indexes rebuilt once they have grown far past the rows they
-- index. The queue drains to few rows by design; after a backlog of many
-- (a receiver's outage, an application deleted with its backlog) a b-tree
-- keeps every page it grew to, and the claim and the completion over such
-- indexes cost PostgreSQL 10-15% more CPU a delivery until they are rebuilt
-- (docs/benchmarks.md, "The queue's indexes after a backlog"). Rebuilt only
-- while the queue's rows are few: REINDEX holds the queue's writes (the
-- claim, the completion, ingest's enqueue) for its duration, about 0.1-0.3
-- s at 30 000 rows, and waits at most lock_timeout for the queue's lock.
-- Returns how many indexes were rebuilt; one hookd at a time does it.
CREATE OR REPLACE FUNCTION hookd.queue_reindex()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    live     double precision;
    idx      regclass;
    rebuilt  integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('hookd.queue_reindex')) THEN
        RETURN 0;
    END IF;
    SELECT greatest(s.n_live_tup, 0) INTO live
      FROM pg_stat_user_tables s
     WHERE s.relid = 'hookd.queue'::regclass;
    IF coalesce(live, 0) > 100000 THEN
        RETURN 0;
    END IF;
    PERFORM set_config('lock_timeout', '100ms', true);
    -- past 10 MB and ten times the 200 bytes a row's entry takes at most
    FOR idx IN
        SELECT i.indexrelid::regclass
          FROM pg_index i
         WHERE i.indrelid = 'hookd.queue'::regclass
           AND pg_relation_size(i.indexrelid) > 10 * 1024 * 1024
           AND pg_relation_size(i.indexrelid)
               > 10 * 200 * (coalesce(live, 0) + 1000)
    LOOP
        EXECUTE format('REINDEX INDEX %s', idx);
        rebuilt := rebuilt + 1;
    END LOOP;
    RETURN rebuilt;
EXCEPTION WHEN lock_not_available THEN
    -- writes held the queue: the next tick tries again
    RETURN 0;
END
$$;
