"""Routing (docs/routing.md): payload filters compiled by nginx to jsonpath
and evaluated by the ingest fan-out."""

import json
import uuid

import pytest
import requests

from test_admin import Api, Tenant, error, ok


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def matches(operator, t, flt, payload):
    r = operator("POST", f"{t.base}/endpoints/{t.ep}/filter/test",
                 {"filter": flt, "payload": payload})
    assert r.status_code == 200, r.text
    return r.json()["matches"]


# (filter, payload, matches): MongoDB's semantics
CASES = [
    ({"amount": 150}, {"amount": 150}, True),
    ({"amount": 150}, {"amount": 150.0}, True),
    ({"amount": 150}, {"amount": "150"}, False),
    ({"amount": 150}, {}, False),
    ({"amount": {"$ne": 150}}, {}, True),
    ({"amount": {"$ne": 150}}, {"amount": "150"}, True),
    ({"amount": {"$ne": 150}}, {"amount": 150}, False),
    ({"amount": {"$gt": 100}}, {"amount": 100.5}, True),
    ({"amount": {"$gt": 100}}, {"amount": "200"}, False),
    ({"amount": {"$gte": 100, "$lt": 200}}, {"amount": 100}, True),
    ({"amount": {"$gte": 100, "$lt": 200}}, {"amount": 200}, False),
    ({"price": {"$lte": 0.1}}, {"price": 0.1}, True),
    ({"name": {"$gt": "m"}}, {"name": "zed"}, True),
    ({"tier": {"$in": ["gold", "silver"]}}, {"tier": "gold"}, True),
    ({"tier": {"$in": ["gold", "silver"]}}, {"tier": "bronze"}, False),
    ({"tier": {"$in": ["gold"]}}, {}, False),
    ({"tier": {"$nin": ["gold"]}}, {}, True),
    ({"tier": {"$nin": ["gold"]}}, {"tier": "gold"}, False),
    ({"tags": "vip"}, {"tags": ["new", "vip"]}, True),
    ({"tags": {"$ne": "vip"}}, {"tags": ["new", "vip"]}, False),
    ({"tags": {"$ne": "vip"}}, {"tags": ["new"]}, True),
    ({"tags": {"$in": ["a", "vip"]}}, {"tags": ["vip"]}, True),
    ({"tags": {"$nin": ["vip"]}}, {"tags": ["new", "vip"]}, False),
    ({"x": {"$exists": True}}, {"x": None}, True),
    ({"x": {"$exists": False}}, {"x": None}, False),
    ({"x": {"$exists": False}}, {}, True),
    ({"x": None}, {"x": None}, True),
    ({"ok": True}, {"ok": True}, True),
    ({"ok": True}, {"ok": "true"}, False),
    ({"sku": {"$regex": "^A-[0-9]+$"}}, {"sku": "A-42"}, True),
    ({"sku": {"$regex": "^A-[0-9]+$"}}, {"sku": 42}, False),
    ({"customer.tier": "gold"}, {"customer": {"tier": "gold"}}, True),
    ({"customer.tier": "gold"}, {"customer.tier": "gold"}, False),
    ({"customer\\.tier": "gold"}, {"customer.tier": "gold"}, True),
    ({'say "hi"': 1}, {'say "hi"': 1}, True),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"b": 2}, True),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"c": 3}, False),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1, "b": 2}, True),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1}, False),
    ({"$not": {"a": 1}}, {"a": 2}, True),
    ({"$not": {"a": 1}}, {}, True),
    ({"a": {"$not": {"$gt": 5}}}, {"a": 3}, True),
    ({"a": {"$not": {"$gt": 5}}}, {"a": 9}, False),
    ({"a": {"$not": {"$gt": 5}}}, {}, True),
    ({}, {"anything": 1}, True),
]


def test_filters_mean_what_mongodb_users_expect(operator):
    t = Tenant(operator)
    wrong = [(f, p, m) for f, p, m in CASES
             if matches(operator, t, f, p) != m]
    assert wrong == []


