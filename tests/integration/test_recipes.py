"""The psql recipes of docs/operations.md: each answers correctly and,
on a table of realistic size, reads through an index."""

import pytest

ROWS = 30000


@pytest.fixture(scope="module")
def history(pg, hookd):
    """An application with ROWS events delivered to three endpoints: most
    succeeded after one or two attempts, some dead, some still waiting."""
    hookd("apps", "create", "recipes")
    app = pg.query("SELECT id FROM hookd.applications WHERE name = 'recipes'")[0][0]
    with pg.connect() as c:
        statements = """
            INSERT INTO hookd.endpoints (app_id, id, url)
            SELECT %(app)s, 'ep_recipe_' || i, 'https://example.com/' || i
              FROM generate_series(1, 3) i;
            INSERT INTO hookd.events (app_id, id, event_type, payload, received_at)
            SELECT %(app)s, 'evt_recipe_' || lpad(i::text, 8, '0'), 'invoice.paid',
                   '{"n": 1}', now() - make_interval(secs => %(rows)s - i)
              FROM generate_series(1, %(rows)s) i;
            INSERT INTO hookd.deliveries (app_id, id, event_id, endpoint_id,
                                          status, attempt_count, next_attempt_at,
                                          last_error, created_at, updated_at)
            SELECT %(app)s, 'dlv_recipe_' || lpad(i::text, 8, '0'),
                   'evt_recipe_' || lpad(i::text, 8, '0'),
                   'ep_recipe_' || (1 + i %% 3),
                   CASE WHEN i %% 50 = 0 THEN 'failed'
                        WHEN i > %(rows)s - 300 THEN 'pending'
                        ELSE 'succeeded' END,
                   1 + (i %% 2),
                   now() - make_interval(secs => (%(rows)s - i) / 10.0),
                   CASE WHEN i %% 50 = 0 THEN 'HTTP 400' END,
                   now() - make_interval(secs => %(rows)s - i),
                   now() - make_interval(secs => %(rows)s - i)
              FROM generate_series(1, %(rows)s) i;
            INSERT INTO hookd.queue (app_id, endpoint_id, delivery_id, due_at,
                                     event_id)
            SELECT app_id, endpoint_id, id, next_attempt_at, event_id
              FROM hookd.deliveries
             WHERE app_id = %(app)s AND status = 'pending';
            INSERT INTO hookd.dead_letter_queue (app_id, endpoint_id,
                                                 delivery_id, failed_at)
            SELECT app_id, endpoint_id, id, updated_at
              FROM hookd.deliveries
             WHERE app_id = %(app)s AND status = 'failed';
            INSERT INTO hookd.attempts (app_id, delivery_id, endpoint_id,
                                        attempt_number, started_at, duration_ms,
                                        status_code, error_class, worker)
            SELECT d.app_id, d.id, d.endpoint_id, n, d.updated_at,
                   CASE d.endpoint_id WHEN 'ep_recipe_3' THEN 900 ELSE 20 END
                       + (n * 7) %% 13,
                   CASE WHEN d.status = 'failed' THEN 400
                        WHEN n < d.attempt_count THEN 500 ELSE 200 END,
                   CASE WHEN d.status = 'failed' THEN 'NON_RETRYABLE'
                        WHEN n < d.attempt_count THEN 'RETRYABLE'
                        ELSE 'SUCCEEDED' END, 'recipes'
              FROM hookd.deliveries d, generate_series(1, d.attempt_count) n
             WHERE d.app_id = %(app)s AND d.status <> 'pending';
            ANALYZE hookd.events; ANALYZE hookd.deliveries;
            ANALYZE hookd.attempts; ANALYZE hookd.endpoints;
            ANALYZE hookd.queue; ANALYZE hookd.dead_letter_queue
        """
        for sql in statements.split(";"):
            c.execute(sql, {"app": app, "rows": ROWS} if "%(" in sql else None)
    return app


def plan(pg, sql, *params):
    return "\n".join(r[0] for r in pg.query("EXPLAIN " + sql, *params))


def no_seq_scan_of_big_tables(p, index=True):
    for table in ("deliveries", "attempts", "events"):
        assert f"Seq Scan on {table} " not in p, p
    assert not index or "Index" in p, p


def test_event_history(pg, history):
    rows = pg.query("SELECT source, delivery_status, attempt_number, "
                    "status_code, error_class FROM hookd.event_history("
                    "'recipes', 'evt_recipe_00000101')")
    assert rows == [("api", "succeeded", 1, 500, "RETRYABLE"),
                    ("api", "succeeded", 2, 200, "SUCCEEDED")]
    no_seq_scan_of_big_tables(plan(
        pg, "SELECT * FROM hookd.event_history(%s, 'evt_recipe_00000101')",
        history))


def test_dead_letters_per_endpoint(pg, history):
    rows = pg.query("SELECT endpoint_id, dead, last_error FROM "
                    "hookd.dead_letters WHERE app_id = %s ORDER BY 1", history)
    assert [r[0] for r in rows] == ["ep_recipe_1", "ep_recipe_2",
                                    "ep_recipe_3"]
    assert sum(r[1] for r in rows) == ROWS // 50
    assert {r[2] for r in rows} == {"HTTP 400"}
    no_seq_scan_of_big_tables(plan(pg, "SELECT * FROM hookd.dead_letters"))


def test_slowest_endpoints(pg, history):
    rows = pg.query("SELECT endpoint_id, attempts, p95_ms FROM "
                    "hookd.slowest_endpoints(now() - interval '1 hour', 1000) "
                    "WHERE app_id = %s", history)
    assert rows[0][0] == "ep_recipe_3" and rows[0][2] > 900
    no_seq_scan_of_big_tables(plan(
        pg, "SELECT * FROM hookd.slowest_endpoints(now() - interval '1 hour')"))


def test_backlog_age(pg, history):
    rows = pg.query("SELECT endpoint_id, waiting, due, oldest_due_age "
                    "FROM hookd.backlog WHERE app_id = %s ORDER BY 1", history)
    assert sum(r[1] for r in rows) == 300 - 300 // 50     # failed excluded
    assert all(r[2] <= r[1] and r[3] is not None for r in rows)
    # the queue holds what waits, nothing else: read whole
    no_seq_scan_of_big_tables(plan(pg, "SELECT * FROM hookd.backlog"),
                              index=False)
