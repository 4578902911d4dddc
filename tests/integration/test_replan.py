"""hookd's and the nginx module's connections drop their cached plans every
replan interval (DISCARD PLANS, before their next statement; 10 s unless
set, 1 s here). Otherwise the
plans made on a young install's near-empty tables outlive the tables'
growth until autovacuum's next ANALYZE, and read a whole table per row.
test_claim_plan.py shows what a fresh plan makes of grown tables; this
checks that both processes do plan afresh, in a database of their own
whose statements PostgreSQL logs."""

import os
import re
import time

import psycopg
import requests

from harness import Daemon, Hookd, Nginx


def test_hookd_and_nginx_plan_afresh(pg, base, receiver):
    with pg.connect() as c:
        c.execute("DROP DATABASE IF EXISTS replan")
        c.execute("CREATE DATABASE replan")
        c.execute("ALTER DATABASE replan SET log_statement = 'all'")
    conninfo = pg.conninfo.replace("dbname=hookd", "dbname=replan")
    h = Hookd(conninfo, base)
    h("migrate")
    h("apps", "create", "replan")
    key = h("keys", "create", "--app", "replan", "--scope", "ingest")["key"]
    h("endpoints", "create", "--app", "replan", "--url",
      receiver.url + "/replan")

    nginx = Nginx(os.path.join(base, "replan"), conninfo,
                  extra_http="hookd_replan_interval 1s;")
    nginx.start()
    d = Daemon(h.env, base, allow_network="127.0.0.1/32",
               replan_interval="1s").start()
    try:
        # a steady trickle, past the interval, so that every connection
        # has statements to run after it
        sent = 0
        until = time.monotonic() + 2.5
        while time.monotonic() < until:
            r = requests.post(nginx.url + "/v1/events", timeout=10,
                              headers={"Authorization": f"Bearer {key}"},
                              json={"event_type": "invoice.paid",
                                    "payload": {"n": sent}})
            assert r.status_code == 202, r.text
            sent += 1
            time.sleep(0.1)

        with psycopg.connect(conninfo, autocommit=True) as c:
            deadline = time.monotonic() + 30
            while c.execute("SELECT count(*) FROM hookd.deliveries "
                            "WHERE status = 'succeeded'").fetchone()[0] \
                    < sent and time.monotonic() < deadline:
                time.sleep(0.2)
            backends = c.execute(
                "SELECT pid, application_name FROM pg_stat_activity "
                "WHERE datname = 'replan' AND pid <> pg_backend_pid()"
            ).fetchall()
    finally:
        d.stop()
        nginx.stop()

    with open(os.path.join(pg.dir, "log")) as f:
        replanned = {int(p) for p in re.findall(
            r"\[(\d+)\] LOG:  statement: DISCARD PLANS", f.read())}
    from_nginx = {p for p, name in backends if name == "hookd-nginx"}
    from_hookd = {p for p, name in backends if name != "hookd-nginx"}
    # nginx's busiest connections replanned; hookd's two both did
    assert from_nginx & replanned, (backends, replanned)
    assert len(from_hookd) == 2 and from_hookd <= replanned, \
        (backends, replanned)
