"""hookd run against real receivers: what consumers get, and what happens
when they fail."""

import base64
import hashlib
import hmac
import json
import signal
import time
import uuid

import pytest

from harness import wait_for

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST_RETRY = json.dumps({"base_seconds": 0.2, "cap_seconds": 1,
                         "max_attempts": 5})


def path():
    return "/" + uuid.uuid4().hex[:12]


def endpoint(app, pg, receiver, p, *args, policy=FAST_RETRY):
    ep = app.endpoint(receiver.url + p, *args)
    if policy:
        pg.query("UPDATE hookd.endpoints SET retry_policy = %s WHERE id = %s "
                 "RETURNING 1", policy, ep["id"])
    return ep


def delivery(pg, event_id):
    rows = pg.query("SELECT hookd.delivery_status(d), attempt_count, "
                    "last_error FROM hookd.deliveries d WHERE event_id = %s",
                    event_id)
    return rows[0] if rows else None


def response_of(pg, event_id, status):
    """What the receiver answered to the attempt that got this status."""
    return pg.query("SELECT a.response_body FROM hookd.attempts a JOIN "
                    "hookd.deliveries d ON d.app_id = a.app_id AND "
                    "d.id = a.delivery_id WHERE d.event_id = %s AND "
                    "a.status_code = %s", event_id, status)[0][0]


def attempts(pg, event_id):
    return pg.query("SELECT a.status_code, a.error_class, a.error "
                    "FROM hookd.attempts a JOIN hookd.deliveries d "
                    "ON d.app_id = a.app_id AND d.id = a.delivery_id "
                    "WHERE d.event_id = %s ORDER BY a.attempt_number",
                    event_id)


def send(app, event_type="invoice.paid", payload=None):
    r = app.post({"event_type": event_type, "payload": payload or {"n": 1}})
    assert r.status_code == 202, r.text
    return r.json()


