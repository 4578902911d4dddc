#define _GNU_SOURCE
/*
 * hookd endpoints create | rotate-secret (list and get: cli_read.c). What
 * the admin API checks and seals in nginx, the CLI checks and seals here,
 * with the same shared code (filters, headers and auth) and the master key.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "cli.h"
#include "secret.h"
#include "util.h"
#include "hookd_filter.h"
#include "hookd_headers.h"
#include "hookd_seal.h"
#include "hookd_validate.h"


/* http(s) with a host: the address itself is judged when hookd connects */
static int
hookd_check_url(const char *url)
{
    int    ok;
    char  *scheme, *host;
    CURLU *u;

    u = curl_url();
    scheme = NULL;
    host = NULL;

    ok = u != NULL && strlen(url) <= 2048
         && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
         && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
         && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
         && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)
         && host[0] != '\0';

    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);

    return ok;
}


static int
hookd_valid_pattern(const char *p, size_t len)
{
    if (len == 1 && p[0] == '*') {
        return 1;
    }

    if (len > 2 && p[len - 2] == '.' && p[len - 1] == '*') {
        len -= 2;
    }

    return hookd_valid_event_type(p, len);
}


static json_t *
hookd_parse_types(const char *types)
{
    json_t      *list;
    const char  *p, *end;
    size_t       len;

    list = json_array();

    for (p = types ? types : "*"; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }

        while (p < end && *p == ' ') {
            p++;
        }

        len = (size_t) (end - p);
        while (len && p[len - 1] == ' ') {
            len--;
        }

        if (!hookd_valid_pattern(p, len)) {
            hookd_fail("invalid_endpoint", "--event-types takes comma-separated "
                       "event types, 'prefix.*' or '*'; \"%.*s\" is none",
                       (int) len, p);
            json_decref(list);
            return NULL;
        }

        json_array_append_new(list, json_stringn(p, len));
    }

    if (json_array_size(list) == 0) {
        json_array_append_new(list, json_string("*"));
    }

    return list;
}


static json_t *
hookd_parse_labels(hookd_args_t *a)
{
    int          i;
    json_t      *labels;
    const char  *eq;

    labels = json_object();

    for (i = 0; i < a->nlabels; i++) {
        eq = strchr(a->labels[i], '=');

        if (eq == NULL || eq == a->labels[i] || eq[1] == '\0'
            || eq - a->labels[i] > HOOKD_MAX_LABEL_KEY_LEN
            || strlen(eq + 1) > HOOKD_MAX_LABEL_VALUE_LEN)
        {
            hookd_fail("invalid_endpoint", "--label takes key=value, "
                       "not \"%s\"", a->labels[i]);
            json_decref(labels);
            return NULL;
        }

        json_object_setn_new(labels, a->labels[i],
                             (size_t) (eq - a->labels[i]),
                             json_string(eq + 1));
    }

    return labels;
}


/* the given secret, checked, or a new one; then sealed (malloc'ed) */
static char *
hookd_endpoint_secret(hookd_args_t *a, char *secret, size_t size)
{
    char           *sealed;
    unsigned char   raw[HOOKD_SECRET_MAX], key[HOOKD_MASTER_KEY_LEN];

    if (a->secret) {
        if (hookd_secret_bytes(a->secret, raw) < 0
            || strlen(a->secret) >= size)
        {
            hookd_fail("invalid_endpoint", "--secret must be whsec_ "
                       "followed by the base64 of %d to %d bytes",
                       HOOKD_SECRET_MIN, HOOKD_SECRET_MAX);
            return NULL;
        }

        snprintf(secret, size, "%s", a->secret);

    } else if (hookd_new_endpoint_secret(secret) != 0) {
        hookd_fail("internal", "no randomness for a new secret");
        return NULL;
    }

    if (hookd_master_key_load(a->secret_key_file, 1, key) != 0) {
        return NULL;
    }

    sealed = hookd_seal(key, secret);
    OPENSSL_cleanse(key, sizeof(key));

    if (sealed == NULL) {
        hookd_fail("internal", "cannot seal the secret");
    }

    return sealed;
}


/*
 * A new Ed25519 key for v1a, as nginx makes one: the whsk_ secret key
 * sealed (returned, malloc'ed), the whpk_ public key into public_key (64
 * bytes). NULL after printing why.
 */
