/*
 * What the operator CLI reads: list and get for the resources it creates,
 * in the admin API's JSON shapes (the hookd.*_json functions), and an
 * endpoint's diagnosis, so that an operator without the admin API is not
 * stuck.
 */

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "util.h"


static int hookd_cli_print_row(PGresult *res, const char *what,
    const char *ref);


/* one jsonb text column, one row: printed; no row: not_found */
static int
hookd_cli_print_row(PGresult *res, const char *what, const char *ref)
{
    json_t  *v;

    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        hookd_fail("not_found", "no %s has the id \"%s\"", what, ref);
        return 1;
    }

    v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (v == NULL) {
        hookd_fail("internal", "unreadable %s", what);
        return 1;
    }

    hookd_print_json(v);
    return 0;
}


int
hookd_cli_read(PGconn *pg, hookd_args_t *a, const char *resource)
{
    int          rc, get;
    char        *app_id;
    PGresult    *res;
    const char  *sql, *param, *what;

    get = strcmp(a->args[0], "get") == 0;
    app_id = NULL;
    param = NULL;

    if (get && a->nargs != 2) {
        hookd_fail("usage", "hookd %s get <id>", resource);
        return 2;
    }

    if (!get && a->nargs != 1) {
        hookd_fail("usage", "hookd %s list%s", resource,
                   strcmp(resource, "apps") == 0 ? "" : " [--app <name|id>]");
        return 2;
    }

    if (!get && a->app) {
        app_id = hookd_cli_resolve_app(pg, a->app);
        if (app_id == NULL) {
            return 1;
        }
    }

    param = get ? a->args[1] : app_id;

    if (strcmp(resource, "apps") == 0) {
        what = "application";
        sql = get ? "SELECT hookd.application_json(x)::text"
                    " FROM hookd.applications x WHERE x.id = $1 OR x.name = $1"
                  : "SELECT jsonb_build_object('data', coalesce(jsonb_agg("
                    "hookd.application_json(x) ORDER BY x.id), '[]'))::text"
                    " FROM hookd.applications x";

    } else if (strcmp(resource, "keys") == 0) {
        what = "API key";
        /* without --app: the operator keys, which belong to none */
        sql = get ? "SELECT hookd.api_key_json(x)::text"
                    " FROM hookd.api_keys x WHERE x.id = $1"
                  : "SELECT jsonb_build_object('data', coalesce(jsonb_agg("
                    "hookd.api_key_json(x) ORDER BY x.id), '[]'))::text"
                    " FROM hookd.api_keys x"
                    " WHERE x.app_id IS NOT DISTINCT FROM $1";

    } else if (strcmp(resource, "sources") == 0) {
        what = "source";
        if (!get && app_id == NULL) {
            hookd_fail("usage", "hookd sources list --app <name|id>");
            return 2;
        }
        sql = get ? "SELECT hookd.source_json(x)::text"
                    " FROM hookd.sources x WHERE x.id = $1"
                  : "SELECT jsonb_build_object('data', coalesce(jsonb_agg("
                    "hookd.source_json(x) ORDER BY x.id), '[]'))::text"
                    " FROM hookd.sources x WHERE x.app_id = $1";

    } else {
        what = "endpoint";
        if (!get && app_id == NULL) {
            hookd_fail("usage", "hookd endpoints list --app <name|id>");
            return 2;
        }
        sql = get ? "SELECT hookd.endpoint_json(x)::text"
                    " FROM hookd.endpoints x WHERE x.id = $1"
                  : "SELECT jsonb_build_object('data', coalesce(jsonb_agg("
                    "hookd.endpoint_json(x) ORDER BY x.id), '[]'))::text"
                    " FROM hookd.endpoints x WHERE x.app_id = $1";
    }

    res = hookd_cli_query(pg, sql,
                          strcmp(resource, "apps") == 0 && !get ? 0 : 1,
                          &param);
    free(app_id);

    if (res == NULL) {
        return 1;
    }

    rc = hookd_cli_print_row(res, what, param ? param : "");
    PQclear(res);

    return rc;
}


/* hookd diagnose <endpoint id>: GET …/endpoints/{id}/diagnosis's answer */
int
hookd_cli_diagnose(hookd_args_t *a)
{
    int          rc;
    PGconn      *pg;
    PGresult    *res;
    const char  *param;

    if (a->nargs != 1) {
        hookd_fail("usage", "hookd diagnose <endpoint id>");
        return 2;
    }

    pg = hookd_connect(a->database);
    if (pg == NULL) {
        return 1;
    }

    param = a->args[0];
    res = hookd_cli_query(pg, "SELECT hookd.endpoint_diagnosis(x)::text"
                              " FROM hookd.endpoints x WHERE x.id = $1",
                          1, &param);
    rc = 1;

    if (res != NULL) {
        rc = hookd_cli_print_row(res, "endpoint", param);
        PQclear(res);
    }

    PQfinish(pg);

    return rc;
}
