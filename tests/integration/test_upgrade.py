"""hookd migrate upgrades in place: a database made by the last release
with function bodies in numbered migrations (fixtures/release-4bcd42d.sql)
ends up with the very schema of a fresh install, keeps its data, and a
second run changes nothing; a function file whose text changed is applied
again, alone."""

import glob
import os
import subprocess
import uuid

import pytest

from harness import PG_BIN, Hookd, ROOT

FIXTURE = os.path.join(ROOT, "tests", "integration", "fixtures",
                       "release-4bcd42d.sql")


def run_pg(pg, *cmd):
    if pg.as_root:
        cmd = ("runuser", "-u", "postgres", "--") + cmd
    return subprocess.run(cmd, check=True, capture_output=True,
                          text=True).stdout


def database(pg, base):
    """A new, empty database and a hookd CLI pointed at it."""
    name = "upgrade_" + uuid.uuid4().hex[:8]
    with pg.connect() as c:
        c.execute(f"CREATE DATABASE {name}")
    conninfo = pg.conninfo.replace("dbname=hookd", f"dbname={name}")
    return name, conninfo, Hookd(conninfo, base)


def schema(pg, name):
    out = run_pg(pg, f"{PG_BIN}/pg_dump", "-h", "127.0.0.1", "-p",
                 str(pg.port), "-U", pg.user, "--schema-only", "--no-owner",
                 name)
    # pg_dump's comments and the random key of its \restrict lines
    return [line for line in out.splitlines()
            if line and not line.startswith(("--", "\\restrict",
                                             "\\unrestrict"))]


@pytest.fixture(scope="module")
def upgraded(pg, base):
    name, conninfo, hookd = database(pg, base)
    run_pg(pg, f"{PG_BIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
           "127.0.0.1", "-p", str(pg.port), "-U", pg.user, "-d", name,
           "-f", FIXTURE)
    # what the old release let an endpoint hold, past today's bounds
    import psycopg
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute("UPDATE hookd.endpoints SET rate_limit = 1e12, "
                  "breaker_cooldown_max_seconds = 1e300, retry_policy = "
                  "'{\"cap_seconds\": 1e30, \"base_seconds\": -1, "
                  "\"tries\": 3, \"strategy\": \"constant\"}' "
                  "WHERE url = 'https://example.org/all'")
    first = hookd("migrate")
    return name, conninfo, hookd, first


def test_an_old_database_migrates_to_the_schema_of_a_fresh_one(pg, base,
                                                               upgraded):
    name, _, _, first = upgraded
    # the migrations that came after 4bcd42d's last, 016
    newer = sorted(os.path.basename(f)[:-4] for f in glob.glob(
        os.path.join(ROOT, "sql", "migrations", "*.sql"))
        if os.path.basename(f)[:3] > "016")
    assert first["applied"] == newer and newer[0] == "017_claim_attempt_number"
    # every function file, none recorded by the old release
    assert "ids" in first["functions"] and "claim" in first["functions"]
    assert first["current"] == newer[-1]

    fresh, _, hookd = database(pg, base)
    hookd("migrate")
    old, new = schema(pg, name), schema(pg, fresh)
    assert old == new, "\n".join(
        line for line in set(old) ^ set(new))[:4000]


def test_an_upgraded_database_keeps_its_data_and_works(pg, upgraded):
    _, conninfo, _, _ = upgraded
    import psycopg
    with psycopg.connect(conninfo, autocommit=True) as c:
        counts = c.execute(
            "SELECT (SELECT count(*) FROM hookd.events),"
            " (SELECT count(*) FROM hookd.deliveries),"
            " (SELECT count(*) FROM hookd.attempts)").fetchone()
        assert counts == (6, 9, 3)
        # what waited moved into the queue (migration 026), each row with
        # its delivery's event
        assert c.execute(
            "SELECT count(*), bool_and(q.event_id = d.event_id) "
            "FROM hookd.queue q JOIN hookd.deliveries d "
            "ON d.app_id = q.app_id AND d.id = q.delivery_id").fetchone() \
            == (c.execute("SELECT count(*) FROM hookd.deliveries "
                          "WHERE status = 'pending'").fetchone()[0], True)
        # the claim and the admin router of the new files run on old rows
        c.execute("UPDATE hookd.deliveries SET next_attempt_at = now()")
        claimed = c.execute("SELECT o_id, o_attempt_number FROM "
                            "hookd.claim('upgrade', 100, 30)").fetchall()
        assert len(claimed) == 7
        assert c.execute("SELECT o_status FROM hookd.admin(%s)",
                         ('{"key": "00", "method": "GET", "path": "/v1/apps"}',)
                         ).fetchone() == (401,)


def test_an_upgraded_database_holds_its_endpoints_within_bounds(upgraded):
    _, conninfo, _, _ = upgraded
    import psycopg
    with psycopg.connect(conninfo, autocommit=True) as c:
        row = c.execute("SELECT rate_limit, breaker_cooldown_max_seconds, "
                        "retry_policy FROM hookd.endpoints WHERE url = "
                        "'https://example.org/all'").fetchone()
        assert row == (100000, 604800, {"cap_seconds": 2592000,
                                        "base_seconds": 0.01,
                                        "strategy": "constant"})
        with pytest.raises(psycopg.errors.CheckViolation):
            c.execute("UPDATE hookd.endpoints SET max_in_flight = 1000000")


def test_a_second_migrate_changes_nothing(pg, upgraded):
    name, _, hookd, _ = upgraded
    before = schema(pg, name)
    again = hookd("migrate")
    assert again["applied"] == [] and again["functions"] == []
    assert schema(pg, name) == before


def test_a_changed_function_file_is_applied_again_alone(pg, upgraded):
    """What `hookd migrate` sees after an edit of sql/functions/claim.sql:
    its recorded checksum differs from the file's."""
    _, conninfo, hookd, _ = upgraded
    import psycopg
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute("UPDATE hookd.schema_functions SET checksum = 'edited' "
                  "WHERE name = 'claim'")
        # a body that is not the file's, so that its replacement shows
        c.execute("ALTER FUNCTION hookd.claim(text, integer, double precision)"
                  " SET work_mem = '1MB'")
        stamps = dict(c.execute("SELECT name, applied_at FROM "
                                "hookd.schema_functions").fetchall())
        again = hookd("migrate")
        assert again["applied"] == [] and again["functions"] == ["claim"]
        config = c.execute("SELECT proconfig FROM pg_proc WHERE proname = "
                           "'claim'").fetchone()[0]
        assert not any(s.startswith("work_mem") for s in config), config
        after = dict(c.execute("SELECT name, applied_at FROM "
                               "hookd.schema_functions").fetchall())
        assert after.pop("claim") > stamps.pop("claim")
        assert after == stamps
