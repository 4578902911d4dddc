"""Inbound sources (docs/sources.md): providers' webhooks at /in/<source>.
Sources as admin resources and in the CLI; their secrets sealed."""

import uuid

import pytest

from test_admin import Api, Tenant, error, ok


@pytest.fixture(scope="module")
def operator(hookd, nginx):
    return Api(nginx.url, hookd("keys", "create", "--scope", "admin")["key"])


def test_sources_are_created_listed_changed_and_deleted(operator, pg):
    t = Tenant(operator)
    secret = "whsec_" + uuid.uuid4().hex
    made = ok(operator("POST", t.base + "/sources", {
        "name": "stripe-live", "provider": "stripe", "secret": secret}), 201)
    assert made["id"].startswith("src_") and made["path"] == \
        "/in/" + made["id"]
    assert made["provider"] == "stripe" and made["tolerance_seconds"] == 300
    # a pasted secret is the provider's: never shown back, stored sealed
    assert "secret" not in made and made["secrets"] == 1
    stored = pg.query("SELECT secrets::text FROM hookd.sources WHERE id = %s",
                      made["id"])[0][0]
    assert secret not in stored and '"sealed": "v1.' in stored

    page = ok(operator("GET", t.base + "/sources", params={"limit": 1}))
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = ok(operator("GET", t.base + "/sources",
                       params={"cursor": page["next_cursor"]}))
    ids = [s["id"] for s in page["data"] + rest["data"]]
    assert made["id"] in ids and t.src in ids and len(ids) == 2

    changed = ok(operator("PATCH", f"{t.base}/sources/{made['id']}",
                          {"tolerance_seconds": 60, "name": "stripe-2"}))
    assert changed["tolerance_seconds"] == 60 and changed["name"] == "stripe-2"
    assert ok(operator("GET", f"{t.base}/sources/{made['id']}")) == changed
    error(operator("POST", t.base + "/sources", {
        "name": "stripe-2", "provider": "github", "secret": "x"}), 409,
        "conflict")
    ok(operator("DELETE", f"{t.base}/sources/{made['id']}"), 204)
    error(operator("GET", f"{t.base}/sources/{made['id']}"), 404, "not_found")


def test_a_standard_source_may_have_its_secret_made(operator):
    t = Tenant(operator)
    made = ok(operator("POST", t.base + "/sources",
                       {"name": "std", "provider": "standard"}), 201)
    assert made["secret"].startswith("whsec_")
    assert "secret" not in ok(operator("GET", f"{t.base}/sources/"
                                                f"{made['id']}"))
    rotated = ok(operator("POST", f"{t.base}/sources/{made['id']}"
                                  "/rotate-secret", {"grace_seconds": 0}))
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != made["secret"] and rotated["secrets"] == 1


@pytest.mark.parametrize("body,why", [
    ({"provider": "github"}, "secret is required"),
    ({"provider": "stripe", "secret": ""}, "printable ASCII"),
    ({"provider": "stripe", "secret": "x\u00e9"}, "printable ASCII"),
    ({"provider": "stripe", "secret": "x" * 513}, "printable ASCII"),
    ({"provider": "standard", "secret": "not-whsec"}, "whsec_"),
    ({"provider": "basic", "secret": "nocolon"}, "user:password"),
    ({"provider": "nope", "secret": "x"}, "provider must be"),
    ({"provider": "stripe", "secret": "x", "options": {"header": "X"}},
     "takes no options"),
    ({"provider": "hmac", "secret": "x", "options": {"event_type": "a"}},
     "options.header is required"),
    ({"provider": "hmac", "secret": "x", "options": {
        "header": "X-Sig", "event_type": "a", "algorithm": "md5"}},
     "sha1, sha256 or sha512"),
    ({"provider": "hmac", "secret": "x", "options": {"header": "X-Sig"}},
     "give one of options.type_header"),
    ({"provider": "bearer", "secret": "x", "options": {
        "type_field": "type", "id_header": "X-Id"}}, "JSON pointer"),
    ({"provider": "github", "secret": "x", "tolerance_seconds": 0},
     "tolerance_seconds must be"),
    ({"provider": "github", "secret": "x", "extra": 1}, "extra"),
])
def test_a_bad_source_is_400_naming_what_to_fix(operator, body, why):
    t = Tenant(operator)
    r = operator("POST", t.base + "/sources", dict({"name": "s"}, **body))
    error(r, 400, "invalid_request")
    assert why in r.json()["error"]["message"], r.text


