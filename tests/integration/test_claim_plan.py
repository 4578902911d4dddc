"""hookd.claim and hookd.complete keep one shape of plan whatever
PostgreSQL's statistics say: index walks and primary-key look-ups, each row
visited once, and no JIT. The claim is checked on statistics taken when
nothing was due (a first wave delivered, the index of due deliveries nearly
empty), then on accurate ones, with a backlog of 20 000 due deliveries; the
completion on statistics taken when the table was young. Each in a
database of its own, so that no other test's hookd claims the rows."""

import json
import re

import psycopg
import pytest

from harness import Hookd

BACKLOG = 20000
CLAIM = "SELECT * FROM hookd.claim('plan', %s, 60)"


def database(pg, base, name):
    """A migrated database with one application and two endpoints."""
    with pg.connect() as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    conninfo = pg.conninfo.replace("dbname=hookd", f"dbname={name}")
    Hookd(conninfo, base)("migrate")
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute("INSERT INTO hookd.applications (id, name) "
                  "VALUES ('app_plan', 'plan')")
        c.execute("INSERT INTO hookd.endpoints (app_id, id, url) VALUES "
                  "('app_plan', 'ep_plan_1', 'https://example.com/1'), "
                  "('app_plan', 'ep_plan_2', 'https://example.com/2')")
    return conninfo


@pytest.fixture(scope="module")
def db(pg, base):
    conninfo = database(pg, base, "claim_plan")
    with psycopg.connect(conninfo, autocommit=True) as c:
        # statistics taken after a first wave was delivered: a big table
        # whose index of due deliveries is nearly empty
        wave(c, "done", "'succeeded'", "'ep_plan_1'")
        c.execute("VACUUM ANALYZE hookd.events")
        c.execute("VACUUM ANALYZE hookd.deliveries")
        c.execute("VACUUM ANALYZE hookd.queue")
        for table in ("deliveries", "queue"):
            c.execute(f"ALTER TABLE hookd.{table} SET "
                      "(autovacuum_enabled = off)")
        c.execute("ALTER TABLE hookd.events SET (autovacuum_enabled = off)")
        # then the backlog, due one second apart, on both endpoints
        wave(c, "plan", "'pending'", "'ep_plan_' || (1 + i %% 2)")
    return conninfo


def wave(c, tag, status, endpoint):
    """BACKLOG events, each with one delivery of the given status."""
    c.execute(f"""
        INSERT INTO hookd.events (app_id, id, event_type, payload)
        SELECT 'app_plan', 'evt_{tag}_' || lpad(i::text, 6, '0'),
               'invoice.paid', '{{"n": 1}}'
          FROM generate_series(1, %s) i""", (BACKLOG,))
    c.execute(f"""
        INSERT INTO hookd.deliveries (app_id, id, event_id, endpoint_id,
                                      status, next_attempt_at)
        SELECT 'app_plan', 'dlv_{tag}_' || lpad(i::text, 6, '0'),
               'evt_{tag}_' || lpad(i::text, 6, '0'), {endpoint}, {status},
               now() - make_interval(secs => %s - i)
          FROM generate_series(1, %s) i""", (BACKLOG, BACKLOG))
    if status == "'pending'":
        c.execute(f"""
            INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id, due_at,
                                     event_id, created_at)
            SELECT app_id, endpoint_id, id, next_attempt_at, event_id,
                   created_at
              FROM hookd.deliveries WHERE id LIKE 'dlv_{tag}_%%'""")


def with_plan(c, sql, args, node):
    """Runs one statement under auto_explain; returns its rows and the
    plan of the statement inside the function (the one with `node`)."""
    notices = []
    c.add_notice_handler(lambda d: notices.append(d.message_primary))
    c.execute("SET statement_timeout = '30s'")
    # any cost would be compiled: the function itself must say no
    c.execute("SET jit_above_cost = 0")
    c.execute("LOAD 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_analyze = on",
                    "log_timing = off", "log_nested_statements = on",
                    "log_level = notice"):
        c.execute("SET auto_explain." + setting)
    rows = c.execute(sql, args).fetchall()
    inner = [p for p in notices if node in p]
    assert inner, notices
    return rows, inner[0]


def claim_with_plan(conninfo, n):
    with psycopg.connect(conninfo, autocommit=True) as c:
        return with_plan(c, CLAIM, (n,), "Update on queue")


def check(plan, n, due_walks=1):
    # JIT: compiling the expressions took longer than the claim
    for bad in ("Seq Scan", "Hash Join", "Merge Join", "Bitmap", "JIT"):
        assert bad not in plan, bad + " in:\n" + plan
    # the due index is walked once, for the candidates; every other
    # visit of the queue and of deliveries is by primary key
    assert plan.count("using queue_due") == due_walks, plan
    # no node reads more than the claim's own working set: the walk of the
    # due index reads at most 4n rows, and nothing multiplies them
    for m in re.finditer(r"actual rows=(\d+) loops=(\d+)", plan):
        assert int(m.group(1)) * int(m.group(2)) <= 4 * n, \
            m.group(0) + " in:\n" + plan
    for m in re.finditer(r"Rows Removed by (Join )?Filter: (\d+)", plan):
        assert int(m.group(2)) <= 4 * n, m.group(0) + " in:\n" + plan


def test_claim_plan_on_stale_statistics(db):
    rows, plan = claim_with_plan(db, 50)
    assert len(rows) == 50
    assert [r[1] for r in rows] == [f"dlv_plan_{i:06d}" for i in range(1, 51)]
    body = json.loads(rows[0][9])
    assert body["id"] == "evt_plan_000001" and body["data"] == {"n": 1}
    assert rows[0][4] == "https://example.com/2"
    check(plan, 50)


