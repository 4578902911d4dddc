"""hookd migrate upgrades in place: a database made by the last release
with function bodies in numbered migrations (fixtures/release-4bcd42d.sql)
ends up with the very schema of a fresh install, keeps its data, and a
second run changes nothing; a function file whose text changed is applied
again, alone."""

import datetime
import glob
import os
import subprocess
import uuid

import pytest

from harness import PG_BIN, Hookd, ROOT

FIXTURE = os.path.join(ROOT, "tests", "integration", "fixtures",
                       "release-4bcd42d.sql")


# two of the fixture's pending deliveries, made a dead letter and an attempt
# in flight before the upgrade
DEAD = "dlv_01a23358b957f46b8b14c1c14161"
LEASED = "dlv_01a23358b957180bad6fef6f414b"


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
        # a dead letter and an attempt in flight, as 4bcd42d kept them
        c.execute("UPDATE hookd.deliveries SET status = 'failed', "
                  "attempt_count = 3, last_error = 'HTTP 500', updated_at = "
                  "'2026-12-01 20:44:00+00' WHERE id = %s", (DEAD,))
        c.execute("UPDATE hookd.deliveries SET status = 'in_flight', "
                  "attempt_count = 1, lease_owner = 'old-hookd', "
                  "lease_expires_at = '2999-01-01 00:00:00+00' "
                  "WHERE id = %s", (LEASED,))
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
        # the dead letter moved into the dead-letter queue, failed when it
        # was last written; the attempt in flight keeps its lease, owner and
        # attempt number, and its delivery reads as in flight
        assert c.execute(
            "SELECT delivery_id, failed_at = '2026-12-01 20:44:00+00' "
            "FROM hookd.dead_letter_queue").fetchall() == [(DEAD, True)]
        assert c.execute(
            "SELECT dead, last_error FROM hookd.dead_letters").fetchall() \
            == [(1, "HTTP 500")]
        assert c.execute(
            "SELECT q.lease_owner, q.attempt_number, q.due_at, "
            "hookd.delivery_status(d) FROM hookd.queue q "
            "JOIN hookd.deliveries d ON d.app_id = q.app_id "
            "AND d.id = q.delivery_id WHERE q.delivery_id = %s",
            (LEASED,)).fetchone() == ("old-hookd", 1, datetime.datetime(
                2999, 1, 1, tzinfo=datetime.timezone.utc), "in_flight")
        # the claim and the admin router of the new files run on old rows:
        # every pending delivery but the one still leased
        claimed = c.execute("SELECT o_id, o_attempt_number FROM "
                            "hookd.claim('upgrade', 100, 30)").fetchall()
        assert len(claimed) == 5 and LEASED not in {i for i, _ in claimed}
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
