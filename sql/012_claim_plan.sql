-- The claim is a queue read: it must walk indexes for a few dozen rows
-- whatever the backlog. Under a growing backlog (ingest outpacing delivery)
-- the planner hashed or scanned the whole backlog per claim instead, and
-- delivery fell to a few hundred a second just when it was most needed.
ALTER FUNCTION hookd.claim(text, integer, double precision)
    SET enable_hashjoin = off;
ALTER FUNCTION hookd.claim(text, integer, double precision)
    SET enable_seqscan = off;
