/*
 * Migrations are idempotent files applied in order, each in its own
 * transaction, and recorded in hookd.schema_migrations; concurrent runs
 * serialize on an advisory lock.
 */

#include <stdio.h>
#include <jansson.h>

#include "migrate.h"
#include "util.h"


static int
hookd_exec_ok(PGconn *pg, const char *sql, const char *what)
{
    PGresult        *res;
    ExecStatusType   st;

    res = PQexec(pg, sql);
    st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        hookd_fail("migrate", "%s failed: %s", what, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }

    PQclear(res);
    return 0;
}


int
hookd_migrate(PGconn *pg)
{
    int                       rc;
    PGresult                 *res;
    json_t                   *applied;
    const char               *params[1];
    const hookd_migration_t  *m;

    if (hookd_exec_ok(pg, "SET client_min_messages = warning;"
                          "SELECT pg_advisory_lock(hashtext('hookd.migrate'));"
                          "CREATE SCHEMA IF NOT EXISTS hookd;"
                          "CREATE TABLE IF NOT EXISTS hookd.schema_migrations ("
                          " version text PRIMARY KEY,"
                          " applied_at timestamptz NOT NULL DEFAULT now())",
                      "preparing") != 0)
    {
        return -1;
    }

    applied = json_array();
    rc = 0;

    for (m = hookd_migrations; m->version; m++) {
        params[0] = m->version;
        res = PQexecParams(pg, "SELECT 1 FROM hookd.schema_migrations"
                               " WHERE version = $1",
                           1, NULL, params, NULL, NULL, 0);

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            hookd_fail("migrate", "%s", PQresultErrorMessage(res));
            PQclear(res);
            rc = -1;
            break;
        }

        if (PQntuples(res) == 1) {
            PQclear(res);
            continue;
        }

        PQclear(res);

        if (hookd_exec_ok(pg, "BEGIN", "BEGIN") != 0
            || hookd_exec_ok(pg, m->sql, m->version) != 0)
        {
            PQclear(PQexec(pg, "ROLLBACK"));
            rc = -1;
            break;
        }

        res = PQexecParams(pg, "INSERT INTO hookd.schema_migrations (version)"
                               " VALUES ($1)",
                           1, NULL, params, NULL, NULL, 0);
        PQclear(res);

        if (hookd_exec_ok(pg, "COMMIT", "COMMIT") != 0) {
            rc = -1;
            break;
        }

        json_array_append_new(applied, json_string(m->version));
    }

    PQclear(PQexec(pg, "SELECT pg_advisory_unlock(hashtext('hookd.migrate'))"));

    if (rc == 0) {
        hookd_print_json(json_pack("{s:o, s:s}", "applied", applied,
                                   "current", m[-1].version));
    } else {
        json_decref(applied);
    }

    return rc;
}
