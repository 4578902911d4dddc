"""Stats for charts (GET /v1/apps/{app}/stats): the per-minute rows hookd
rolls from each closed minute's events and attempts, read back as time
series; what a portal session narrowed by labels sees of them; retention."""

import time

import pytest

from harness import wait_for
from test_admin import Api, Tenant, error, ok


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def roll_now(pg):
    """The current minute, rolled as hookd rolls a closed one."""
    pg.query("SELECT hookd.stats_roll_minute(date_trunc('minute', now()), "
             "true) IS NULL")


def test_stats_count_events_outcomes_latency_and_backlog(operator, pg,
                                                          receiver, daemons):
    t = Tenant(operator, receiver.url + "/stats-ok")
    bad = ok(t.admin("POST", t.base + "/endpoints", {
        "url": receiver.url + "/stats-bad",
        "retry_policy": {"max_attempts": 1}}), 201)
    receiver.plan("/stats-bad", 500)
    for i in range(9):
        t.ingest("invoice.paid", {"n": i})
    daemons()
    # the tenant's own first event came before the failing endpoint
    wait_for(lambda: len(receiver.at("/stats-ok")) >= 10
             and len(receiver.at("/stats-bad")) >= 9)
    wait_for(lambda: pg.query("SELECT count(*) FROM hookd.attempts WHERE "
                              "app_id = %s", t.id)[0][0] >= 19)
    # a paused endpoint's deliveries wait: the backlog
    paused = ok(t.admin("POST", t.base + "/endpoints",
                        {"url": receiver.url + "/stats-paused"}), 201)
    ok(t.admin("POST", t.base + "/endpoints/" + paused["id"] + "/pause"))
    t.ingest("invoice.paid", {"n": 99})
    wait_for(lambda: pg.query("SELECT count(*) FROM hookd.attempts WHERE "
                              "app_id = %s", t.id)[0][0] >= 21)
    roll_now(pg)

    s = ok(t.admin("GET", t.base + "/stats?since=" +
                   time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                 time.gmtime(time.time() - 600))))
    assert s["step"] == 60 and len(s["points"]) in (10, 11)
    total = {k: sum(p[k] for p in s["points"])
             for k in ("events", "attempts", "succeeded", "failed",
                       "dead_lettered")}
    assert total == {"events": 11, "attempts": 21, "succeeded": 11,
                     "failed": 10, "dead_lettered": 10}, total
    last = [p for p in s["points"] if p["attempts"]][-1]
    assert last["latency_ms"]["p50"] <= last["latency_ms"]["p99"]
    assert max(p["backlog"] for p in s["points"]) >= 1

    one = ok(t.admin("GET", t.base + "/stats?endpoint_id=" + bad["id"]))
    assert sum(p["dead_lettered"] for p in one["points"]) == 10
    assert all(p["events"] is None for p in one["points"])
    hour = ok(t.admin("GET", t.base + "/stats?step=3600&since=" +
                      time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())))
    assert len(hour["points"]) == 1
    assert hour["points"][0]["attempts"] == 21

    # a customer's view: its endpoints' rows only
    ps = ok(t.admin("POST", t.base + "/portal-sessions",
                    {"labels": {"owner_id": "acme"}}), 201)
    view = Api(t.api.url + "/portal", ps["token"])
    mine = ok(view("GET", t.base + "/stats"))
    assert sum(p["attempts"] for p in mine["points"]) == 0
    assert all(p["events"] is None for p in mine["points"])
    error(view("GET", t.base + "/stats?endpoint_id=" + bad["id"]), 404,
          "not_found")


def test_stats_queries_are_checked(operator):
    t = Tenant(operator)
    for q, what in [("step=30", "step"), ("step=90", "step"),
                    ("step=x", "step"), ("since=yesterday", "since"),
                    ("since=2026-01-01T00:00:00Z&until=2025-01-01T00:00:00Z",
                     "until"),
                    ("since=2020-01-01T00:00:00Z", "1440")]:
        assert what in error(t.admin("GET", t.base + "/stats?" + q), 400,
                             "invalid_query")
    error(t.admin("GET", t.base + "/stats?endpoint_id=ep_nope"), 404,
          "not_found")
    error(t.admin("POST", t.base + "/stats", {}), 405, "method_not_allowed")


def test_hookd_rolls_the_closed_minutes(pg, nginx, daemons):
    pg.query("INSERT INTO hookd.stats_rolled (through) VALUES (now() - "
             "interval '3 minutes') ON CONFLICT (one) DO UPDATE SET through "
             "= excluded.through RETURNING 1")
    # the minutes closed now: hookd, started after, rolls at least those
    closed = pg.query("SELECT date_trunc('minute', now() - interval "
                      "'5 seconds')")[0][0]
    daemons()
    wait_for(lambda: pg.query("SELECT through FROM hookd.stats_rolled")[0][0]
             >= closed)


def test_retention_trims_stats(pg, operator):
    t = Tenant(operator)
    pg.query("INSERT INTO hookd.stats_minutes (app_id, minute, events) "
             "VALUES (%s, now() - interval '2 days', 5) RETURNING 1", t.id)
    pg.query("SELECT hookd.purge(86400, 1000)")
    assert pg.query("SELECT count(*) FROM hookd.stats_minutes WHERE app_id "
                    "= %s AND minute < now() - interval '1 day'", t.id)[0][0] \
        == 0