static char *
hookd_signing_key(hookd_args_t *a, char *public_key)
{
    char           *sealed;
    unsigned char   master[HOOKD_MASTER_KEY_LEN];

    if (hookd_master_key_load(a->secret_key_file, 1, master) != 0) {
        return NULL;
    }

    sealed = hookd_new_signing_key(master, public_key);
    OPENSSL_cleanse(master, sizeof(master));

    if (sealed == NULL) {
        hookd_fail("internal", "cannot make and seal an Ed25519 key");
    }

    return sealed;
}


/*
 * --header 'Name: value'… and --auth basic:<user>:<password> or
 * bearer:<token>, checked as the admin API checks them, each sealed (into
 * *headers and *auth; NULL when not given). -1 after printing why.
 */
static int
hookd_endpoint_extras(hookd_args_t *a, char **headers, char **auth)
{
    int             i, rc;
    char           *plain, *colon, why[256];
    json_t         *obj, *names, *given;
    unsigned char   key[HOOKD_MASTER_KEY_LEN];

    *headers = NULL;
    *auth = NULL;

    if (a->nheaders == 0 && a->auth == NULL) {
        return 0;
    }

    if (hookd_master_key_load(a->secret_key_file, 1, key) != 0) {
        return -1;
    }

    rc = -1;
    obj = json_object();
    names = NULL;
    given = NULL;
    plain = NULL;

    for (i = 0; i < a->nheaders; i++) {
        colon = strchr(a->headers[i], ':');
        if (colon == NULL) {
            hookd_fail("usage", "--header takes 'Name: value'");
            goto done;
        }

        json_object_setn_new(obj, a->headers[i],
                             (size_t) (colon - a->headers[i]),
                             json_string(colon[1] == ' ' ? colon + 2
                                                         : colon + 1));
    }

    if (a->nheaders) {
        if (hookd_headers_check(obj, &names, why, sizeof(why)) != 0) {
            hookd_fail("invalid_request", "%s", why);
            goto done;
        }

        plain = json_dumps(obj, JSON_COMPACT);
        *headers = plain ? hookd_seal(key, plain) : NULL;
    }

    if (a->auth) {
        colon = strchr(a->auth, ':');
        given = colon == NULL ? NULL
                : strncmp(a->auth, "bearer:", 7) == 0
                ? json_pack("{s:s, s:s}", "type", "bearer", "token", colon + 1)
                : strncmp(a->auth, "basic:", 6) == 0 && strchr(colon + 1, ':')
                ? json_pack("{s:s, s:s#, s:s}", "type", "basic", "username",
                            colon + 1, (int) (strchr(colon + 1, ':') - colon
                                              - 1),
                            "password", strchr(colon + 1, ':') + 1)
                : NULL;

        if (given == NULL) {
            hookd_fail("usage", "--auth takes basic:<user>:<password> or "
                       "bearer:<token>");
            goto done;
        }

        if (plain) {
            OPENSSL_cleanse(plain, strlen(plain));
            free(plain);
            plain = NULL;
        }

        if (hookd_auth_value(given, &plain, why, sizeof(why)) != 0) {
            hookd_fail("invalid_request", "%s", why);
            goto done;
        }

        *auth = hookd_seal(key, plain);
    }

    if (json_array_size(names)) {
        for (i = 0; i < (int) json_array_size(names); i++) {
            if (a->auth && strcasecmp(json_string_value(
                               json_array_get(names, i)), "authorization") == 0)
            {
                hookd_fail("invalid_request", "an Authorization header "
                           "beside auth: give one or the other");
                goto done;
            }
        }
    }

    rc = (a->nheaders && *headers == NULL) || (a->auth && *auth == NULL)
         ? -1 : 0;

done:

    if (plain) {
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }

    OPENSSL_cleanse(key, sizeof(key));
    json_decref(obj);
    json_decref(names);
    json_decref(given);

    if (rc != 0) {
        free(*headers);
        free(*auth);
        *headers = NULL;
        *auth = NULL;
    }

    return rc;
}


