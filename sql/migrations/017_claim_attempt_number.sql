-- hookd.claim's result column o_attempt is now o_attempt_number, the name
-- the attempts table gives it. A function's result cannot change in place:
-- it is dropped here, and sql/functions/claim.sql creates it anew.
DROP FUNCTION IF EXISTS hookd.claim(text, integer, double precision);
