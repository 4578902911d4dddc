#define _GNU_SOURCE
/*
 * Operator commands: migrate, apps, keys (endpoints are in cli_endpoints.c,
 * sources in cli_sources.c). Each prints one JSON document on stdout, or a
 * JSON error on stderr with a non-zero exit. Secrets are printed once, here,
 * and stored only hashed (API keys) or sealed (endpoint secrets).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "cli.h"
#include "migrate.h"
#include "secret.h"
#include "util.h"
#include "hookd_key.h"


PGresult *
hookd_cli_query(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult        *res;
    ExecStatusType   st;

    res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *code = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

        /* hookd.api_fail: the admin API's code and message */
        if (state && strcmp(state, "P0001") == 0 && code
            && PQresultErrorField(res, PG_DIAG_MESSAGE_HINT))
        {
            hookd_fail(code, "%s",
                       PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
            PQclear(res);
            return NULL;
        }

        hookd_fail(state && strcmp(state, "23505") == 0 ? "conflict"
                   : "database_error", "%s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }

    return res;
}


char *
hookd_cli_resolve_app(PGconn *pg, const char *app)
{
    char      *id;
    PGresult  *res;

    res = hookd_cli_query(pg, "SELECT id FROM hookd.applications"
                          " WHERE id = $1 OR name = $1", 1, &app);
    if (res == NULL) {
        return NULL;
    }

    if (PQntuples(res) != 1) {
        hookd_fail("not_found", "no application has the id or name \"%s\"",
                   app);
        PQclear(res);
        return NULL;
    }

    id = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);

    return id;
}


static json_t *
hookd_split_csv(const char *csv)
{
    json_t      *list;
    const char  *p, *comma;

    list = json_array();

    for (p = csv; *p; p = *comma ? comma + 1 : comma) {
        comma = strchrnul(p, ',');
        json_array_append_new(list, json_stringn(p, (size_t) (comma - p)));
    }

    return list;
}


int
hookd_cli_migrate(hookd_args_t *a)
{
    int      rc;
    PGconn  *pg;

    pg = hookd_connect(a->database);
    if (pg == NULL) {
        return 1;
    }

    rc = hookd_migrate(pg) == 0 ? 0 : 1;
    PQfinish(pg);

    return rc;
}


int
hookd_cli_apps(hookd_args_t *a)
{
    int        rc;
    PGconn    *pg;
    PGresult  *res;

    if (a->nargs == 0 || (strcmp(a->args[0], "create") != 0
                          && strcmp(a->args[0], "list") != 0
                          && strcmp(a->args[0], "get") != 0)
        || (strcmp(a->args[0], "create") == 0 && a->nargs != 2))
    {
        hookd_fail("usage", "hookd apps create <name> | list | get <name|id>"
                   "; see hookd apps --help");
        return 2;
    }

    pg = hookd_connect(a->database);
    if (pg == NULL) {
        return 1;
    }

    if (strcmp(a->args[0], "create") != 0) {
        rc = hookd_cli_read(pg, a, "apps");
        PQfinish(pg);
        return rc;
    }

    res = hookd_cli_query(pg, "INSERT INTO hookd.applications (name)"
                              " VALUES ($1) RETURNING id, name",
                          1, &a->args[1]);
    if (res == NULL) {
        PQfinish(pg);
        return 1;
    }

    hookd_print_json(json_pack("{s:s, s:s}", "id", PQgetvalue(res, 0, 0),
                               "name", PQgetvalue(res, 0, 1)));
    PQclear(res);
    PQfinish(pg);

    return 0;
}


static int
hookd_cli_keys_create(PGconn *pg, hookd_args_t *a)
{
    int            i, has_ingest;
    char          *app_id, key[64], hex[2 * HOOKD_KEY_HASH_LEN + 3];
    char           prefix[12], scopes[64];
    PGresult      *res;
    const char    *params[4];
    unsigned char  hash[HOOKD_KEY_HASH_LEN];

    if (a->nscopes == 0) {
        hookd_fail("usage", "give --scope ingest and/or --scope admin");
        return 2;
    }

    scopes[0] = '\0';
    has_ingest = 0;

    for (i = 0; i < a->nscopes; i++) {
        if (strcmp(a->scopes[i], "ingest") != 0
            && strcmp(a->scopes[i], "admin") != 0)
        {
            hookd_fail("usage", "--scope is ingest or admin, not \"%s\"",
                       a->scopes[i]);
            return 2;
        }

        has_ingest |= strcmp(a->scopes[i], "ingest") == 0;

        if (strstr(scopes, a->scopes[i]) == NULL) {
            strcat(scopes, scopes[0] ? "," : "");
            strcat(scopes, a->scopes[i]);
        }
    }

    if (a->app == NULL && has_ingest) {
        hookd_fail("usage", "an ingest key belongs to an application: "
                   "give --app <name|id>");
        return 2;
    }

    app_id = NULL;
    if (a->app && (app_id = hookd_cli_resolve_app(pg, a->app)) == NULL) {
        return 1;
    }

    if (hookd_new_api_key(key, "hk_") != 0) {
        hookd_fail("internal", "no randomness for a new key");
        free(app_id);
        return 1;
    }

    hookd_key_hash(key, strlen(key), hash);
    memcpy(hex, "\\x", 2);
    hookd_key_hash_hex(hash, hex + 2);
    hex[sizeof(hex) - 1] = '\0';

    snprintf(prefix, sizeof(prefix), "%.10s", key);

    params[0] = app_id;
    params[1] = hex;
    params[2] = prefix;
    params[3] = scopes;

    res = hookd_cli_query(pg, "INSERT INTO hookd.api_keys"
                          " (app_id, key_hash, prefix, scopes)"
                          " VALUES ($1, $2::bytea, $3,"
                          "         string_to_array($4, ','))"
                          " RETURNING id", 4, params);
    if (res == NULL) {
        free(app_id);
        return 1;
    }

    hookd_print_json(json_pack("{s:s, s:s, s:s?, s:o}",
                               "id", PQgetvalue(res, 0, 0),
                               "key", key,
                               "app_id", app_id,
                               "scopes", hookd_split_csv(scopes)));
    PQclear(res);
    free(app_id);

    return 0;
}