def test_claim_plan_on_accurate_statistics(db):
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("ANALYZE hookd.events")
        c.execute("ANALYZE hookd.deliveries")
        c.execute("ANALYZE hookd.queue")
    rows, plan = claim_with_plan(db, 100)
    # the 50 claimed before are leased: the next 100 in time order
    assert [r[1] for r in rows] == [f"dlv_plan_{i:06d}"
                                    for i in range(51, 151)]
    check(plan, 100)


def test_claim_plan_with_rationed_endpoint(db):
    """A rate-limited endpoint takes the locking branch of the claim."""
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("UPDATE hookd.endpoints SET rate_limit = 5, "
                  "max_in_flight = 1000 WHERE id = 'ep_plan_1'")
    rows, plan = claim_with_plan(db, 40)
    per = {}
    for r in rows:
        per[r[4]] = per.get(r[4], 0) + 1
    assert per["https://example.com/1"] == 5
    check(plan, 40)


def test_timestamps_are_formatted_inline(db):
    """hookd.rfc3339, which formats the timestamp of every body a claim
    builds, is inlined: as a call of a SQL function it was set up again
    in every claim (sql/016_rfc3339_inline.sql)."""
    with psycopg.connect(db, autocommit=True) as c:
        plan = "\n".join(r[0] for r in c.execute(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT hookd.rfc3339(received_at) "
            "FROM hookd.events LIMIT 1"))
        assert "to_char" in plan and "rfc3339" not in plan, plan
        assert c.execute(
            "SELECT hookd.rfc3339('2026-01-02 03:04:05.012345+01')"
        ).fetchone()[0] == "2026-01-02T02:04:05.012345Z"


@pytest.mark.parametrize("analyzed", [False, True],
                         ids=["never-analyzed", "analyzed-empty"])
def test_claim_and_complete_plans_on_young_tables(pg, base, analyzed):
    """A claim and the completion of what it claimed, on plans made when
    the tables were new and nearly empty, must still find each delivery
    by primary key once the tables have grown.

    Never analyzed, as after `hookd migrate`, the planner guesses the
    tables' sizes from their pages: the plans cached then must hold. The
    completion used to read the whole table into a hash for every batch.

    Analyzed while (nearly) empty, the planner takes the tables for empty,
    and any index looks as good as the primary key: the plans cached then
    read every delivery of the application per row. No plan shape survives
    that; what mends it is planning again, which scales those statistics
    to the tables' current size. hookd and nginx drop their plans every
    ten seconds for this (test_replan.py); here, DISCARD PLANS."""
    conninfo = database(pg, base, "young_plan")
    n = 300
    with psycopg.connect(conninfo, autocommit=True) as load, \
            psycopg.connect(conninfo, autocommit=True) as c:
        for table in ("deliveries", "events", "queue"):
            load.execute(f"ALTER TABLE hookd.{table} SET "
                         "(autovacuum_enabled = off)")
            if analyzed:
                load.execute(f"ANALYZE hookd.{table}")
        # past the custom plans of the first calls, to the cached ones
        for _ in range(8):
            c.execute(CLAIM, (n,))
            c.execute("SELECT hookd.complete('[]')")
        wave(load, "plan", "'pending'", "'ep_plan_' || (1 + i %% 2)")
        if analyzed:
            c.execute("DISCARD PLANS")

        rows, plan = with_plan(c, CLAIM, (n,), "Update on queue")
        assert [r[1] for r in rows] == [f"dlv_plan_{i:06d}"
                                        for i in range(1, n + 1)]
        check(plan, n)

        outcomes = [{"app_id": r[0], "delivery_id": r[1],
                     "attempt_number": r[2], "endpoint_id": r[12],
                     "worker": "plan",
                     "started_at": 1700000000, "duration_ms": 3,
                     "status_code": 200, "error_class": "SUCCEEDED"}
                    for r in rows]
        rows, plan = with_plan(c, "SELECT hookd.complete(%s)",
                               (json.dumps(outcomes),), "Insert on attempts")
        assert rows == [(n,)]
        check(plan, n, due_walks=0)
        assert "using deliveries_pkey" in plan, plan
        assert c.execute("SELECT status, count(*) FROM hookd.deliveries "
                         "GROUP BY 1 ORDER BY 1").fetchall() == [
            ("pending", BACKLOG - n), ("succeeded", n)]


def test_held_deliveries_are_out_of_the_claims_way(pg, base):
    """A paused endpoint's backlog leaves the queue's due order at once:
    the claim reads no row of it (it walked past 300k rows of a disabled
    endpoint, 357 ms a claim), and resuming puts the rows back where they
    were, the longest waiting first."""
    conninfo = database(pg, base, "held_plan")
    with psycopg.connect(conninfo, autocommit=True) as c:
        wave(c, "held", "'pending'", "'ep_plan_' || (1 + (i > 100)::int)")
        c.execute("ANALYZE hookd.queue")
        # ep_plan_1 has the first 100, ep_plan_2 the 19 900 after them
        c.execute("UPDATE hookd.endpoints SET status = 'paused' "
                  "WHERE id = 'ep_plan_2'")
        assert c.execute("SELECT count(*) FROM hookd.queue "
                         "WHERE due_at = 'infinity'").fetchone()[0] \
            == BACKLOG - 100
        rows, plan = with_plan(c, CLAIM, (150,), "Update on queue")
        assert [r[1] for r in rows] == [f"dlv_held_{i:06d}"
                                        for i in range(1, 101)]
        check(plan, 150, due_walks=1)
        c.execute("UPDATE hookd.endpoints SET status = 'enabled' "
                  "WHERE id = 'ep_plan_2'")
        rows = c.execute(CLAIM, (50,)).fetchall()
        assert [r[1] for r in rows] == [f"dlv_held_{i:06d}"
                                        for i in range(101, 151)]
