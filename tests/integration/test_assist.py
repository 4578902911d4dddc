"""Assist (docs/assist.md): classification at ingest and for sources, label
filters on its labels, and the hints of every refusal."""

import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests

from test_admin import Api, Tenant, ok


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def post(nginx, t, body, path="/v1/events", headers=None):
    return requests.post(nginx.url + path, timeout=10,
                         data=body if isinstance(body, (bytes, str))
                         else json.dumps(body),
                         headers=dict({"Authorization": f"Bearer {t.ingest_key}",
                                       "Content-Type": "application/json"},
                                      **(headers or {})))


def hint(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    e = r.json()["error"]
    assert e["code"] == code, e
    assert e["detail"]["hint"], e
    return e["detail"]["hint"]


def labels(pg, event_id):
    return pg.query("SELECT labels FROM hookd.events WHERE id = %s",
                    event_id)[0][0]


def test_events_are_labelled_and_endpoints_route_on_the_labels(
        operator, nginx, pg):
    t = Tenant(operator)
    billing = ok(operator("POST", t.base + "/endpoints", {
        "url": "http://127.0.0.1:9/billing", "event_types": ["*"],
        "labels": {"hookd.category": "billing"}}), 201)
    alerts = ok(operator("POST", t.base + "/endpoints", {
        "url": "http://127.0.0.1:9/alerts", "event_types": ["*"],
        "labels": {"hookd.category": "alerts"}}), 201)

    paid = t.ingest("invoice.paid", {"amount_due": 2000, "currency": "usd"})
    fired = t.ingest("incident.triggered", {"severity": "critical",
                                             "service": "checkout"})
    other = t.ingest("survey.completed", {"answers": {"q1": "yes"}})
    assert labels(pg, paid["id"]) == {"hookd.provider": "custom",
                                     "hookd.category": "billing"}
    assert labels(pg, fired["id"])["hookd.category"] == "alerts"
    assert labels(pg, other["id"])["hookd.category"] == "other"

    def went(ep):
        return {i for i, in pg.query(
            "SELECT event_id FROM hookd.deliveries WHERE endpoint_id = %s",
            ep["id"])}

    assert went(billing) == {paid["id"]}
    assert went(alerts) == {fired["id"]}

    # the producer's labels win, and do not lose a slot to the classifier
    mine = {f"k{i}": "v" for i in range(31)}
    mine["hookd.category"] = "alerts"
    ev = t.ingest("invoice.paid", {"amount": 1}, labels=mine)
    got = labels(pg, ev["id"])
    assert got["hookd.category"] == "alerts" and len(got) == 33
    assert got["hookd.provider"] == "custom"
    assert ev["id"] in went(alerts) and ev["id"] not in went(billing)

    # switched off (hookd_classify off;): the producer's labels alone
    r = post(nginx, t, {"event_type": "invoice.paid", "payload": {},
                        "labels": {"a": "b"}}, "/unclassified/v1/events")
    assert r.status_code == 202, r.text
    assert labels(pg, r.json()["id"]) == {"a": "b"}


def test_a_source_names_its_provider_and_a_generic_one_is_recognized(
        operator, nginx, pg):
    t = Tenant(operator)
    secret = "whsec_" + uuid.uuid4().hex
    src = ok(operator("POST", t.base + "/sources", {
        "name": "stripe", "provider": "stripe", "secret": secret}), 201)
    body = json.dumps({"id": "evt_9", "object": "event",
                       "type": "customer.created",
                       "data": {"object": {"id": "cus_1"}}}).encode()
    now = int(time.time())
    mac = hmac.new(secret.encode(), f"{now}.".encode() + body,
                   hashlib.sha256).hexdigest()
    r = requests.post(f"{nginx.url}/in/{src['id']}", data=body, timeout=10,
                      headers={"Content-Type": "application/json",
                               "Stripe-Signature": f"t={now},v1={mac}"})
    assert r.status_code == 202, r.text
    assert labels(pg, r.json()["id"]) == {"hookd.provider": "stripe",
                                         "hookd.category": "billing"}

    # PagerDuty through a generic HMAC source, its own documented shape
    pd = ok(operator("POST", t.base + "/sources", {
        "name": "pagerduty", "provider": "hmac", "secret": "k",
        "options": {"header": "X-PagerDuty-Signature", "prefix": "v1=",
                    "type_field": "/event/event_type"}}), 201)
    body = json.dumps({"event": {
        "id": "5ac64822", "event_type": "incident.triggered",
        "resource_type": "incident", "occurred_at": "2020-10-02T18:45:22Z",
        "data": {"id": "PGR0VU2", "type": "incident", "status": "triggered",
                 "urgency": "high"}}}).encode()
    sig = "v1=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    r = requests.post(f"{nginx.url}/in/{pd['id']}", data=body, timeout=10,
                      headers={"Content-Type": "application/json",
                               "X-PagerDuty-Signature": sig})
    assert r.status_code == 202, r.text
    assert labels(pg, r.json()["id"]) == {"hookd.provider": "pagerduty",
                                         "hookd.category": "alerts"}


