"""The admin API (`hookd_admin;`): every route against the real nginx and
PostgreSQL, with operator keys, application admin keys and ingest keys."""

import json
import time
import uuid

import pytest
import requests

from harness import wait_for
from test_delivery import SECRET, old_secrets_expired, path, verify


class Api:
    def __init__(self, url, key):
        self.url = url
        self.key = key

    def __call__(self, method, route, body=None, key=None, **kw):
        headers = kw.pop("headers", {})
        if key is not False:
            headers.setdefault("Authorization", f"Bearer {key or self.key}")
        if body is not None:
            kw["json"] = body
        return requests.request(method, self.url + route, headers=headers,
                                timeout=10, **kw)


@pytest.fixture(scope="session")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


def error(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    e = r.json()["error"]
    assert e["code"] == code and e["message"], e
    return e["message"]


class Tenant:
    """An application made over the API with one of everything."""

    def __init__(self, api, receiver_url=None):
        self.api = api
        self.name = "t-" + uuid.uuid4().hex[:10]
        self.app = ok(api("POST", "/v1/apps", {"name": self.name}), 201)
        self.id = self.app["id"]
        self.base = f"/v1/apps/{self.id}"
        key = ok(api("POST", self.base + "/api-keys",
                     {"scopes": ["ingest"], "name": "producer"}), 201)
        self.ingest_key, self.key_id = key["key"], key["id"]
        self.admin = Api(api.url, ok(api("POST", self.base + "/api-keys",
                                         {"scopes": ["admin"]}), 201)["key"])
        ok(api("POST", self.base + "/event-types",
               {"name": "invoice.paid", "description": "paid",
                "schema": {"type": "object"}}), 201)
        self.endpoint = ok(api("POST", self.base + "/endpoints", {
            "url": receiver_url or "http://127.0.0.1:9/hook"}), 201)
        self.ep = self.endpoint["id"]
        self.src = ok(api("POST", self.base + "/sources", {
            "name": "github", "provider": "github",
            "secret": "It's a Secret to Everybody"}), 201)["id"]
        self.session = ok(api("POST", self.base + "/portal-sessions", {}),
                          201)["id"]
        self.event = self.ingest("invoice.paid", {"n": 1})
        self.delivery = ok(api("GET", self.base + "/deliveries"))["data"][0]

    def ingest(self, event_type, payload, labels=None, key=None):
        r = requests.post(self.api.url + "/v1/events", timeout=10,
                          headers={"Authorization":
                                   f"Bearer {key or self.ingest_key}"},
                          json={"event_type": event_type, "payload": payload,
                                "labels": labels or {}})
        assert r.status_code == 202, r.text
        return r.json()

    def routes(self):
        """Every route with this tenant's ids filled in: (method, path, body)."""
        b, ep = self.base, f"{self.base}/endpoints/{self.ep}"
        return [
            ("GET", b, None), ("PATCH", b, {"enforce_event_types": False}),
            ("DELETE", b, None),
            ("GET", b + "/api-keys", None),
            ("POST", b + "/api-keys", {"scopes": ["ingest"]}),
            ("DELETE", f"{b}/api-keys/{self.key_id}", None),
            ("GET", b + "/event-types", None),
            ("POST", b + "/event-types", {"name": "other.type"}),
            ("GET", b + "/event-types/invoice.paid", None),
            ("GET", b + "/event-types/invoice.paid/sample", None),
            ("PATCH", b + "/event-types/invoice.paid", {"description": "x"}),
            ("DELETE", b + "/event-types/invoice.paid", None),
            ("GET", b + "/endpoints", None),
            ("POST", b + "/endpoints", {"url": "http://127.0.0.1:9/x"}),
            ("GET", ep, None), ("PATCH", ep, {"description": "x"}),
            ("DELETE", ep, None),
            ("POST", ep + "/pause", None), ("POST", ep + "/resume", None),
            ("POST", ep + "/rotate-secret", None),
            ("POST", ep + "/recover", {"since": "2020-01-01T00:00:00Z"}),
            ("POST", ep + "/test", None), ("GET", ep + "/health", None),
            ("GET", ep + "/diagnosis", None),
            ("POST", ep + "/filter/test", {"payload": {"a": 1},
                                           "filter": {"a": 1}}),
            ("GET", b + "/sources", None),
            ("POST", b + "/sources", {"name": "std", "provider": "standard"}),
            ("GET", f"{b}/sources/{self.src}", None),
            ("PATCH", f"{b}/sources/{self.src}", {"tolerance_seconds": 60}),
            ("DELETE", f"{b}/sources/{self.src}", None),
            ("POST", f"{b}/sources/{self.src}/rotate-secret",
             {"secret": "another secret", "grace_seconds": 60}),
            ("GET", b + "/events", None),
            ("GET", f"{b}/events/{self.event['id']}", None),
            ("GET", f"{b}/events/{self.event['id']}/deliveries", None),
            ("GET", b + "/deliveries", None),
            ("GET", f"{b}/deliveries/{self.delivery['id']}", None),
            ("POST", f"{b}/deliveries/{self.delivery['id']}/retry", None),
            ("POST", b + "/deliveries/retry", {}),
            ("GET", b + "/portal-sessions", None),
            ("POST", b + "/portal-sessions", {"ttl_seconds": 600}),
            ("GET", f"{b}/portal-sessions/{self.session}", None),
            ("DELETE", f"{b}/portal-sessions/{self.session}", None),
            ("GET", b + "/stats", None),
            ("GET", b + "/summary", None),
        ]


def test_every_route_needs_an_admin_key(operator):
    t = Tenant(operator)
    for method, route, body in t.routes() + [("GET", "/v1/apps", None),
                                             ("POST", "/v1/apps", {})]:
        error(operator(method, route, body, key=False), 401, "unauthorized")
        error(operator(method, route, body, key="hk_" + "x" * 40), 401,
              "unauthorized")
        msg = error(operator(method, route, body, key=t.ingest_key), 403,
                    "forbidden")
        assert "admin scope" in msg
    # nothing changed
    assert ok(operator("GET", f"{t.base}/endpoints/{t.ep}"))["status"] == \
        "enabled"


def test_revoked_and_expired_admin_keys_are_refused(operator, pg):
    t = Tenant(operator)
    keys = ok(operator("GET", t.base + "/api-keys"))["data"]
    admin_id = [k for k in keys if k["scopes"] == ["admin"]][0]["id"]
    ok(t.admin("GET", t.base))
    ok(operator("DELETE", f"{t.base}/api-keys/{admin_id}"), 204)
    assert "revoked" in error(t.admin("GET", t.base), 403, "forbidden")

    other = ok(operator("POST", t.base + "/api-keys", {
        "scopes": ["admin"], "expires_at": "2099-01-01T00:00:00Z"}), 201)
    pg.query("UPDATE hookd.api_keys SET expires_at = now() WHERE id = %s "
             "RETURNING 1", other["id"])
    assert "expired" in error(operator("GET", t.base, key=other["key"]),
                              403, "forbidden")


def test_an_application_key_cannot_see_or_touch_another_application(
        operator, pg):
    a, b = Tenant(operator), Tenant(operator)
    before = pg.query("SELECT count(*) FROM hookd.deliveries WHERE app_id = %s",
                      b.id)
    for method, route, body in b.routes():
        for ref in (b.id, b.name):
            r = a.admin(method, route.replace(b.id, ref), body)
            error(r, 404, "not_found")
    # b is untouched: its key still ingests, its endpoint is as it was
    b.ingest("invoice.paid", {"n": 2})
    ep = ok(operator("GET", f"{b.base}/endpoints/{b.ep}"))
    assert ep["status"] == "enabled" and ep["description"] == ""
    types = ok(operator("GET", b.base + "/event-types"))["data"]
    assert [t["name"] for t in types] == ["invoice.paid"]
    assert not types[0]["archived"]
    after = pg.query("SELECT count(*) FROM hookd.deliveries WHERE app_id = %s",
                     b.id)
    assert after[0][0] == before[0][0] + 1
    # and the application list shows a key its own application only
    mine = ok(a.admin("GET", "/v1/apps"))["data"]
    assert [x["id"] for x in mine] == [a.id]
    error(a.admin("POST", "/v1/apps", {"name": "nope-" + a.name}), 403,
          "forbidden")
    # while it manages its own
    ok(a.admin("PATCH", a.base, {"enforce_event_types": False}))
    ok(a.admin("GET", f"{a.base}/endpoints/{a.ep}/health"))


def test_unknown_resources_are_404(operator):
    t = Tenant(operator)
    for route in ("/v1/apps/nope", "/v1/apps/app_00000000",
                  f"{t.base}/endpoints/ep_nope",
                  f"{t.base}/endpoints/ep_nope/health",
                  f"{t.base}/event-types/no.such", f"{t.base}/events/evt_nope",
                  f"{t.base}/events/evt_nope/deliveries",
                  f"{t.base}/deliveries/dlv_nope", f"{t.base}/whatever",
                  f"{t.base}/endpoints/{t.ep}/nothing", "/v1/apps/x/y/z/w/v/u"):
        error(operator("GET", route), 404, "not_found")
    error(operator("DELETE", f"{t.base}/api-keys/key_nope"), 404, "not_found")
    error(operator("POST", f"{t.base}/deliveries/dlv_nope/retry"), 404,
          "not_found")


def test_wrong_methods_bodies_and_queries_are_explained(operator):
    t = Tenant(operator)
    r = operator("PUT", t.base, {})
    error(r, 405, "method_not_allowed")
    assert "PATCH" in r.headers["Allow"]
    error(operator("POST", t.base), 405, "method_not_allowed")
    error(operator("GET", f"{t.base}/endpoints/{t.ep}/pause"), 405,
          "method_not_allowed")
    r = operator("POST", "/v1/apps", data=b'{"name": ',
                 headers={"Content-Type": "application/json"})
    assert "not valid JSON" in error(r, 400, "invalid_json")
    error(operator("POST", "/v1/apps", data=b"[1]",
                   headers={"Content-Type": "application/json"}),
          400, "invalid_request")
    error(operator("POST", "/v1/apps", data=b"name=x",
                   headers={"Content-Type": "text/plain"}),
          415, "unsupported_media_type")
    assert "limit" in error(operator("GET", "/v1/apps", params={"limit": 0}),
                            400, "invalid_query")
    error(operator("GET", "/v1/apps", params={"limit": "x"}), 400,
          "invalid_query")
    assert "since" in error(operator("GET", t.base + "/events",
                                     params={"since": "yesterday"}),
                            400, "invalid_query")
    error(operator("GET", t.base + "/deliveries",
                   params={"status": "lost"}), 400, "invalid_query")
    r = operator("POST", "/v1/apps", data=b"x" * (1024 * 1024 + 1),
                 headers={"Content-Type": "application/json"})
    error(r, 413, "payload_too_large")


def test_applications_create_list_page_get_update_delete(operator, pg):
    names = ["pg-" + uuid.uuid4().hex[:8] for _ in range(5)]
    made = [ok(operator("POST", "/v1/apps", {"name": n}), 201) for n in names]
    assert all(m["id"].startswith("app_") and not m["enforce_event_types"]
               for m in made)
    assert "already exists" in error(operator("POST", "/v1/apps",
                                              {"name": names[0]}),
                                     409, "conflict")
    for bad in ({}, {"name": ""}, {"name": "has space"}, {"name": "x" * 64},
                {"name": "app_lookalike"}, {"name": 5},
                {"name": "fine", "colour": "red"},
                {"name": "fine2", "enforce_event_types": "yes"}):
        error(operator("POST", "/v1/apps", bad), 400, "invalid_request")

    seen, cursor, pages = [], None, 0
    while True:
        page = ok(operator("GET", "/v1/apps", params=dict(
            limit=2, **({"cursor": cursor} if cursor else {}))))
        assert len(page["data"]) <= 2
        seen += [a["id"] for a in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) and pages >= 3
    assert {m["id"] for m in made} <= set(seen)
    assert seen == sorted(seen, reverse=True)

    got = ok(operator("GET", f"/v1/apps/{names[1]}"))
    assert got["id"] == made[1]["id"]
    new_name = names[1] + "-renamed"
    upd = ok(operator("PATCH", f"/v1/apps/{made[1]['id']}",
                      {"name": new_name, "enforce_event_types": True}))
    assert upd["name"] == new_name and upd["enforce_event_types"]
    error(operator("PATCH", f"/v1/apps/{new_name}", {"name": names[2]}), 409,
          "conflict")

    t = Tenant(operator)
    assert "pending" in error(operator("DELETE", t.base), 409,
                              "pending_deliveries")
    ok(operator("DELETE", t.base, params={"force": "true"}), 204)
    error(operator("GET", t.base), 404, "not_found")
    assert pg.query("SELECT count(*) FROM hookd.events WHERE app_id = %s",
                    t.id)[0][0] == 0
    ok(operator("DELETE", f"/v1/apps/{names[0]}"), 204)


def test_api_keys_are_shown_once_work_and_revoke(operator, nginx):
    t = Tenant(operator)
    made = ok(operator("POST", t.base + "/api-keys",
                       {"scopes": ["ingest", "admin"], "name": "ci"}), 201)
    assert made["key"].startswith("hk_") and made["prefix"] == made["key"][:10]
    assert made["state"] == "active" and made["scopes"] == ["admin", "ingest"]
    t.ingest("invoice.paid", {"n": 3}, key=made["key"])
    listed = ok(operator("GET", t.base + "/api-keys"))["data"]
    assert made["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)
    assert made["key"] not in str(listed)

    page = ok(operator("GET", t.base + "/api-keys", params={"limit": 1}))
    rest = ok(operator("GET", t.base + "/api-keys",
                       params={"limit": 10, "cursor": page["next_cursor"]}))
    assert len(page["data"]) + len(rest["data"]) == len(listed)

    for bad in ({"scopes": []}, {"scopes": ["root"]}, {"scopes": "admin"},
                {"expires_at": "2001-01-01T00:00:00Z"},
                {"expires_at": "soon"}, {"name": "x" * 201}):
        error(operator("POST", t.base + "/api-keys", bad), 400,
              "invalid_request")

    ok(operator("DELETE", f"{t.base}/api-keys/{made['id']}"), 204)
    # the edge caches a key's verdict for hookd_key_cache_ttl (1 s here)
    wait_for(lambda: requests.post(
        nginx.url + "/v1/events", timeout=10,
        headers={"Authorization": f"Bearer {made['key']}"},
        json={"event_type": "a", "payload": {}}).status_code == 403,
        timeout=5, step=0.2)
    got = [k for k in ok(operator("GET", t.base + "/api-keys"))["data"]
           if k["id"] == made["id"]][0]
    assert got["state"] == "revoked" and got["revoked_at"]


def test_event_types_with_schemas(operator):
    t = Tenant(operator)
    schema = {"type": "object", "required": ["amount"],
              "properties": {"amount": {"type": "integer", "minimum": 0},
                             "currency": {"enum": ["eur", "usd"]}},
              "additionalProperties": False}
    made = ok(operator("POST", t.base + "/event-types", {
        "name": "invoice.refunded", "schema": schema,
        "sample": {"amount": 5, "currency": "eur"}}), 201)
    assert made["schema"] == schema and not made["archived"]
    error(operator("POST", t.base + "/event-types",
                   {"name": "invoice.refunded"}), 409, "conflict")
    assert "oneOf" in error(operator("POST", t.base + "/event-types", {
        "name": "x.y", "schema": {"oneOf": []}}), 400, "invalid_schema")
    assert "sample.amount" in error(operator("POST", t.base + "/event-types", {
        "name": "x.z", "schema": schema, "sample": {"amount": -1}}),
        400, "invalid_request")
    for bad in ({"name": "bad name"}, {}, {"name": "ok.1", "schema": []},
                {"name": "ok.2", "extra": 1}):
        error(operator("POST", t.base + "/event-types", bad), 400,
              "invalid_request")

    names = [ok(operator("POST", t.base + "/event-types", {"name": f"p.{i}"}),
                201)["name"] for i in range(3)]
    seen, cursor = [], None
    while True:
        page = ok(operator("GET", t.base + "/event-types", params=dict(
            limit=2, **({"cursor": cursor} if cursor else {}))))
        seen += [x["name"] for x in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(["invoice.paid", "invoice.refunded"] + names)

    upd = ok(operator("PATCH", t.base + "/event-types/invoice.refunded",
                      {"description": "money back", "schema": None}))
    assert upd["description"] == "money back" and upd["schema"] is None
    ok(operator("DELETE", t.base + "/event-types/p.0"), 204)
    got = ok(operator("GET", t.base + "/event-types/p.0"))
    assert got["archived"] and got["archived_at"]
    listed = [x["name"] for x in
              ok(operator("GET", t.base + "/event-types"))["data"]]
    assert "p.0" not in listed
    assert "p.0" in [x["name"] for x in ok(operator(
        "GET", t.base + "/event-types", params={"archived": "true"}))["data"]]
    assert not ok(operator("PATCH", t.base + "/event-types/p.0",
                           {"archived": False}))["archived"]


def test_endpoints_create_list_get_update_delete(operator, pg):
    t = Tenant(operator)
    made = ok(operator("POST", t.base + "/endpoints", {
        "url": "https://example.com/hooks", "description": "billing",
        "event_types": ["invoice.*"], "labels": {"owner_id": "acme"},
        "timeout_ms": 5000, "rate_limit": 10, "max_in_flight": 4,
        "retry_policy": {"strategy": "constant", "base_seconds": 5,
                         "max_attempts": 3}}), 201)
    assert made["secret"].startswith("whsec_")
    assert made["event_types"] == ["invoice.*"]
    assert made["labels"] == {"owner_id": "acme"}
    assert made["status"] == "enabled" and made["secrets"] == 1
    # the secret is stored sealed, never in plaintext
    stored = pg.query("SELECT secrets::text FROM hookd.endpoints WHERE id = %s",
                      made["id"])[0][0]
    assert made["secret"] not in stored and '"v1.' in stored
    got = ok(operator("GET", f"{t.base}/endpoints/{made['id']}"))
    assert "secret" not in got and got["timeout_ms"] == 5000

    given = ok(operator("POST", t.base + "/endpoints", {
        "url": "http://127.0.0.1:9/given", "secret": SECRET}), 201)
    assert given["secret"] == SECRET and given["event_types"] == ["*"]

    for bad in ({}, {"url": "ftp://x"}, {"url": "file:///etc/passwd"},
                {"url": "http://"}, {"url": "http://x", "timeout_ms": 5},
                {"url": "http://x", "event_types": []},
                {"url": "http://x", "event_types": ["bad type"]},
                {"url": "http://x", "labels": {"a": 1}},
                {"url": "http://x", "rate_limit": -1},
                {"url": "http://x", "max_in_flight": 0},
                {"url": "http://x", "retry_policy": {"strategy": "fib"}},
                {"url": "http://x", "retry_policy": {"tries": 3}},
                {"url": "http://x", "secret": "whsec_short"},
                {"url": "http://x", "colour": "red"}):
        error(operator("POST", t.base + "/endpoints", bad), 400,
              "invalid_request")

    upd = ok(operator("PATCH", f"{t.base}/endpoints/{made['id']}", {
        "event_types": ["invoice.paid", "refund.*"], "rate_limit": None,
        "description": "changed"}))
    assert sorted(upd["event_types"]) == ["invoice.paid", "refund.*"]
    assert upd["labels"] == {"owner_id": "acme"}      # kept
    assert upd["rate_limit"] is None and upd["max_in_flight"] == 4

    ids = {made["id"], given["id"], t.ep}
    seen, cursor = [], None
    while True:
        page = ok(operator("GET", t.base + "/endpoints", params=dict(
            limit=1, **({"cursor": cursor} if cursor else {}))))
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(seen) == ids and len(seen) == 3

    ok(operator("DELETE", f"{t.base}/endpoints/{given['id']}"), 204)
    error(operator("GET", f"{t.base}/endpoints/{given['id']}"), 404,
          "not_found")


def test_pause_accumulates_and_resume_delivers_everything(
        operator, receiver, daemons, pg):
    p = path()
    t = Tenant(operator, receiver.url + p)
    daemons()
    wait_for(lambda: receiver.at(p))             # the tenant's first event
    ok(operator("POST", f"{t.base}/endpoints/{t.ep}/pause"))
    sent = [t.ingest("invoice.paid", {"n": i})["id"] for i in range(20)]
    time.sleep(1.5)
    got = {r["headers"]["webhook-id"] for r in receiver.at(p)}
    assert not got & set(sent)
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE app_id = %s "
                    "AND status = 'pending'", t.id)[0][0] == 20
    # held: out of every claim's way until the endpoint resumes
    assert pg.query("SELECT count(*) FROM hookd.queue WHERE app_id = %s "
                    "AND due_at = 'infinity'", t.id)[0][0] == 20
    assert ok(operator("GET", f"{t.base}/endpoints/{t.ep}"))["status"] == \
        "paused"
    ok(operator("POST", f"{t.base}/endpoints/{t.ep}/resume"))
    wait_for(lambda: set(sent) <= {r["headers"]["webhook-id"]
                                   for r in receiver.at(p)})


def test_rotate_secret_over_the_api_signs_twice_during_grace(
        operator, receiver, daemons, pg):
    p = path()
    t = Tenant(operator, receiver.url + p + "/all")
    old = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + p, "secret": SECRET,
        "event_types": ["rotate.test"]}), 201)
    new = ok(operator("POST", f"{t.base}/endpoints/{old['id']}/rotate-secret",
                      {"grace_seconds": 3}))
    assert new["secret"].startswith("whsec_") and new["secret"] != SECRET
    assert new["old_secrets_expire_at"]
    daemons()

    def signed(event_id):
        req = wait_for(lambda: [r for r in receiver.at(p) if
                                r["headers"]["webhook-id"] == event_id])[0]
        return {k.lower(): v for k, v in req["headers"].items()}, req["body"]

    h, body = signed(t.ingest("rotate.test", {"n": 1})["id"])
    assert len(h["webhook-signature"].split(" ")) == 2
    assert verify(new["secret"], h, body) and verify(SECRET, h, body)
    wait_for(lambda: old_secrets_expired(pg, old["id"]), timeout=10, step=0.2)
    h, body = signed(t.ingest("rotate.test", {"n": 2})["id"])
    assert len(h["webhook-signature"].split(" ")) == 1
    assert verify(new["secret"], h, body) and not verify(SECRET, h, body)
    error(operator("POST", f"{t.base}/endpoints/{old['id']}/rotate-secret",
                   {"grace_seconds": -1}), 400, "invalid_request")


