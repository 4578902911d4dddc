-- The claim: up to n due deliveries of enabled endpoints whose breaker lets
-- them through, within each endpoint's rate limit and in-flight cap:
-- pending ones whose time has come, and in-flight ones whose lease expired
-- (their hookd died). Each gets this worker's lease and its attempt number
-- (o_attempt_number, which fences hookd.complete); rows are locked only for
-- this short statement, never across the HTTP call. An open breaker whose
-- cool-down has passed lets one delivery through as its probe (half_open,
-- sql/functions/breaker.sql).
--
-- One plan shape whatever the statistics: every table after the walk of
-- deliveries_due is reached through a LATERAL subquery PostgreSQL may not
-- flatten (OFFSET 0, or a row lock), so each is a primary-key look-up per
-- claimed row, and the function's settings keep the walk an index scan in
-- time order that stops at its limit. PL/pgSQL so that the generic plan is
-- made once per connection; no JIT. Why each of these: docs/benchmarks.md,
-- "The claim's plan".
CREATE OR REPLACE FUNCTION hookd.claim(worker text, n integer,
                                       lease_seconds double precision)
RETURNS TABLE (o_app_id text, o_id text, o_attempt_number integer,
               o_event_id text, o_url text, o_secrets jsonb, o_timeout_ms integer,
               o_retry_policy jsonb, o_age_seconds double precision,
               o_body text, o_headers_sealed text, o_auth_sealed text)
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $$
BEGIN
    RETURN QUERY
    WITH candidates AS MATERIALIZED (
        -- the earliest due deliveries, found without locking so that the
        -- scan stops at the limit (a lock between the sort and the limit
        -- would sort the whole backlog)
        SELECT d.app_id, d.id
          FROM hookd.deliveries d
         WHERE d.status IN ('pending', 'in_flight')
           AND d.next_attempt_at <= now()
           AND (d.status = 'pending' OR d.lease_expires_at < now())
           AND NOT EXISTS (
               SELECT 1 FROM hookd.endpoints ep
                WHERE ep.app_id = d.app_id AND ep.id = d.endpoint_id
                  AND (ep.status <> 'enabled'
                       OR (ep.breaker_state <> 'closed'
                           AND ep.breaker_until > now()))
               OFFSET 0)
         ORDER BY d.next_attempt_at
         LIMIT n * 4
    ), locked AS MATERIALIZED (
        -- taken unless another hookd holds them; the conditions are checked
        -- again on the row as it is once locked. Written as one CASE so
        -- that deliveries_due cannot serve this look-up (its predicate is
        -- not implied): on "the table is tiny" statistics the planner took
        -- it over the primary key, and filtered the whole backlog per row.
        SELECT l.*
          FROM candidates c
         CROSS JOIN LATERAL (
               SELECT d.app_id, d.id, d.endpoint_id, d.event_id,
                      d.next_attempt_at
                 FROM hookd.deliveries d
                WHERE d.app_id = c.app_id AND d.id = c.id
                  AND CASE d.status
                          WHEN 'pending' THEN d.next_attempt_at <= now()
                          WHEN 'in_flight' THEN d.next_attempt_at <= now()
                               AND d.lease_expires_at < now()
                          ELSE false END
                  FOR NO KEY UPDATE OF d SKIP LOCKED) l
         LIMIT n * 2
    ), numbered AS (
        SELECT l.*, row_number() OVER (PARTITION BY l.app_id, l.endpoint_id
                                       ORDER BY l.next_attempt_at) AS k
          FROM locked l
    ), limited AS MATERIALIZED (
        -- endpoints that ration their deliveries, locked so that claims of
        -- several hookd processes take turns on their tokens
        SELECT ep.*
          FROM (SELECT DISTINCT app_id, endpoint_id FROM locked) u
         CROSS JOIN LATERAL (
               SELECT ep.app_id, ep.id, ep.breaker_state, ep.rate_limit,
                      CASE WHEN ep.rate_limit IS NULL THEN NULL
                           ELSE least(greatest(ep.rate_limit, 1),
                                      coalesce(ep.rate_tokens,
                                               greatest(ep.rate_limit, 1))
                                      + extract(epoch FROM now()
                                          - coalesce(ep.rate_updated_at,
                                                     now()))
                                        * ep.rate_limit) END AS tokens,
                      -- the status as a sub-select: then deliveries_due's
                      -- predicate is not implied, and the endpoint's own
                      -- index is the only one that can count its in-flight
                      -- deliveries (deliveries_due would filter the whole
                      -- backlog)
                      CASE WHEN ep.max_in_flight IS NULL THEN NULL
                           ELSE ep.max_in_flight - (
                               SELECT count(*) FROM hookd.deliveries x
                                WHERE x.app_id = ep.app_id
                                  AND x.endpoint_id = ep.id
                                  AND x.status = (SELECT 'in_flight'::text)
                                  AND x.lease_expires_at >= now()) END
                          AS room
                 FROM hookd.endpoints ep
                WHERE ep.app_id = u.app_id AND ep.id = u.endpoint_id
                  AND (ep.breaker_state <> 'closed'
                       OR ep.rate_limit IS NOT NULL
                       OR ep.max_in_flight IS NOT NULL)
                  -- NO KEY: ingest's foreign-key checks (KEY SHARE) pass
                  FOR NO KEY UPDATE OF ep) ep
         ORDER BY ep.app_id, ep.id
    ), picked AS MATERIALIZED (
        SELECT nb.app_id, nb.id, nb.endpoint_id, nb.event_id
          FROM numbered nb
          LEFT JOIN limited lm
            ON lm.app_id = nb.app_id AND lm.id = nb.endpoint_id
         WHERE lm.id IS NULL
            OR (nb.k <= CASE WHEN lm.breaker_state <> 'closed' THEN 1
                             ELSE n END
                AND (lm.tokens IS NULL OR nb.k <= floor(lm.tokens))
                AND (lm.room IS NULL OR nb.k <= lm.room))
         ORDER BY nb.next_attempt_at
         LIMIT n
    ), rationed AS (
        UPDATE hookd.endpoints ep
           SET rate_tokens = CASE WHEN lm.tokens IS NULL THEN ep.rate_tokens
                                  ELSE lm.tokens - c.taken END,
               rate_updated_at = CASE WHEN lm.tokens IS NULL
                                      THEN ep.rate_updated_at ELSE now() END,
               -- the probe: one delivery, and no other until its lease ends
               breaker_state = CASE WHEN ep.breaker_state = 'closed'
                                    THEN 'closed' ELSE 'half_open' END,
               breaker_until = CASE WHEN ep.breaker_state = 'closed'
                                    THEN ep.breaker_until
                                    ELSE now() + make_interval(
                                             secs => lease_seconds) END
          FROM limited lm,
               (SELECT app_id, endpoint_id, count(*) AS taken
                  FROM picked GROUP BY app_id, endpoint_id) c
         WHERE ep.app_id = lm.app_id AND ep.id = lm.id
           AND c.app_id = lm.app_id AND c.endpoint_id = lm.id
        RETURNING 1
    ), claimed AS (
        -- deliveries has no index that a join on (app_id, id) alone could
        -- take but its primary key
        UPDATE hookd.deliveries d
           SET status = 'in_flight',
               lease_owner = worker,
               lease_expires_at = now() + make_interval(secs => lease_seconds),
               attempt_count = d.attempt_count + 1,
               updated_at = now()
          FROM picked
         WHERE d.app_id = picked.app_id AND d.id = picked.id
        RETURNING d.app_id, d.id, d.attempt_count, d.event_id, d.endpoint_id,
                  d.created_at
    )
    SELECT c.app_id, c.id, c.attempt_count, c.event_id, ep.url, ep.secrets,
           ep.timeout_ms, ep.retry_policy,
           extract(epoch FROM now() - c.created_at)::double precision,
           ev.body, ep.headers_sealed, ep.auth_sealed
      FROM claimed c
     CROSS JOIN LATERAL (
           -- built as text: the documented key order, no padding
           SELECT '{"id":' || to_json(e.id) || ',"type":'
                  || to_json(e.event_type) || ',"timestamp":'
                  || to_json(hookd.rfc3339(e.received_at)) || ',"data":'
                  || e.payload::text || '}' AS body
             FROM hookd.events e
            WHERE e.app_id = c.app_id AND e.id = c.event_id
           OFFSET 0) ev
     CROSS JOIN LATERAL (
           SELECT ep.url, ep.secrets, ep.timeout_ms, ep.retry_policy,
                  ep.headers_sealed, ep.auth_sealed
             FROM hookd.endpoints ep
            WHERE ep.app_id = c.app_id AND ep.id = c.endpoint_id
           OFFSET 0) ep;
END
$$;


-- Leases of attempts still running, extended so that a lease always
-- outlasts the attempt it covers (an endpoint's timeout may be longer than
-- hookd's lease): no second attempt starts while the first may still be
-- answered. Fenced as hookd.complete is, by owner and attempt number.
-- attempts: [{"app_id", "delivery_id", "attempt_number"}, …]; returns how
-- many leases were extended.
CREATE OR REPLACE FUNCTION hookd.extend_leases(worker text, attempts jsonb,
                                               lease_seconds double precision)
RETURNS integer LANGUAGE sql AS $$
    WITH extended AS (
        UPDATE hookd.deliveries d
           SET lease_expires_at = now() + make_interval(secs => lease_seconds)
          FROM jsonb_array_elements(attempts) a
         WHERE d.app_id = a->>'app_id' AND d.id = a->>'delivery_id'
           AND d.lease_owner = worker
           AND d.attempt_count = (a->>'attempt_number')::integer
        RETURNING 1)
    SELECT count(*)::integer FROM extended
$$;
