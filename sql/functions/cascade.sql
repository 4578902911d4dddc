-- What deleting an event or an endpoint takes with it. Foreign keys did
-- this until migration 026; their checks locked the referenced rows on
-- every delivery and attempt written (docs/benchmarks.md, "The delivery
-- path"), while deletions are rare: so these triggers, which cost nothing
-- when rows are written, cascade as the keys did, whoever deletes
-- (retention, the admin API, psql; an application's deletion reaches them
-- through its own keys).

-- An event's deliveries, their attempts and their queue rows.
CREATE OR REPLACE FUNCTION hookd.event_deleted()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        DELETE FROM hookd.deliveries d
         WHERE d.app_id = OLD.app_id AND d.event_id = OLD.id
        RETURNING d.app_id, d.endpoint_id, d.id
    ), tried AS (
        DELETE FROM hookd.attempts a
         USING gone g
         WHERE a.app_id = g.app_id AND a.delivery_id = g.id
    )
    DELETE FROM hookd.queue q
     USING gone g
     WHERE q.app_id = g.app_id AND q.endpoint_id = g.endpoint_id
       AND q.delivery_id = g.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER event_deleted
    AFTER DELETE ON hookd.events
    FOR EACH ROW EXECUTE FUNCTION hookd.event_deleted();

-- An endpoint's queue rows, deliveries and attempts.
CREATE OR REPLACE FUNCTION hookd.endpoint_deleted()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM hookd.queue q
     WHERE q.app_id = OLD.app_id AND q.endpoint_id = OLD.id;
    DELETE FROM hookd.attempts a
     WHERE a.app_id = OLD.app_id AND a.endpoint_id = OLD.id;
    DELETE FROM hookd.deliveries d
     WHERE d.app_id = OLD.app_id AND d.endpoint_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER endpoint_deleted
    AFTER DELETE ON hookd.endpoints
    FOR EACH ROW EXECUTE FUNCTION hookd.endpoint_deleted();
