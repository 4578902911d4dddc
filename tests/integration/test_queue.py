"""The queue (docs/architecture.md, "The queue"), driven through hookd.claim
and hookd.complete directly: a claim that meets rows past a rate limit moves
them and fills its room from the queue, dead letters leave the dead-letter
queue when retried, a delivery whose endpoint vanished is cancelled, and
deleting an endpoint, an event or an application leaves nothing of it
behind."""

import json
import time

from test_admin import operator  # noqa: F401 (a fixture)
from test_breaker_sql import claim, outcome, park


def test_a_rate_limited_endpoint_does_not_make_claims_short(app, pg):
    park(pg, app)
    slow = app.endpoint("http://127.0.0.1:9/slow")
    app.endpoint("http://127.0.0.1:9/fast")
    pg.query("UPDATE hookd.endpoints SET rate_limit = 2 WHERE id = %s "
             "RETURNING 1", slow["id"])
    for i in range(30):
        assert app.post({"event_type": "q.x", "payload": {"i": i}}) \
            .status_code == 202
    # 30 events to both: the claim of 20 meets slow's rows past its two
    # tokens, moves them, and takes fast's rows in their place
    rows = claim(pg, app.id, n=20)
    assert len(rows) == 20
    assert sum(1 for r in rows if r[2] == slow["id"]) == 2
    # those it met wait for their tokens, a few seconds at 2 a second
    moved = pg.query("SELECT count(*) FROM hookd.queue WHERE endpoint_id = %s"
                     " AND lease_owner IS NULL AND due_at > now() AND due_at"
                     " <= now() + interval '15 seconds'", slow["id"])[0][0]
    assert moved >= 8


def test_dead_letters_leave_their_queue_when_retried(app, pg, operator):
    park(pg, app)
    ep = app.endpoint("http://127.0.0.1:9/dead")
    app.post({"event_type": "q.x", "payload": {}})
    rows = claim(pg, app.id)
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [dict(outcome(app.id, rows[0], "w", "NON_RETRYABLE", 400),
              retry_in=None)]))
    assert pg.query("SELECT count(*) FROM hookd.dead_letter_queue "
                    "WHERE endpoint_id = %s", ep["id"]) == [(1,)]
    assert pg.query("SELECT count(*) FROM hookd.queue WHERE endpoint_id = %s",
                    ep["id"]) == [(0,)]
    r = operator("POST", f"/v1/apps/{app.id}/endpoints/{ep['id']}/recover",
                 {"since": "2000-01-01T00:00:00Z"})
    assert r.status_code == 202 and r.json()["recovered"] == 1
    assert pg.query("SELECT count(*) FROM hookd.dead_letter_queue "
                    "WHERE endpoint_id = %s", ep["id"]) == [(0,)]
    again = claim(pg, app.id)
    assert [(r[0], r[1]) for r in again] == [(rows[0][0], 2)]


def test_a_delivery_whose_endpoint_vanished_is_cancelled(app, pg):
    """A delivery made while its endpoint was being deleted (the deletion's
    trigger could not see it yet): the claim that meets it cancels it."""
    park(pg, app)
    ev = app.post({"event_type": "q.x", "payload": {}}).json()
    pg.query("WITH d AS (INSERT INTO hookd.deliveries (app_id, event_id, "
             "endpoint_id) VALUES (%s, %s, 'ep_gone') RETURNING app_id, id, "
             "event_id) INSERT INTO hookd.queue (app_id, endpoint_id, "
             "delivery_id, event_id) SELECT app_id, 'ep_gone', id, event_id "
             "FROM d RETURNING 1",
             app.id, ev["id"])
    assert claim(pg, app.id) == []
    assert pg.query("SELECT status, last_error FROM hookd.deliveries "
                    "WHERE app_id = %s AND endpoint_id = 'ep_gone'",
                    app.id) == [("cancelled", "its endpoint was deleted")]
    assert pg.query("SELECT count(*) FROM hookd.queue WHERE app_id = %s",
                    app.id) == [(0,)]


