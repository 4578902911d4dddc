"""The live tail (docs/portal.md): GET /v1/apps/{app}/tail as Server-Sent
Events from nginx, fed by one LISTEN connection per worker. Events and
delivery outcomes reach clients; a resume misses nothing; hundreds of
clients share one feed; a client that does not read is dropped; revoked
and expired credentials end their streams."""

import http.client
import json
import socket
import threading
import time

import psycopg
import pytest
import requests

from harness import wait_for
from test_admin import Api, Tenant, error, ok


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


class Tail:
    """One stream, read by a thread into self.messages: dicts of id, event,
    data (parsed JSON) and comment lines."""

    def __init__(self, nginx, path, key, last_event_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", nginx.port,
                                               timeout=30)
        headers = {"Authorization": f"Bearer {key}"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.messages = []
        self.comments = 0
        self.ended = threading.Event()
        self.lock = threading.Lock()
        if self.status != 200:
            self.body = self.resp.read()
            return
        assert self.resp.getheader("Content-Type") == "text/event-stream"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        m = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if m:
                        if "data" in m:
                            m["data"] = json.loads(m["data"])
                        with self.lock:
                            self.messages.append(m)
                    m = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    k, _, v = line.partition(": ")
                    m[k] = v
        except (OSError, http.client.HTTPException, ValueError,
                AttributeError):  # closed by the test meanwhile
            pass
        self.ended.set()

    def of(self, event):
        with self.lock:
            return [m for m in self.messages if m.get("event") == event]

    def ids(self):
        with self.lock:
            return [m["id"] for m in self.messages if "id" in m]

    def wait(self, pred, timeout=15):
        wait_for(lambda: pred(self), timeout=timeout)

    def ready(self):
        self.wait(lambda t: t.of("ready"))
        return self

    def close(self):
        # the reader holds the response's lock while it waits: a shutdown
        # wakes it, a close alone would wait for the next heartbeat
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.ended.wait(5)
        self.conn.close()


def tail(nginx, t, key=None, prefix="", **kw):
    """A stream, asked again after a 503 (its worker's feed reconnecting,
    after a reload say) as a client does."""
    deadline = time.time() + 15
    while True:
        s = Tail(nginx, f"{prefix}{t.base}/tail", key or t.admin.key, **kw)
        if s.status != 503 or time.time() > deadline:
            return s
        s.conn.close()
        time.sleep(0.2)


def test_an_event_and_its_delivery_outcome_reach_the_tail(operator, nginx,
                                                          receiver, daemons):
    t = Tenant(operator, receiver.url + "/tail-outcome")
    daemons()
    s = tail(nginx, t).ready()
    ev = t.ingest("invoice.paid", {"amount": 42}, labels={"owner_id": "acme"})
    # the tenant's first event may be delivered meanwhile: this one's
    s.wait(lambda s: [a for a in s.of("attempt")
                      if a["data"]["event_id"] == ev["id"]])
    got = [e for e in s.of("event") if e["id"] == ev["id"]][0]
    assert got["data"]["payload"] == {"amount": 42}
    assert got["data"]["labels"] == {"owner_id": "acme",
                                     "hookd.provider": "custom",
                                     "hookd.category": "billing"}
    assert got["data"]["event_type"] == "invoice.paid"
    att = [a for a in s.of("attempt") if a["data"]["event_id"] == ev["id"]][0]
    assert att["id"].startswith("att_")
    assert att["data"]["endpoint_id"] == t.ep
    assert att["data"]["outcome"] == "succeeded"
    assert att["data"]["status_code"] == 200
    s.close()


def test_resume_replays_exactly_what_was_missed(operator, nginx):
    t = Tenant(operator)
    # two workers: a client may come back to either; each saw every id
    for round_ in range(4):
        s = tail(nginx, t).ready()
        before = [t.ingest("a.b", {"n": i})["id"] for i in range(3)]
        s.wait(lambda s: set(before) <= set(s.ids()))
        last = s.ids()[-1]
        s.close()
        missed = [t.ingest("a.b", {"n": 10 + i})["id"] for i in range(5)]
        time.sleep(0.3)
        r = tail(nginx, t, last_event_id=last).ready()
        r.wait(lambda r: set(missed) <= set(r.ids()))
        time.sleep(0.3)
        assert r.ids() == missed, round_
        assert r.of("ready")[0]["data"]["replayed"] == 5
        r.close()


def test_resume_from_postgresql_misses_nothing(operator, hookd, pg, base):
    """Workers that never saw the id (a new nginx) replay from PostgreSQL,
    from 5 seconds before it: nothing committed since is missed."""
    from harness import Nginx
    t = Tenant(operator)
    n1 = Nginx(base + "/tail-a", pg.conninfo)
    n1.start()
    try:
        s = tail(n1, t).ready()
        early = [t.ingest("a.b", {"n": i})["id"] for i in range(3)]
        s.wait(lambda s: set(early) <= set(s.ids()))
        last = s.ids()[-1]
        s.close()
    finally:
        n1.stop()
    missed = [t.ingest("a.b", {"n": 10 + i})["id"] for i in range(5)]
    n2 = Nginx(base + "/tail-b", pg.conninfo)
    n2.start()
    try:
        r = tail(n2, t, last_event_id=last).ready()
        r.wait(lambda r: set(missed) <= set(r.ids()))
        ids = r.ids()
        assert last not in ids
        # the overlap may bring back what came just before the id
        assert set(ids) - set(missed) <= set(early) | {t.event["id"]}
        assert len(ids) == len(set(ids))
        r.close()
        # an id that no stream sent is refused
        bad = tail(n2, t, last_event_id="nonsense")
        assert bad.status == 400, bad.body
    finally:
        n2.stop()


def test_two_hundred_clients_share_one_feed(operator, nginx):
    t = Tenant(operator)
    tails = [tail(nginx, t) for _ in range(200)]
    for s in tails:
        s.ready()
    ev = t.ingest("a.b", {"to": "everyone"})
    for s in tails:
        s.wait(lambda s: ev["id"] in s.ids())
    for s in tails:
        s.close()


def test_a_client_that_never_reads_is_dropped(operator, nginx):
    t = Tenant(operator)
    reader = tail(nginx, t, prefix="/small").ready()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", nginx.port))
    sock.sendall((f"GET /small{t.base}/tail HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {t.admin.key}\r\n\r\n").encode())
    start = nginx.log_size()
    time.sleep(0.5)
    payload = {"blob": "x" * 15000}
    sent = []

    def post(n):
        for _ in range(n):
            sent.append(t.ingest("a.b", payload)["id"])

    threads = [threading.Thread(target=post, args=(60,)) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wait_for(lambda: "tail client is dropped" in nginx.log(start),
             timeout=20)
    # the stream that reads is unharmed
    reader.wait(lambda r: set(sent) <= set(r.ids()), timeout=30)
    reader.close()
    sock.close()


def test_revoked_credentials_end_their_streams(operator, nginx):
    t = Tenant(operator)
    ps = ok(t.admin("POST", t.base + "/portal-sessions", {}), 201)
    s = tail(nginx, t, key=ps["token"], prefix="/portal").ready()
    key = ok(t.api("POST", t.base + "/api-keys", {"scopes": ["admin"]}), 201)
    k = tail(nginx, t, key=key["key"]).ready()
    ok(t.admin("DELETE", t.base + "/portal-sessions/" + ps["id"]), 204)
    s.wait(lambda s: s.ended.is_set())
    assert s.of("end")[0]["data"]["reason"] == "revoked"
    assert not k.ended.is_set()
    ok(t.api("DELETE", t.base + "/api-keys/" + key["id"]), 204)
    k.wait(lambda k: k.ended.is_set())
    assert k.of("end")[0]["data"]["reason"] == "revoked"
    # and they cannot come back
    again = tail(nginx, t, key=ps["token"], prefix="/portal")
    assert again.status == 403


def test_an_expiring_session_ends_its_stream(operator, nginx, pg):
    t = Tenant(operator)
    ps = ok(t.admin("POST", t.base + "/portal-sessions", {}), 201)
    pg.query("UPDATE hookd.portal_sessions SET expires_at = now() + "
             "interval '2 seconds' WHERE id = %s RETURNING 1", ps["id"])
    s = tail(nginx, t, key=ps["token"], prefix="/portal").ready()
    s.wait(lambda s: s.ended.is_set(), timeout=10)
    assert s.of("end")[0]["data"]["reason"] == "expired"


def test_a_labelled_tail_sees_its_customer_only(operator, nginx, receiver,
                                                daemons):
    t = Tenant(operator)
    acme = ok(t.admin("POST", t.base + "/endpoints",
                      {"url": receiver.url + "/tail-acme", "event_types": ["*"],
                       "labels": {"owner_id": "acme"}}), 201)
    daemons()
    ps = ok(t.admin("POST", t.base + "/portal-sessions",
                    {"labels": {"owner_id": "acme"}}), 201)
    s = tail(nginx, t, key=ps["token"], prefix="/portal").ready()
    whole = tail(nginx, t).ready()
    mine = t.ingest("a.b", {"o": 1}, labels={"owner_id": "acme"})
    other = t.ingest("a.b", {"o": 2}, labels={"owner_id": "globex"})
    plain = t.ingest("a.b", {"o": 3})
    whole.wait(lambda w: {mine["id"], other["id"], plain["id"]}
               <= set(w.ids()))
    s.wait(lambda s: [a for a in s.of("attempt")
                      if a["data"]["event_id"] == mine["id"]])
    time.sleep(0.5)
    assert [e["id"] for e in s.of("event")] == [mine["id"]]
    assert {a["data"]["endpoint_id"] for a in s.of("attempt")} == {acme["id"]}


def test_tail_requests_are_checked(operator, nginx):
    t = Tenant(operator)
    other = Tenant(operator)
    assert tail(nginx, other, key=t.admin.key).status == 404
    assert tail(nginx, t, key=t.ingest_key).status == 403
    r = requests.post(nginx.url + t.base + "/tail", timeout=10,
                      headers={"Authorization": f"Bearer {t.admin.key}"})
    error(r, 405, "method_not_allowed")
    assert requests.get(nginx.url + t.base + "/tail", timeout=10).status_code \
        == 401


def test_a_reload_ends_streams_for_their_clients_to_resume(operator, nginx):
    t = Tenant(operator)
    s = tail(nginx, t).ready()
    first = t.ingest("a.b", {"n": 1})["id"]
    s.wait(lambda s: first in s.ids())
    nginx.reload()
    s.wait(lambda s: s.ended.is_set())
    assert s.of("end")[0]["data"]["reason"] == "restarting"
    missed = t.ingest("a.b", {"n": 2})["id"]
    time.sleep(0.5)
    r = tail(nginx, t, last_event_id=first).ready()
    r.wait(lambda r: missed in r.ids())


def test_a_quiet_stream_has_heartbeats(operator, nginx):
    t = Tenant(operator)
    s = tail(nginx, t).ready()
    s.wait(lambda s: s.comments >= 1, timeout=20)
    assert not s.ended.is_set()
    s.close()


def test_a_lost_feed_ends_streams_and_a_resume_misses_nothing(operator,
                                                              nginx, pg):
    """The workers' LISTEN connections die (a PostgreSQL restart, say):
    what commits meanwhile reaches no stream, so streams end with
    `lagging`, and a resume from the last id gets it from PostgreSQL."""
    t = Tenant(operator)
    s = tail(nginx, t).ready()
    first = t.ingest("a.b", {"n": 1})["id"]
    s.wait(lambda s: first in s.ids())
    pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE query = 'LISTEN hookd_tail'")
    s.wait(lambda s: s.ended.is_set())
    assert s.of("end")[0]["data"]["reason"] == "lagging"
    missed = t.ingest("a.b", {"n": 2})["id"]
    r = tail(nginx, t, last_event_id=first).ready()
    r.wait(lambda r: missed in r.ids())
    r.close()


def test_no_stream_starts_while_the_feed_is_down(operator, nginx, pg):
    """While a worker cannot LISTEN (PostgreSQL refusing new connections,
    say) what commits reaches no stream, so none starts: 503 with
    Retry-After, and the client that comes back once the feed is up, with
    its Last-Event-ID, gets what it missed."""
    t = Tenant(operator)
    s = tail(nginx, t).ready()
    first = t.ingest("a.b", {"n": 0})["id"]
    s.wait(lambda s: first in s.ids())
    held = psycopg.connect(pg.conninfo.replace("dbname=hookd",
                                               "dbname=postgres"),
                           autocommit=True)
    try:
        held.execute("ALTER DATABASE hookd WITH ALLOW_CONNECTIONS false")
        held.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE query = 'LISTEN hookd_tail'")
        s.wait(lambda s: s.ended.is_set())
        missed = t.ingest("a.b", {"n": 1})["id"]
        refused = Tail(nginx, f"{t.base}/tail", t.admin.key)
        assert refused.status == 503
        assert refused.resp.getheader("Retry-After") == "1"
        assert json.loads(refused.body)["error"]["code"] == "unavailable"
        refused.conn.close()
    finally:
        held.execute("ALTER DATABASE hookd WITH ALLOW_CONNECTIONS true")
        held.close()
    r = tail(nginx, t, last_event_id=first)
    assert r.status == 200
    r.ready().wait(lambda r: missed in r.ids())
    r.close()