def settled(pg, app_id):
    """Nothing of the application is left to deliver: no attempt can
    still come."""
    return pg.query("SELECT count(*) FROM hookd.deliveries WHERE app_id = %s"
                    " AND status IN ('pending', 'in_flight')",
                    app_id)[0][0] == 0


def test_recover_resends_exactly_the_failed_deliveries(
        operator, receiver, daemons, pg):
    p = path()
    receiver.plans[p] = [400]
    t = Tenant(operator, receiver.url + p)
    ok(operator("PATCH", f"{t.base}/endpoints/{t.ep}",
                {"retry_policy": {"base_seconds": 0.2, "max_attempts": 2}}))
    daemons()
    failed = [t.ingest("invoice.paid", {"n": i})["id"] for i in range(5)]
    wait_for(lambda: pg.query(
        "SELECT count(*) FROM hookd.deliveries WHERE app_id = %s AND "
        "status = 'failed'", t.id)[0][0] == 6)     # with the tenant's first
    since = pg.query("SELECT hookd.rfc3339(now())")[0][0]
    receiver.plans[p] = [200]
    later = t.ingest("invoice.paid", {"n": 99})["id"]
    wait_for(lambda: later in {r["headers"]["webhook-id"]
                               for r in receiver.at(p)})
    # a failure after `since` is recovered; the ones before are not
    receiver.plans[p] = [400, 200]
    after = t.ingest("invoice.paid", {"n": 100})["id"]
    wait_for(lambda: pg.query(
        "SELECT status FROM hookd.deliveries WHERE event_id = %s",
        after)[0][0] == "failed")
    before = len(receiver.at(p))
    r = ok(operator("POST", f"{t.base}/endpoints/{t.ep}/recover",
                    {"since": since}), 202)
    assert r["recovered"] == 1
    wait_for(lambda: len(receiver.at(p)) == before + 1)
    assert receiver.at(p)[-1]["headers"]["webhook-id"] == after
    wait_for(lambda: settled(pg, t.id))
    assert len(receiver.at(p)) == before + 1
    # now all of them
    r = ok(operator("POST", f"{t.base}/endpoints/{t.ep}/recover",
                    {"since": "2000-01-01T00:00:00Z"}), 202)
    assert r["recovered"] == 6
    wait_for(lambda: set(failed) <= {x["headers"]["webhook-id"]
                                     for x in receiver.at(p)[before + 1:]})
    wait_for(lambda: settled(pg, t.id))
    assert len(receiver.at(p)) == before + 7
    error(operator("POST", f"{t.base}/endpoints/{t.ep}/recover", {}), 400,
          "invalid_request")


