"""Portal sessions (docs/portal.md): hkp_ tokens an application hands its own
customers. Every admin route is walked with a full, a read-only and a
label-scoped token, through the operators' location and the public one
(`hookd_admin portal;`), and must answer exactly what the documentation
says: nothing about keys, sources, portal sessions, other applications or
other customers' endpoints."""

import pytest

from test_admin import Api, Tenant, error, ok


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


@pytest.fixture
def tenant(operator):
    return Tenant(operator)


def session(tenant, **body):
    s = ok(tenant.admin("POST", tenant.base + "/portal-sessions", body), 201)
    assert s["token"].startswith("hkp_") and s["prefix"] == s["token"][:11]
    return s


def portal(tenant, s, public=True):
    """The customer's view: the public location, or the operators' one."""
    return Api(tenant.api.url + ("/portal" if public else ""), s["token"])


def test_sessions_are_made_listed_and_revoked(tenant, operator):
    s = session(tenant)
    assert s["read_only"] is False and s["labels"] == {}
    assert s["state"] == "active"
    # shown once: never listed
    listed = ok(tenant.admin("GET", tenant.base + "/portal-sessions"))["data"]
    assert [x["id"] for x in listed] == [s["id"], tenant.session]
    assert not [x for x in listed if "token" in x]
    got = ok(operator("GET", tenant.base + "/portal-sessions/" + s["id"]))
    assert "token" not in got and got["expires_at"] == s["expires_at"]

    view = portal(tenant, s)
    ok(view("GET", tenant.base + "/endpoints"))

    ok(tenant.admin("DELETE", tenant.base + "/portal-sessions/" + s["id"]), 204)
    # the token's cache entry is forgotten as the revocation is notified
    assert "revoked" in error(view("GET", tenant.base + "/endpoints"), 403,
                              "forbidden")
    got = ok(operator("GET", tenant.base + "/portal-sessions/" + s["id"]))
    assert got["state"] == "revoked" and got["revoked_at"]


def test_session_requests_are_checked(tenant):
    base = tenant.base + "/portal-sessions"
    for body, what in [({"ttl_seconds": 30}, "ttl_seconds"),
                       ({"ttl_seconds": 604801}, "ttl_seconds"),
                       ({"ttl_seconds": 1.5}, "ttl_seconds"),
                       ({"read_only": "yes"}, "read_only"),
                       ({"labels": {"owner_id": 7}}, "labels"),
                       ({"labels": []}, "labels"),
                       ({"scopes": ["admin"]}, "scopes")]:
        assert what in error(tenant.admin("POST", base, body), 400,
                             "invalid_request")
    s = session(tenant, ttl_seconds=60, read_only=True,
                labels={"owner_id": "acme"})
    assert s["read_only"] is True and s["labels"] == {"owner_id": "acme"}
    error(tenant.admin("PATCH", base + "/" + s["id"], {}), 405,
          "method_not_allowed")
    error(tenant.admin("GET", base + "/ps_nope"), 404, "not_found")
    # an ingest key makes none; nor does another application's admin key
    error(tenant.admin("POST", base, {}, key=tenant.ingest_key), 403,
          "forbidden")


def test_an_expired_session_is_refused(tenant, pg):
    s = session(tenant)
    view = portal(tenant, s)
    ok(view("GET", tenant.base + "/endpoints"))
    pg.query("UPDATE hookd.portal_sessions SET expires_at = now() - "
             "interval '1 second' WHERE id = %s RETURNING 1", s["id"])
    assert "expired" in error(view("GET", tenant.base + "/endpoints"), 403,
                              "forbidden")


def test_the_public_location_takes_portal_tokens_only(tenant, operator):
    public = Api(tenant.api.url + "/portal", tenant.admin.key)
    assert "portal" in error(public("GET", tenant.base + "/endpoints"), 403,
                             "forbidden")
    error(Api(tenant.api.url + "/portal", operator.key)("GET", "/v1/apps"),
          403, "forbidden")
    error(public("GET", tenant.base + "/endpoints", key=False), 401,
          "unauthorized")
    # a portal token ingests nothing
    s = session(tenant)
    r = tenant.api("POST", "/v1/events", {"event_type": "a.b", "payload": {}},
                   key=s["token"])
    error(r, 403, "forbidden")