@pytest.mark.parametrize("body,code,says", [
    ("", "invalid_json", "send a JSON object"),
    ('{"event_type": "a",}', "invalid_json", "remove a comma"),
    ('{"event_type": "a", "payload": {}', "invalid_json", "ends early"),
    ("[1]", "invalid_event", '"payload"'),
    ('{"evnt_type": "a", "payload": {}}', "invalid_event",
     'rename "evnt_type" to "event_type"'),
    ('{"event_type": "a", "data": {}}', "invalid_event",
     'rename "data" to "payload"'),
    ('{"event_type": 7, "payload": {}}', "invalid_event", '"7"'),
    ('{"event_type": "order paid", "payload": {}}', "invalid_event",
     '"order_paid"'),
    ('{"event_type": "a", "payload": "{\\"x\\": 1}"}', "invalid_event",
     "not a string"),
    ('{"event_type": "a", "payload": {}, "labels": {"n": 5}}',
     "invalid_event", '"n": "5"'),
    ('{"event_type": "a", "payload": {"x": 1e-20000}}', "invalid_json",
     '"1e-20000"'),
])
def test_every_400_from_ingest_says_what_to_send(operator, nginx, body, code,
                                                 says):
    t = Tenant(operator)
    assert says in hint(post(nginx, t, body), 400, code)


def test_400s_that_nginx_or_the_headers_make_carry_hints_too(operator,
                                                             nginx):
    t = Tenant(operator)
    assert "UUID" in hint(post(nginx, t, {"event_type": "a", "payload": {}},
                               headers={"Idempotency-Key": "has space"}),
                          400, "invalid_event")
    # a broken chunked body: nginx itself refuses it
    import socket
    s = socket.create_connection(("127.0.0.1", nginx.port), timeout=10)
    s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + t.ingest_key.encode() +
              b"\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    reply = b""
    while b"}}" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    assert reply.startswith(b"HTTP/1.1 400")
    body = json.loads(reply[reply.index(b"\r\n\r\n") + 4:])
    assert "chunks" in body["error"]["detail"]["hint"]


def test_a_source_400_says_what_to_change(operator, nginx):
    t = Tenant(operator)
    src = ok(operator("POST", t.base + "/sources", {
        "name": "b", "provider": "bearer", "secret": "tok",
        "options": {"event_type": "x"}}), 201)
    r = requests.post(f"{nginx.url}/in/{src['id']}", data=b"a=1&b=2",
                      timeout=10, headers={"Authorization": "Bearer tok",
                                           "Content-Type": "text/plain"})
    assert '"content": "form"' in hint(r, 400, "invalid_json")