def burst(app, k):
    """k events posted at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(k) as pool:
        list(pool.map(lambda i: send(app), range(k)))


def bulk(app, pg, n):
    """n events ingested in one batch, straight through hookd.ingest: their
    ids."""
    body = [{"app_id": app.id, "idempotency_key": None,
             "request_hash": "00" * 32,
             "body": {"event_type": "bulk.event", "payload": {"i": i}}}
            for i in range(n)]
    ids = [row[2] for row in pg.query("SELECT * FROM hookd.ingest(%s)",
                                      json.dumps(body))]
    assert len(ids) == n
    return ids


def succeeded(pg, endpoint_id):
    return pg.query("SELECT count(*) FROM hookd.deliveries WHERE "
                    "endpoint_id = %s AND status = 'succeeded'",
                    endpoint_id)[0][0]


def verify(secret, headers, body):
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256)
                                .digest()).decode()
    return [s for s in headers["webhook-signature"].split(" ")
            if s == "v1," + expected]


def test_delivered_body_headers_and_signature(app, pg, receiver, daemons):
    p = path()
    endpoint(app, pg, receiver, p, "--secret", SECRET)
    daemons()
    ev = send(app, payload={"amount": 42, "nested": {"ok": True}})

    req = wait_for(lambda: receiver.at(p))[0]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert h["content-type"] == "application/json"
    assert h["user-agent"].startswith("hookd/")
    assert h["webhook-id"] == ev["id"]
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 30
    assert verify(SECRET, h, req["body"]), h["webhook-signature"]

    body = json.loads(req["body"])
    assert list(body) == ["id", "type", "timestamp", "data"]
    assert body == {"id": ev["id"], "type": "invoice.paid",
                    "timestamp": ev["received_at"],
                    "data": {"amount": 42, "nested": {"ok": True}}}
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")
    assert attempts(pg, ev["id"]) == [(200, "SUCCEEDED", None)]


def test_the_official_library_verifies_what_hookd_sends(app, pg, receiver,
                                                       daemons):
    """A consumer using npm's standardwebhooks accepts hookd's delivery,
    and refuses it altered."""
    from test_sources import standard_webhooks

    p = path()
    endpoint(app, pg, receiver, p, "--secret", SECRET)
    daemons()
    send(app, payload={"amount": 42})
    req = wait_for(lambda: receiver.at(p))[0]
    h = {k.lower(): v for k, v in req["headers"].items()
         if k.lower().startswith("webhook-")}
    body = req["body"].decode()
    ok = standard_webhooks("verify", SECRET, stdin=json.dumps(
        {"body": body, "headers": h}))
    assert ok.returncode == 0, ok.stderr
    bad = standard_webhooks("verify", SECRET, stdin=json.dumps(
        {"body": body.replace("42", "43"), "headers": h}))
    assert bad.returncode == 1 and "signature" in bad.stderr.lower()


def test_500_then_200_is_two_attempts_and_succeeded(app, pg, receiver,
                                                    daemons):
    p = path()
    receiver.plan(p, 500, 200)
    endpoint(app, pg, receiver, p)
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")
    assert [a[:2] for a in attempts(pg, ev["id"])] == \
        [(500, "RETRYABLE"), (200, "SUCCEEDED")]
    reqs = receiver.at(p)
    assert reqs[0]["headers"]["webhook-id"] == reqs[1]["headers"]["webhook-id"]


def test_429_retry_after_is_respected(app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, {"status": 429, "headers": {"Retry-After": "2"}}, 200)
    endpoint(app, pg, receiver, p,
             policy=json.dumps({"base_seconds": 0.1, "cap_seconds": 10}))
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")
    first, second = receiver.at(p)
    assert second["at"] - first["at"] >= 1.9


def test_400_fails_after_one_attempt(app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, 400)
    endpoint(app, pg, receiver, p)
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "failed")
    assert attempts(pg, ev["id"]) == [(400, "NON_RETRYABLE", None)]


def test_410_fails_and_disables_the_endpoint(app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, 410)
    ep = endpoint(app, pg, receiver, p)
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "failed")
    assert pg.query("SELECT status, disabled_reason FROM hookd.endpoints "
                    "WHERE id = %s", ep["id"]) == \
        [("disabled", "the endpoint answered 410 Gone")]


def test_slow_receiver_times_out_as_retryable(app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, {"status": 200, "sleep": 2})
    ep = endpoint(app, pg, receiver, p)
    pg.query("UPDATE hookd.endpoints SET timeout_ms = 300 WHERE id = %s "
             "RETURNING 1", ep["id"])
    daemons()
    ev = send(app)
    a = wait_for(lambda: attempts(pg, ev["id"]))
    assert a[0][1] == "RETRYABLE" and "Timeout" in a[0][2], a


def test_connection_refused_is_retryable(app, pg, daemons):
    ep = app.endpoint("http://127.0.0.1:9/nothing-listens")
    pg.query("UPDATE hookd.endpoints SET retry_policy = %s WHERE id = %s "
             "RETURNING 1", FAST_RETRY, ep["id"])
    daemons()
    ev = send(app)
    a = wait_for(lambda: attempts(pg, ev["id"]))
    assert a[0][0] is None and a[0][1] == "RETRYABLE", a


def test_redirect_is_a_failed_attempt_and_never_followed(app, pg, receiver,
                                                         daemons):
    p, elsewhere = path(), path()
    receiver.plan(p, {"status": 307,
                      "headers": {"Location": receiver.url + elsewhere}})
    endpoint(app, pg, receiver, p)
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "failed")
    a = attempts(pg, ev["id"])
    assert a[0][:2] == (307, "NON_RETRYABLE") and "not followed" in a[0][2]
    # a redirect followed would have been asked before the outcome came
    assert receiver.at(elsewhere) == []


@pytest.mark.parametrize("host", ["10.0.0.1", "169.254.169.254", "[::1]",
                                  "[::ffff:127.0.0.1]", "127.0.0.1"])
def test_ssrf_guard_refuses_private_addresses(app, pg, daemons, host):
    ep = app.endpoint(f"http://{host}:8/hook")
    daemons(allow_network=[])          # nothing allowed, not even 127.0.0.1
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "failed")
    a = attempts(pg, ev["id"])
    assert a[0][1] == "NON_RETRYABLE" and "SSRF guard" in a[0][2], a
    assert ep["id"]


def test_proxy_variables_in_the_environment_are_ignored(app, pg, receiver,
                                                        daemons):
    p = path()
    endpoint(app, pg, receiver, p)
    daemons(env={"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy":
                 "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                 "ALL_PROXY": "http://127.0.0.1:9"})
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")


def test_large_response_is_cut_to_4_kib(app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, {"status": 500, "body": b"x" * 200_000}, 200)
    endpoint(app, pg, receiver, p)
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")
    body = response_of(pg, ev["id"], 500)
    assert body == "x" * 4096


def test_kill_9_in_flight_then_restart_delivers_everything(app, pg, receiver,
                                                           daemons):
    p = path()
    receiver.plan(p, {"status": 200, "sleep": 1.0})
    endpoint(app, pg, receiver, p)
    ids = [send(app, payload={"i": i})["id"] for i in range(200)]
    first = daemons(lease="2s")
    wait_for(lambda: len(receiver.at(p)) >= 20)
    first.stop(signal.SIGKILL)
    daemons(lease="2s")
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE event_id = ANY(%s) "
        "AND status = 'succeeded'", ids)[0][0] == 200, timeout=60)
    got = {r["headers"]["webhook-id"] for r in receiver.at(p)}
    assert got == set(ids)


def test_sigterm_drains_in_flight_deliveries(app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, {"status": 200, "sleep": 0.8})
    endpoint(app, pg, receiver, p)
    ids = [send(app, payload={"i": i})["id"] for i in range(10)]
    d = daemons()
    wait_for(lambda: len(receiver.at(p)) >= 10)
    assert d.stop(signal.SIGTERM) == 0
    assert "drained" in d.output()
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE "
                    "event_id = ANY(%s) AND status = 'succeeded'", ids) == \
        [(10,)]


def test_a_stale_lease_cannot_record_over_the_new_owner(app, pg, receiver):
    ep = app.endpoint(receiver.url + path())
    ev = send(app)
    claimed = pg.query("SELECT o_id, o_attempt_number, o_endpoint_id FROM "
                       "hookd.claim('old', 100, 0)"
                       " WHERE o_app_id = %s", app.id)
    assert len(claimed) == 1
    time.sleep(0.05)
    again = pg.query("SELECT o_id, o_attempt_number FROM hookd.claim('new', 100, 60)"
                     " WHERE o_app_id = %s", app.id)
    assert again == [(claimed[0][0], 2)]
    stale = json.dumps([{"app_id": app.id, "delivery_id": claimed[0][0],
                         "endpoint_id": claimed[0][2],
                         "attempt_number": 1, "worker": "old",
                         "started_at": time.time(), "duration_ms": 5,
                         "status_code": 200, "error_class": "SUCCEEDED",
                         "retry_in": None}])
    assert pg.query("SELECT hookd.complete(%s)", stale) == [(0,)]
    assert delivery(pg, ev["id"])[0] == "in_flight"
    assert ep["id"]


def test_three_hookd_processes_deliver_2000_events_once_each(app, pg,
                                                             receiver,
                                                             daemons):
    p = path()
    endpoint(app, pg, receiver, p)
    ids = bulk(app, pg, 2000)
    for _ in range(3):
        daemons(claim_batch=20, concurrency=64)
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE event_id = ANY(%s) "
        "AND status = 'succeeded'", ids)[0][0] == 2000, timeout=90)
    got = [r["headers"]["webhook-id"] for r in receiver.at(p)]
    assert len(got) == 2000 and set(got) == set(ids)
    workers = pg.query("SELECT count(DISTINCT a.worker) FROM hookd.attempts a"
                       " JOIN hookd.deliveries d ON d.app_id = a.app_id AND "
                       "d.id = a.delivery_id WHERE d.event_id = ANY(%s)", ids)
    assert workers[0][0] >= 2


@pytest.mark.parametrize("then", ["unlocked", "postgres restarted"])
def test_claims_wait_while_outcomes_cannot_be_recorded(app, pg, receiver,
                                                       daemons, then):
    """A recording that cannot keep up holds claims back: hookd leases and
    keeps in memory a bounded number of deliveries, not the whole queue,
    and every one is delivered when recording comes back: once when the
    lock goes, at least once when PostgreSQL restarts meanwhile (the
    outcomes held are recorded on the new connection)."""
    p = path()
    endpoint(app, pg, receiver, p)
    ids = bulk(app, pg, 3000)
    # hookd.complete inserts attempts: it waits on this lock, the claim
    # (which never touches attempts) does not
    blocker = pg.connect()
    blocker.autocommit = False
    blocker.execute("LOCK TABLE hookd.attempts IN SHARE MODE")
    try:
        d = daemons(claim_batch=50, concurrency=8)
        seen = []

        def settled():
            seen.append(len(receiver.at(p)))
            return len(seen) > 10 and seen[-1] == seen[-11] > 0
        wait_for(settled, timeout=60, step=0.1)
        leased = pg.query("SELECT count(*) FROM hookd.queue WHERE "
                          "lease_owner IS NOT NULL AND event_id = ANY(%s)",
                          ids)[0][0]
        # two batches of hookd.complete waiting, plus what is in flight,
        # claimed ahead and the claim that was running
        assert 1000 <= seen[-1] <= leased <= 1000 + 8 + 75 + 50, \
            (seen[-1], leased)
        wait_for(lambda: "records outcomes more slowly" in d.output())
        if then == "postgres restarted":
            pg.stop("fast")
            pg.start()
    finally:
        if then == "unlocked":
            blocker.rollback()
        blocker.close()
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE event_id = ANY(%s) "
        "AND status = 'succeeded'", ids)[0][0] == 3000, timeout=90)
    got = [r["headers"]["webhook-id"] for r in receiver.at(p)]
    assert set(got) == set(ids)
    if then == "unlocked":
        assert len(got) == 3000


def test_hookd_recovers_after_a_postgres_restart(app, pg, receiver, daemons):
    p = path()
    endpoint(app, pg, receiver, p)
    d = daemons()
    first = send(app)
    wait_for(lambda: delivery(pg, first["id"])[0] == "succeeded")
    pg.stop("fast")
    time.sleep(0.5)
    pg.start()
    second = wait_for(lambda: _send_when_up(app))
    wait_for(lambda: delivery(pg, second["id"])[0] == "succeeded",
             timeout=20)
    assert d.proc.poll() is None
    assert "PostgreSQL unavailable" in d.output()


def old_secrets_expired(pg, ep_id):
    """Every secret but the newest is past its expiry, by PostgreSQL's
    clock, which the attempt's timestamp then is too."""
    return pg.query("SELECT count(*) FROM hookd.endpoints ep, "
                    "jsonb_array_elements(ep.secrets) s WHERE ep.id = %s "
                    "AND (s->>'expires_at')::timestamptz > now()",
                    ep_id)[0][0] == 0