int
hookd_cli_keys(hookd_args_t *a)
{
    int        rc;
    PGconn    *pg;
    PGresult  *res;

    if (a->nargs == 1 && strcmp(a->args[0], "create") == 0) {
        pg = hookd_connect(a->database);
        if (pg == NULL) {
            return 1;
        }

        rc = hookd_cli_keys_create(pg, a);
        PQfinish(pg);
        return rc;
    }

    if (a->nargs >= 1 && (strcmp(a->args[0], "list") == 0
                          || strcmp(a->args[0], "get") == 0))
    {
        pg = hookd_connect(a->database);
        if (pg == NULL) {
            return 1;
        }

        rc = hookd_cli_read(pg, a, "keys");
        PQfinish(pg);
        return rc;
    }

    if (a->nargs != 2 || strcmp(a->args[0], "revoke") != 0) {
        hookd_fail("usage", "hookd keys create | revoke <id> | list | get <id>"
                   "; see hookd keys --help");
        return 2;
    }

    pg = hookd_connect(a->database);
    if (pg == NULL) {
        return 1;
    }

    /* the streams the key opened end (sql/functions/tail.sql) */
    res = hookd_cli_query(pg, "WITH r AS (UPDATE hookd.api_keys"
                          " SET revoked_at = coalesce(revoked_at, now())"
                          " WHERE id = $1"
                          " RETURNING id, revoked_at, key_hash)"
                          " SELECT r.id, hookd.rfc3339(r.revoked_at),"
                          " hookd.credential_revoked(r.key_hash) FROM r",
                      1, &a->args[1]);
    rc = 1;

    if (res && PQntuples(res) == 1) {
        hookd_print_json(json_pack("{s:s, s:s}", "id", PQgetvalue(res, 0, 0),
                                   "revoked_at", PQgetvalue(res, 0, 1)));
        rc = 0;

    } else if (res) {
        hookd_fail("not_found", "no API key has the id \"%s\"", a->args[1]);
    }

    PQclear(res);
    PQfinish(pg);

    return rc;
}


double
hookd_cli_duration(const char *s)
{
    char    *end;
    double   v;

    v = strtod(s, &end);
    if (end == s || v < 0) {
        return -1;
    }

    switch (*end) {
    case '\0': case 's': return end[*end ? 1 : 0] ? -1 : v;
    case 'm': return end[1] ? -1 : v * 60;
    case 'h': return end[1] ? -1 : v * 3600;
    case 'd': return end[1] ? -1 : v * 86400;
    default: return -1;
    }
}


int
hookd_cli_secreted(hookd_args_t *a, const char *resource,
    hookd_cli_command_pt create, hookd_cli_command_pt rotate)
{
    int          rc;
    PGconn      *pg;
    const char  *sub;

    sub = a->nargs > 0 ? a->args[0] : "";

    if (!(a->nargs == 1 && strcmp(sub, "create") == 0)
        && !(a->nargs == 2 && strcmp(sub, "rotate-secret") == 0)
        && strcmp(sub, "list") != 0 && strcmp(sub, "get") != 0)
    {
        hookd_fail("usage", "hookd %s create | rotate-secret <id> | list "
                   "--app <name|id> | get <id>; see hookd %s --help",
                   resource, resource);
        return 2;
    }

    pg = hookd_connect(a->database);
    if (pg == NULL) {
        return 1;
    }

    if (strcmp(sub, "create") == 0) {
        rc = create(pg, a);
    } else if (strcmp(sub, "rotate-secret") == 0) {
        rc = rotate(pg, a);
    } else {
        rc = hookd_cli_read(pg, a, resource);
    }

    PQfinish(pg);

    return rc;
}