def test_422s_say_what_the_schema_wants(operator, nginx):
    t = Tenant(operator)
    ok(operator("POST", t.base + "/event-types", {
        "name": "order.created",
        "schema": {"type": "object", "required": ["amount", "currency"],
                   "additionalProperties": False,
                   "properties": {
                       "amount": {"type": "integer", "minimum": 1,
                                  "maximum": 100000},
                       "currency": {"enum": ["usd", "eur", "gbp"]},
                       "express": {"type": "boolean"},
                       "note": {"type": "string", "maxLength": 5},
                       "sku": {"type": "string"}}}}), 201)
    ok(operator("PATCH", t.base, {"enforce_event_types": True}))

    def says(payload, event_type="order.created"):
        return hint(post(nginx, t, {"event_type": event_type,
                                    "payload": payload}), 422,
                    "schema_mismatch" if event_type == "order.created"
                    else "unknown_event_type")

    good = {"amount": 5, "currency": "usd"}
    assert says(dict(good, amount="150")) == "send payload.amount as 150"
    assert "whole number, such as 2" in says(dict(good, amount=1.5))
    assert says(dict(good, express="true")) == "send payload.express as true"
    assert says({"amount": 5}) == \
        'add payload.currency, such as "currency": "usd"'
    assert says({"amount": 5, "curency": "usd"}) == \
        "rename payload.curency to payload.currency"
    assert says(dict(good, currency="USD")).startswith(
        'send payload.currency as "usd" (one of')
    assert says(dict(good, currency="yen")) == \
        'send payload.currency as one of ["usd", "eur", "gbp"]'
    assert says(dict(good, amount=0)) == \
        "send payload.amount as a number at least 1 and at most 100000 " \
        "(it is 0)"
    assert says(dict(good, note="too long")) == \
        "shorten payload.note to 5 characters (it has 8)"
    assert says(dict(good, skus="a")) == "rename payload.skus to payload.sku"
    assert says(dict(good, color="red")) == "leave payload.color out; the " \
        "schema allows amount, currency, express, note, sku"
    assert says(good, "order.creatd") .startswith(
        'did you mean "order.created"?')
    assert "POST /v1/apps/" in says(good, "refund.issued")


ORDER = {
    "type": "object",
    "required": ["id", "amount", "currency", "lines", "customer"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 8, "maxLength": 40},
        "amount": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "discount": {"type": "number", "exclusiveMinimum": 0,
                     "exclusiveMaximum": 1},
        "currency": {"enum": ["usd", "eur", "gbp"]},
        "status": {"const": "open"},
        "express": {"type": "boolean"},
        "note": {"type": ["string", "null"], "maxLength": 3},
        "created_at": {"type": "string", "format": "date-time"},
        "lines": {"type": "array", "minItems": 1, "maxItems": 4,
                  "items": {"type": "object", "required": ["sku", "qty"],
                            "properties": {
                                "sku": {"type": "string", "minLength": 3},
                                "qty": {"type": "integer", "minimum": 1,
                                        "maximum": 99}}}},
        "customer": {"type": "object", "required": ["email"],
                     "properties": {"email": {"type": "string",
                                              "format": "email"},
                                    "name": {"type": "string"}},
                     "additionalProperties": {"type": "string",
                                              "maxLength": 10}},
        "tags": {"type": "array", "items": {"type": "string"},
                 "maxItems": 0},
        "meta": {"type": "object", "additionalProperties": True},
    }}

LOOSE = {"properties": {"a": {}, "b": True, "n": {"minimum": -5,
                                                  "maximum": -5},
                        "list": {"items": {"enum": [1, "two", None]},
                                 "minItems": 2}},
         "required": ["a", "b", "n", "list", "extra"]}

PATTERNS = {
    "type": "object",
    "required": ["code", "ref", "price", "word", "any"],
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "ref": {"type": "string", "pattern": "^(ord|inv)_[a-f0-9]{8}$"},
        "price": {"type": "string", "pattern": "^\\d+(\\.\\d{2})?$"},
        "word": {"type": "string", "pattern": "^[^\\s]+$", "maxLength": 4},
        "any": {"type": "string", "pattern": "x.?y|z+"}}}