def _send_when_up(app):
    r = app.post({"event_type": "after.restart", "payload": {}})
    return r.json() if r.status_code == 202 else None


def test_rotated_secret_signs_beside_the_old_one_until_grace_ends(
        app, pg, receiver, daemons, hookd):
    p = path()
    ep = endpoint(app, pg, receiver, p, "--secret", SECRET)
    new = hookd("endpoints", "rotate-secret", ep["id"], "--grace", "3s")
    assert new["secret"].startswith("whsec_") and new["secret"] != SECRET
    daemons()

    during = send(app)
    req = wait_for(lambda: [r for r in receiver.at(p) if
                            r["headers"]["webhook-id"] == during["id"]])[0]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert len(h["webhook-signature"].split(" ")) == 2
    assert verify(new["secret"], h, req["body"])
    assert verify(SECRET, h, req["body"])

    wait_for(lambda: old_secrets_expired(pg, ep["id"]), timeout=10, step=0.2)
    after = send(app)
    req = wait_for(lambda: [r for r in receiver.at(p) if
                            r["headers"]["webhook-id"] == after["id"]])[0]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert len(h["webhook-signature"].split(" ")) == 1
    assert verify(new["secret"], h, req["body"])
    assert not verify(SECRET, h, req["body"])


def endpoint_row(pg, ep_id, *cols):
    return pg.query(f"SELECT {', '.join(cols)} FROM hookd.endpoints "
                    "WHERE id = %s", ep_id)[0]