@pytest.mark.parametrize("flt,path", [
    ({"a": {"$gt": [1]}}, "filter.a.$gt"),
    ({"a": {"$bogus": 1}}, "filter.a.$bogus"),
    ({"$gt": 1}, "filter.$gt"),
    ({"a": [1, 2]}, "filter.a"),
    ({"a": {"b": 1}}, "filter.a.b"),
    ({"a": {"$in": []}}, "filter.a.$in"),
    ({"a": {"$in": list(range(257))}}, "filter.a.$in"),
    ({"a": {"$regex": "x" * 257}}, "filter.a.$regex"),
    ({"a": {"$regex": "("}}, "filter"),
    ({"$or": [{"a": 1}, {"b": {"$exists": 1}}]}, "filter.$or[1].b.$exists"),
    ({"$and": []}, "filter.$and"),
    ({"a..b": 1}, "filter.a..b"),
    ({"k%d" % i: i for i in range(65)}, "filter.k64"),
    ({"a": "x" * 4100}, "filter"),
])
def test_a_bad_filter_is_400_naming_the_path(operator, flt, path):
    t = Tenant(operator)
    r = operator("POST", t.base + "/endpoints", {
        "url": "http://127.0.0.1:9/x", "filter": flt})
    error(r, 400, "invalid_filter")
    assert r.json()["error"]["message"].startswith(path + ":"), r.text
    # nothing written
    assert len(ok(operator("GET", t.base + "/endpoints"))["data"]) == 1


def test_filter_path_is_not_a_field(operator):
    t = Tenant(operator)
    error(operator("PATCH", f"{t.base}/endpoints/{t.ep}",
                   {"filter_path": "$.a == 1"}), 400, "invalid_request")


def test_ingest_fans_out_by_filter(operator, pg):
    t = Tenant(operator)
    gold = ok(operator("POST", t.base + "/endpoints", {
        "url": "http://127.0.0.1:9/gold",
        "filter": {"customer.tier": "gold", "amount": {"$gte": 100}}}), 201)
    assert gold["filter"] == {"customer.tier": "gold",
                              "amount": {"$gte": 100}}
    ids = {}
    for name, payload in [
            ("big_gold", {"customer": {"tier": "gold"}, "amount": 250}),
            ("small_gold", {"customer": {"tier": "gold"}, "amount": 5}),
            ("big_silver", {"customer": {"tier": "silver"}, "amount": 900}),
            ("none", {})]:
        ids[name] = t.ingest("invoice.paid", payload)["id"]

    def went(ep):
        return {n for n, i in ids.items() if pg.query(
            "SELECT 1 FROM hookd.deliveries WHERE event_id = %s AND "
            "endpoint_id = %s", i, ep)}

    assert went(gold["id"]) == {"big_gold"}
    assert went(t.ep) == set(ids)          # no filter: everything
    # the endpoint's own filter, tried
    r = ok(operator("POST", f"{t.base}/endpoints/{gold['id']}/filter/test",
                    {"payload": {"customer": {"tier": "gold"},
                                 "amount": 100}}))
    assert r == {"matches": True}
    # removed: everything again
    assert ok(operator("PATCH", f"{t.base}/endpoints/{gold['id']}",
                       {"filter": None}))["filter"] is None
    later = t.ingest("invoice.paid", {"amount": 1})["id"]
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE event_id = "
                    "%s AND endpoint_id = %s", later, gold["id"]) == [(1,)]


def test_the_cli_compiles_filters_as_the_api_does(hookd, pg):
    name = "cli-" + uuid.uuid4().hex[:8]
    hookd("apps", "create", name)
    ep = hookd("endpoints", "create", "--app", name, "--url",
               "http://127.0.0.1:9/x", "--filter",
               '{"amount": {"$gte": 0.1}}')
    assert ep["filter"] == {"amount": {"$gte": 0.1}}
    assert pg.query("SELECT filter_path::text FROM hookd.endpoints WHERE "
                    "id = %s", ep["id"]) == [
        ('exists ($."amount"?(@ >= 0.1))',)]
    bad = hookd("endpoints", "create", "--app", name, "--url",
                "http://127.0.0.1:9/x", "--filter", '{"a": {"$gt": []}}',
                check=False)
    assert bad["error"]["code"] == "invalid_filter"
    assert bad["error"]["message"].startswith("filter.a.$gt:")


# --- headers and auth ---

