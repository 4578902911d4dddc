"""The queue (docs/architecture.md, "The queue"), driven through hookd.claim
and hookd.complete directly: a claim that meets rows past a rate limit moves
them and fills its room from the queue, dead letters leave the dead-letter
queue when retried, a delivery whose endpoint vanished is cancelled, and
deleting an endpoint leaves nothing of it behind."""

import json

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
    park(pg, app)
    ep = app.endpoint("http://127.0.0.1:9/gone")
    app.post({"event_type": "q.x", "payload": {}})
    # as if the endpoint went while the event was being ingested
    pg.query("DELETE FROM hookd.endpoints WHERE id = %s RETURNING 1",
             ep["id"])
    assert claim(pg, app.id) == []
    assert pg.query("SELECT status, last_error FROM hookd.deliveries "
                    "WHERE endpoint_id = %s", ep["id"]) == [
        ("cancelled", "its endpoint was deleted")]
    assert pg.query("SELECT count(*) FROM hookd.queue WHERE endpoint_id = %s",
                    ep["id"]) == [(0,)]


def test_deleting_an_endpoint_leaves_nothing_of_it(app, pg, operator):
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