def test_rotation_keeps_the_old_secret_for_its_grace(operator, pg):
    t = Tenant(operator)
    r = ok(operator("POST", f"{t.base}/sources/{t.src}/rotate-secret",
                    {"secret": "the new one", "grace_seconds": 3600}))
    assert r["secrets"] == 2 and r["old_secrets_expire_at"]
    assert "secret" not in r
    live = pg.query("SELECT o_secrets::jsonb FROM hookd.source_lookup(%s)",
                    t.src)[0][0]
    assert len(live) == 2 and all(s.startswith("v1.") for s in live)
    ok(operator("POST", f"{t.base}/sources/{t.src}/rotate-secret",
                {"secret": "a third", "grace_seconds": 0}))
    assert len(pg.query("SELECT o_secrets::jsonb FROM hookd.source_lookup(%s)",
                        t.src)[0][0]) == 1


def test_the_cli_creates_lists_and_rotates_sources(hookd, pg):
    name = "cli-" + uuid.uuid4().hex[:8]
    hookd("apps", "create", name)
    s = hookd("sources", "create", "--app", name, "--name", "gh",
              "--provider", "github", "--secret", "It's a Secret to Everybody")
    assert s["path"] == "/in/" + s["id"] and "secret" not in s
    h = hookd("sources", "create", "--app", name, "--name", "sig",
              "--provider", "hmac", "--secret", "k", "--option",
              "header=X-Signature", "--option", "type_field=/kind",
              "--tolerance", "60")
    assert h["options"] == {"header": "X-Signature", "type_field": "/kind"}
    std = hookd("sources", "create", "--app", name, "--name", "std",
                "--provider", "standard")
    assert std["secret"].startswith("whsec_")
    listed = hookd("sources", "list", "--app", name)["data"]
    assert {x["name"] for x in listed} == {"gh", "sig", "std"}
    assert hookd("sources", "get", s["id"]) == \
        [x for x in listed if x["id"] == s["id"]][0]
    r = hookd("sources", "rotate-secret", s["id"], "--secret", "new",
              "--grace", "1h")
    assert r["secrets"] == 2 and r["old_secrets_expire_at"]
    bad = hookd("sources", "create", "--app", name, "--name", "x",
                "--provider", "github", check=False)
    assert bad["error"]["code"] == "invalid_request"
    assert "secret is required" in bad["error"]["message"]
    stored = pg.query("SELECT string_agg(secrets::text, '') FROM "
                      "hookd.sources s JOIN hookd.applications a ON "
                      "a.id = s.app_id WHERE a.name = %s", name)[0][0]
    assert "Secret to Everybody" not in stored and "new" not in stored


# --- webhooks at /in/<source id>, signed by independent code (hmac) ---

import base64
import hashlib
import hmac
import json
import time

import requests


def source(operator, t, provider, secret, **extra):
    return ok(operator("POST", t.base + "/sources", dict(
        {"name": provider + "-" + uuid.uuid4().hex[:6], "provider": provider,
         "secret": secret}, **extra)), 201)


def post_in(nginx, src, body, headers, at="/in/"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return requests.post(f"{nginx.url}{at}{src['id']}", data=body,
                         headers=dict({"Content-Type": "application/json"},
                                      **headers), timeout=10)


def stored(pg, src):
    return pg.query("SELECT event_type, idempotency_key, payload FROM "
                    "hookd.events WHERE source = %s ORDER BY received_at",
                    src["id"])


def stripe_headers(secret, body, t=None):
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body,
                   hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}"}


