"""The operator CLI: JSON out, JSON errors, secrets never stored in clear."""

import glob
import hashlib
import os
import uuid

from harness import ROOT


def test_migrate_is_idempotent(hookd):
    again = hookd("migrate")
    assert again["applied"] == [] and again["functions"] == []
    newest = sorted(glob.glob(os.path.join(ROOT, "sql", "migrations",
                                           "*.sql")))[-1]
    assert again["current"] == os.path.basename(newest)[:-4]


def test_apps_create_and_duplicate(hookd):
    name = "cli-" + uuid.uuid4().hex[:8]
    app = hookd("apps", "create", name)
    assert app["name"] == name and app["id"].startswith("app_")
    err = hookd("apps", "create", name, check=False)
    assert err["error"]["code"] == "conflict"


def test_keys_are_stored_as_sha256_only(hookd, pg):
    name = "cli-" + uuid.uuid4().hex[:8]
    hookd("apps", "create", name)
    k = hookd("keys", "create", "--app", name, "--scope", "ingest",
              "--scope", "admin")
    assert k["key"].startswith("hk_") and k["scopes"] == ["ingest", "admin"]
    rows = pg.query("SELECT key_hash, scopes FROM hookd.api_keys "
                    "WHERE id = %s", k["id"])
    assert rows == [(hashlib.sha256(k["key"].encode()).digest(),
                     ["ingest", "admin"])]
    dump = str(pg.query("SELECT * FROM hookd.api_keys"))
    assert k["key"] not in dump

    operator = hookd("keys", "create", "--scope", "admin")
    assert operator["app_id"] is None
    err = hookd("keys", "create", "--scope", "ingest", check=False)
    assert "--app" in err["error"]["message"]
    assert hookd("keys", "revoke", k["id"])["id"] == k["id"]
    assert hookd("keys", "revoke", "key_nope", check=False)["error"]["code"] \
        == "not_found"


def test_endpoint_secret_is_sealed_and_input_checked(hookd, pg):
    name = "cli-" + uuid.uuid4().hex[:8]
    hookd("apps", "create", name)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ep = hookd("endpoints", "create", "--app", name, "--url",
               "https://example.com/hook", "--types", "invoice.*, user.created",
               "--label", "owner_id=acme", "--secret", secret)
    assert ep["secret"] == secret
    assert ep["types"] == ["invoice.*", "user.created"]
    row = pg.query("SELECT secrets::text FROM hookd.endpoints WHERE id = %s",
                   ep["id"])[0][0]
    assert "MfKQ9r8" not in row and '"sealed": "v1.' in row
    subs = pg.query("SELECT event_type_pattern, label_filter FROM "
                    "hookd.subscriptions WHERE endpoint_id = %s ORDER BY 1",
                    ep["id"])
    assert subs == [("invoice.*", {"owner_id": "acme"}),
                    ("user.created", {"owner_id": "acme"})]

    fresh = hookd("endpoints", "create", "--app", name, "--url",
                  "http://127.0.0.1:9/x")
    assert fresh["secret"].startswith("whsec_") and fresh["types"] == ["*"]

    for args in (["--url", "ftp://example.com/"], ["--url", "not a url"],
                 ["--url", "file:///etc/passwd"],
                 ["--url", "https://e.com/", "--secret", "whsec_short"],
                 ["--url", "https://e.com/", "--types", "bad type"],
                 ["--url", "https://e.com/", "--label", "novalue"]):
        err = hookd("endpoints", "create", "--app", name, *args, check=False)
        assert err["error"]["code"] == "invalid_endpoint", (args, err)
    err = hookd("endpoints", "create", "--app", "no-such-app", "--url",
                "https://e.com/", check=False)
    assert err["error"]["code"] == "not_found"
