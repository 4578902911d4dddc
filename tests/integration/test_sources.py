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