def test_breaker_opens_burns_no_attempts_and_closes_after_a_probe(
        app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, 500)
    ep = endpoint(app, pg, receiver, p,
                  policy=json.dumps({"base_seconds": 0.05, "cap_seconds": 0.1,
                                     "max_attempts": 100}))
    # one at a time, so that the threshold is reached exactly
    pg.query("UPDATE hookd.endpoints SET breaker_threshold = 3, "
             "breaker_cooldown_seconds = 1.5, max_in_flight = 1 "
             "WHERE id = %s RETURNING 1", ep["id"])
    daemons(poll_interval="50ms")
    ids = [send(app, payload={"i": i})["id"] for i in range(5)]

    wait_for(lambda: endpoint_row(pg, ep["id"], "breaker_state")[0] == "open")
    opened = len(receiver.at(p))
    assert opened == 3, opened
    time.sleep(1.0)                           # inside the cool-down
    assert len(receiver.at(p)) == opened

    # the probe fails: open again, with a longer cool-down
    wait_for(lambda: len(receiver.at(p)) == opened + 1, timeout=5)
    wait_for(lambda: endpoint_row(pg, ep["id"], "breaker_opens")[0] == 2)
    time.sleep(0.5)
    assert len(receiver.at(p)) == opened + 1

    receiver.plan(p, 200)
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE event_id = ANY(%s) "
        "AND status = 'succeeded'", ids)[0][0] == 5, timeout=15)
    assert endpoint_row(pg, ep["id"], "breaker_state", "consecutive_failures",
                        "breaker_opens") == ("closed", 0, 0)