def test_stripe_webhooks_are_verified_stored_fanned_out_and_deduped(
        operator, nginx, pg):
    t = Tenant(operator)
    secret = "whsec_" + uuid.uuid4().hex
    src = source(operator, t, "stripe", secret)
    body = json.dumps({"id": "evt_1Nx", "type": "invoice.paid",
                       "data": {"object": {"amount": 1999, "total": 19.99}}}
                      ).encode()
    r = post_in(nginx, src, body, stripe_headers(secret, body))
    assert r.status_code == 202, r.text
    ev = r.json()
    assert ev["event_type"] == "invoice.paid"
    rows = stored(pg, src)
    assert [(x[0], x[1]) for x in rows] == [("invoice.paid", "evt_1Nx")]
    # the payload as sent: numbers are not re-encoded
    assert pg.query("SELECT payload->'data'->'object'->>'total' FROM "
                    "hookd.events WHERE id = %s", ev["id"]) == [("19.99",)]
    # fanned out like any event of the application
    assert pg.query("SELECT count(*) FROM hookd.deliveries WHERE event_id "
                    "= %s", ev["id"]) == [(1,)]
    # Stripe's retry: the same delivery again, nothing new
    again = post_in(nginx, src, body, stripe_headers(secret, body))
    assert again.status_code == 202 and \
        again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == ev["id"] and len(stored(pg, src)) == 1
    # the key is the source's own: /v1/events with the same key is another
    r = requests.post(nginx.url + "/v1/events", timeout=10, json={
        "event_type": "invoice.paid", "payload": {}}, headers={
        "Authorization": f"Bearer {t.ingest_key}",
        "Idempotency-Key": "evt_1Nx"})
    assert r.status_code == 202 and r.json()["id"] != ev["id"]


def test_what_fails_verification_is_401_and_stores_nothing(operator, nginx,
                                                           pg):
    t = Tenant(operator)
    secret = "whsec_" + uuid.uuid4().hex
    src = source(operator, t, "stripe", secret)
    body = json.dumps({"id": "evt_2", "type": "invoice.paid"}).encode()
    good = stripe_headers(secret, body)["Stripe-Signature"]
    now = int(time.time())
    cases = [
        ({}, "invalid_signature"),
        ({"Stripe-Signature": ""}, "invalid_signature"),
        ({"Stripe-Signature": "t=abc,v1=00"}, "invalid_signature"),
        ({"Stripe-Signature": f"t={now},v1=nothex"}, "invalid_signature"),
        ({"Stripe-Signature": f"t={now},v1=abcd"}, "invalid_signature"),
        ({"Stripe-Signature": f"t={now},v1=" + "0" * 64},
         "invalid_signature"),
        ({"Stripe-Signature": good.replace("v1=", "v0=")},
         "invalid_signature"),
        (stripe_headers(secret, body, now - 600), "stale_signature"),
        (stripe_headers("whsec_other", body), "invalid_signature"),
    ]
    for headers, code in cases:
        r = post_in(nginx, src, body, headers, at="/unlimited/in/")
        assert r.status_code == 401, (headers, r.status_code, r.text)
        assert r.json()["error"]["code"] == code, (headers, r.text)
    # a body changed after signing
    r = post_in(nginx, src, body.replace(b"evt_2", b"evt_3"),
                stripe_headers(secret, body), at="/unlimited/in/")
    assert r.status_code == 401
    # several v1= of which one is right: accepted (rotation at Stripe)
    two = f"t={now},v1={'1' * 64}," + good.split(",", 1)[1]
    r = post_in(nginx, src, body, {"Stripe-Signature": two.replace(
        f"t={now},", f"t={good.split(',')[0][2:]},")})
    assert r.status_code == 202, r.text
    assert len(stored(pg, src)) == 1
    # over hookd_max_payload: refused before it is read
    big = json.dumps({"id": "x", "type": "t", "pad": "x" * 70000}).encode()
    assert post_in(nginx, src, big, stripe_headers(secret, big)) \
        .status_code == 413
    assert len(stored(pg, src)) == 1


