-- The circuit breaker of each endpoint, kept in the endpoint's row
-- (breaker_state, breaker_until, breaker_opens, consecutive_failures) so
-- that every hookd process agrees on it.
--
-- closed: deliveries go out. After breaker_threshold consecutive failed
--   attempts (RETRYABLE or UNKNOWN: an endpoint that answers 4xx is up) it
--   opens.
-- open: nothing is claimed, so no attempt is burnt, until breaker_until: a
--   cool-down of breaker_cooldown_seconds, doubled at each reopening up to
--   breaker_cooldown_max_seconds.
-- half_open: the claim lets one delivery through as a probe (and no other
--   until its lease ends); its failure reopens the breaker, any answer that
--   is not a failure (a 2xx, or a 4xx) closes it.
--
-- hookd.claim holds back open breakers and takes the probe; hookd.complete
-- moves the state with these two rules, which PostgreSQL inlines.

-- The state after one batch of an endpoint's outcomes: new_failures of them
-- failed, which makes `failures` in a row; succeeded when one of them did.
CREATE OR REPLACE FUNCTION hookd.breaker_next(was text, new_failures bigint,
                                              failures integer,
                                              threshold integer,
                                              succeeded boolean)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN new_failures > 0
                     AND (failures >= threshold
                          OR (was = 'half_open' AND NOT succeeded))
                THEN 'open'
                WHEN succeeded OR was = 'half_open' THEN 'closed'
                ELSE was END
$$;

-- How long the breaker stays open after its opens-th reopening.
CREATE OR REPLACE FUNCTION hookd.breaker_cooldown(
    cooldown_seconds double precision, cooldown_max_seconds double precision,
    opens integer)
RETURNS interval LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- 2 ^ opens is bounded: an endpoint reopened a thousand times would
    -- overflow a double precision
    SELECT make_interval(secs => least(cooldown_max_seconds,
                                       cooldown_seconds * 2 ^ least(opens, 30)))
$$;