@pytest.mark.parametrize("public", [True, False])
def test_a_full_session_manages_endpoints_and_nothing_else(tenant, operator,
                                                           public):
    other = Tenant(operator)
    s = session(tenant)
    view = portal(tenant, s, public)
    b = tenant.base

    # the application, read-only; never another one
    apps = ok(view("GET", "/v1/apps"))["data"]
    assert [a["id"] for a in apps] == [tenant.id]
    assert ok(view("GET", b))["id"] == tenant.id
    for m in ("PATCH", "DELETE"):
        error(view(m, b, {"name": "x"}), 403, "forbidden")
    error(view("POST", "/v1/apps", {"name": "mine"}), 403, "forbidden")
    error(view("GET", other.base), 404, "not_found")
    error(view("GET", other.base + "/endpoints"), 404, "not_found")

    # never keys, sources, portal sessions
    for route in ("/api-keys", "/api-keys/" + tenant.key_id, "/sources",
                  "/portal-sessions", "/portal-sessions/" + s["id"]):
        for m in ("GET", "POST", "DELETE"):
            assert error(view(m, b + route, {} if m == "POST" else None),
                         404, "not_found") == "no such route"

    # event types, to read
    ok(view("GET", b + "/event-types"))
    error(view("POST", b + "/event-types", {"name": "x.y"}), 403, "forbidden")

    # endpoints: everything an admin key does
    ep = ok(view("POST", b + "/endpoints",
                 {"url": "http://127.0.0.1:9/p", "event_types": ["*"]}), 201)
    assert ep["secret"].startswith("whsec_")
    ids = {e["id"] for e in ok(view("GET", b + "/endpoints"))["data"]}
    assert ids == {ep["id"], tenant.endpoint["id"]}
    e = b + "/endpoints/" + ep["id"]
    assert ok(view("PATCH", e, {"description": "mine"}))["description"] == "mine"
    assert ok(view("POST", e + "/pause"))["status"] == "paused"
    assert ok(view("POST", e + "/resume"))["status"] == "enabled"
    assert ok(view("POST", e + "/rotate-secret",
                   {"grace_seconds": 0}))["secret"].startswith("whsec_")
    ok(view("GET", e + "/health"))
    assert ok(view("POST", e + "/filter/test",
                   {"payload": {}, "filter": {"a": 1}}))["matches"] is False
    ok(view("POST", e + "/recover", {"since": "2020-01-01T00:00:00Z"}), 202)
    test = ok(view("POST", e + "/test"), 202)

    # events and deliveries, and their retries
    ok(view("GET", b + "/events/" + test["event_id"]))
    ok(view("GET", b + "/events/" + test["event_id"] + "/deliveries"))
    assert ok(view("GET", b + "/deliveries/" + test["delivery_id"]))["id"] \
        == test["delivery_id"]
    ok(view("POST", b + "/deliveries/retry", {}), 202)
    ok(view("DELETE", e), 204)


def test_a_read_only_session_changes_nothing(tenant):
    s = session(tenant, read_only=True)
    view = portal(tenant, s)
    b = tenant.base
    e = b + "/endpoints/" + tenant.endpoint["id"]
    ok(view("GET", b + "/endpoints"))
    ok(view("GET", e))
    ok(view("GET", e + "/health"))
    ok(view("GET", b + "/events"))
    ok(view("GET", b + "/deliveries"))
    # trying a filter changes nothing
    ok(view("POST", e + "/filter/test", {"payload": {}}))
    for m, route, body in [
            ("POST", b + "/endpoints", {"url": "http://127.0.0.1:9/x"}),
            ("PATCH", e, {"description": "x"}), ("DELETE", e, None),
            ("POST", e + "/pause", None), ("POST", e + "/resume", None),
            ("POST", e + "/rotate-secret", None),
            ("POST", e + "/recover", {"since": "2020-01-01T00:00:00Z"}),
            ("POST", e + "/test", None),
            ("POST", b + "/deliveries/retry", {}),
            ("POST", b + "/deliveries/dlv_x/retry", None)]:
        assert "read-only" in error(view(m, route, body), 403, "forbidden")
    assert ok(view("GET", e))["status"] == "enabled"


