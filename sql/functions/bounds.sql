-- The bounds of every number an application or operator may set on an
-- endpoint (docs/hookd.md, "Bounds"). They are checked where a value is
-- accepted (the admin API answers 400 naming the field), and they keep
-- what the delivery statements compute inside what PostgreSQL represents:
-- a retry delay or a breaker's cool-down past them would overflow an
-- interval in a statement that records many applications' outcomes at once.

-- name, lowest, highest, integer only
CREATE OR REPLACE FUNCTION hookd.endpoint_bounds()
RETURNS TABLE (name text, lo numeric, hi numeric, whole boolean)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('timeout_ms', 100, 300000, true),
           ('retry_policy.base_seconds', 0.01, 86400, false),
           ('retry_policy.cap_seconds', 0.01, 2592000, false),
           ('retry_policy.max_attempts', 1, 1000, true),
           ('retry_policy.max_age_seconds', 1, 2592000, false),
           ('rate_limit', 0.01, 100000, false),
           ('max_in_flight', 1, 100000, true),
           ('breaker_threshold', 1, 100000, true),
           ('breaker_cooldown_seconds', 0.01, 86400, false),
           ('breaker_cooldown_max_seconds', 0.01, 604800, false),
           ('disable_after_failures', 1, 1000000, true),
           ('disable_after_seconds', 1, 31536000, false)
$$;

-- What is wrong with v as the field `name`, or NULL when it is in bounds.
CREATE OR REPLACE FUNCTION hookd.bound_error(name text, v jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(v) IS DISTINCT FROM 'number'
             OR (b.whole AND (v::text)::numeric <> trunc((v::text)::numeric))
             OR (v::text)::numeric NOT BETWEEN b.lo AND b.hi
        THEN format('%s must be %s from %s to %s', name,
                    CASE WHEN b.whole THEN 'an integer' ELSE 'a number' END,
                    b.lo, b.hi) END
      FROM hookd.endpoint_bounds() b
     WHERE b.name = bound_error.name
$$;

-- What is wrong with a retry policy, or NULL.
CREATE OR REPLACE FUNCTION hookd.retry_policy_error(p jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(p) IS DISTINCT FROM 'object'
        THEN 'retry_policy must be a JSON object'
        ELSE (SELECT x.error
                FROM (SELECT e.key, CASE
                          WHEN e.key NOT IN ('strategy', 'base_seconds',
                                             'cap_seconds', 'max_attempts',
                                             'max_age_seconds')
                          THEN format('retry_policy.%s is unknown; allowed: '
                                      'strategy, base_seconds, cap_seconds, '
                                      'max_attempts, max_age_seconds', e.key)
                          WHEN e.key = 'strategy'
                          THEN CASE WHEN e.value NOT IN ('"exponential"',
                                                         '"constant"')
                               THEN 'retry_policy.strategy must be '
                                    '"exponential" or "constant"' END
                          ELSE hookd.bound_error('retry_policy.' || e.key,
                                                 e.value) END AS error
                        FROM jsonb_each(p) e) x
               WHERE x.error IS NOT NULL
               ORDER BY x.key
               LIMIT 1) END
$$;