def test_deleting_an_endpoint_leaves_nothing_of_it(app, pg, operator):
    """No foreign key cascades any more (sql/functions/cascade.sql)."""
    park(pg, app)
    ep = app.endpoint("http://127.0.0.1:9/del")
    for i in range(3):
        app.post({"event_type": "q.x", "payload": {"i": i}})
    rows = claim(pg, app.id, n=1)
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, rows[0], "w", "RETRYABLE", 500)]))
    r = operator("DELETE", f"/v1/apps/{app.id}/endpoints/{ep['id']}")
    assert r.status_code == 204
    for table in ("queue", "deliveries", "attempts"):
        assert pg.query(f"SELECT count(*) FROM hookd.{table} "
                        "WHERE endpoint_id = %s", ep["id"]) == [(0,)], table


def test_deleting_events_and_applications_leaves_nothing_of_them(pg, hookd):
    hookd("apps", "create", "cascade")
    app_id = pg.query("SELECT id FROM hookd.applications "
                      "WHERE name = 'cascade'")[0][0]
    hookd("endpoints", "create", "--app", "cascade", "--url",
          "http://127.0.0.1:9/c")
    batch = json.dumps([{"app_id": app_id, "request_hash": "00" * 32,
                         "body": {"event_type": "c.x", "payload": {}}}] * 4)
    pg.query("SELECT count(*) FROM hookd.ingest(%s)", batch)
    event = pg.query("SELECT id FROM hookd.events WHERE app_id = %s LIMIT 1",
                     app_id)[0][0]
    pg.query("DELETE FROM hookd.events WHERE id = %s RETURNING 1", event)
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE app_id = %s",
                    app_id) == [(3,)]
    assert pg.query("SELECT count(*) FROM hookd.queue WHERE app_id = %s",
                    app_id) == [(3,)]
    pg.query("DELETE FROM hookd.applications WHERE id = %s RETURNING 1",
             app_id)
    for table in ("queue", "deliveries", "attempts"):
        assert pg.query(f"SELECT count(*) FROM hookd.{table} "
                        "WHERE app_id = %s", app_id) == [(0,)], table


def bloat_queue(pg, app, rows):
    """rows queued and removed again, as a backlog that drained: the
    queue's primary key keeps every page it grew to."""
    with pg.connect() as c:
        c.execute("INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id,"
                  " event_id, due_at) SELECT %s, 'ep_drained', 'dlv_' || "
                  "lpad(g::text, 26, '0'), 'evt_drained', 'infinity' "
                  "FROM generate_series(1, %s) g", (app.id, rows))
        c.execute("DELETE FROM hookd.queue WHERE endpoint_id = 'ep_drained'")
        c.execute("VACUUM hookd.queue")


def pkey_size(pg):
    return pg.query("SELECT pg_relation_size('hookd.queue_pkey')")[0][0]


def test_the_queues_indexes_are_rebuilt_once_a_backlog_drained(app, pg,
                                                                daemons):
    bloat_queue(pg, app, 200000)
    assert pkey_size(pg) > 10 * 1024 * 1024
    d = daemons(housekeeping_interval="200ms")
    deadline = time.monotonic() + 20
    while pkey_size(pg) > 1024 * 1024 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pkey_size(pg) < 1024 * 1024
    assert "rebuilt 1 of the queue's indexes" in d.output()
    # nothing more to rebuild: the next ticks leave them alone
    assert pg.query("SELECT hookd.queue_reindex()") == [(0,)]


def test_a_queue_that_holds_its_rows_is_not_rebuilt(app, pg):
    """Small indexes, or a queue with many rows (its rebuild would hold
    the queue's writes too long), are left as they are."""
    assert pg.query("SELECT hookd.queue_reindex()") == [(0,)]
    with pg.connect() as c:
        c.execute("INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id,"
                  " event_id, due_at) SELECT %s, 'ep_many', 'dlv_' || "
                  "lpad(g::text, 26, '0'), 'evt_many', 'infinity' "
                  "FROM generate_series(1, 150000) g", (app.id,))
        c.execute("ANALYZE hookd.queue")
    try:
        assert pkey_size(pg) > 10 * 1024 * 1024
        assert pg.query("SELECT hookd.queue_reindex()") == [(0,)]
    finally:
        with pg.connect() as c:
            c.execute("DELETE FROM hookd.queue WHERE endpoint_id = 'ep_many'")