def test_the_receiver_gets_exactly_the_headers_and_auth_set(
        operator, pg, receiver, daemons, nginx):
    import base64 as b64
    from harness import wait_for

    t = Tenant(operator)
    p = "/" + uuid.uuid4().hex[:12]
    ep = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + p, "event_types": ["routed.*"],
        "headers": {"X-Api-Key": "k-123 secret", "X-Tenant": "acme"},
        "auth": {"type": "basic", "username": "hooks", "password": "p:w d"}}),
        201)
    # by name only, never a value
    assert ep["headers"] == ["X-Api-Key", "X-Tenant"]
    assert ep["auth"] == {"type": "basic"}
    assert "k-123" not in json.dumps(ok(operator(
        "GET", f"{t.base}/endpoints/{ep['id']}")))
    row = pg.query("SELECT headers_sealed || auth_sealed FROM hookd.endpoints"
                   " WHERE id = %s", ep["id"])[0][0]
    assert "k-123" not in row and "hooks" not in row and row.startswith("v1.")

    d = daemons(log_level="debug")
    t.ingest("routed.one", {"n": 1})
    got = wait_for(lambda: receiver.at(p))[0]["headers"]
    h = {k.lower(): v for k, v in got.items()}
    assert h["x-api-key"] == "k-123 secret" and h["x-tenant"] == "acme"
    assert h["authorization"] == "Basic " + b64.b64encode(
        b"hooks:p:w d").decode()
    assert h["webhook-id"] and h["content-type"] == "application/json"

    # bearer instead, the headers removed
    ok(operator("PATCH", f"{t.base}/endpoints/{ep['id']}", {
        "headers": None, "auth": {"type": "bearer", "token": "t0k3n"}}))
    t.ingest("routed.two", {"n": 2})
    got = wait_for(lambda: receiver.at(p)[1:])[0]["headers"]
    h = {k.lower(): v for k, v in got.items()}
    assert h["authorization"] == "Bearer t0k3n" and "x-api-key" not in h
    # never logged, by hookd (at debug) or nginx
    for log in (d.output(), open(nginx.dir + "/error.log").read()):
        assert "k-123" not in log and "t0k3n" not in log and "p:w d" not in log


@pytest.mark.parametrize("fields,why", [
    ({"headers": {"Host": "evil"}}, "Host is set by hookd"),
    ({"headers": {"content-length": "1"}}, "set by hookd"),
    ({"headers": {"Transfer-Encoding": "x"}}, "set by hookd"),
    ({"headers": {"Proxy-Authorization": "x"}}, "set by hookd"),
    ({"headers": {"webhook-signature": "x"}}, "set by hookd"),
    ({"headers": {"User-Agent": "x"}}, "set by hookd"),
    ({"headers": {"X-A": "a\r\nX-B: b"}}, "without CR, LF, NUL"),
    ({"headers": {"X-A": "a\u0000b"}}, "NUL is not allowed"),
    ({"headers": {"X A": "a"}}, "is not a header name"),
    ({"headers": {"X-A\r\n": "a"}}, "is not a header name"),
    ({"headers": {"X-A": 1}}, "must be a string"),
    ({"headers": {"X-Big": "x" * 9000}}, "at most 8192 bytes"),
    ({"headers": {"Authorization": "Bearer x"},
      "auth": {"type": "bearer", "token": "y"}}, "beside auth"),
    ({"auth": {"type": "basic", "username": "a:b", "password": "p"}},
     "without ':'"),
    ({"auth": {"type": "bearer", "token": "a b"}}, "no spaces"),
    ({"auth": {"type": "digest"}}, "auth is"),
])
def test_bad_headers_or_auth_are_400_and_store_nothing(operator, fields, why):
    t = Tenant(operator)
    r = operator("POST", t.base + "/endpoints",
                 dict({"url": "http://127.0.0.1:9/x"}, **fields))
    # (a NUL byte is refused by the JSON reader itself)
    error(r, 400, "invalid_json" if "NUL is" in why else "invalid_request")
    assert why.replace("NUL is", "u0000 is") in r.json()["error"]["message"] \
        or why in r.json()["error"]["message"], r.text
    assert len(ok(operator("GET", t.base + "/endpoints"))["data"]) == 1


def test_an_authorization_header_beside_stored_auth_is_400(operator):
    t = Tenant(operator)
    ok(operator("PATCH", f"{t.base}/endpoints/{t.ep}", {
        "auth": {"type": "bearer", "token": "x"}}))
    error(operator("PATCH", f"{t.base}/endpoints/{t.ep}", {
        "headers": {"authorization": "Bearer y"}}), 400, "invalid_request")
    assert ok(operator("GET", f"{t.base}/endpoints/{t.ep}"))["headers"] == []


def test_the_cli_seals_headers_and_auth_as_the_api_does(hookd, pg):
    name = "cli-" + uuid.uuid4().hex[:8]
    hookd("apps", "create", name)
    ep = hookd("endpoints", "create", "--app", name, "--url",
               "http://127.0.0.1:9/x", "--header", "X-Api-Key: k-456",
               "--header", "X-Team: blue", "--auth", "basic:ops:s3cr:et")
    row = pg.query("SELECT header_names, auth_type, headers_sealed || "
                   "auth_sealed FROM hookd.endpoints WHERE id = %s",
                   ep["id"])[0]
    assert row[0] == ["X-Api-Key", "X-Team"] and row[1] == "basic"
    assert "k-456" not in row[2] and row[2].startswith("v1.")
    for bad in (["--header", "Host: x"], ["--header", "nocolon"],
                ["--auth", "digest:x"],
                ["--header", "Authorization: x", "--auth", "bearer:y"]):
        r = hookd("endpoints", "create", "--app", name, "--url",
                  "http://127.0.0.1:9/x", *bad, check=False)
        assert r["error"]["code"] in ("invalid_request", "usage"), (bad, r)