def test_test_event_and_health(operator, receiver, daemons, pg):
    p = path()
    t = Tenant(operator, receiver.url + p)
    daemons()
    r = ok(operator("POST", f"{t.base}/endpoints/{t.ep}/test",
                    {"payload": {"hello": "world"}}), 202)
    req = wait_for(lambda: [x for x in receiver.at(p) if
                            x["headers"]["webhook-id"] == r["event_id"]])[0]
    sent = json.loads(req["body"])
    assert sent["type"] == "hookd.test" and sent["data"] == {"hello": "world"}
    wait_for(lambda: ok(operator("GET", f"{t.base}/deliveries/"
                                 f"{r['delivery_id']}"))["status"] ==
             "succeeded")
    h = ok(operator("GET", f"{t.base}/endpoints/{t.ep}/health"))
    assert h["breaker"]["state"] == "closed" and h["status"] == "enabled"
    assert h["last_1h"]["attempts"] >= 2 and h["last_1h"]["success_rate"] == 1
    assert h["last_24h"]["latency_ms"]["p50"] is not None
    assert h["last_error"] is None and h["pending"] == 0
    # a disabled endpoint would never get it
    pg.query("UPDATE hookd.endpoints SET status = 'disabled' WHERE id = %s "
             "RETURNING 1", t.ep)
    error(operator("POST", f"{t.base}/endpoints/{t.ep}/test"), 409,
          "endpoint_disabled")


