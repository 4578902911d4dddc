"""Ingest keeps its promises when PostgreSQL goes away and nginx reloads."""

import threading
import time

import requests

from harness import wait_for

EVENT = {"event_type": "resilience.check", "payload": {"n": 1}}


def test_postgres_down_is_503_fast_and_back_without_touching_nginx(app, pg,
                                                                   hookd):
    admin = hookd("keys", "create", "--scope", "admin")["key"]

    def admin_get():
        return requests.get(app.nginx.url + "/v1/apps", timeout=10,
                            headers={"Authorization": f"Bearer {admin}"})

    assert app.post(EVENT).status_code == 202
    assert admin_get().status_code == 200
    pg.stop("fast")
    try:
        for send in [app.post] * 3 + [lambda _: admin_get()] * 2:
            started = time.monotonic()
            r = send(EVENT)
            elapsed = time.monotonic() - started
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "unavailable"
            assert int(r.headers["Retry-After"]) >= 1
            assert elapsed < 1.0, elapsed
    finally:
        pg.start()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = app.post(EVENT)
        if r.status_code == 202:
            break
        time.sleep(0.1)
    assert r.status_code == 202, r.text
    assert pg.query("SELECT count(*) FROM hookd.events WHERE id = %s",
                    r.json()["id"]) == [(1,)]
    assert admin_get().status_code == 200

    # every pooled connection is back (reconnects back off to 1 s at most):
    # no request may land on a connection that died with the old server
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
        "'hookd-nginx' AND datname = 'hookd'")[0][0] >= 2 * 4, timeout=10)
    sessions = [requests.Session() for _ in range(8)]
    statuses = [sessions[i % 8].post(
        app.nginx.url + "/v1/events",
        headers={"Authorization": f"Bearer {app.key}"},
        json=EVENT, timeout=10).status_code for i in range(120)]
    assert statuses == [202] * 120, statuses


def test_reload_under_load_loses_no_acknowledged_event(app, nginx, pg):
    acked, others = [], []
    stop = threading.Event()
    lock = threading.Lock()

    def producer(n):
        s = requests.Session()
        i = 0
        while not stop.is_set() and i < 3000:
            i += 1
            try:
                r = s.post(nginx.url + "/v1/events",
                           headers={"Authorization": f"Bearer {app.key}"},
                           json={"event_type": "reload.load",
                                 "payload": {"p": n, "i": i}}, timeout=10)
            except requests.RequestException as e:
                with lock:
                    others.append(repr(e))
                continue
            with lock:
                if r.status_code == 202:
                    acked.append(r.json()["id"])
                else:
                    others.append(r.status_code)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    nginx.reload()
    time.sleep(0.7)
    nginx.reload()
    time.sleep(0.7)
    stop.set()
    for t in threads:
        t.join(30)

    assert len(acked) > 100, (len(acked), others[:5])
    stored = {row[0] for row in pg.query(
        "SELECT id FROM hookd.events WHERE app_id = %s", app.id)}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events missing"
