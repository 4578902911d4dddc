-- claim(), as in 003, with its locking step looked up row by row. With a
-- backlog of 20 000 due deliveries the planner joined the few dozen
-- candidates to deliveries with a hash of the whole backlog: 12.5 ms of a
-- 15 ms claim of 25 rows (EXPLAIN ANALYZE through auto_explain).

CREATE OR REPLACE FUNCTION hookd.claim(worker text, n integer,
                                       lease_seconds double precision)
RETURNS TABLE (o_app_id text, o_id text, o_attempt integer, o_event_id text,
               o_url text, o_secrets jsonb, o_timeout_ms integer,
               o_retry_policy jsonb, o_age_seconds double precision,
               o_body text)
LANGUAGE sql AS $$
    WITH candidates AS MATERIALIZED (
        -- the earliest due deliveries, found without locking so that the
        -- scan walks deliveries_due in time order and stops at the limit
        -- (a lock between the sort and the limit would sort the whole
        -- backlog)
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
               -- OFFSET 0 keeps this a per-row look-up, not a hash join
               -- over the whole backlog
               OFFSET 0)
         ORDER BY d.next_attempt_at
         LIMIT n * 4
    ), locked AS (
        -- taken unless another hookd holds them; conditions checked again
        -- on the row as it is once locked. Each candidate is looked up by
        -- its key (LATERAL): a join let the planner hash the whole
        -- backlog to find a few dozen rows.
        SELECT d.app_id, d.id, d.endpoint_id, d.next_attempt_at
          FROM candidates c
         CROSS JOIN LATERAL (
               SELECT x.app_id, x.id, x.endpoint_id, x.next_attempt_at
                 FROM hookd.deliveries x
                WHERE x.app_id = c.app_id AND x.id = c.id
                  AND x.status IN ('pending', 'in_flight')
                  AND x.next_attempt_at <= now()
                  AND (x.status = 'pending' OR x.lease_expires_at < now())
                  FOR NO KEY UPDATE SKIP LOCKED) d
         LIMIT n * 2
    ), numbered AS (
        SELECT l.*, row_number() OVER (PARTITION BY l.app_id, l.endpoint_id
                                       ORDER BY l.next_attempt_at) AS k
          FROM locked l
    ), limited AS (
        -- endpoints that ration their deliveries, locked so that claims of
        -- several hookd processes take turns on their tokens
        SELECT ep.app_id, ep.id, ep.breaker_state, ep.rate_limit,
               CASE WHEN ep.rate_limit IS NULL THEN NULL
                    ELSE least(greatest(ep.rate_limit, 1),
                               coalesce(ep.rate_tokens,
                                        greatest(ep.rate_limit, 1))
                               + extract(epoch FROM now()
                                   - coalesce(ep.rate_updated_at, now()))
                                 * ep.rate_limit) END AS tokens,
               CASE WHEN ep.max_in_flight IS NULL THEN NULL
                    ELSE ep.max_in_flight - (
                        SELECT count(*) FROM hookd.deliveries x
                         WHERE x.app_id = ep.app_id
                           AND x.endpoint_id = ep.id
                           AND x.status = 'in_flight'
                           AND x.lease_expires_at >= now()) END AS room
          FROM hookd.endpoints ep
         WHERE (ep.app_id, ep.id) IN (SELECT app_id, endpoint_id FROM locked)
           AND (ep.breaker_state <> 'closed' OR ep.rate_limit IS NOT NULL
                OR ep.max_in_flight IS NOT NULL)
         ORDER BY ep.app_id, ep.id
           -- NO KEY: ingest's foreign-key checks (KEY SHARE) pass
           FOR NO KEY UPDATE
    ), picked AS (
        SELECT nb.app_id, nb.id, nb.endpoint_id
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
    )
    UPDATE hookd.deliveries d
       SET status = 'in_flight',
           lease_owner = worker,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           attempt_count = d.attempt_count + 1,
           updated_at = now()
      FROM picked, hookd.events e, hookd.endpoints ep
     WHERE d.app_id = picked.app_id AND d.id = picked.id
       AND e.app_id = d.app_id AND e.id = d.event_id
       AND ep.app_id = d.app_id AND ep.id = d.endpoint_id
    RETURNING d.app_id, d.id, d.attempt_count, d.event_id, ep.url,
              ep.secrets, ep.timeout_ms, ep.retry_policy,
              extract(epoch FROM now() - d.created_at)::double precision,
              -- built as text: the documented key order, no padding
              '{"id":' || to_json(e.id) || ',"type":' || to_json(e.event_type)
              || ',"timestamp":' || to_json(hookd.rfc3339(e.received_at))
              || ',"data":' || e.payload::text || '}'
$$;