def test_rate_limit_of_5_per_second_holds_within_10_percent(
        app, pg, receiver, daemons):
    p = path()
    ep = endpoint(app, pg, receiver, p)
    pg.query("UPDATE hookd.endpoints SET rate_limit = 5 WHERE id = %s "
             "RETURNING 1", ep["id"])
    for i in range(36):
        send(app, payload={"i": i})
    daemons(poll_interval="50ms")
    wait_for(lambda: len(receiver.at(p)) == 36, timeout=20)
    times = sorted(r["at"] for r in receiver.at(p))
    # past the first second's burst, the steady rate
    steady = (len(times) - 6) / (times[-1] - times[5])
    assert 4.5 <= steady <= 5.5, steady


def test_max_in_flight_caps_concurrent_deliveries(app, pg, receiver,
                                                  daemons):
    p = path()
    receiver.plan(p, {"status": 200, "sleep": 0.3})
    ep = endpoint(app, pg, receiver, p)
    pg.query("UPDATE hookd.endpoints SET max_in_flight = 2 WHERE id = %s "
             "RETURNING 1", ep["id"])
    ids = [send(app, payload={"i": i})["id"] for i in range(10)]
    daemons(poll_interval="50ms")
    peak = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        peak = max(peak, pg.query(
            "SELECT count(*) FROM hookd.deliveries d WHERE event_id = ANY(%s) "
            "AND hookd.delivery_status(d) = 'in_flight'", ids)[0][0])
        if pg.query("SELECT count(*) FROM hookd.deliveries WHERE "
                    "event_id = ANY(%s) AND status = 'succeeded'",
                    ids)[0][0] == 10:
            break
        time.sleep(0.02)
    assert peak == 2, peak


