-- Every delivery is updated twice (claimed, then completed), so its table
-- piles up dead row versions faster than PostgreSQL's default autovacuum
-- (20% of the table) reclaims them; the claim's index scan then walks past
-- them. Vacuum these hot tables after a small fraction changes, without
-- throttling, so that dead tuples stay bounded under sustained load.
ALTER TABLE hookd.deliveries SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.05
);

-- endpoint rows are tiny and few but rewritten by breakers and rate limits
ALTER TABLE hookd.endpoints SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 500,
    autovacuum_vacuum_cost_delay = 0
);

-- insert-only tables: keep their visibility maps current so that
-- index-only scans and the next freeze stay cheap
ALTER TABLE hookd.events SET (
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);
ALTER TABLE hookd.attempts SET (
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);