def test_events_list_filters_get_and_deliveries(operator):
    t = Tenant(operator)
    a = t.ingest("order.created", {"n": 1}, {"owner_id": "acme"})
    b = t.ingest("order.created", {"n": 2}, {"owner_id": "other"})
    c = t.ingest("order.shipped", {"n": 3}, {"owner_id": "acme"})

    def ids(**q):
        return [e["id"] for e in ok(operator("GET", t.base + "/events",
                                             params=q))["data"]]

    assert ids(event_type="order.created") == [b["id"], a["id"]]
    assert ids(**{"label.owner_id": "acme"}) == [c["id"], a["id"]]
    assert ids(**{"label.owner_id": "acme",
                  "event_type": "order.shipped"}) == [c["id"]]
    assert ids(since=c["received_at"]) == [c["id"]]
    assert t.event["id"] in ids(until=a["received_at"])
    assert a["id"] not in ids(until=a["received_at"])
    assert ids(since="2999-01-01T00:00:00Z") == []

    page1 = ok(operator("GET", t.base + "/events", params={"limit": 2}))
    page2 = ok(operator("GET", t.base + "/events",
                        params={"limit": 2, "cursor": page1["next_cursor"]}))
    assert [e["id"] for e in page1["data"] + page2["data"]] == \
        [c["id"], b["id"], a["id"], t.event["id"]]
    assert page2["next_cursor"] is None

    got = ok(operator("GET", f"{t.base}/events/{a['id']}"))
    assert got["payload"] == {"n": 1} and got["labels"] == {
        "owner_id": "acme", "hookd.provider": "custom",
        "hookd.category": "commerce"}
    dl = ok(operator("GET", f"{t.base}/events/{t.event['id']}/deliveries"))
    assert [d["endpoint_id"] for d in dl["data"]] == [t.ep]