def test_connection_reset_is_retryable(app, pg, daemons):
    import socket
    import struct
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def reset_all():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            c.recv(65536)
            # linger 0: close() sends RST instead of FIN
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            c.close()

    t = threading.Thread(target=reset_all, daemon=True)
    t.start()
    try:
        ep = app.endpoint(f"http://127.0.0.1:{srv.getsockname()[1]}/reset")
        pg.query("UPDATE hookd.endpoints SET retry_policy = %s WHERE id = %s "
                 "RETURNING 1", FAST_RETRY, ep["id"])
        daemons()
        ev = send(app)
        a = wait_for(lambda: attempts(pg, ev["id"]))
        assert a[0][0] is None and a[0][1] == "RETRYABLE", a
    finally:
        stop.set()
        t.join()
        srv.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def test_a_response_is_stored_as_safe_text_whatever_its_bytes(
        app, pg, receiver, daemons):
    """hookd writes each outcome's JSON itself (worker/record.c): quotes,
    backslashes, newlines and tabs survive, other bytes become '?'."""
    p = path()
    raw = b'{"why": "a \\"quoted\\" \\\\ word"}\n\tnext\x01\x7f\xc3\xa9 end'
    receiver.plan(p, {"status": 500, "body": raw}, 200)
    endpoint(app, pg, receiver, p)
    daemons()
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")
    body = response_of(pg, ev["id"], 500)
    assert body == '{"why": "a \\"quoted\\" \\\\ word"}\n\tnext???? end'


def test_50_mb_response_is_cut_to_4_kib_and_rss_barely_moves(
        app, pg, receiver, daemons):
    p = path()
    receiver.plan(p, {"status": 200, "body": b"y" * (50 * 1024 * 1024)})
    endpoint(app, pg, receiver, p)
    d = daemons()
    warm = send(app)
    wait_for(lambda: delivery(pg, warm["id"])[0] == "succeeded", timeout=60)
    before = rss_kib(d.proc.pid)
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded", timeout=60)
    after = rss_kib(d.proc.pid)
    body = pg.query("SELECT a.response_body FROM hookd.attempts a JOIN "
                    "hookd.deliveries d ON d.app_id = a.app_id AND "
                    "d.id = a.delivery_id WHERE d.event_id = %s",
                    ev["id"])[0][0]
    assert body == "y" * 4096
    assert after - before < 2048, (before, after)     # KiB


def test_only_http_and_https_endpoints_exist(app, pg, hookd):
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/x",
                "ftp://127.0.0.1/"):
        err = hookd("endpoints", "create", "--app", app.name, "--url", url,
                    check=False)
        assert err["error"]["code"] == "invalid_endpoint"
    with pytest.raises(Exception, match="check constraint"):
        pg.query("INSERT INTO hookd.endpoints (app_id, url) VALUES "
                 "(%s, 'gopher://127.0.0.1:70/x')", app.id)


