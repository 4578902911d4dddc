-- Recording outcomes: hookd sends the outcomes of many attempts (of many
-- applications) in one call.
--
-- outcomes: [{"app_id", "endpoint_id", "delivery_id", "attempt_number",
--   "worker",
--   "started_at": epoch seconds, "duration_ms", "status_code": or null,
--   "error": or null, "error_class": SUCCEEDED, RETRYABLE, NON_RETRYABLE or
--   UNKNOWN, "response_body": its first 4 KiB or null, "retry_in": seconds
--   until the next attempt, or null to give up (the dead letter),
--   "endpoint_gone": true when it answered 410}, …]
--
-- Fenced: an outcome counts only while this worker still holds the lease of
-- that attempt (the queue row's lease_owner and attempt_number); one whose
-- lease was taken over changes nothing. Each recorded outcome is an attempt
-- row and moves its delivery on: out of the queue when it succeeded or gave
-- up (then into the dead-letter queue), or due again at its retry. Per endpoint, it then moves the breaker
-- (sql/functions/breaker.sql), the failure streak that auto-disables an
-- endpoint, and notifies the operator when an endpoint is disabled or its
-- breaker opens. Returns how many outcomes were recorded.
--
-- The batch is shared by applications: when recording it fails on some
-- outcome's data, each outcome is recorded again alone, in a subtransaction
-- of its own; one that still fails is left out (a WARNING in PostgreSQL's
-- log), its lease expires and it is attempted again, and every other is
-- recorded as if it had been alone. Errors that are no outcome's doing
-- (hookd.transient_error) fail the batch, which hookd sends again.
CREATE OR REPLACE FUNCTION hookd.complete(outcomes jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    one       jsonb;
    state     text;
    msg       text;
    recorded  integer := 0;
BEGIN
    BEGIN
        RETURN hookd.complete_outcomes(outcomes);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
        IF hookd.transient_error(state) THEN
            RAISE;
        END IF;
    END;

    FOR one IN SELECT value FROM jsonb_array_elements(outcomes) LOOP
        BEGIN
            recorded := recorded
                        + hookd.complete_outcomes(jsonb_build_array(one));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE,
                                    msg = MESSAGE_TEXT;
            IF hookd.transient_error(state) THEN
                RAISE;
            END IF;
            RAISE WARNING 'hookd: outcome of delivery % not recorded: %',
                          one->>'delivery_id', msg;
        END;
    END LOOP;

    RETURN recorded;
END
$$;

-- The batch as one statement. One plan shape whatever the statistics, as
-- the claim's (each outcome a primary-key look-up): docs/benchmarks.md,
-- "The claim's plan".
CREATE OR REPLACE FUNCTION hookd.complete_outcomes(outcomes jsonb)
RETURNS integer
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $$
DECLARE
    recorded integer;
BEGIN
    WITH o AS (
        -- each outcome's fields in one pass over it (a ->> per field
        -- searched the object for each)
        SELECT v.app_id, v.endpoint_id, v.delivery_id AS id,
               v.attempt_number AS n, v.worker,
               to_timestamp(v.started_at) AS started_at,
               v.duration_ms AS ms, v.status_code, v.error,
               v.error_class AS class, v.response_body AS body,
               -- clamped to the longest retry delay (bounds.sql): an
               -- outcome is recorded even when its schedule is not sane
               -- (least() alone would turn null, give up, into a delay)
               CASE WHEN v.retry_in IS NOT NULL
                    THEN least(v.retry_in, 2592000) END AS next,
               coalesce(v.endpoint_gone, false) AS disable
          FROM jsonb_to_recordset(outcomes) AS v(
                   app_id text, endpoint_id text, delivery_id text,
                   attempt_number integer, worker text,
                   started_at double precision, duration_ms integer,
                   status_code integer, error text, error_class text,
                   response_body text, retry_in double precision,
                   endpoint_gone boolean)
    ), done AS (
        -- the owner and the attempt number fence the claim; done or given
        -- up, the delivery leaves the queue
        DELETE FROM hookd.queue q
         USING o
         WHERE q.app_id = o.app_id AND q.endpoint_id = o.endpoint_id
           AND q.delivery_id = o.id
           AND q.lease_owner = o.worker AND q.attempt_number = o.n
           AND (o.class = 'SUCCEEDED' OR o.next IS NULL)
        -- the outcome rides along: joined back to the rows instead, it was
        -- a nested loop over both sets
        RETURNING o.*
    ), again AS (
        UPDATE hookd.queue q
           SET due_at = now() + make_interval(secs => o.next),
               lease_owner = NULL, counted = false
          FROM o
         WHERE q.app_id = o.app_id AND q.endpoint_id = o.endpoint_id
           AND q.delivery_id = o.id
           AND q.lease_owner = o.worker AND q.attempt_number = o.n
           AND o.class <> 'SUCCEEDED' AND o.next IS NOT NULL
        RETURNING o.*
    ), fenced AS (
        -- the delivery's one rewrite for this attempt, a HOT update: no
        -- index of deliveries covers what changes here
        UPDATE hookd.deliveries d
           SET status = CASE WHEN o.class = 'SUCCEEDED' THEN 'succeeded'
                             WHEN o.next IS NULL THEN 'failed'
                             ELSE 'pending' END,
               attempt_count = o.n,
               next_attempt_at = CASE WHEN o.next IS NULL THEN d.next_attempt_at
                   ELSE now() + make_interval(secs => o.next) END,
               last_error = CASE WHEN o.class = 'SUCCEEDED' THEN NULL
                   ELSE coalesce(o.error, 'HTTP ' || o.status_code) END,
               updated_at = now()
          FROM (SELECT * FROM done UNION ALL SELECT * FROM again) o
         WHERE d.app_id = o.app_id AND d.id = o.id
        RETURNING d.app_id, d.id, d.endpoint_id, o.n, o.worker, o.started_at,
                  o.ms, o.status_code, o.error, o.class, o.body, o.disable,
                  o.next
    ), dead AS (
        INSERT INTO hookd.dead_letter_queue (app_id, endpoint_id, delivery_id)
        SELECT f.app_id, f.endpoint_id, f.id
          FROM fenced f
         WHERE f.class <> 'SUCCEEDED' AND f.next IS NULL
        ON CONFLICT DO NOTHING
    ), att AS (
        INSERT INTO hookd.attempts
               (app_id, delivery_id, endpoint_id, attempt_number, started_at,
                duration_ms, status_code, error, error_class, response_body,
                worker)
        SELECT f.app_id, f.id, f.endpoint_id, f.n, f.started_at, f.ms,
               f.status_code, f.error, f.class, f.body, f.worker
          FROM fenced f
        RETURNING app_id, id
    ), tailed AS (
        -- what the live tail fetches (sql/functions/tail.sql)
        SELECT hookd.tail_notify('d', array_agg(t.app_id), array_agg(t.id)) AS n
          FROM att t
    ), per_endpoint AS (
        SELECT o.app_id, o.endpoint_id,
               bool_or(o.disable) AS gone,
               max(o.started_at) FILTER (WHERE o.class = 'SUCCEEDED')
                   AS last_ok,
               array_agg(o.started_at) FILTER (
                   WHERE o.class IN ('RETRYABLE', 'UNKNOWN')) AS fails,
               array_agg(o.started_at) FILTER (
                   WHERE o.class <> 'SUCCEEDED') AS any_fails,
               (array_agg(coalesce(o.error, 'HTTP ' || o.status_code)
                          ORDER BY o.started_at DESC) FILTER (
                   WHERE o.class <> 'SUCCEEDED'))[1] AS last_error
          FROM fenced o
         GROUP BY o.app_id, o.endpoint_id
    ), counted AS (
        SELECT p.*,
               (SELECT count(*) FROM unnest(p.fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS new_fails,
               (SELECT count(*) FROM unnest(p.any_fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS new_any,
               (SELECT min(t) FROM unnest(p.any_fails) t
                 WHERE p.last_ok IS NULL OR t > p.last_ok) AS first_fail
          FROM per_endpoint p
    ), current AS (
        -- locked: completions of several hookd processes count in turn
        SELECT c.*, ep.breaker_state AS was, ep.breaker_opens AS opens,
               ep.breaker_threshold AS threshold, ep.status AS ep_status,
               CASE WHEN c.last_ok IS NOT NULL THEN c.new_fails::integer
                    ELSE ep.consecutive_failures + c.new_fails::integer END
                   AS failures,
               CASE WHEN c.last_ok IS NOT NULL THEN c.new_any::integer
                    ELSE ep.failure_streak + c.new_any::integer END
                   AS streak,
               CASE WHEN c.new_any = 0 AND c.last_ok IS NOT NULL THEN NULL
                    WHEN c.last_ok IS NOT NULL THEN c.first_fail
                    ELSE coalesce(ep.failing_since, c.first_fail) END
                   AS since,
               ep.disable_after_failures, ep.disable_after_seconds
          FROM counted c
          JOIN hookd.endpoints ep
            ON ep.app_id = c.app_id AND ep.id = c.endpoint_id
         -- a healthy endpoint that stays healthy is left alone: rewriting
         -- its row on every batch would pile up dead versions of one hot
         -- row that ingest's fan-out reads for every event
         WHERE c.gone OR c.new_any > 0 OR ep.breaker_state <> 'closed'
            OR ep.consecutive_failures > 0 OR ep.failure_streak > 0
         ORDER BY ep.app_id, ep.id
           FOR NO KEY UPDATE OF ep
    ), next AS (
        SELECT cu.*,
               hookd.breaker_next(cu.was, cu.new_fails, cu.failures,
                                  cu.threshold, cu.last_ok IS NOT NULL)
                   AS state,
               CASE WHEN cu.ep_status = 'disabled' THEN NULL
                    WHEN cu.gone THEN 'the endpoint answered 410 Gone'
                    WHEN cu.streak >= cu.disable_after_failures
                    THEN format('%s attempts in a row failed (last: %s)',
                                cu.streak, cu.last_error)
                    WHEN cu.streak > 0 AND cu.since <= now()
                         - make_interval(secs => cu.disable_after_seconds)
                    THEN format('every attempt failed since %s (last: %s)',
                                hookd.rfc3339(cu.since), cu.last_error)
                    END AS disable_reason
          FROM current cu
    ), moved AS (
        UPDATE hookd.endpoints ep
           SET status = CASE WHEN nx.disable_reason IS NOT NULL
                             THEN 'disabled' ELSE ep.status END,
               disabled_reason = coalesce(nx.disable_reason,
                                          ep.disabled_reason),
               disabled_at = CASE WHEN nx.disable_reason IS NOT NULL
                                  THEN now() ELSE ep.disabled_at END,
               consecutive_failures = CASE
                   WHEN nx.was = 'half_open' AND nx.state = 'closed' THEN 0
                   ELSE nx.failures END,
               failure_streak = nx.streak,
               failing_since = CASE WHEN nx.streak = 0 THEN NULL
                                    ELSE nx.since END,
               breaker_state = nx.state,
               -- failures of deliveries that were in flight when it opened
               -- (or of the other probes) leave an open breaker as it is
               breaker_opens = CASE WHEN nx.state = 'open' AND nx.was = 'open'
                                    THEN nx.opens
                                    WHEN nx.state = 'open' THEN nx.opens + 1
                                    WHEN nx.state = 'closed' THEN 0
                                    ELSE nx.opens END,
               breaker_until = CASE WHEN nx.state = 'open' AND nx.was = 'open'
                   THEN ep.breaker_until
                   WHEN nx.state = 'open'
                   THEN now() + hookd.breaker_cooldown(
                            ep.breaker_cooldown_seconds,
                            ep.breaker_cooldown_max_seconds, nx.opens)
                   ELSE NULL END,
               updated_at = now()
          FROM next nx
         WHERE ep.app_id = nx.app_id AND ep.id = nx.endpoint_id
        RETURNING ep.app_id, ep.id, ep.url, nx.disable_reason,
                  nx.state = 'open' AND nx.was = 'closed' AS opened,
                  ep.breaker_until
    ), notified AS (
        SELECT hookd.notify_operator(m.app_id, m.id, 'endpoint_disabled',
                   format('endpoint %s (%s) was disabled: %s', m.id, m.url,
                          m.disable_reason))
          FROM moved m WHERE m.disable_reason IS NOT NULL
        UNION ALL
        SELECT hookd.notify_operator(m.app_id, m.id, 'breaker_opened',
                   format('the circuit breaker of endpoint %s (%s) opened '
                          'after repeated failures; next probe at %s',
                          m.id, m.url, hookd.rfc3339(m.breaker_until)))
          FROM moved m WHERE m.opened AND m.disable_reason IS NULL
    )
    SELECT (SELECT count(*) FROM att) + 0 * (SELECT count(*) FROM notified)
           + 0 * (SELECT count(*) FROM tailed)
      INTO recorded;

    RETURN recorded;
END
$$;
