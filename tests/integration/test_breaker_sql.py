"""The breaker's transitions, driven through hookd.claim and
hookd.complete directly (no HTTP): closed -> open at the threshold, nothing
claimed while open, one half-open probe after the cool-down, a failed probe
reopens with a doubled cool-down, a good one closes."""

import json
import time


def outcome(app_id, row, worker, cls, status=None):
    return {"app_id": app_id, "delivery_id": row[0], "attempt_number": row[1],
            "endpoint_id": row[2],
            "worker": worker, "started_at": time.time(), "duration_ms": 1,
            "status_code": status, "error_class": cls,
            "retry_in": 0 if cls != "SUCCEEDED" else None}


def claim(pg, app_id, n=10, worker="w"):
    return pg.query("SELECT o_id, o_attempt_number, o_endpoint_id "
                    "FROM hookd.claim(%s, %s, 30) "
                    "WHERE o_app_id = %s", worker, n, app_id)


def state(pg, ep_id):
    return pg.query("SELECT breaker_state, consecutive_failures, "
                    "breaker_opens, extract(epoch FROM breaker_until - now())"
                    " FROM hookd.endpoints WHERE id = %s", ep_id)[0]


def test_breaker_transitions(app, pg):
    # park every other endpoint's work so claims here see only this app's
    pg.query("UPDATE hookd.queue SET due_at = 'infinity' "
             "WHERE app_id <> %s RETURNING 1", app.id)
    ep = app.endpoint("http://127.0.0.1:9/b")
    pg.query("UPDATE hookd.endpoints SET breaker_threshold = 2, "
             "breaker_cooldown_seconds = 0.5 WHERE id = %s RETURNING 1",
             ep["id"])
    for i in range(3):
        assert app.post({"event_type": "b.x", "payload": {"i": i}}) \
            .status_code == 202

    rows = claim(pg, app.id, n=2)
    assert len(rows) == 2
    done = pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, r, "w", "RETRYABLE", 500) for r in rows]))
    assert done == [(2,)]
    st = state(pg, ep["id"])
    assert st[:3] == ("open", 2, 1) and 0 < st[3] <= 0.5

    assert claim(pg, app.id) == []            # open: nothing, no attempt

    time.sleep(0.6)
    probe = claim(pg, app.id)
    assert len(probe) == 1                    # half-open: exactly one
    assert state(pg, ep["id"])[0] == "half_open"
    assert claim(pg, app.id) == []

    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, probe[0], "w", "RETRYABLE", 503)]))
    st = state(pg, ep["id"])
    assert st[:3] == ("open", 3, 2) and 0.5 < st[3] <= 1.0   # doubled

    time.sleep(1.1)
    probe = claim(pg, app.id)
    assert len(probe) == 1
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, probe[0], "w", "SUCCEEDED", 200)]))
    assert state(pg, ep["id"])[:3] == ("closed", 0, 0)
    assert len(claim(pg, app.id)) == 2        # the rest flow again


def test_4xx_does_not_count_and_a_4xx_probe_closes(app, pg):
    pg.query("UPDATE hookd.queue SET due_at = 'infinity' "
             "WHERE app_id <> %s RETURNING 1", app.id)
    ep = app.endpoint("http://127.0.0.1:9/c")
    pg.query("UPDATE hookd.endpoints SET breaker_threshold = 1, "
             "breaker_cooldown_seconds = 0.2 WHERE id = %s RETURNING 1",
             ep["id"])
    for i in range(2):
        app.post({"event_type": "c.x", "payload": {"i": i}})

    rows = claim(pg, app.id, n=1)
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [dict(outcome(app.id, rows[0], "w", "NON_RETRYABLE", 400),
              retry_in=None)]))
    assert state(pg, ep["id"])[0] == "closed"

    rows = claim(pg, app.id, n=1)
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, rows[0], "w", "UNKNOWN")]))
    assert state(pg, ep["id"])[0] == "open"
    time.sleep(0.3)
    probe = claim(pg, app.id)
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [dict(outcome(app.id, probe[0], "w", "NON_RETRYABLE", 404),
              retry_in=None)]))
    assert state(pg, ep["id"])[0] == "closed"