# --- Ed25519 (v1a) ---

def ed25519_verifies(public_key, headers, body):
    """Python's cryptography (Debian's), independent of hookd's OpenSSL."""
    import base64 as b64
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PublicKey

    key = Ed25519PublicKey.from_public_bytes(
        b64.b64decode(public_key[len("whpk_"):]))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() \
        + body
    good = 0
    for s in headers["webhook-signature"].split(" "):
        if s.startswith("v1a,"):
            try:
                key.verify(b64.b64decode(s[4:]), signed)
                good += 1
            except InvalidSignature:
                pass
    return good


def test_v1a_deliveries_verify_with_the_public_key(operator, receiver,
                                                   daemons):
    from harness import wait_for
    from test_delivery import verify

    t = Tenant(operator)
    p, q = "/" + uuid.uuid4().hex[:12], "/" + uuid.uuid4().hex[:12]
    only = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + p, "event_types": ["signed.*"],
        "signature": "v1a"}), 201)
    assert only["signature"] == "v1a" and "secret" not in only
    assert only["public_key"].startswith("whpk_")
    both = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + q, "event_types": ["signed.*"],
        "signature": "v1,v1a"}), 201)
    assert both["secret"].startswith("whsec_")
    assert both["signature"] == "v1,v1a" and both["public_key"]
    error(operator("POST", t.base + "/endpoints", {
        "url": receiver.url, "signature": "v2"}), 400, "invalid_request")

    daemons()
    t.ingest("signed.one", {"n": 1})

    def got(path):
        r = wait_for(lambda: receiver.at(path))[-1]
        return {k.lower(): v for k, v in r["headers"].items()}, r["body"]

    h, body = got(p)
    assert h["webhook-signature"].startswith("v1a,")
    assert " " not in h["webhook-signature"]
    assert ed25519_verifies(only["public_key"], h, body) == 1
    assert ed25519_verifies(both["public_key"], h, body) == 0
    h, body = got(q)
    assert ed25519_verifies(both["public_key"], h, body) == 1
    assert verify(both["secret"], h, body)

    # rotation: both keys sign during the grace period
    r = ok(operator("POST", f"{t.base}/endpoints/{only['id']}/rotate-secret",
                    {"grace_seconds": 3600}))
    assert "secret" not in r and r["public_key"] != only["public_key"]
    t.ingest("signed.two", {"n": 2})
    wait_for(lambda: len(receiver.at(p)) == 2)
    h, body = got(p)
    assert ed25519_verifies(only["public_key"], h, body) == 1
    assert ed25519_verifies(r["public_key"], h, body) == 1

    # v1 to v1,v1a: a key is added, the whsec_ kept
    plain = ok(operator("PATCH", f"{t.base}/endpoints/{t.ep}",
                        {"signature": "v1,v1a"}))
    assert plain["signature"] == "v1,v1a" and plain["public_key"]
    assert "secret" not in plain
    assert ok(operator("PATCH", f"{t.base}/endpoints/{t.ep}",
                       {"signature": "v1"}))["public_key"] is None


def test_the_cli_makes_v1a_keys(hookd, pg):
    name = "cli-" + uuid.uuid4().hex[:8]
    hookd("apps", "create", name)
    ep = hookd("endpoints", "create", "--app", name, "--url",
               "http://127.0.0.1:9/x", "--signature", "v1a")
    assert ep["public_key"].startswith("whpk_") and ep.get("secret") is None
    both = hookd("endpoints", "create", "--app", name, "--url",
                 "http://127.0.0.1:9/x", "--signature", "v1,v1a")
    assert both["secret"].startswith("whsec_") and both["public_key"]
    kinds = pg.query("SELECT hookd.endpoint_signature(secrets) FROM "
                     "hookd.endpoints WHERE id IN (%s, %s) ORDER BY id",
                     ep["id"], both["id"])
    assert sorted(k[0] for k in kinds) == ["v1,v1a", "v1a"]
    assert hookd("endpoints", "create", "--app", name, "--url",
                 "http://127.0.0.1:9/x", "--signature", "v3",
                 check=False)["error"]["code"] == "usage"
