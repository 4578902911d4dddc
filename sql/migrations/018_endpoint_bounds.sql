-- Every number an endpoint may carry within the bounds the admin API now
-- checks (sql/functions/bounds.sql, docs/hookd.md "Bounds"): rows written
-- before are brought inside them, and the table refuses values outside.
-- A retry policy keeps only what it may hold, clamped; what it loses falls
-- back to the default.
UPDATE hookd.endpoints ep
   SET retry_policy = coalesce((
       SELECT jsonb_object_agg(e.key, CASE e.key
                  WHEN 'strategy' THEN e.value
                  WHEN 'base_seconds' THEN to_jsonb(least(greatest(
                      (e.value::text)::numeric, 0.01), 86400))
                  WHEN 'cap_seconds' THEN to_jsonb(least(greatest(
                      (e.value::text)::numeric, 0.01), 2592000))
                  WHEN 'max_attempts' THEN to_jsonb(least(greatest(
                      round((e.value::text)::numeric), 1), 1000))
                  ELSE to_jsonb(least(greatest(
                      (e.value::text)::numeric, 1), 2592000)) END)
         FROM jsonb_each(ep.retry_policy) e
        WHERE (e.key = 'strategy'
               AND e.value IN ('"exponential"', '"constant"'))
           OR (e.key IN ('base_seconds', 'cap_seconds', 'max_attempts',
                         'max_age_seconds')
               AND jsonb_typeof(e.value) = 'number')), '{}')
 WHERE ep.retry_policy <> '{}';

UPDATE hookd.endpoints
   SET rate_limit = least(greatest(rate_limit, 0.01), 100000),
       max_in_flight = least(max_in_flight, 100000),
       breaker_threshold = least(breaker_threshold, 100000),
       breaker_cooldown_seconds = least(greatest(breaker_cooldown_seconds,
                                                 0.01), 86400),
       breaker_cooldown_max_seconds = least(greatest(
           breaker_cooldown_max_seconds, 0.01), 604800),
       disable_after_failures = least(disable_after_failures, 1000000),
       disable_after_seconds = least(greatest(disable_after_seconds, 1),
                                     31536000)
 WHERE rate_limit NOT BETWEEN 0.01 AND 100000
    OR max_in_flight > 100000 OR breaker_threshold > 100000
    OR breaker_cooldown_seconds NOT BETWEEN 0.01 AND 86400
    OR breaker_cooldown_max_seconds NOT BETWEEN 0.01 AND 604800
    OR disable_after_failures > 1000000
    OR disable_after_seconds NOT BETWEEN 1 AND 31536000;

ALTER TABLE hookd.endpoints
    ADD CONSTRAINT endpoints_bounds CHECK (
        rate_limit BETWEEN 0.01 AND 100000
        AND max_in_flight <= 100000
        AND breaker_threshold <= 100000
        AND breaker_cooldown_seconds BETWEEN 0.01 AND 86400
        AND breaker_cooldown_max_seconds BETWEEN 0.01 AND 604800
        AND disable_after_failures <= 1000000
        AND disable_after_seconds BETWEEN 1 AND 31536000);
