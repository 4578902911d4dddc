"""No application can hurt another (DESIGN, "Trust between tenants"): what
one sends or configures fails its own requests only, never the others'
that share its ingest batch."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import App


def item(app_id, payload, key=None, event_type="trust.test"):
    return {"app_id": app_id, "idempotency_key": key,
            "request_hash": uuid.uuid4().hex * 2,
            "body": {"event_type": event_type, "payload": payload}}


def poisoned(pg, app):
    """An application that enforces a type whose schema's pattern does not
    compile (as one registered before schemas were checked whole could)."""
    pg.query("INSERT INTO hookd.event_types (app_id, name, schema) VALUES "
             "(%s, 'trust.test', '{\"type\": \"object\", \"properties\": "
             "{\"s\": {\"type\": \"string\", \"pattern\": \"(\"}}}') "
             "RETURNING 1", app.id)
    pg.query("UPDATE hookd.applications SET enforce_event_types = true "
             "WHERE id = %s RETURNING 1", app.id)


def test_a_number_postgresql_cannot_store_is_refused_at_the_edge(app, pg):
    for payload in (b'{"n": 1e-20000}', b'{"n": [1, 2.5e-16383]}'):
        r = app.post(b'{"event_type": "trust.test", "payload": ' + payload
                     + b'}')
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_json" and "string" in err["message"]
    r = app.post(b'{"event_type": "trust.test", "payload": {"n": 1e-16383}}')
    assert r.status_code == 202, r.text
    assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s",
                    app.id) == [(1,)]


def test_a_poison_item_fails_alone_in_its_batch(app, hookd, nginx, pg):
    bad = App(hookd, nginx)
    poisoned(pg, bad)
    app.endpoint()
    key = str(uuid.uuid4())
    first = item(app.id, {"n": 1}, key)
    batch = [first, item(bad.id, {"s": "x"}), item(app.id, {"n": 2}),
             dict(first, request_hash=first["request_hash"])]
    rows = pg.query("SELECT o_n, o_status, o_id, o_message FROM "
                    "hookd.ingest(%s)", json.dumps(batch))
    assert [(r[0], r[1]) for r in rows] == [
        (0, "created"), (1, "invalid"), (2, "created"), (3, "replayed")]
    assert "regular expression" in rows[1][3]
    assert rows[3][2] == rows[0][2]
    # stored as if alone: the events, their deliveries, nothing of bad's
    assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s",
                    app.id) == [(2,)]
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE app_id = %s",
                    app.id) == [(2,)]
    assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s",
                    bad.id) == [(0,)]


def test_a_poisoned_application_does_not_fail_its_neighbours(app, hookd,
                                                            nginx, pg):
    """Concurrent producers share each nginx worker's batches: the poisoned
    application's every event is 400, the other's every event 202."""
    bad = App(hookd, nginx)
    poisoned(pg, bad)

    def send(i):
        who = bad if i % 3 == 0 else app
        r = who.post({"event_type": "trust.test", "payload": {"s": "x",
                                                               "i": i}})
        return who is bad, r.status_code, r.json()

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(send, range(300)))
    good = [r for r in results if not r[0]]
    poison = [r for r in results if r[0]]
    assert {r[1] for r in good} == {202}, [r for r in good if r[1] != 202][:3]
    assert {r[1] for r in poison} == {400}
    assert all(r[2]["error"]["code"] == "invalid_event" for r in poison)
    assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s",
                    app.id) == [(len(good),)]