def test_samples_validate_for_every_seed(operator, nginx):
    jsonschema = pytest.importorskip("jsonschema")
    t = Tenant(operator)
    for name, schema in (("order.created", ORDER), ("loose", LOOSE),
                         ("coded", PATTERNS)):
        ok(operator("POST", t.base + "/event-types",
                    {"name": name, "schema": schema}), 201)
    ok(operator("PATCH", t.base, {"enforce_event_types": True}))

    for name, schema in (("order.created", ORDER), ("loose", LOOSE),
                         ("coded", PATTERNS)):
        seen = set()
        for seed in range(40):
            got = ok(operator("GET", f"{t.base}/event-types/{name}/sample",
                              params={"seed": seed}))
            assert got["from"] == "schema" and got["seed"] == seed
            sample = got["sample"]
            seen.add(json.dumps(sample, sort_keys=True))
            if name != "coded":
                jsonschema.Draft202012Validator(schema).validate(sample)
            # hookd's own validator: the application enforces its types
            r = post(nginx, t, {"event_type": name, "payload": sample})
            assert r.status_code == 202, (seed, sample, r.text)
        assert len(seen) > 20, name            # the seed matters
        again = ok(operator("GET", f"{t.base}/event-types/{name}/sample",
                            params={"seed": 7}))["sample"]
        assert json.dumps(again, sort_keys=True) in seen

    one = ok(operator("GET", f"{t.base}/event-types/order.created/sample",
                      params={"seed": 3}))["sample"]
    assert "@example.com" in one["customer"]["email"]
    assert one["currency"] in ("usd", "eur", "gbp")
    assert ok(operator("GET", f"{t.base}/event-types/order.created/sample"))[
        "seed"] == 0


@pytest.mark.parametrize("schema,why", [
    ({"properties": {"n": {"type": "integer", "minimum": 5, "maximum": 4}},
      "required": ["n"]}, "payload.n: no integer lies within its bounds"),
    ({"properties": {"n": {"type": "integer", "minimum": 1.2,
                           "maximum": 1.8}}, "required": ["n"]},
     "no integer lies within its bounds"),
    ({"required": ["x"], "additionalProperties": False},
     "payload.x is required, but additionalProperties is false"),
    ({"properties": {"c": {"type": "string", "enum": [1, 2]}},
      "required": ["c"]}, "payload.c: no value of its enum satisfies"),
    ({"properties": {"c": {"const": 3, "enum": [1, 2]}}, "required": ["c"]},
     "const 3 is not in enum"),
    ({"properties": {"s": {"type": "string", "minLength": 5,
                           "maxLength": 2}}, "required": ["s"]},
     "minLength 5 is more than maxLength 2"),
    ({"properties": {"l": {"type": "array", "minItems": 1,
                           "items": False}}, "required": ["l"]},
     "payload.l[0] allows no value"),
    ({"properties": {"p": {"type": "string", "pattern": "^(a)\\1$"}},
      "required": ["p"]}, "uses more"),
    ({"type": "array"}, "payload: an event's payload is an object"),
])
def test_a_schema_no_payload_satisfies_is_422_saying_why(operator, schema,
                                                         why):
    t = Tenant(operator)
    ok(operator("POST", t.base + "/event-types",
                {"name": "x", "schema": schema}), 201)
    r = operator("GET", t.base + "/event-types/x/sample")
    assert r.status_code == 422, r.text
    e = r.json()["error"]
    assert e["code"] == "unsatisfiable_schema" and why in e["message"], e


def test_without_a_schema_the_stored_sample(operator):
    t = Tenant(operator)
    ok(operator("POST", t.base + "/event-types",
                {"name": "plain", "sample": {"hello": "world"}}), 201)
    got = ok(operator("GET", t.base + "/event-types/plain/sample"))
    assert got == {"event_type": "plain", "from": "stored", "seed": None,
                   "sample": {"hello": "world"}}
    ok(operator("POST", t.base + "/event-types", {"name": "bare"}), 201)
    r = operator("GET", t.base + "/event-types/bare/sample")
    assert r.status_code == 404 and "PATCH" in r.json()["error"]["message"]
    r = operator("GET", t.base + "/event-types/plain/sample",
                 params={"seed": "x"})
    assert r.status_code == 400


