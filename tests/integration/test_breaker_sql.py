"""The breaker's transitions, driven through hookd.claim and
hookd.complete directly (no HTTP): closed -> open at the threshold, nothing
claimed while open and every waiting delivery held, three half-open probes
after the cool-down (the oldest delivery and the two newest), a failed probe
reopens with a doubled cool-down, the first good one closes and puts the
held deliveries back."""

import json
import time


def outcome(app_id, row, worker, cls, status=None):
    return {"app_id": app_id, "delivery_id": row[0], "attempt_number": row[1],
            "endpoint_id": row[2],
            "worker": worker, "started_at": time.time(), "duration_ms": 1,
            "status_code": status, "error_class": cls,
            "retry_in": 0 if cls != "SUCCEEDED" else None}


def park(pg, app):
    """Every other application's work parked, so that claims here see only
    this one's."""
    pg.query("UPDATE hookd.queue SET due_at = 'infinity' "
             "WHERE app_id <> %s RETURNING 1", app.id)


def held(pg, ep_id):
    return pg.query("SELECT count(*) FROM hookd.queue WHERE endpoint_id = %s"
                    " AND due_at = 'infinity'", ep_id)[0][0]


def claim(pg, app_id, n=10, worker="w"):
    return pg.query("SELECT o_id, o_attempt_number, o_endpoint_id "
                    "FROM hookd.claim(%s, %s, 30) "
                    "WHERE o_app_id = %s", worker, n, app_id)


def state(pg, ep_id):
    return pg.query("SELECT breaker_state, consecutive_failures, "
                    "breaker_opens, extract(epoch FROM breaker_until - now())"
                    " FROM hookd.endpoints WHERE id = %s", ep_id)[0]


def test_breaker_transitions(app, pg):
    park(pg, app)
    ep = app.endpoint("http://127.0.0.1:9/b")
    pg.query("UPDATE hookd.endpoints SET breaker_threshold = 2, "
             "breaker_cooldown_seconds = 0.5 WHERE id = %s RETURNING 1",
             ep["id"])
    for i in range(5):
        assert app.post({"event_type": "b.x", "payload": {"i": i}}) \
            .status_code == 202
    made = [r[0] for r in pg.query(
        "SELECT id FROM hookd.deliveries WHERE app_id = %s ORDER BY id",
        app.id)]

    rows = claim(pg, app.id, n=2)
    assert len(rows) == 2
    done = pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, r, "w", "RETRYABLE", 500) for r in rows]))
    assert done == [(2,)]
    st = state(pg, ep["id"])
    assert st[:3] == ("open", 2, 1) and 0 < st[3] <= 0.5

    assert claim(pg, app.id) == []            # open: nothing, no attempt
    assert held(pg, ep["id"]) == 5            # all out of the claim's way

    time.sleep(0.6)
    probes = claim(pg, app.id)
    # half-open: the oldest (most retried) and the two newest
    assert sorted(r[0] for r in probes) == [made[0], made[3], made[4]]
    assert state(pg, ep["id"])[0] == "half_open"
    assert claim(pg, app.id) == []            # three probes at most
    assert held(pg, ep["id"]) == 2

    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, probes[0], "w", "RETRYABLE", 503)]))
    st = state(pg, ep["id"])
    assert st[:3] == ("open", 3, 2) and 0.5 < st[3] <= 1.0   # doubled
    # another probe's failure leaves the open breaker as it is
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, probes[1], "w", "RETRYABLE", 503)]))
    assert state(pg, ep["id"])[:3] == ("open", 4, 2)

    # the first success closes it, and every held delivery is due again
    pg.query("SELECT hookd.complete(%s)", json.dumps(
        [outcome(app.id, probes[2], "w", "SUCCEEDED", 200)]))
    assert state(pg, ep["id"])[:3] == ("closed", 0, 0)
    assert held(pg, ep["id"]) == 0
    assert len(claim(pg, app.id)) == 4        # the rest flow again


def test_half_open_closes_on_a_fresh_delivery(app, pg):
    """The issue's endpoint: it fails each delivery's first attempt and
    takes its second. With one probe, always the oldest due delivery, its
    breaker stayed open; the probes of a half-open breaker include retries,
    so one succeeds and the breaker closes."""
    park(pg, app)
    ep = app.endpoint("http://127.0.0.1:9/f")
    pg.query("UPDATE hookd.endpoints SET breaker_threshold = 3, "
             "breaker_cooldown_seconds = 0.2 WHERE id = %s RETURNING 1",
             ep["id"])
    tried = set()
    delivered = 0
    deadline = time.monotonic() + 20
    sent = 0
    while delivered < 20 and time.monotonic() < deadline:
        if sent < 20:
            app.post({"event_type": "f.x", "payload": {"i": sent}})
            sent += 1
        rows = claim(pg, app.id)
        results = []
        for r in rows:
            if r[0] in tried:
                results.append(outcome(app.id, r, "w", "SUCCEEDED", 200))
                delivered += 1
            else:
                tried.add(r[0])
                results.append(outcome(app.id, r, "w", "RETRYABLE", 500))
        if results:
            pg.query("SELECT hookd.complete(%s)", json.dumps(results))
        time.sleep(0.05)
    assert delivered == 20


def test_4xx_does_not_count_and_a_4xx_probe_closes(app, pg):
    park(pg, app)
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