def test_a_labelled_session_sees_one_customer(tenant, pg):
    b = tenant.base
    acme = ok(tenant.admin("POST", b + "/endpoints",
                           {"url": "http://127.0.0.1:9/acme", "event_types": ["*"],
                            "labels": {"owner_id": "acme"}}), 201)
    globex = ok(tenant.admin("POST", b + "/endpoints",
                             {"url": "http://127.0.0.1:9/globex",
                              "event_types": ["*"],
                              "labels": {"owner_id": "globex"}}), 201)
    for owner in ("acme", "globex"):
        ok(tenant.api("POST", "/v1/events",
                      {"event_type": "invoice.paid", "payload": {"o": owner},
                       "labels": {"owner_id": owner}},
                      key=tenant.ingest_key), 202)
    ok(tenant.api("POST", "/v1/events",
                  {"event_type": "invoice.paid", "payload": {"o": "none"}},
                  key=tenant.ingest_key), 202)

    s = session(tenant, labels={"owner_id": "acme"})
    view = portal(tenant, s)

    # endpoints: its own only (not the application-wide one, which takes
    # every customer's events)
    eps = ok(view("GET", b + "/endpoints"))["data"]
    assert [e["id"] for e in eps] == [acme["id"]]
    for ep in (globex, tenant.endpoint):
        e = b + "/endpoints/" + ep["id"]
        for m, route in [("GET", e), ("PATCH", e), ("DELETE", e),
                         ("POST", e + "/pause"), ("GET", e + "/health"),
                         ("POST", e + "/test")]:
            error(view(m, route, {} if m == "PATCH" else None), 404,
                  "not_found")

    # events: those carrying its labels
    evs = ok(view("GET", b + "/events"))["data"]
    assert [e["payload"]["o"] for e in evs] == ["acme"]
    others = ok(tenant.admin("GET", b + "/events"))["data"]
    for ev in others:
        if ev["payload"].get("o") != "acme":
            error(view("GET", b + "/events/" + ev["id"]), 404, "not_found")

    # deliveries: those of its endpoints
    dls = ok(view("GET", b + "/deliveries"))["data"]
    assert dls and {d["endpoint_id"] for d in dls} == {acme["id"]}
    for d in ok(tenant.admin("GET", b + "/deliveries"))["data"]:
        if d["endpoint_id"] != acme["id"]:
            error(view("GET", b + "/deliveries/" + d["id"]), 404, "not_found")
    acme_event = evs[0]["id"]
    dl = ok(view("GET", b + "/events/" + acme_event + "/deliveries"))["data"]
    assert {d["endpoint_id"] for d in dl} == {acme["id"]}

    # a bulk retry touches its own dead letters only
    pg.query("WITH f AS (UPDATE hookd.deliveries SET status = 'failed' "
             "WHERE app_id = %s RETURNING app_id, endpoint_id, id), "
             "q AS (DELETE FROM hookd.queue WHERE app_id = %s) "
             "INSERT INTO hookd.dead_letter_queue (app_id, endpoint_id, "
             "delivery_id) SELECT * FROM f RETURNING 1", tenant.id, tenant.id)
    assert ok(view("POST", b + "/deliveries/retry", {}), 202)["retried"] == 1
    assert len(ok(tenant.admin("GET", b + "/deliveries?status=failed"))
               ["data"]) >= 2

    # an endpoint it makes carries its labels; it may not make another's
    mine = ok(view("POST", b + "/endpoints",
                   {"url": "http://127.0.0.1:9/new", "event_types": ["*"]}), 201)
    assert mine["labels"] == {"owner_id": "acme"}
    more = ok(view("POST", b + "/endpoints",
                   {"url": "http://127.0.0.1:9/new2", "event_types": ["*"],
                    "labels": {"owner_id": "acme", "region": "eu"}}), 201)
    assert more["labels"] == {"owner_id": "acme", "region": "eu"}
    for labels in ({"owner_id": "globex"}, {}, {"region": "eu"}):
        assert "labels" in error(view("POST", b + "/endpoints",
                                      {"url": "http://127.0.0.1:9/x",
                                       "labels": labels}), 403, "forbidden")
        assert "labels" in error(view("PATCH", b + "/endpoints/" + mine["id"],
                                      {"labels": labels}), 403, "forbidden")
    # a test event it sends is its own to see
    t = ok(view("POST", b + "/endpoints/" + mine["id"] + "/test"), 202)
    assert ok(view("GET", b + "/events/" + t["event_id"]))["labels"] \
        == {"owner_id": "acme"}


@pytest.mark.parametrize("kind", ["full", "read_only", "labelled"])
def test_every_route_with_a_portal_token(operator, kind):
    """Each route of the admin API, as the documentation's table says."""
    t = Tenant(operator)
    body = {"full": {}, "read_only": {"read_only": True},
            "labelled": {"labels": {"owner_id": "acme"}}}[kind]
    view = portal(t, session(t, **body))
    routes = sorted(t.routes(), key=lambda x: x[0] == "DELETE")
    for method, route, body in routes:
        r = view(method, route, body)
        rest = route[len(t.base):].split("/")
        what = rest[1] if len(rest) > 1 else ""
        writes = method != "GET" and not route.endswith("/filter/test")
        if what in ("api-keys", "sources", "portal-sessions"):
            assert error(r, 404, "not_found") == "no such route", route
        elif what in ("", "event-types"):
            if method == "GET":
                ok(r)
            else:
                error(r, 403, "forbidden")
        elif kind == "read_only" and writes:
            assert "read-only" in error(r, 403, "forbidden"), route
        elif kind == "labelled" and len(rest) > 2 and rest[2] != "retry" \
                and what != "stats":
            # the application-wide endpoint, its event and delivery are
            # other customers' too
            error(r, 404, "not_found")
        else:
            assert r.status_code < 400 or r.status_code == 409, \
                (method, route, r.status_code, r.text)