def test_github_shopify_slack_and_standard(operator, nginx, pg):
    t = Tenant(operator)

    gh = source(operator, t, "github", "It's a Secret to Everybody")
    pr = json.dumps({"action": "opened", "number": 1}).encode()

    def gh_headers(body, event, delivery):
        return {"X-Hub-Signature-256": "sha256=" + hmac.new(
                    b"It's a Secret to Everybody", body,
                    hashlib.sha256).hexdigest(),
                "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}

    assert post_in(nginx, gh, pr, gh_headers(pr, "pull_request", "d-1")) \
        .status_code == 202
    ping = json.dumps({"zen": "Keep it logically awesome."}).encode()
    assert post_in(nginx, gh, ping, gh_headers(ping, "ping", "d-2")) \
        .status_code == 202
    # GitHub's form encoding: payload=<JSON>
    form = b"payload=" + requests.utils.quote(
        json.dumps({"action": "closed"})).encode()
    r = post_in(nginx, gh, form, dict(gh_headers(form, "issues", "d-3"), **{
        "Content-Type": "application/x-www-form-urlencoded"}))
    assert r.status_code == 202, r.text
    assert [(x[0], x[1]) for x in stored(pg, gh)] == [
        ("pull_request.opened", "d-1"), ("ping", "d-2"),
        ("issues.closed", "d-3")]


    slack_secret = "8f742231b10e8888abcd99yyyzzz85a5"
    sl = source(operator, t, "slack", slack_secret)

    def slack(body):
        ts = str(int(time.time()))
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" +
                hmac.new(slack_secret.encode(), f"v0:{ts}:".encode() + body,
                         hashlib.sha256).hexdigest()}

    challenge = json.dumps({"type": "url_verification",
                            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).encode()
    r = post_in(nginx, sl, challenge, slack(challenge))
    assert r.status_code == 200 and r.json() == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    msg = json.dumps({"type": "event_callback", "event_id": "Ev08MFMKH6",
                      "event": {"type": "message", "text": "hi"}}).encode()
    assert post_in(nginx, sl, msg, slack(msg)).status_code == 202
    assert [(x[0], x[1]) for x in stored(pg, sl)] == [
        ("slack.message", "Ev08MFMKH6")]

    std = ok(operator("POST", t.base + "/sources",
                      {"name": "std", "provider": "standard"}), 201)
    key = base64.b64decode(std["secret"][len("whsec_"):])
    body = json.dumps({"type": "user.created", "data": {}}).encode()
    ts = str(int(time.time()))
    sig = base64.b64encode(hmac.new(key, f"msg_1.{ts}.".encode() + body,
                                    hashlib.sha256).digest()).decode()
    r = post_in(nginx, std, body, {"webhook-id": "msg_1",
                                   "webhook-timestamp": ts,
                                   "webhook-signature": f"v1,{sig}"})
    assert r.status_code == 202, r.text
    assert [(x[0], x[1]) for x in stored(pg, std)] == [
        ("user.created", "msg_1")]


def test_unknown_sources_and_failed_verifications_are_limited(operator,
                                                              nginx, pg):
    t = Tenant(operator)
    src = source(operator, t, "github", "s3cret")
    other = source(operator, t, "github", "s3cret")
    body = b'{"action": "x"}'
    bad = {"X-Hub-Signature-256": "sha256=" + "0" * 64,
           "X-GitHub-Event": "push"}
    statuses = [post_in(nginx, src, body, bad).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 2
    # keyed by source: another source of the same provider is served
    good = dict(bad, **{"X-Hub-Signature-256": "sha256=" + hmac.new(
        b"s3cret", body, hashlib.sha256).hexdigest()})
    assert post_in(nginx, other, body, good).status_code == 202
    r = requests.post(nginx.url + "/in/src_nope", data=body, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_shopify_hmac_basic_and_bearer_sources(operator, nginx, pg):
    t = Tenant(operator)
    # a type the application does not register: stored all the same
    ok(operator("PATCH", t.base, {"enforce_event_types": True}))
    sh = source(operator, t, "shopify", "shpss_0123456789abcdef")
    order = json.dumps({"id": 820982911946154508}).encode()
    r = post_in(nginx, sh, order, {
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(
            b"shpss_0123456789abcdef", order, hashlib.sha256).digest())
        .decode(), "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37"})
    assert r.status_code == 202, r.text
    assert [(x[0], x[1]) for x in stored(pg, sh)] == [
        ("orders.create", "b54557e4-bdd9-4b37")]

    hm = source(operator, t, "hmac", "k3y", options={
        "header": "X-Signature", "algorithm": "sha512", "encoding": "base64",
        "prefix": "sha512=", "type_field": "/kind", "id_field": "/uid"})
    body = json.dumps({"kind": "build/finished ok", "uid": 42}).encode()
    r = post_in(nginx, hm, body, {"X-Signature": "sha512=" + base64.b64encode(
        hmac.new(b"k3y", body, hashlib.sha512).digest()).decode()})
    assert r.status_code == 202, r.text
    # mapped into the type alphabet; a numeric id as its digits
    assert [(x[0], x[1]) for x in stored(pg, hm)] == [
        ("build_finished_ok", "42")]

    ba = source(operator, t, "basic", "hooks:pa55", options={
        "event_type": "cron.tick", "content": "form"})
    auth = "Basic " + base64.b64encode(b"hooks:pa55").decode()
    r = post_in(nginx, ba, b"job=nightly&ok=1", {
        "Authorization": auth,
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 202, r.text
    assert [(x[0], x[2]) for x in stored(pg, ba)] == [
        ("cron.tick", {"job": "nightly", "ok": "1"})]
    assert post_in(nginx, ba, b"job=x", {
        "Authorization": "Basic " + base64.b64encode(b"hooks:nope").decode()},
        at="/unlimited/in/").status_code == 401

    be = source(operator, t, "bearer", "t0k3n", options={
        "type_header": "X-Event", "id_header": "X-Delivery"})
    r = post_in(nginx, be, b"[1, 2]", {"Authorization": "Bearer t0k3n",
                                       "X-Event": "batch.sent",
                                       "X-Delivery": "d1"})
    assert r.status_code == 202, r.text
    # what is not an object is kept under data
    assert [(x[0], x[1], x[2]) for x in stored(pg, be)] == [
        ("batch.sent", "d1", {"data": [1, 2]})]
    # not JSON from a JSON source: 400, nothing stored
    r = post_in(nginx, be, b"{not json", {"Authorization": "Bearer t0k3n",
                                          "X-Event": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == \
        "invalid_json"
    assert len(stored(pg, be)) == 1

    # the admin API lists events by source
    listed = ok(operator("GET", t.base + "/events",
                         params={"source": hm["id"]}))["data"]
    assert [e["event_type"] for e in listed] == ["build_finished_ok"]
    assert listed[0]["source"] == hm["id"]


def test_the_documented_curl_lines_are_signed_right(operator, nginx, pg):
    """Each provider's curl line in docs/sources.md, run by bash with the
    source's secret and URL, is accepted."""
    import os
    import re
    import subprocess

    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                            "sources.md")).read()
    t = Tenant(operator)
    secrets = {"stripe": "whsec_" + uuid.uuid4().hex,
               "github": "It's a Secret to Everybody",
               "shopify": "shpss_" + uuid.uuid4().hex,
               "slack": "8f742231b10e8888abcd99yyyzzz85a5",
               "standard": "whsec_" + base64.b64encode(os.urandom(32))
               .decode()}
    for provider, secret in secrets.items():
        section = re.search(r'\(`"provider": "%s"`\).*?```sh\n(.*?)```'
                            % provider, doc, re.S)
        assert section, provider
        src = source(operator, t, provider, secret)
        out = subprocess.run(["bash", "-eu", "-c", section.group(1)],
                             capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, SECRET=secret,
                                      URL=f"{nginx.url}/in/{src['id']}"))
        assert out.returncode == 0, (provider, out.stderr)
        assert '"id":"evt_' in out.stdout, (provider, out.stdout)
        assert len(stored(pg, src)) == 1, provider


def standard_webhooks(*args, stdin=""):
    """npm's standardwebhooks, the official library (tests/js)."""
    import os
    import subprocess
    js = os.path.join(os.path.dirname(__file__), "..", "js",
                      "standard_webhooks.mjs")
    return subprocess.run(["node", js, *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


def test_a_standard_source_takes_what_the_official_library_signs(
        operator, nginx, pg):
    t = Tenant(operator)
    std = ok(operator("POST", t.base + "/sources",
                      {"name": "std", "provider": "standard"}), 201)
    body = json.dumps({"type": "user.created", "data": {"id": 7}})
    ts = str(int(time.time()))
    out = standard_webhooks("sign", std["secret"], "msg_lib_1", ts,
                            stdin=body)
    assert out.returncode == 0, out.stderr
    headers = {"webhook-id": "msg_lib_1", "webhook-timestamp": ts,
               "webhook-signature": out.stdout}
    r = post_in(nginx, std, body.encode(), headers)
    assert r.status_code == 202, r.text
    # the library's retry, as a sender retries: replayed
    r = post_in(nginx, std, body.encode(), headers)
    assert r.headers.get("Idempotent-Replayed") == "true"
    assert [(x[0], x[1]) for x in stored(pg, std)] == [
        ("user.created", "msg_lib_1")]
    # signed with another secret: refused
    other = standard_webhooks("sign", "whsec_" + base64.b64encode(
        b"x" * 32).decode(), "msg_lib_2", ts, stdin=body)
    r = post_in(nginx, std, body.encode(), dict(headers, **{
        "webhook-id": "msg_lib_2", "webhook-signature": other.stdout}))
    assert r.status_code == 401


def test_slack_slash_commands_and_interactivity_come_as_forms(operator,
                                                             nginx, pg):
    t = Tenant(operator)
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    sl = source(operator, t, "slack", secret)

    def send(form):
        ts = str(int(time.time()))
        sig = hmac.new(secret.encode(), f"v0:{ts}:".encode() + form,
                       hashlib.sha256).hexdigest()
        return post_in(nginx, sl, form, {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + sig})

    assert send(b"command=%2Fdeploy&text=prod+now&user_id=U2CERLKJA") \
        .status_code == 202
    payload = json.dumps({"type": "block_actions", "actions": [{"id": 1}]})
    assert send(b"payload=" + requests.utils.quote(payload).encode()) \
        .status_code == 202
    rows = stored(pg, sl)
    assert [x[0] for x in rows] == ["slack.slash_command",
                                    "slack.block_actions"]
    assert rows[0][2] == {"command": "/deploy", "text": "prod now",
                          "user_id": "U2CERLKJA"}
    assert rows[1][2] == {"type": "block_actions", "actions": [{"id": 1}]}


def test_a_repeated_signature_header_is_401(operator, nginx, pg):
    """Sent twice, even both right, a signature header is refused: which
    one a proxy on the way keeps is not known."""
    import http.client

    t = Tenant(operator)
    gh = source(operator, t, "github", "s3cret")
    body = b'{"action": "x"}'
    sig = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    c.putrequest("POST", "/unlimited/in/" + gh["id"])
    c.putheader("Content-Type", "application/json")
    c.putheader("Content-Length", str(len(body)))
    c.putheader("X-GitHub-Event", "push")
    c.putheader("X-Hub-Signature-256", sig)
    c.putheader("X-Hub-Signature-256", sig)
    c.endheaders(body)
    r = c.getresponse()
    out = json.loads(r.read())
    assert r.status == 401 and "repeated" in out["error"]["message"], out
    assert stored(pg, gh) == []