def expired_certificate(d):
    """A CA hookd trusts (ca_file) and a certificate for 127.0.0.1 that it
    signed, valid in January 2020 only: made with openssl ca."""
    import os
    import subprocess

    def ossl(*args):
        subprocess.run(("openssl",) + args, check=True, capture_output=True,
                       cwd=d)

    os.makedirs(d, exist_ok=True)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
         "-subj", "/CN=hookd test CA", "-keyout", "ca.key", "-out", "ca.pem")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "leaf.key",
         "-out", "leaf.csr")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\n"
                "new_certs_dir = .\nserial = serial\npolicy = p\n"
                "default_md = sha256\nx509_extensions = ext\n"
                "[p]\ncommonName = supplied\n"
                "[ext]\nsubjectAltName = IP:127.0.0.1\n")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    ossl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem",
         "-keyfile", "ca.key", "-in", "leaf.csr", "-out", "leaf.pem",
         "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")
    return (os.path.join(d, "ca.pem"),
            (os.path.join(d, "leaf.pem"), os.path.join(d, "leaf.key")))


def test_diagnosis_names_each_failure_with_evidence_and_a_fix(
        operator, nginx, pg, hookd, daemons, receiver, base):
    import os
    import socket
    from harness import Receiver

    ca, leaf = expired_certificate(os.path.join(base, "expired-tls"))
    tls = Receiver(cert=leaf)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    t = Tenant(operator)
    ok(operator("DELETE", f"{t.base}/endpoints/{t.ep}"), 204)
    p = "/diag-" + uuid.uuid4().hex[:8]
    receiver.plan(p + "/auth", 401)
    receiver.plan(p + "/slow", {"status": 200, "sleep": 2.5})
    receiver.plan(p + "/gone", 410)
    receiver.plan(p + "/moved", {"status": 302, "headers": {
        "Location": "https://hooks.example.com/new"}})
    receiver.plan(p + "/busy", {"status": 429, "headers": {"Retry-After": "1"}})
    cases = {
        "auth_rejected": (receiver.url + p + "/auth", {}),
        "tls_expired": (tls.url + "/hook", {}),
        "timeout": (receiver.url + p + "/slow", {"timeout_ms": 1000}),
        "dns": ("http://" + "a" * 64 + ".example.com/hook", {}),
        "connection_refused": (f"http://127.0.0.1:{closed_port}/hook", {}),
        "ssrf_refused": ("http://169.254.169.254/latest", {}),
        "gone": (receiver.url + p + "/gone", {}),
        "redirect": (receiver.url + p + "/moved", {}),
        "rate_limited": (receiver.url + p + "/busy", {"rate_limit": 50}),
    }
    eps = {}
    for kind, (url, extra) in cases.items():
        eps[kind] = ok(operator("POST", t.base + "/endpoints", dict(
            {"url": url, "event_types": ["*"]}, **extra)), 201)["id"]
    try:
        daemons(ca_file=ca)
        for _ in range(3):
            t.ingest("order.created", {"n": 1})

        def attempts(ep):
            return pg.query("SELECT count(*) FROM hookd.attempts WHERE "
                            "endpoint_id = %s", ep)[0][0]
        deadline = time.time() + 30
        while time.time() < deadline and not all(
                attempts(e) >= 1 for e in eps.values()):
            time.sleep(0.2)
        assert all(attempts(e) >= 1 for e in eps.values()), \
            {k: attempts(e) for k, e in eps.items()}

        says = {
            "auth_rejected": "secret", "tls_expired": "Renew",
            "timeout": "timeout_ms", "dns": "DNS records",
            "connection_refused": "listening on that port",
            "ssrf_refused": "allow_network", "gone": "resume",
            "redirect": "https://hooks.example.com/new",
            "rate_limited": "rate_limit (now 50 deliveries/s)",
        }
        for kind, ep in eps.items():
            d = ok(operator("GET", f"{t.base}/endpoints/{ep}/diagnosis"))
            top = d["findings"][0]
            assert top["kind"] == kind, (kind, d)
            assert top["share"] == 1.0 and d["window"]["failed"] >= 1
            ev = top["evidence"]
            assert ev["attempts"] >= 1 and ev["first_seen"] <= ev["last_seen"]
            assert top["example"]["attempt_id"].startswith("att_")
            assert says[kind] in top["fix"], (kind, top)
            assert top["summary"] in d["text"] or \
                top["summary"][1:] in d["text"], d["text"]
        d = ok(operator("GET", f"{t.base}/endpoints/{eps['timeout']}/diagnosis"))
        assert "1000 ms" in d["findings"][0]["summary"]
        assert d["findings"][0]["evidence"]["median_duration_ms"] >= 1000
        d = ok(operator("GET", f"{t.base}/endpoints/{eps['gone']}/diagnosis"))
        assert d["status"] == "disabled" and d["text"].startswith(
            "The endpoint is disabled")

        # the CLI answers the same
        cli = hookd("diagnose", eps["dns"])
        assert cli["findings"][0]["kind"] == "dns"

        # the application's summary: what fails, what waits, what to do
        s = ok(operator("GET", t.base + "/summary"))
        assert s["status"] == "failing"
        assert s["endpoints"]["total"] == len(eps) == s["endpoints"]["failing"]
        assert {f["endpoint_id"] for f in s["failing"]} == set(eps.values())
        causes = {f["endpoint_id"]: f["cause"]["kind"] for f in s["failing"]}
        assert causes == {e: k for k, e in eps.items()}
        assert s["deliveries"]["waiting"] >= 1
        assert "endpoints are failing" in s["text"]
        assert "deliveries wait" in s["text"] and "What to do" in s["text"]
        assert len(s["actions"]) >= len(eps)
    finally:
        tls.close()


