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
    log = n.log()
    assert "[alert]" not in log and "[emerg]" not in log, log[-4000:]


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
def app(hookd, nginx):
    return App(hookd, nginx)


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
