"""plpgsql_check over every PL/pgSQL function of the schema: branches the
other tests never reach still may not name a missing column, mix up a
variable and a column, or keep dead variables."""


def test_plpgsql_functions_pass_plpgsql_check(pg, hookd):
    with pg.connect() as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
        rows = c.execute("""
            SELECT p.proname, r.lineno, r.level, r.message
              FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
             -- a trigger function is checked against its table
             CROSS JOIN LATERAL plpgsql_check_function_tb(p.oid,
                   relid => coalesce((SELECT t.tgrelid FROM pg_trigger t
                                       WHERE t.tgfoid = p.oid LIMIT 1), 0),
                   extra_warnings => true) r
             WHERE n.nspname = 'hookd'
               AND p.prolang = (SELECT oid FROM pg_language
                                 WHERE lanname = 'plpgsql')
               AND r.level IN ('error', 'warning', 'warning extra')
        """).fetchall()
        checked = c.execute("""
            SELECT count(*) FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'hookd' AND p.prolang = (
                   SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
        """).fetchone()[0]
    assert checked >= 20
    assert rows == [], "\n".join(map(str, rows))


def test_every_id_column_compares_under_the_c_collation(pg, hookd):
    """migration 027's rule: a join of two id columns never mixes
    collations, and no b-tree of ids calls strcoll()"""
    with pg.connect() as c:
        rows = c.execute("""
            SELECT c.relname || '.' || a.attname
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'hookd' AND c.relkind = 'r'
               AND a.attnum > 0 AND NOT a.attisdropped
               AND a.atttypid = 'text'::regtype
               AND (a.attname IN ('id', 'idempotency_key', 'source')
                    OR a.attname LIKE '%\\_id')
               AND a.attcollation <> 'pg_catalog."C"'::regcollation
             ORDER BY 1
        """).fetchall()
    assert rows == [], "declare these text COLLATE \"C\": %s" % rows