def test_a_healthy_application_is_summarized_so(operator, daemons, receiver,
                                                pg):
    t = Tenant(operator, receiver.url + "/healthy-" + uuid.uuid4().hex[:6])
    daemons()
    deadline = time.time() + 15
    while time.time() < deadline and pg.query(
            "SELECT count(*) FROM hookd.deliveries WHERE app_id = %s AND "
            "status = 'succeeded'", t.id)[0][0] < 1:
        time.sleep(0.1)
    s = ok(operator("GET", t.base + "/summary"))
    assert s["status"] == "healthy" and s["failing"] == [] and \
        s["actions"] == []
    assert s["text"].startswith("All 1 endpoints are delivering")
    d = ok(operator("GET", f"{t.base}/endpoints/{t.ep}/diagnosis"))
    assert d["findings"] == [] and "succeeded" in d["text"]


class ChatStandIn:
    """A stand-in for an OpenAI-compatible API on 127.0.0.1: records each
    POST …/chat/completions and answers with answer(request), a dict sent
    as the message's JSON content (or a str sent as it is), after
    delay(request) seconds."""

    def __init__(self):
        import http.server
        import threading

        self.requests = []
        self.answer = lambda req: {"category": "other"}
        self.delay = lambda req: 0
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                req = {"path": self.path, "headers": dict(self.headers),
                       "raw": raw, "body": json.loads(raw)}
                stand_in.requests.append(req)
                time.sleep(stand_in.delay(req))
                content = stand_in.answer(req)
                if not isinstance(content, str):
                    content = json.dumps(content)
                out = json.dumps({"id": "chatcmpl-1",
                                  "object": "chat.completion",
                                  "model": req["body"].get("model"),
                                  "choices": [{"index": 0,
                                               "finish_reason": "stop",
                                               "message": {
                                                   "role": "assistant",
                                                   "content": content}}]}
                                 ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass                # hookd gave up waiting

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()

    def user(self, req):
        return json.loads(req["body"]["messages"][1]["content"])


@pytest.fixture
def backend(pg, base):
    """The stand-in, a key file, and the assist tables cleared before and
    after (one database serves every test)."""
    import os

    def clear():
        with pg.connect() as c:
            c.execute("DELETE FROM hookd.assist_state; "
                      "DELETE FROM hookd.assist_queue; "
                      "DELETE FROM hookd.assist_answers; "
                      "DELETE FROM hookd.assist_classes")

    clear()
    s = ChatStandIn()
    s.key_file = os.path.join(base, "assist.key")
    with open(s.key_file, "w") as f:
        f.write("sk-test-4242\n")
    s.conf = lambda **extra: dict({"assist_url": s.url,
                                   "assist_model": "test-model",
                                   "assist_key_file": s.key_file}, **extra)
    yield s
    s.close()
    clear()


def until(what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.2)
    return what()


def backend_up(pg):
    assert until(lambda: pg.query("SELECT hookd.assist_active()")[0][0])


def test_the_backend_classifies_what_the_rules_left_other(
        operator, pg, daemons, receiver, backend):
    backend.answer = lambda req: {"category": "billing"}
    t = Tenant(operator)
    p = "/reclassified-" + uuid.uuid4().hex[:6]
    billing = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + p, "event_types": ["*"],
        "labels": {"hookd.category": "billing"}}), 201)
    daemons(**backend.conf())
    backend_up(pg)

    ev = t.ingest("thing.happened", {"widget": "w-1", "count": 3,
                                     "note": "do-not-leak-42"})
    assert labels(pg, ev["id"])["hookd.category"] == "other"
    assert until(lambda: labels(pg, ev["id"])["hookd.category"] == "billing")
    # fanned out once more, to the endpoint the new label lets in
    assert until(lambda: receiver.at(p))
    assert json.loads(receiver.at(p)[0]["body"])["id"] == ev["id"]

    assert len(backend.requests) == 1
    req = backend.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test-4242"
    assert req["headers"]["Content-Type"] == "application/json"
    body = req["body"]
    assert body["model"] == "test-model" and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "billing" in body["messages"][0]["content"]
    sent = backend.user(req)
    assert sent["event_type"] == "thing.happened"
    assert sent["payload_structure"] == {"count": "number", "note": "string(14)",
                                         "widget": "string(3)"}
    # structure only: no value leaves by default
    assert b"do-not-leak-42" not in req["raw"] and b"w-1" not in req["raw"]
    assert "payload" not in sent

    # the same shape again: the stored answer, no new request
    again = t.ingest("thing.happened", {"widget": "w-2", "count": 4,
                                        "note": "another-value"})
    assert until(lambda: labels(pg, again["id"])["hookd.category"]
                 == "billing")
    assert len(backend.requests) == 1


