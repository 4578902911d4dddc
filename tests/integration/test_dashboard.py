"""The dashboard (web/, served at /ui/) in Debian's chromium, driven by
playwright-core (tests/js/dashboard.mjs), against the real stack with real
data: log in with a key and with a portal link; each screen shows what the
database holds; pause and resume; a retry by keyboard makes a new attempt;
the live tail shows a new event; a portal view shows nothing of keys,
sources or another application; no request leaves for another host; no
console errors. Screenshots go to build/screenshots (docs/dashboard.md)."""

import json
import os
import subprocess
import uuid

import pytest

from harness import BUILD, ROOT, wait_for
from test_admin import Api, Tenant, ok

SCRIPT = os.path.join(ROOT, "tests", "js", "dashboard.mjs")
SHOTS = os.path.join(BUILD, "screenshots")


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def browse(scenario, cfg):
    os.makedirs(SHOTS, exist_ok=True)
    cfg["shots"] = SHOTS
    p = subprocess.run(["node", SCRIPT, scenario, json.dumps(cfg)],
                       capture_output=True, text=True, timeout=240,
                       cwd=os.path.join(ROOT, "tests", "js"))
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout[-1000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    with open(os.path.join(SHOTS, scenario + ".json"), "w") as f:
        json.dump(out, f)
    return out


@pytest.fixture(scope="module")
def shop(operator, receiver, pg, daemons_module):
    t = Tenant(operator, receiver.url + "/dash-ok")
    body = "boom-" + uuid.uuid4().hex[:8]
    receiver.plan("/dash-bad", {"status": 500, "body": body.encode()})
    bad = ok(t.admin("POST", t.base + "/endpoints", {
        "url": receiver.url + "/dash-bad", "event_types": ["order.*"],
        "retry_policy": {"max_attempts": 1}}), 201)
    acme = ok(t.admin("POST", t.base + "/endpoints", {
        "url": receiver.url + "/dash-acme", "event_types": ["*"],
        "labels": {"owner_id": "acme"}}), 201)
    order = t.ingest("order.created", {"sku": "A-1", "qty": 2},
                     labels={"owner_id": "acme"})
    paid = t.ingest("invoice.paid", {"amount": 120})
    daemons_module()
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE app_id = %s AND status "
        "IN ('pending', 'in_flight')", t.id)[0][0] == 0, timeout=30)
    dead = pg.query("SELECT id FROM hookd.deliveries WHERE app_id = %s AND "
                    "endpoint_id = %s AND status = 'failed'", t.id,
                    bad["id"])[0][0]
    pg.query("SELECT hookd.stats_roll_minute(date_trunc('minute', now()), "
             "true) IS NULL")
    return {"t": t, "bad": bad, "acme": acme, "order": order, "paid": paid,
            "dead": dead, "body": body}


@pytest.fixture(scope="module")
def daemons_module(hookd, base):
    from harness import Daemon
    started = []

    def start():
        d = Daemon(hookd.env, base, allow_network="127.0.0.1/32").start()
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def test_an_operator_sees_retries_and_tails(shop, nginx, receiver):
    t = shop["t"]
    out = browse("operator", {
        "url": nginx.url, "key": t.admin.key, "ingest_key": t.ingest_key,
        "app": t.id, "app_name": t.name,
        "endpoint_urls": [receiver.url + p for p in
                          ("/dash-ok", "/dash-bad", "/dash-acme")],
        "ok_url": receiver.url + "/dash-ok", "ok_ep": t.ep,
        "event_ids": [shop["order"]["id"], shop["paid"]["id"]],
        "order_event": shop["order"]["id"],
        "dead_delivery": shop["dead"], "dead_body": shop["body"],
        "source_name": "github"})
    # what a user downloads before the login screen shows
    assert out["first_load_bytes"] < 300 * 1024, out


def test_a_portal_link_shows_one_customer(shop, nginx, operator, receiver):
    t = shop["t"]
    other = Tenant(operator)
    s = ok(t.admin("POST", t.base + "/portal-sessions",
                   {"labels": {"owner_id": "acme"}}), 201)
    browse("portal", {
        "url": nginx.url, "token": s["token"], "app": t.id,
        "own_url": receiver.url + "/dash-acme",
        "hidden_urls": [receiver.url + "/dash-ok", receiver.url + "/dash-bad"],
        "other_app": other.id, "other_name": other.name})