def test_deliveries_list_get_retry_and_bulk_retry(operator, receiver,
                                                  daemons, pg):
    p = path()
    receiver.plans[p] = [400]
    t = Tenant(operator, receiver.url + p)
    other = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + p + "/other", "event_types": ["nothing.*"]}),
        201)
    daemons()
    for i in range(3):
        t.ingest("invoice.paid", {"n": i})
    wait_for(lambda: len(ok(operator("GET", t.base + "/deliveries", params={
        "status": "failed"}))["data"]) == 4)
    failed = ok(operator("GET", t.base + "/deliveries",
                         params={"status": "failed", "endpoint_id": t.ep}))
    assert len(failed["data"]) == 4
    assert not ok(operator("GET", t.base + "/deliveries",
                           params={"endpoint_id": other["id"]}))["data"]
    one = failed["data"][0]
    got = ok(operator("GET", f"{t.base}/deliveries/{one['id']}"))
    assert got["attempts"][0]["status_code"] == 400
    assert got["attempts"][0]["error_class"] == "NON_RETRYABLE"

    receiver.plans[p] = [200]
    r = ok(operator("POST", f"{t.base}/deliveries/{one['id']}/retry"), 202)
    assert r["status"] == "pending"
    wait_for(lambda: ok(operator("GET", f"{t.base}/deliveries/{one['id']}"))
             ["status"] == "succeeded")
    got = ok(operator("GET", f"{t.base}/deliveries/{one['id']}"))
    assert [a["attempt_number"] for a in got["attempts"]] == [1, 2]

    error(operator("POST", f"{t.base}/deliveries/retry",
                   {"status": "succeeded"}), 400, "invalid_request")
    r = ok(operator("POST", f"{t.base}/deliveries/retry",
                    {"endpoint_id": t.ep}), 202)
    assert r["retried"] == 3
    wait_for(lambda: len(ok(operator("GET", t.base + "/deliveries", params={
        "status": "succeeded"}))["data"]) == 4)
    r = ok(operator("POST", f"{t.base}/deliveries/retry", {}), 202)
    assert r["retried"] == 0

    # pending work is not retried twice
    ok(operator("POST", f"{t.base}/endpoints/{t.ep}/pause"))
    queued = t.ingest("invoice.paid", {"n": 9})
    dl = ok(operator("GET", f"{t.base}/events/{queued['id']}/deliveries"))
    error(operator("POST", f"{t.base}/deliveries/{dl['data'][0]['id']}/retry"),
          409, "delivery_pending")


