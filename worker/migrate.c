/*
 * hookd migrate: numbered migrations (tables, indexes, data) are applied
 * once each, in order, and recorded in hookd.schema_migrations; function
 * files (the one current definition of each function and view) are applied
 * again whenever their text changes, and recorded with their checksum in
 * hookd.schema_functions. Concurrent runs serialize on an advisory lock.
 */

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "migrate.h"
#include "util.h"


static int hookd_exec_ok(PGconn *pg, const char *sql, const char *what);
static int hookd_function_file_changed(PGconn *pg,
    const hookd_function_file_t *f);
static int hookd_apply_function_files(PGconn *pg, int before_migrations,
    int all, json_t *applied);
static int hookd_apply_migrations(PGconn *pg, json_t *applied);
static json_t *hookd_current_version(PGconn *pg);


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


/* 1 when the file's text differs from what was applied last, -1 on error */
static int
hookd_function_file_changed(PGconn *pg, const hookd_function_file_t *f)
{
    int          changed;
    PGresult    *res;
    const char  *params[2];

    params[0] = f->name;
    params[1] = f->checksum;
    res = PQexecParams(pg, "SELECT 1 FROM hookd.schema_functions"
                           " WHERE name = $1 AND checksum = $2",
                       2, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        hookd_fail("migrate", "%s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }

    changed = PQntuples(res) == 0;
    PQclear(res);
    return changed;
}


/*
 * One transaction for all the files applied, so that a failure leaves the
 * previous definitions in place. Bodies are not checked while they are
 * created (as pg_dump does), so that the files need no order among
 * themselves.
 */
static int
hookd_apply_function_files(PGconn *pg, int before_migrations, int all,
    json_t *applied)
{
    int                           changed;
    PGresult                     *res;
    const char                   *params[2];
    const hookd_function_file_t  *f;

    if (hookd_exec_ok(pg, "BEGIN; SET LOCAL check_function_bodies = off",
                      "BEGIN") != 0)
    {
        return -1;
    }

    for (f = hookd_function_files; f->name; f++) {
        if (f->before_migrations != before_migrations) {
            continue;
        }

        changed = all ? 1 : hookd_function_file_changed(pg, f);

        if (changed < 0 || (changed && hookd_exec_ok(pg, f->sql, f->name) != 0))
        {
            PQclear(PQexec(pg, "ROLLBACK"));
            return -1;
        }

        if (!changed) {
            continue;
        }

        params[0] = f->name;
        params[1] = f->checksum;
        res = PQexecParams(pg, "INSERT INTO hookd.schema_functions"
                               " (name, checksum) VALUES ($1, $2)"
                               " ON CONFLICT (name) DO UPDATE"
                               " SET checksum = excluded.checksum,"
                               "     applied_at = now()",
                           2, NULL, params, NULL, NULL, 0);
        PQclear(res);

        json_array_append_new(applied, json_string(f->name));
    }

    return hookd_exec_ok(pg, "COMMIT", "COMMIT");
}


static int
hookd_apply_migrations(PGconn *pg, json_t *applied)
{
    PGresult                 *res;
    const char               *params[1];
    const hookd_migration_t  *m;

    for (m = hookd_migrations; m->version; m++) {
        params[0] = m->version;
        res = PQexecParams(pg, "SELECT 1 FROM hookd.schema_migrations"
                               " WHERE version = $1",
                           1, NULL, params, NULL, NULL, 0);

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            hookd_fail("migrate", "%s", PQresultErrorMessage(res));
            PQclear(res);
            return -1;
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
            return -1;
        }

        res = PQexecParams(pg, "INSERT INTO hookd.schema_migrations (version)"
                               " VALUES ($1)",
                           1, NULL, params, NULL, NULL, 0);
        PQclear(res);

        if (hookd_exec_ok(pg, "COMMIT", "COMMIT") != 0) {
            return -1;
        }

        json_array_append_new(applied, json_string(m->version));
    }

    return 0;
}


/* the newest migration recorded: numbers are never reused */
static json_t *
hookd_current_version(PGconn *pg)
{
    json_t    *v;
    PGresult  *res;

    res = PQexec(pg, "SELECT max(version) FROM hookd.schema_migrations");
    v = PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0)
        ? json_string(PQgetvalue(res, 0, 0)) : json_null();
    PQclear(res);
    return v;
}


int
hookd_migrate(PGconn *pg)
{
    int      rc;
    json_t  *migrations, *functions;

    if (hookd_exec_ok(pg, "SET client_min_messages = warning;"
                          "SELECT pg_advisory_lock(hashtext('hookd.migrate'));"
                          "CREATE SCHEMA IF NOT EXISTS hookd;"
                          "CREATE TABLE IF NOT EXISTS hookd.schema_migrations ("
                          " version text PRIMARY KEY,"
                          " applied_at timestamptz NOT NULL DEFAULT now());"
                          "CREATE TABLE IF NOT EXISTS hookd.schema_functions ("
                          " name text PRIMARY KEY,"
                          " checksum text NOT NULL,"
                          " applied_at timestamptz NOT NULL DEFAULT now())",
                      "preparing") != 0)
    {
        return -1;
    }

    migrations = json_array();
    functions = json_array();

    /* a migration may drop a function, or need every view out of the way
     * of a column it changes: after one, every file is applied again */
    rc = hookd_apply_function_files(pg, 1, 0, functions);
    rc = rc == 0 ? hookd_apply_migrations(pg, migrations) : rc;
    rc = rc == 0 ? hookd_apply_function_files(pg, 0,
                                              json_array_size(migrations) > 0,
                                              functions)
                 : rc;

    if (rc == 0) {
        hookd_print_json(json_pack("{s:o, s:o, s:o}", "applied", migrations,
                                   "functions", functions,
                                   "current", hookd_current_version(pg)));
    } else {
        json_decref(migrations);
        json_decref(functions);
    }

    PQclear(PQexec(pg, "SELECT pg_advisory_unlock(hashtext('hookd.migrate'))"));

    return rc;
}
