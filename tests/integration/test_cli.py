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
               "https://example.com/hook", "--event-types", "invoice.*, user.created",
               "--label", "owner_id=acme", "--secret", secret)
    assert ep["secret"] == secret
    assert ep["event_types"] == ["invoice.*", "user.created"]
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
    assert fresh["secret"].startswith("whsec_") and fresh["event_types"] == ["*"]

    for args in (["--url", "ftp://example.com/"], ["--url", "not a url"],
                 ["--url", "file:///etc/passwd"],
                 ["--url", "https://e.com/", "--secret", "whsec_short"],
                 ["--url", "https://e.com/", "--event-types", "bad type"],
                 ["--url", "https://e.com/", "--label", "novalue"]):
        err = hookd("endpoints", "create", "--app", name, *args, check=False)
        assert err["error"]["code"] == "invalid_endpoint", (args, err)
    err = hookd("endpoints", "create", "--app", "no-such-app", "--url",
                "https://e.com/", check=False)
    assert err["error"]["code"] == "not_found"


def test_help_prints_each_commands_usage():
    import subprocess
    from harness import HOOKD
    for argv, shows in ((["run", "--help"], "hookd run [--config"),
                        (["help", "keys"], "hookd keys list"),
                        (["endpoints", "list", "--help"],
                         "hookd endpoints get <endpoint id>"),
                        (["help"], "hookd migrate")):
        p = subprocess.run([HOOKD] + argv, capture_output=True, text=True)
        assert p.returncode == 0 and shows in p.stdout, (argv, p)
        assert "--database <conninfo>" in p.stdout
    p = subprocess.run([HOOKD, "help", "nope"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and '"usage"' in p.stderr


def test_list_and_get_what_the_cli_creates(hookd):
    name = "cli-" + uuid.uuid4().hex[:8]
    app = hookd("apps", "create", name)
    assert hookd("apps", "get", name)["id"] == app["id"]
    assert hookd("apps", "get", app["id"])["name"] == name
    assert app["id"] in [a["id"] for a in hookd("apps", "list")["data"]]

    key = hookd("keys", "create", "--app", name, "--scope", "ingest")
    listed = hookd("keys", "list", "--app", name)["data"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert key["key"] not in str(listed)          # the secret is never shown again
    assert hookd("keys", "get", key["id"])["scopes"] == ["ingest"]
    operator = hookd("keys", "create", "--scope", "admin")
    assert operator["id"] in [k["id"] for k in hookd("keys", "list")["data"]]

    ep = hookd("endpoints", "create", "--app", name, "--url",
               "https://example.com/hook", "--event-types", "invoice.*")
    got = hookd("endpoints", "get", ep["id"])
    assert got["url"] == "https://example.com/hook"
    assert got["event_types"] == ["invoice.*"]
    assert ep["secret"] not in str(got)
    assert [e["id"] for e in hookd("endpoints", "list", "--app", name)
            ["data"]] == [ep["id"]]

    for args in (("apps", "get", "no-such-app"), ("keys", "get", "key_nope"),
                 ("endpoints", "get", "ep_nope")):
        assert hookd(*args, check=False)["error"]["code"] == "not_found"
    assert hookd("endpoints", "list", "--app", "no-such-app",
                 check=False)["error"]["code"] == "not_found"