def test_values_leave_only_with_assist_send_values(operator, pg, daemons,
                                                   backend):
    t = Tenant(operator)
    daemons(**backend.conf(assist_send_values="true"))
    backend_up(pg)
    t.ingest("thing.counted", {"gadget": "g-77"})
    assert until(lambda: backend.requests)
    assert backend.user(backend.requests[0])["payload"] == {"gadget": "g-77"}


def test_timeouts_and_wrong_answers_are_ignored(operator, pg, daemons,
                                                backend):
    backend.delay = lambda req: 3 if "slow.thing" in req["raw"].decode() \
        else 0
    backend.answer = lambda req: {"category": "finance"} \
        if "odd.thing" in req["raw"].decode() else "not json at all" \
        if "garbled.thing" in req["raw"].decode() else {"category": "alerts"}
    t = Tenant(operator)
    d = daemons(**backend.conf(assist_timeout="500ms"))
    backend_up(pg)
    slow = t.ingest("slow.thing", {"a": 1})
    odd = t.ingest("odd.thing", {"b": 1})
    garbled = t.ingest("garbled.thing", {"c": 1})
    fine = t.ingest("fine.thing", {"d": 1})
    assert until(lambda: labels(pg, fine["id"])["hookd.category"] == "alerts")
    assert until(lambda: "Timeout was reached" in d.output())
    assert until(lambda: '"finance" is no category' in d.output())
    assert until(lambda: "not a JSON object" in d.output())
    time.sleep(1)
    for ev in (slow, odd, garbled):
        assert labels(pg, ev["id"])["hookd.category"] == "other"
    # a shape whose answer was unusable is not asked about again soon
    n = len(backend.requests)
    t.ingest("odd.thing", {"b": 2})
    time.sleep(3)
    assert len(backend.requests) == n
    assert d.proc.poll() is None