def test_enforced_types_and_schemas_refuse_events_with_422(operator, nginx):
    t = Tenant(operator)
    ok(operator("POST", t.base + "/event-types", {
        "name": "order.created",
        "schema": {"type": "object", "required": ["total"],
                   "properties": {"total": {"type": "number", "minimum": 0},
                                  "items": {"type": "array",
                                            "items": {"type": "string"}}}}}),
       201)
    # not enforced yet: anything goes
    t.ingest("unregistered.type", {"x": 1})
    ok(operator("PATCH", t.base, {"enforce_event_types": True}))

    def post(event_type, payload):
        return requests.post(nginx.url + "/v1/events", timeout=10,
                             headers={"Authorization":
                                      f"Bearer {t.ingest_key}"},
                             json={"event_type": event_type,
                                   "payload": payload})

    msg = error(post("unregistered.type", {"x": 1}), 422, "unknown_event_type")
    assert "unregistered.type" in msg and "event-types" in msg
    msg = error(post("order.created", {"items": ["a"]}), 422,
                "schema_mismatch")
    assert "payload.total is required" in msg
    msg = error(post("order.created", {"total": 5, "items": ["a", 2]}), 422,
                "schema_mismatch")
    assert "payload.items[1] must be of type string" in msg
    error(post("order.created", {"total": -1}), 422, "schema_mismatch")
    assert post("order.created", {"total": 5, "items": ["a"]}).status_code \
        == 202
    assert post("invoice.paid", {"anything": True}).status_code == 202
    # archived types are refused too; nothing refused was stored
    ok(operator("DELETE", t.base + "/event-types/invoice.paid"), 204)
    error(post("invoice.paid", {}), 422, "unknown_event_type")
    types = [e["event_type"] for e in
             ok(operator("GET", t.base + "/events"))["data"]]
    assert sorted(types) == ["invoice.paid", "invoice.paid", "order.created",
                             "unregistered.type"]


