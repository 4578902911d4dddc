"""A read-only PostgreSQL (a failover under way) is 503 + Retry-After, not
500, and the connection is replaced; with a multi-host conninfo and
target_session_attrs=read-write, nginx and hookd find the server that
writes. Two clusters of their own: the first read-only, the second not."""

import os

import pytest
import requests

from harness import Daemon, Hookd, Nginx, Postgres, Receiver, rmtree, \
    tmpdir, wait_for


@pytest.fixture(scope="module")
def clusters():
    base = tmpdir()
    first, second = Postgres(os.path.join(base, "a")), \
        Postgres(os.path.join(base, "b"))
    for p in (first, second):
        os.makedirs(p.dir, exist_ok=True)
    first.init()
    with open(os.path.join(first.data, "postgresql.conf"), "a") as f:
        f.write("default_transaction_read_only = on\n")
    first.stop()
    first.start()
    second.init()
    yield base, first, second
    for p in (first, second):
        p.stop("immediate")
    rmtree(base)


def read_only(pg, on):
    with pg.connect() as c:
        c.execute(f"ALTER SYSTEM SET default_transaction_read_only = "
                  f"{'on' if on else 'off'}")
        c.execute("SELECT pg_reload_conf()")


def test_nginx_and_hookd_find_the_server_that_writes(clusters):
    base, first, second = clusters
    conninfo = (f"host=127.0.0.1,localhost port={first.port},{second.port} "
                f"dbname=hookd user={second.user} "
                "target_session_attrs=read-write")
    hookd = Hookd(f"host=127.0.0.1 port={second.port} dbname=hookd "
                  f"user={second.user}", base)
    hookd("migrate")
    hookd("apps", "create", "failover")
    key = hookd("keys", "create", "--app", "failover", "--scope",
                "ingest")["key"]
    receiver = Receiver()
    hookd("endpoints", "create", "--app", "failover", "--url",
          receiver.url + "/failover")
    nginx = Nginx(os.path.join(base, "nginx"), conninfo)
    nginx.start()
    multi = Hookd(conninfo, base)
    d = Daemon(multi.env, base, allow_network="127.0.0.1/32").start()

    def post():
        return requests.post(nginx.url + "/v1/events", timeout=10,
                             headers={"Authorization": f"Bearer {key}"},
                             json={"event_type": "failover.test",
                                   "payload": {}})

    try:
        # connecting tries the first host, refused as read-only, then the
        # second
        wait_for(lambda: post().status_code == 202, timeout=10, step=0.2)
        wait_for(lambda: receiver.at("/failover"))
        assert second.query("SELECT count(*) FROM hookd.events") == [(1,)]
        # hookd resolved "localhost" itself and connected by address; its
        # two connections and nginx's are named
        names = dict(second.query(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE application_name LIKE 'hookd%%' GROUP BY 1"))
        assert names.get("hookd") == 2 and names.get("hookd-nginx"), names

        # the writer turns read-only: 503 with Retry-After, never 500
        read_only(second, True)
        # (a list: a Response that is not ok is false)
        r = wait_for(lambda: [x for x in [post()] if x.status_code != 202],
                     timeout=10)[0]
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] and \
            r.json()["error"]["code"] == "unavailable"

        # hookd's next claim meets it too, and reconnects
        wait_for(lambda: "PostgreSQL is read-only" in d.output(), timeout=10)

        # and back: the connections were replaced, ingest resumes
        read_only(second, False)
        wait_for(lambda: post().status_code == 202, timeout=15, step=0.2)
        wait_for(lambda: len(receiver.at("/failover")) >= 2, timeout=15)
    finally:
        d.stop()
        nginx.stop()
        receiver.close()
        read_only(second, False)
    assert "read-only, reconnecting" in nginx.log()
