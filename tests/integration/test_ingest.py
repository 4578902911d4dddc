"""POST /v1/events against the real nginx, module and PostgreSQL."""

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

EVENT = {"event_type": "invoice.paid", "payload": {"amount": 42},
         "labels": {"owner_id": "acme"}}


def error_of(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["message"]


def test_accepted_event_is_committed_with_its_rows(app, pg):
    ep = app.endpoint()
    r = app.post(EVENT)
    assert r.status_code == 202, r.text
    body = r.json()
    assert re.fullmatch(r"evt_[0-9a-f]{28}", body["id"])
    assert body["event_type"] == "invoice.paid"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
                        body["received_at"])

    rows = pg.query("SELECT app_id, event_type, payload, labels, source "
                    "FROM hookd.events WHERE id = %s", body["id"])
    # the classifier's labels beside the producer's (docs/assist.md)
    assert rows == [(app.id, "invoice.paid", {"amount": 42},
                     {"owner_id": "acme", "hookd.provider": "custom",
                      "hookd.category": "billing"}, "api")]
    dl = pg.query("SELECT endpoint_id, status, attempt_count "
                  "FROM hookd.deliveries WHERE event_id = %s", body["id"])
    assert dl == [(ep["id"], "pending", 0)]


def test_x_api_key_header_and_no_labels(app, pg):
    r = app.post({"event_type": "user.created", "payload": {}},
                 headers={"Authorization": None, "X-API-Key": app.key})
    assert r.status_code == 202, r.text
    assert pg.query("SELECT labels FROM hookd.events WHERE id = %s",
                    r.json()["id"]) == [({"hookd.provider": "custom",
                                          "hookd.category": "identity"},)]


def test_fan_out_follows_patterns_and_label_filters(app, pg):
    exact = app.endpoint("http://127.0.0.1:9/a", "--event-types", "invoice.paid")
    prefix = app.endpoint("http://127.0.0.1:9/b", "--event-types",
                          "invoice.*,user.created")
    acme = app.endpoint("http://127.0.0.1:9/c", "--label", "owner_id=acme")

    def fanned(event):
        r = app.post(event)
        assert r.status_code == 202, r.text
        return {row[0] for row in pg.query(
            "SELECT endpoint_id FROM hookd.deliveries WHERE event_id = %s",
            r.json()["id"])}

    assert fanned(EVENT) == {exact["id"], prefix["id"], acme["id"]}
    assert fanned({"event_type": "invoice.void", "payload": {}}) == \
        {prefix["id"]}
    assert fanned({"event_type": "user.created", "payload": {},
                   "labels": {"owner_id": "acme", "x": "y"}}) == \
        {prefix["id"], acme["id"]}
    assert fanned({"event_type": "user.deleted", "payload": {},
                   "labels": {"owner_id": "other"}}) == set()
    assert fanned({"event_type": "invoices", "payload": {}}) == set()


def test_malformed_json_is_400_invalid_json(app):
    msg = error_of(app.post(b'{"event_type": "a", "payload": {'), 400,
                   "invalid_json")
    assert "malformed JSON" in msg
    error_of(app.post(b""), 400, "invalid_json")
    deep = b'{"event_type":"a","payload":' + b'{"a":' * 70 + b'1' + \
        b'}' * 71
    assert "deeper than 64" in error_of(app.post(deep), 400, "invalid_json")
    error_of(app.post(b'{"event_type":"a","event_type":"b","payload":{}}'),
             400, "invalid_json")