static int
hookd_cli_endpoints_create(PGconn *pg, hookd_args_t *a)
{
    int            rc;
    char          *app_id, *sealed, *types_text, *labels_text, *secrets_text;
    char          *filter_text, *filter_path, *header_names;
    char          *headers_sealed, *auth_sealed, *key_sealed;
    char           secret[128], why[512], public_key[64];
    const char    *signature;
    json_t        *types, *labels, *secrets, *filter;
    PGresult      *res;
    const char    *params[11];

    if (a->app == NULL || a->url == NULL) {
        hookd_fail("usage", "hookd endpoints create --app <name|id> "
                   "--url <url> [--event-types 'a.*,b'] [--label k=v] "
                   "[--secret whsec_…]");
        return 2;
    }

    if (!hookd_check_url(a->url)) {
        hookd_fail("invalid_endpoint", "--url must be an http:// or "
                   "https:// URL with a host, at most 2048 characters");
        return 1;
    }

    types = hookd_parse_types(a->event_types);
    labels = types ? hookd_parse_labels(a) : NULL;

    if (types == NULL || labels == NULL) {
        json_decref(types);
        return 1;
    }

    /* compiled as nginx compiles it (shared/hookd_filter.c) */
    filter = NULL;
    filter_text = NULL;
    filter_path = NULL;

    if (a->filter) {
        filter = json_loads(a->filter, JSON_REJECT_DUPLICATES, NULL);
        if (filter == NULL
            || hookd_filter_compile(filter, &filter_path, why, sizeof(why))
               != 0)
        {
            hookd_fail("invalid_filter", "%s", filter
                       ? why : "--filter must be a JSON object");
            json_decref(filter);
            json_decref(types);
            json_decref(labels);
            return 1;
        }

        filter_text = filter_path ? json_dumps(filter, JSON_COMPACT
                                               | JSON_REAL_PRECISION(15))
                                  : NULL;
    }

    header_names = NULL;
    key_sealed = NULL;
    signature = a->signature ? a->signature : "v1";

    if (strcmp(signature, "v1") != 0 && strcmp(signature, "v1a") != 0
        && strcmp(signature, "v1,v1a") != 0)
    {
        hookd_fail("usage", "--signature is v1, v1a or v1,v1a");
        free(filter_text);
        free(filter_path);
        json_decref(filter);
        json_decref(types);
        json_decref(labels);
        return 2;
    }

    sealed = hookd_endpoint_extras(a, &headers_sealed, &auth_sealed) == 0
             && (strcmp(signature, "v1") == 0
                 || (key_sealed = hookd_signing_key(a, public_key)) != NULL)
             ? hookd_endpoint_secret(a, secret, sizeof(secret)) : NULL;
    app_id = sealed ? hookd_cli_resolve_app(pg, a->app) : NULL;

    if (app_id == NULL) {
        free(sealed);
        free(key_sealed);
        free(headers_sealed);
        free(auth_sealed);
        free(filter_text);
        free(filter_path);
        json_decref(filter);
        json_decref(types);
        json_decref(labels);
        return 1;
    }

    if (headers_sealed) {
        json_t  *names = json_array();

        for (int i = 0; i < a->nheaders; i++) {
            json_array_append_new(names, json_stringn(a->headers[i],
                (size_t) (strchr(a->headers[i], ':') - a->headers[i])));
        }

        header_names = json_dumps(names, JSON_COMPACT);
        json_decref(names);
    }

    /* v1 (the whsec_), v1a (an Ed25519 key), or both */
    secrets = json_array();
    if (strcmp(signature, "v1a") != 0) {
        json_array_append_new(secrets, json_pack("{s:s, s:n}", "sealed",
                                                 sealed, "expires_at"));
    }
    if (strcmp(signature, "v1") != 0) {
        json_array_append_new(secrets, json_pack("{s:s, s:n, s:s, s:s}",
                                                 "sealed", key_sealed,
                                                 "expires_at", "kind", "v1a",
                                                 "public", public_key));
    }
    types_text = json_dumps(types, JSON_COMPACT);
    labels_text = json_dumps(labels, JSON_COMPACT);
    secrets_text = json_dumps(secrets, JSON_COMPACT);

    params[0] = app_id;
    params[1] = a->url;
    params[2] = secrets_text;
    params[3] = types_text;
    params[4] = labels_text;
    params[5] = filter_text;
    params[6] = filter_path;
    params[7] = headers_sealed;
    params[8] = header_names;
    params[9] = auth_sealed;
    params[10] = auth_sealed ? (strncmp(a->auth, "basic:", 6) == 0
                                ? "basic" : "bearer") : NULL;

    res = hookd_cli_query(pg,
        "WITH ep AS ("
        "  INSERT INTO hookd.endpoints"
        "   (app_id, url, secrets, filter, filter_path, headers_sealed,"
        "    header_names, auth_sealed, auth_type)"
        "  VALUES ($1, $2, $3::jsonb, $6::jsonb, $7::jsonpath, $8,"
        "   ARRAY(SELECT jsonb_array_elements_text(coalesce($9::jsonb,"
        "   '[]'))), $10, $11)"
        "  RETURNING app_id, id),"
        " sub AS ("
        "  INSERT INTO hookd.subscriptions"
        "   (app_id, endpoint_id, event_type_pattern, label_filter)"
        "  SELECT ep.app_id, ep.id, t, $5::jsonb"
        "    FROM ep, jsonb_array_elements_text($4::jsonb) t"
        "  ON CONFLICT DO NOTHING)"
        " SELECT id FROM ep", 11, params);

    rc = 1;

    if (res) {
        hookd_print_json(json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:O, "
                                   "s:O, s:O?}",
                                   "id", PQgetvalue(res, 0, 0),
                                   "app_id", app_id,
                                   "url", a->url,
                                   "secret", strcmp(signature, "v1a") != 0
                                             ? secret : NULL,
                                   "signature", signature,
                                   "public_key", strcmp(signature, "v1") != 0
                                                 ? public_key : NULL,
                                   "event_types", types,
                                   "labels", labels,
                                   "filter", filter_path ? filter : NULL));
        PQclear(res);
        rc = 0;
    }

    free(app_id);
    free(sealed);
    free(types_text);
    free(labels_text);
    free(secrets_text);
    free(filter_text);
    free(filter_path);
    free(headers_sealed);
    free(header_names);
    free(auth_sealed);
    free(key_sealed);
    json_decref(filter);
    json_decref(types);
    json_decref(labels);
    json_decref(secrets);

    return rc;
}