def test_sighup_reloads_and_keeps_the_old_settings_on_error(
        app, pg, receiver, daemons):
    p = path()
    endpoint(app, pg, receiver, p)
    d = daemons(allow_network=[])
    refused = send(app)
    wait_for(lambda: delivery(pg, refused["id"])[0] == "failed")

    with open(d.conf, "a") as f:
        f.write("allow_network = 127.0.0.1/32\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.output())
    ok = send(app)
    wait_for(lambda: delivery(pg, ok["id"])[0] == "succeeded")

    with open(d.conf, "a") as f:
        f.write("concurrency = many\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "keeping the running configuration" in d.output())
    still = send(app)
    wait_for(lambda: delivery(pg, still["id"])[0] == "succeeded")


def test_sighup_applies_a_new_proxy_to_connections_kept_idle(
        app, pg, receiver, daemons):
    """hookd keeps finished transfers' handles for the next ones: after a
    reload that adds a proxy, and one that takes it away, the next delivery
    follows the new setting, never the one a kept handle was made with."""
    from harness import Proxy

    p = path()
    endpoint(app, pg, receiver, p)
    proxy = Proxy()
    try:
        d = daemons()
        first = send(app)
        wait_for(lambda: delivery(pg, first["id"])[0] == "succeeded")

        def through_proxy():
            return [x for x in proxy.seen if x[1].endswith(p)]

        assert through_proxy() == []
        with open(d.conf, "a") as f:
            f.write(f"proxy = {proxy.url}\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: d.output().count("configuration reloaded") == 1)
        second = send(app)
        wait_for(lambda: delivery(pg, second["id"])[0] == "succeeded")
        assert through_proxy() == [("POST", receiver.url + p)]

        conf = open(d.conf).read().replace(f"proxy = {proxy.url}\n", "")
        with open(d.conf, "w") as f:
            f.write(conf)
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: d.output().count("configuration reloaded") == 2)
        third = send(app)
        wait_for(lambda: delivery(pg, third["id"])[0] == "succeeded")
        assert len(through_proxy()) == 1
        assert len(receiver.at(p)) == 3
    finally:
        proxy.close()


def test_metrics_endpoint_serves_prometheus_text(app, pg, receiver, daemons):
    import requests as rq
    from harness import free_port

    p = path()
    receiver.plan(p, 500, 200)
    endpoint(app, pg, receiver, p)
    port = free_port()
    daemons(metrics_listen=f"127.0.0.1:{port}")
    ev = send(app)
    wait_for(lambda: delivery(pg, ev["id"])[0] == "succeeded")

    def scrape():
        try:
            return rq.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        except rq.RequestException:
            return None

    r = wait_for(scrape)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    m = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            m[k] = float(v)
    assert m['hookd_attempts_total{class="RETRYABLE"}'] >= 1
    assert m['hookd_attempts_total{class="SUCCEEDED"}'] >= 1
    assert m['hookd_deliveries_total{outcome="succeeded"}'] >= 1
    assert m['hookd_attempt_duration_seconds_count'] >= 2
    assert m['hookd_attempt_duration_seconds_bucket{le="+Inf"}'] == \
        m['hookd_attempt_duration_seconds_count']
    assert "hookd_queue_oldest_due_seconds" in m and "hookd_in_flight" in m
    assert 'hookd_breakers{state="open"}' in m
    assert rq.get(f"http://127.0.0.1:{port}/other", timeout=2).status_code \
        == 404


def test_nothing_is_sent_unsigned_when_no_secret_can_be_opened(
        app, pg, receiver, daemons, base):
    import os
    p = path()
    endpoint(app, pg, receiver, p)
    wrong = os.path.join(base, "wrong.key")
    with open(wrong, "w") as f:
        f.write(os.urandom(32).hex())
    daemons(secret_key_file=wrong)
    ev = send(app)
    a = wait_for(lambda: attempts(pg, ev["id"]))
    assert a[0][0] is None and a[0][1] == "RETRYABLE"
    assert "no signing secret" in a[0][2]
    # refused before any request: none was made
    assert receiver.at(p) == []


def test_connections_are_kept_between_bursts(app, pg, receiver, daemons):
    """Bursts of deliveries to one receiver reuse the connections of the
    bursts before: libcurl's default pool follows the transfers running,
    and closed connections as each burst ebbed."""
    p = path()
    ep = endpoint(app, pg, receiver, p)
    daemons()
    for n in range(1, 6):
        burst(app, 12)
        # recorded: each transfer is over, its connection idle
        wait_for(lambda: succeeded(pg, ep["id"]) >= 12 * n)
    peers = {r["peer"] for r in receiver.at(p)}
    # at most one burst's worth: 12 at once, and then none new
    assert len(peers) <= 12, sorted(peers)


def test_https_delivery_resumes_tls_sessions(app, pg, daemons, base):
    """HTTPS to a receiver whose certificate hookd trusts through ca_file;
    a connection opened after the first resumes its TLS session instead
    of a full handshake (libcurl keeps sessions per transfer unless they
    are shared). The receiver answers slowly, so that each burst of k
    deliveries finds k - 1 idle connections and opens one more: opened at
    the same moment, connections present the same ticket (libcurl keeps
    one session per host), and this receiver resumes only one of them."""
    from harness import Receiver

    tls = Receiver(tls_dir=base)
    try:
        p = path()
        tls.plan(p, {"status": 200, "sleep": 0.3})
        ep = endpoint(app, pg, tls, p)
        daemons(ca_file=tls.cert)
        sent = 0
        for k in (1, 2, 3, 4):
            burst(app, k)
            sent += k
            wait_for(lambda: succeeded(pg, ep["id"]) == sent)

        got = tls.at(p)
        assert len(got) == sent
        assert all(r["headers"].get("webhook-signature") for r in got)
        first = {}
        for r in got:
            first.setdefault(r["peer"], r["resumed"])
        assert first.pop(got[0]["peer"]) is False
        assert len(first) >= 2 and all(first.values()), first
    finally:
        tls.close()
