-- PostgreSQL checks a foreign key by looking the referenced row up by its
-- key, (app_id, id). On a table it has not analyzed yet (a new install,
-- the first minute of traffic) every index whose first column is app_id
-- costs the same as the primary key for that look-up, and the planner took
-- events_received: each delivery inserted then scanned all of its
-- application's events, and the plan stayed cached for the session
-- (ingest with an endpoint fell to about 1k events/s). So no secondary
-- index of a referenced table starts with app_id: the primary key is the
-- only index such a look-up can use.

-- events by time: their ids are time-ordered, so the primary key serves
-- (hookd.id_floor, in sql/functions/ids.sql)
DROP INDEX IF EXISTS hookd.events_received;

DROP INDEX IF EXISTS hookd.deliveries_event;
CREATE INDEX IF NOT EXISTS deliveries_event
    ON hookd.deliveries (event_id, app_id);
DROP INDEX IF EXISTS hookd.deliveries_endpoint;
CREATE INDEX IF NOT EXISTS deliveries_endpoint
    ON hookd.deliveries (endpoint_id, app_id, status);
