import os
import signal
import uuid

import pytest
import requests

from harness import Daemon, Hookd, Nginx, Postgres, Receiver, rmtree, tmpdir


@pytest.fixture(scope="session")
def base():
    d = tmpdir()
    yield d
    if not os.environ.get("HOOKD_KEEP"):
        rmtree(d)


@pytest.fixture(scope="session")
def pg(base):
    p = Postgres(base)
    p.init()
    yield p
    p.stop("immediate")


@pytest.fixture(scope="session")
def hookd(pg, base):
    h = Hookd(pg.conninfo, base)
    h("migrate")
    return h


@pytest.fixture(scope="session")
def nginx(pg, hookd, base):
    n = Nginx(base, pg.conninfo)
    n.start()
    yield n
    n.stop()


@pytest.fixture(autouse=True)
def nginx_log_stays_clean(request):
    """No [alert] or [emerg] in the shared nginx's error log during a test
    that uses it: found at the test that caused it, not at the end."""
    if "nginx" not in request.fixturenames:
        yield
        return
    n = request.getfixturevalue("nginx")
    start = n.log_size()
    yield
    n.assert_clean(start)


class App:
    """An application with an ingest key, named uniquely per test."""

    def __init__(self, hookd, nginx):
        self.hookd = hookd
        self.nginx = nginx
        self.name = "app-" + uuid.uuid4().hex[:12]
        self.id = hookd("apps", "create", self.name)["id"]
        self.key = hookd("keys", "create", "--app", self.name,
                         "--scope", "ingest")["key"]

    def post(self, body, path="/v1/events", key=None, headers=None, **kw):
        h = {"Authorization": f"Bearer {key or self.key}"}
        if isinstance(body, (dict, list)):
            kw["json"] = body
        else:
            kw["data"] = body
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        return requests.post(self.nginx.url + path, headers=h, timeout=10,
                             **kw)

    def endpoint(self, url="http://127.0.0.1:9/hook", *args):
        return self.hookd("endpoints", "create", "--app", self.name,
                          "--url", url, *args)


@pytest.fixture
def app(hookd, nginx, pg):
    """A new application per test. What it leaves to deliver is cancelled
    once the test ends (after its hookd processes stopped), so that it never
    becomes the attempts of the next test's hookd."""
    a = App(hookd, nginx)
    yield a
    pg.query("WITH c AS (UPDATE hookd.deliveries SET status = 'cancelled',"
             " last_error = 'left by an earlier test' WHERE app_id = %s"
             " AND status = 'pending' RETURNING 1)"
             " DELETE FROM hookd.queue WHERE app_id = %s RETURNING 1",
             a.id, a.id)


@pytest.fixture(scope="session")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def daemons(hookd, base):
    """Starts hookd run processes; stops whatever is left after the test."""
    started = []

    def start(*args, env=None, **conf):
        conf.setdefault("allow_network", "127.0.0.1/32")
        d = Daemon(hookd.env, base, **conf).start(*args, env=env)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.stop()
        assert "Sanitizer" not in d.output()
        # a crash is a failure even when the test did not look
        assert d.proc.returncode not in (-signal.SIGSEGV, -signal.SIGABRT,
                                         -signal.SIGBUS), d.output()[-2000:]