def test_openapi_documents_every_route_and_nothing_else(operator):
    import os
    import re
    import yaml
    doc_path = os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                            "openapi.yaml")
    with open(doc_path) as f:
        text = f.read()
    doc = yaml.safe_load(text)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items()
                  for m in ops if m in ("get", "post", "patch", "delete")}
    t = Tenant(operator)
    ids = {t.id: "{app}", t.ep: "{endpoint_id}", t.key_id: "{key_id}",
           t.event["id"]: "{event_id}", t.delivery["id"]: "{delivery_id}",
           t.src: "{source_id}", t.session: "{session_id}",
           "invoice.paid": "{name}"}
    # the tail, a stream, has tests of its own (test_tail.py)
    tested = {("GET", "/v1/apps"), ("POST", "/v1/apps"),
              ("POST", "/v1/events"), ("GET", "/v1/apps/{app}/tail")}
    for method, route, _ in t.routes():
        for value, name in ids.items():
            route = route.replace(value, name)
        tested.add((method, route))
    assert documented == tested
    for ref in set(re.findall(r"\$ref: '#/([^']+)'", text)):
        node = doc
        for part in ref.split("/"):
            node = node[part]


@pytest.mark.parametrize("who", ["operator", "application"])
def test_every_route_succeeds_for_a_key_that_manages_the_application(
        operator, who, pg):
    t = Tenant(operator)
    api = operator if who == "operator" else t.admin
    routes = t.routes()
    # what deletes goes last, the application itself at the very end
    routes.sort(key=lambda r: (r[0] == "DELETE", r[1] == t.base))
    for method, route, body in routes:
        params = {"force": "true"} if (method, route) == ("DELETE", t.base) \
            else None
        if route.endswith(t.delivery["id"] + "/retry"):
            # finished (no hookd runs here), so that a retry is allowed
            pg.query("UPDATE hookd.deliveries SET status = 'failed' "
                     "WHERE id = %s RETURNING 1", t.delivery["id"])
        r = api(method, route, body, params=params)
        assert r.status_code in (200, 201, 202, 204), (method, route, r.text)
        if r.status_code != 204:
            assert isinstance(r.json(), dict)
    error(operator("GET", t.base), 404, "not_found")


def test_deliveries_page_across_pages(operator):
    t = Tenant(operator)
    for i in range(4):
        t.ingest("invoice.paid", {"n": i})
    for route in (t.base + "/deliveries",
                  f"{t.base}/events/{t.event['id']}/deliveries"):
        seen, cursor = [], None
        while True:
            page = ok(operator("GET", route, params=dict(
                limit=2, **({"cursor": cursor} if cursor else {}))))
            seen += [d["id"] for d in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        expected = 5 if route.endswith("/deliveries") and "/events/" not in \
            route else 1
        assert len(seen) == len(set(seen)) == expected