def test_bad_event_is_400_invalid_event_naming_the_field(app):
    cases = [
        ({"payload": {}}, "event_type"),
        ({"event_type": "has space", "payload": {}}, "event_type"),
        ({"event_type": "x" * 129, "payload": {}}, "event_type"),
        ({"event_type": "a.b"}, "payload"),
        ({"event_type": "a.b", "payload": [1]}, "payload"),
        ({"event_type": "a.b", "payload": {}, "labels": {"k": 1}},
         "labels.k"),
        ({"event_type": "a.b", "payload": {}, "labels": []}, "labels"),
        ({"event_type": "a.b", "payload": {}, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        assert field in error_of(app.post(body), 400, "invalid_event")


def test_the_database_keeps_the_event_type_rule_nginx_checks(app, pg):
    """What reaches hookd.events by another way than nginx (psql, a
    function) keeps the rule too: the same strings refused as by the
    anchored regex it replaced (migration 028)."""
    import psycopg
    rule = r"^[A-Za-z0-9_.:-]{1,128}$"
    cases = ["a", "invoice.paid", "zen:event-type:ticket.comment_added",
             "x" * 128, "x" * 129, "", "has space", "trailing\n", "\nlead",
             "caf\u00e9", "a/b", "a*", "A-Z_0.9:-"]
    with pg.connect() as c:
        for t in cases:
            try:
                c.execute("INSERT INTO hookd.events (app_id, event_type, "
                          "payload) VALUES (%s, %s, '{}')", (app.id, t))
                stored = True
            except psycopg.errors.CheckViolation:
                stored = False
            assert stored == bool(re.fullmatch(rule, t)), repr(t)


def test_missing_or_unknown_key_is_401(app, nginx):
    r = requests.post(nginx.url + "/v1/events", json=EVENT, timeout=5)
    error_of(r, 401, "unauthorized")
    error_of(app.post(EVENT, key="hk_" + "x" * 40), 401, "unauthorized")
    error_of(app.post(EVENT, headers={"Authorization": "Basic abc"}), 401,
             "unauthorized")


def test_revoked_key_is_403_within_the_cache_ttl(app, hookd):
    key = hookd("keys", "create", "--app", app.name, "--scope", "ingest")
    assert app.post(EVENT, key=key["key"]).status_code == 202
    hookd("keys", "revoke", key["id"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = app.post(EVENT, key=key["key"])
        if r.status_code != 202:
            break
        time.sleep(0.2)
    assert "revoked" in error_of(r, 403, "forbidden")


def test_key_without_ingest_scope_is_403(app, hookd):
    key = hookd("keys", "create", "--app", app.name, "--scope", "admin")
    assert "ingest scope" in error_of(app.post(EVENT, key=key["key"]), 403,
                                      "forbidden")


def test_wrong_content_type_is_415(app):
    r = app.post("x", headers={"Content-Type": "text/plain"})
    error_of(r, 415, "unsupported_media_type")


def test_method_other_than_post_is_405(app, nginx):
    r = requests.get(nginx.url + "/v1/events", timeout=5)
    error_of(r, 405, "method_not_allowed")


def test_oversized_body_is_413_json_with_length_and_chunked(app):
    big = json.dumps({"event_type": "a", "payload": {"x": "y" * 70000}})
    msg = error_of(app.post(big), 413, "payload_too_large")
    assert "65536" in msg

    def chunks():
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096].encode()

    error_of(app.post(chunks()), 413, "payload_too_large")
    # a chunked body under the limit goes through
    small = json.dumps(EVENT)
    assert app.post(iter([small[:10].encode(), small[10:].encode()])) \
        .status_code == 202


def test_idempotent_replay_and_conflict(app, pg):
    key = str(uuid.uuid4())
    first = app.post(EVENT, headers={"Idempotency-Key": key})
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers

    again = app.post(EVENT, headers={"Idempotency-Key": key})
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()

    other = dict(EVENT, payload={"amount": 43})
    error_of(app.post(other, headers={"Idempotency-Key": key}), 409,
             "idempotency_conflict")
    assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s",
                    app.id) == [(1,)]
    error_of(app.post(EVENT, headers={"Idempotency-Key": "x" * 256}), 400,
             "invalid_event")


def test_rate_limit_is_429_with_retry_after(app):
    codes = [app.post(EVENT, path="/limited/v1/events") for _ in range(6)]
    statuses = [r.status_code for r in codes]
    assert statuses[:3] == [202, 202, 202], statuses
    limited = [r for r in codes if r.status_code == 429]
    assert limited, statuses
    error_of(limited[0], 429, "rate_limited")
    assert int(limited[0].headers["Retry-After"]) >= 1


def test_500_concurrent_posts_make_exactly_500_events(app, pg):
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=50,
                                            pool_maxsize=50)
    session.mount("http://", adapter)

    def one(i):
        r = session.post(app.nginx.url + "/v1/events",
                         headers={"Authorization": f"Bearer {app.key}"},
                         json={"event_type": "load.test",
                               "payload": {"i": i}}, timeout=30)
        return r.status_code, r.json().get("id")

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(500)))

    assert [s for s, _ in results] == [202] * 500
    ids = {i for _, i in results}
    assert len(ids) == 500
    assert pg.query("SELECT count(*), count(DISTINCT payload->>'i') "
                    "FROM hookd.events WHERE app_id = %s", app.id) == \
        [(500, 500)]


def test_concurrent_repeats_of_one_idempotency_key_make_one_event(app, pg):
    """Repeats land in batches committed concurrently: the one that loses
    the race still answers the replay, never 409. Three rounds, since a
    round does not always make the race."""
    session = requests.Session()

    for _ in range(3):
        key = str(uuid.uuid4())

        def one(_):
            r = session.post(app.nginx.url + "/v1/events",
                             headers={"Authorization": f"Bearer {app.key}",
                                      "Idempotency-Key": key},
                             json=EVENT, timeout=30)
            assert r.status_code == 202, (r.status_code, r.text)
            return r.json()["id"], r.headers.get("Idempotent-Replayed")

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one, range(40)))

        assert len({i for i, _ in results}) == 1
        assert sum(1 for _, replayed in results if replayed is None) == 1
        assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s "
                        "AND idempotency_key = %s", app.id, key) == [(1,)]


def test_a_repeat_that_waited_for_the_original_to_commit_is_a_replay(app, pg):
    """The race above, made certain: one transaction inserts a key and
    stays open; a second batch with the same key and body waits on it, and
    once the first commits it must answer the original as replayed."""
    key = str(uuid.uuid4())
    body = {"event_type": "invoice.paid", "payload": {"amount": 42}}
    batch = json.dumps([{"app_id": app.id, "idempotency_key": key,
                         "request_hash": "ab" * 32, "body": body}])
    first = pg.connect()
    first.autocommit = False
    original = first.execute("SELECT o_status, o_id FROM hookd.ingest(%s)",
                             (batch,)).fetchall()
    assert original[0][0] == "created"
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(pg.query, "SELECT o_status, o_id FROM "
                             "hookd.ingest(%s)", batch)
        time.sleep(0.3)
        assert not second.done()          # waiting on the first's insert
        first.commit()
        assert second.result(timeout=10) == [("replayed", original[0][1])]
    first.close()


def test_large_events_in_one_batch_are_sent_whole(app, pg):
    """Batches of megabytes leave libpq with unsent data: it must be
    flushed as the socket drains, never dropped or blocked on."""
    def one(i):
        body = {"event_type": "big.event",
                "payload": {"i": i, "blob": "x" * 900_000}}
        r = requests.post(app.nginx.url + "/big/v1/events", json=body,
                          headers={"Authorization": f"Bearer {app.key}"},
                          timeout=30)
        return r.status_code

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(one, range(24))) == [202] * 24
    rows = pg.query("SELECT count(*), min(length(payload->>'blob')), "
                    "max(length(payload->>'blob')) FROM hookd.events "
                    "WHERE app_id = %s", app.id)
    assert rows == [(24, 900_000, 900_000)]
