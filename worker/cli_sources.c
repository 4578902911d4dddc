/*
 * hookd sources create | rotate-secret: the provider's secret sealed here,
 * with the master key, and handed to the same SQL as the admin API's
 * (hookd.source_create, hookd.source_rotate in sql/functions/
 * admin_sources.sql), which checks everything else.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "cli.h"
#include "secret.h"
#include "util.h"
#include "hookd_seal.h"


/*
 * new_secret as hookd.source_secret_check reads it: the given secret or a
 * whsec_ made here (shown once, in *made), sealed. NULL after printing why.
 */
static json_t *
hookd_source_secret(hookd_args_t *a, char *made, size_t size)
{
    char           *sealed;
    json_t         *desc;
    size_t          i, len;
    const char     *secret;
    unsigned char   raw[HOOKD_SECRET_MAX], key[HOOKD_MASTER_KEY_LEN];

    made[0] = '\0';
    secret = a->secret;

    if (secret) {
        len = strlen(secret);

        for (i = 0; i < len && secret[i] >= 0x20 && secret[i] <= 0x7e; i++) {
            /* printable ASCII */
        }

        if (len == 0 || len > 512 || i < len) {
            hookd_fail("invalid_request", "--secret must be 1 to 512 "
                       "printable ASCII characters: the signing secret the "
                       "provider shows");
            return NULL;
        }

    } else {
        if (size < 64 || hookd_new_endpoint_secret(made) != 0) {
            hookd_fail("internal", "no randomness for a new secret");
            return NULL;
        }

        secret = made;
    }

    if (hookd_master_key_load(a->secret_key_file, 1, key) != 0) {
        return NULL;
    }

    sealed = hookd_seal(key, secret);
    OPENSSL_cleanse(key, sizeof(key));

    if (sealed == NULL) {
        hookd_fail("internal", "cannot seal the secret");
        return NULL;
    }

    desc = json_pack("{s:s, s:b, s:b, s:b}", "sealed", sealed,
                     "generated", made[0] != '\0',
                     "whsec", hookd_secret_bytes(secret, raw) >= 0,
                     "colon", strchr(secret, ':') != NULL);
    OPENSSL_cleanse(raw, sizeof(raw));
    free(sealed);

    return desc;
}


/* the row's source_json, with the secret made here if one was */
static int
hookd_source_print(PGresult *res, const char *made)
{
    json_t  *v;

    v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (v == NULL) {
        hookd_fail("internal", "unreadable source");
        return 1;
    }

    if (made[0]) {
        json_object_set_new(v, "secret", json_string(made));
    }

    hookd_print_json(v);
    return 0;
}


static int
hookd_cli_sources_create(PGconn *pg, hookd_args_t *a)
{
    int          i, rc;
    char        *app_id, *body_text, *secret_text, *eq, *end;
    char         made[128];
    long         tolerance;
    json_t      *body, *options, *secret;
    PGresult    *res;
    const char  *params[3];

    if (a->app == NULL || a->name == NULL || a->provider == NULL) {
        hookd_fail("usage", "hookd sources create --app <name|id> --name "
                   "<name> --provider <provider> [--secret …]; see hookd "
                   "sources --help");
        return 2;
    }

    body = json_pack("{s:s, s:s}", "name", a->name, "provider", a->provider);
    options = json_object();

    for (i = 0; i < a->noptions; i++) {
        eq = strchr(a->options[i], '=');
        if (eq == NULL || eq == a->options[i]) {
            hookd_fail("usage", "--option takes key=value, not \"%s\"",
                       a->options[i]);
            json_decref(body);
            json_decref(options);
            return 2;
        }

        json_object_setn_new(options, a->options[i],
                             (size_t) (eq - a->options[i]),
                             json_string(eq + 1));
    }

    json_object_set_new(body, "options", options);

    if (a->tolerance) {
        tolerance = strtol(a->tolerance, &end, 10);
        if (*a->tolerance == '\0' || *end != '\0') {
            hookd_fail("usage", "--tolerance takes whole seconds");
            json_decref(body);
            return 2;
        }

        json_object_set_new(body, "tolerance_seconds",
                            json_integer(tolerance));
    }

    secret = hookd_source_secret(a, made, sizeof(made));
    app_id = secret ? hookd_cli_resolve_app(pg, a->app) : NULL;

    if (app_id == NULL) {
        json_decref(body);
        json_decref(secret);
        return 1;
    }

    body_text = json_dumps(body, JSON_COMPACT);
    secret_text = json_dumps(secret, JSON_COMPACT);

    params[0] = app_id;
    params[1] = body_text;
    params[2] = secret_text;

    res = hookd_cli_query(pg,
        "SELECT hookd.source_json(hookd.source_create($1, $2::jsonb,"
        " $3::jsonb))::text", 3, params);

    rc = res ? hookd_source_print(res, made) : 1;

    PQclear(res);
    OPENSSL_cleanse(made, sizeof(made));
    free(app_id);
    free(body_text);
    free(secret_text);
    json_decref(body);
    json_decref(secret);

    return rc;
}


static int
hookd_cli_sources_rotate(PGconn *pg, hookd_args_t *a)
{
    int          rc;
    char        *secret_text, made[128], grace[32];
    double       seconds;
    json_t      *secret;
    PGresult    *res;
    const char  *params[3];

    seconds = a->grace ? hookd_cli_duration(a->grace) : 86400;
    if (seconds < 0) {
        hookd_fail("usage", "--grace takes a duration such as 24h, 30m or "
                   "90s, not \"%s\"", a->grace);
        return 2;
    }

    secret = hookd_source_secret(a, made, sizeof(made));
    if (secret == NULL) {
        return 1;
    }

    snprintf(grace, sizeof(grace), "%.3f", seconds);
    secret_text = json_dumps(secret, JSON_COMPACT);

    params[0] = a->args[1];
    params[1] = secret_text;
    params[2] = grace;

    res = hookd_cli_query(pg,
        "SELECT hookd.source_rotation_json(hookd.source_rotate(s, $2::jsonb,"
        " $3::double precision), $3::double precision)::text"
        " FROM hookd.sources s WHERE s.id = $1", 3, params);

    rc = 1;

    if (res && PQntuples(res) == 0) {
        hookd_fail("not_found", "no source has the id \"%s\"", a->args[1]);
    } else if (res) {
        rc = hookd_source_print(res, made);
    }

    PQclear(res);
    OPENSSL_cleanse(made, sizeof(made));
    free(secret_text);
    json_decref(secret);

    return rc;
}


int
hookd_cli_sources(hookd_args_t *a)
{
    return hookd_cli_secreted(a, "sources", hookd_cli_sources_create,
                              hookd_cli_sources_rotate);
}