def test_the_hourly_budget_is_kept(operator, pg, daemons, backend):
    backend.answer = lambda req: {"category": "code"}
    t = Tenant(operator)
    daemons(**backend.conf(assist_requests_per_hour=3))
    backend_up(pg)
    for i in range(6):
        t.ingest(f"shape{i}.made", {f"key{i}": i})
    assert until(lambda: len(backend.requests) >= 3)
    time.sleep(5)                          # two more rounds of hookd's
    assert len(backend.requests) == 3
    # the rest wait in the queue for the budget, still "other"
    assert pg.query("SELECT count(*) FROM hookd.assist_queue q JOIN "
                    "hookd.events e ON e.id = q.event_id WHERE e.app_id = %s",
                    t.id)[0][0] == 3


def test_diagnoses_summaries_and_samples_get_the_backends_words(
        operator, pg, daemons, receiver, backend):
    def answer(req):
        system = req["body"]["messages"][0]["content"]
        if "example payloads" in system:
            schema = backend.user(req)["schema"]
            return {"sample": {"amount": 1250, "currency": "usd"}} \
                if "currency" in schema["properties"] else {"sample": {}}
        return {"text": "Your receiver keeps answering 401: give it the "
                        "current secret."}
    backend.answer = answer
    t = Tenant(operator)
    p = "/words-" + uuid.uuid4().hex[:6]
    receiver.plan(p + "?token=s3cr3t-in-url", 401)
    ep = ok(operator("POST", t.base + "/endpoints", {
        "url": receiver.url + p + "?token=s3cr3t-in-url",
        "event_types": ["*"]}), 201)
    for name, req in (("priced", ["amount", "currency"]), ("named", ["name"])):
        ok(operator("POST", t.base + "/event-types", {
            "name": name, "schema": {
                "type": "object", "required": req,
                "properties": {k: {"type": "integer" if k == "amount"
                                   else "string"} for k in req}}}), 201)
    daemons(**backend.conf())
    backend_up(pg)
    t.ingest("order.created", {"n": 1})
    assert until(lambda: pg.query("SELECT count(*) FROM hookd.attempts "
                                  "WHERE endpoint_id = %s", ep["id"])[0][0])

    diag = f"{t.base}/endpoints/{ep['id']}/diagnosis"
    assert ok(operator("GET", diag))["assist"] is None      # asked for now
    got = until(lambda: ok(operator("GET", diag))["assist"])
    assert got["text"].startswith("Your receiver keeps answering 401")
    assert got["model"] == "test-model" and got["age_seconds"] >= 0
    assert ok(operator("GET", diag))["findings"][0]["kind"] == "auth_rejected"

    ok(operator("GET", t.base + "/summary"))
    assert until(lambda: ok(operator("GET", t.base + "/summary"))["assist"])

    ok(operator("GET", t.base + "/event-types/priced/sample"))
    ok(operator("GET", t.base + "/event-types/named/sample"))
    got = until(lambda: ok(operator(
        "GET", t.base + "/event-types/priced/sample"))["assist"])
    assert got["sample"] == {"amount": 1250, "currency": "usd"}
    # an answer the schema refuses is not kept
    assert until(lambda: sum(1 for r in backend.requests
                             if "named" in r["raw"].decode()))
    time.sleep(1)
    assert ok(operator("GET", t.base + "/event-types/named/sample"))[
        "assist"] is None

    # what was sent: structure and hookd's words, no URL path or query
    words = [r for r in backend.requests
             if "explain" in r["body"]["messages"][0]["content"]]
    assert words and all(b"s3cr3t-in-url" not in r["raw"] for r in words)
    assert all(b"127.0.0.1" in r["raw"] for r in words), \
        [r["raw"] for r in words if b"127.0.0.1" not in r["raw"]]