/*
 * The new secret signs from now on; the old ones keep signing (a second
 * signature) until the grace period ends, so consumers can switch over.
 */
static int
hookd_cli_endpoints_rotate(PGconn *pg, hookd_args_t *a)
{
    int          rc;
    char        *sealed, secret[128], grace[32];
    double       seconds;
    PGresult    *res;
    const char  *params[3];

    seconds = a->grace ? hookd_cli_duration(a->grace) : 86400;
    if (seconds < 0) {
        hookd_fail("usage", "--grace takes a duration such as 24h, 30m or "
                   "90s, not \"%s\"", a->grace);
        return 2;
    }

    sealed = hookd_endpoint_secret(a, secret, sizeof(secret));
    if (sealed == NULL) {
        return 1;
    }

    snprintf(grace, sizeof(grace), "%.3f", seconds);
    params[0] = a->args[1];
    params[1] = sealed;
    params[2] = grace;

    res = hookd_cli_query(pg,
        "UPDATE hookd.endpoints ep"
        "   SET secrets = jsonb_build_array(jsonb_build_object("
        "                     'sealed', $2::text, 'expires_at', NULL))"
        "       || coalesce((SELECT jsonb_agg(CASE"
        "              WHEN s->>'expires_at' IS NULL"
        "              THEN jsonb_set(s, '{expires_at}', to_jsonb(hookd.rfc3339("
        "                   now() + make_interval(secs => $3::float8))))"
        "              ELSE s END)"
        "            FROM jsonb_array_elements(ep.secrets) s"
        "           WHERE s->>'expires_at' IS NULL"
        "              OR (s->>'expires_at')::timestamptz > now()), '[]'),"
        "       updated_at = now()"
        " WHERE ep.id = $1"
        " RETURNING ep.id, ep.app_id", 3, params);

    rc = 1;

    if (res && PQntuples(res) == 1) {
        hookd_print_json(json_pack("{s:s, s:s, s:s, s:f}",
                                   "id", PQgetvalue(res, 0, 0),
                                   "app_id", PQgetvalue(res, 0, 1),
                                   "secret", secret,
                                   "old_secrets_valid_for_seconds", seconds));
        rc = 0;

    } else if (res) {
        hookd_fail("not_found", "no endpoint has the id \"%s\"", a->args[1]);
    }

    PQclear(res);
    free(sealed);

    return rc;
}


int
hookd_cli_endpoints(hookd_args_t *a)
{
    return hookd_cli_secreted(a, "endpoints", hookd_cli_endpoints_create,
                              hookd_cli_endpoints_rotate);
}
