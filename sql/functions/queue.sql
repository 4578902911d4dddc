-- The queue (hookd.queue, migration 026): a narrow row per delivery that
-- waits, is in flight or is held; hookd.claim takes due rows from it,
-- hookd.complete moves or removes them. Here: who joins it, and how an
-- endpoint's state holds its rows out of the claim's way and puts them back.

-- Whether an endpoint's deliveries wait held (due_at 'infinity'): it is
-- paused or disabled, or its breaker is open. A half-open endpoint's
-- deliveries are due: the claim lets a few of them through as probes
-- (sql/functions/claim.sql) and holds the others.
CREATE OR REPLACE FUNCTION hookd.endpoint_holds(status text,
                                                breaker_state text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status <> 'enabled' OR breaker_state = 'open'
$$;

-- Pending deliveries of one application join the queue: made outside
-- ingest's batch (a test event, the assist backend's fan-out), or dead
-- letters retried, which leave the dead-letter queue. Due at their
-- next_attempt_at, held when their endpoint holds. Returns how many joined,
-- and wakes hookd when any did.
CREATE OR REPLACE FUNCTION hookd.enqueue(for_app text, ids text[])
RETURNS integer LANGUAGE sql AS $$
    WITH joined AS (
        INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id, due_at,
                                 attempt_number, event_id, created_at)
        SELECT d.app_id, d.endpoint_id, d.id,
               CASE WHEN hookd.endpoint_holds(ep.status, ep.breaker_state)
                    THEN 'infinity' ELSE d.next_attempt_at END,
               d.attempt_count, d.event_id, d.created_at
          FROM hookd.deliveries d
          JOIN hookd.endpoints ep
            ON ep.app_id = d.app_id AND ep.id = d.endpoint_id
         WHERE d.app_id = for_app AND d.id = ANY (ids)
           AND d.status = 'pending'
        ON CONFLICT DO NOTHING
        RETURNING app_id, delivery_id
    ), revived AS (
        DELETE FROM hookd.dead_letter_queue x
         USING joined j
         WHERE x.app_id = j.app_id AND x.delivery_id = j.delivery_id
    ), woken AS (
        SELECT pg_notify('hookd_deliveries', '')
         WHERE EXISTS (SELECT 1 FROM joined)
    )
    SELECT (SELECT count(*) FROM joined)::integer
           + 0 * (SELECT count(*) FROM woken)::integer
$$;

-- Finished deliveries (dead letters, cancelled) sent again: pending and due
-- now, in the queue. Returns how many.
CREATE OR REPLACE FUNCTION hookd.retry_deliveries(for_app text, ids text[])
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hookd.deliveries d
       SET status = 'pending', next_attempt_at = now(), updated_at = now()
     WHERE d.app_id = for_app AND d.id = ANY (ids) AND d.status <> 'pending';
    RETURN hookd.enqueue(for_app, ids);
END
$$;

-- An endpoint that starts holding (paused, disabled, its breaker opened)
-- takes its waiting deliveries out of the claim's way at once; one that
-- stops (resumed, enabled, its breaker closed after a probe) puts them back
-- at their next_attempt_at, so that the longest waiting go first. Those in
-- flight finish; the claim holds a retry of theirs when it meets one. From
-- open to half-open nothing moves: hookd.release_probes lets the probes out.
CREATE OR REPLACE FUNCTION hookd.endpoint_hold_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF hookd.endpoint_holds(NEW.status, NEW.breaker_state) THEN
        UPDATE hookd.queue q
           SET due_at = 'infinity'
         WHERE q.app_id = NEW.app_id AND q.endpoint_id = NEW.id
           AND q.lease_owner IS NULL AND q.due_at < 'infinity';
    ELSE
        UPDATE hookd.queue q
           SET due_at = d.next_attempt_at
          FROM hookd.deliveries d
         WHERE q.app_id = NEW.app_id AND q.endpoint_id = NEW.id
           AND q.due_at = 'infinity'
           AND d.app_id = q.app_id AND d.id = q.delivery_id;
        PERFORM pg_notify('hookd_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER endpoint_hold_changed
    AFTER UPDATE OF status, breaker_state ON hookd.endpoints
    FOR EACH ROW
    WHEN ((hookd.endpoint_holds(OLD.status, OLD.breaker_state)
           OR OLD.breaker_state = 'half_open')
          IS DISTINCT FROM
          (hookd.endpoint_holds(NEW.status, NEW.breaker_state)
           OR NEW.breaker_state = 'half_open'))
    EXECUTE FUNCTION hookd.endpoint_hold_changed();

-- Breakers whose cool-down has passed turn half-open and let probes out of
-- the held rows: the oldest delivery (the most retried) and the two newest
-- (what the endpoint is sent now). New deliveries of a half-open endpoint
-- are due as well; the claim keeps at most three probes in flight. The first
-- success closes the breaker (sql/functions/breaker.sql), which puts every
-- held row back. When the half-open period (a lease) passes with no answer
-- (the probes' hookd died), probes are let out again. Called by the claim;
-- returns how many probes were let out.
CREATE OR REPLACE FUNCTION hookd.release_probes(lease_seconds double precision)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    ep        record;
    released  integer := 0;
    n         integer;
BEGIN
    FOR ep IN
        SELECT e.app_id, e.id
          FROM hookd.endpoints e
         WHERE e.breaker_state <> 'closed' AND e.breaker_until <= now()
           AND e.status = 'enabled'
         ORDER BY e.breaker_until
         LIMIT 100
           FOR NO KEY UPDATE SKIP LOCKED
    LOOP
        UPDATE hookd.endpoints e
           SET breaker_state = 'half_open',
               breaker_until = now() + make_interval(secs => lease_seconds),
               updated_at = now()
         WHERE e.app_id = ep.app_id AND e.id = ep.id;

        UPDATE hookd.queue q
           SET due_at = now()
         WHERE q.app_id = ep.app_id AND q.endpoint_id = ep.id
           AND q.due_at = 'infinity'
           AND q.delivery_id IN (
               (SELECT h.delivery_id FROM hookd.queue h
                 WHERE h.app_id = ep.app_id AND h.endpoint_id = ep.id
                   AND h.due_at = 'infinity'
                 ORDER BY h.delivery_id LIMIT 1)
               UNION ALL
               (SELECT h.delivery_id FROM hookd.queue h
                 WHERE h.app_id = ep.app_id AND h.endpoint_id = ep.id
                   AND h.due_at = 'infinity'
                 ORDER BY h.delivery_id DESC LIMIT 2));
        GET DIAGNOSTICS n = ROW_COUNT;
        released := released + n;
    END LOOP;

    IF released > 0 THEN
        PERFORM pg_notify('hookd_deliveries', '');
    END IF;
    RETURN released;
END
$$;
