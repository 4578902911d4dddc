-- What hookd's metrics sample every few seconds, and what an operator can
-- ask psql: deliveries due and not yet claimed (counted up to 1 000 000),
-- the age of the oldest one, and endpoints whose breaker is not closed.
CREATE OR REPLACE FUNCTION hookd.delivery_stats()
RETURNS TABLE (due bigint, oldest_due_seconds double precision,
               breakers_open bigint, breakers_half_open bigint)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM (
                SELECT 1 FROM hookd.deliveries
                 WHERE status IN ('pending', 'in_flight')
                   AND status = 'pending' AND next_attempt_at <= now()
                 LIMIT 1000000) q),
           (SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)),
                            0)::double precision
              FROM hookd.deliveries
             WHERE status IN ('pending', 'in_flight')
               AND status = 'pending' AND next_attempt_at <= now()),
           (SELECT count(*) FROM hookd.endpoints
             WHERE breaker_state = 'open'),
           (SELECT count(*) FROM hookd.endpoints
             WHERE breaker_state = 'half_open')
$$;
