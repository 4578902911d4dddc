/*
 * What nginx makes, seals or compiles before PostgreSQL sees an admin
 * request, since PostgreSQL must never hold a plaintext: new endpoint and
 * source secrets (sealed with the master key), new API keys (hashed), an
 * endpoint's headers and auth (checked and sealed), its filter (compiled to
 * jsonpath); and the master key itself, read once with the configuration.
 * A new secret is kept for the reply, the one place it is shown.
 */

#include <jansson.h>

#include "ngx_http_hookd_module.h"
#include "hookd_filter.h"
#include "hookd_headers.h"


static ngx_int_t ngx_http_hookd_admin_reveal(ngx_http_request_t *r,
    const char *name, char *secret, size_t size);


/*
 * An endpoint's filter compiled to the jsonpath PostgreSQL evaluates
 * (shared/hookd_filter.c), beside it in the body as filter_path: a field
 * only nginx writes, since an arbitrary jsonpath would run in batches that
 * every application shares. NGX_DECLINED to go on, or the 400 answered.
 */
ngx_int_t
ngx_http_hookd_admin_filter(ngx_http_request_t *r, json_t *body)
{
    char     why[512], *path;
    json_t  *filter;

    if (body == NULL) {
        return NGX_DECLINED;
    }

    if (json_object_get(body, "filter_path") != NULL) {
        return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_request",
                   "filter_path is not a field: send filter");
    }

    filter = json_object_get(body, "filter");
    if (filter == NULL || json_is_null(filter)) {
        return NGX_DECLINED;
    }

    if (hookd_filter_compile(filter, &path, why, sizeof(why)) != 0) {
        return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_filter", why);
    }

    if (path != NULL
        && json_object_set_new(body, "filter_path", json_string(path)) != 0)
    {
        free(path);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    free(path);

    return NGX_DECLINED;
}


/*
 * An endpoint's headers and auth, checked and sealed: PostgreSQL gets
 * {"sealed", "names"} and {"sealed", "type"} in their place, never a value.
 * null (or {} headers) removes them. NGX_DECLINED to go on, or the 400.
 */
ngx_int_t
ngx_http_hookd_admin_headers(ngx_http_request_t *r, json_t *body)
{
    char                        *dumped, *sealed, *value, why[256];
    json_t                      *headers, *auth, *names, *desc;
    ngx_http_hookd_main_conf_t  *hmcf;

    if (body == NULL) {
        return NGX_DECLINED;
    }

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);
    headers = json_object_get(body, "headers");
    auth = json_object_get(body, "auth");

    if (headers && !json_is_null(headers)) {
        if (hookd_headers_check(headers, &names, why, sizeof(why)) != 0) {
            return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request", why);
        }

        desc = json_null();

        if (json_array_size(names)) {
            dumped = json_dumps(headers, JSON_COMPACT);
            sealed = dumped ? hookd_seal(hmcf->secret_key, dumped) : NULL;

            if (dumped) {
                ngx_explicit_memzero(dumped, ngx_strlen(dumped));
                free(dumped);
            }

            desc = sealed ? json_pack("{s:s, s:o}", "sealed", sealed,
                                      "names", names)
                          : NULL;
            names = NULL;
            free(sealed);
        }

        json_decref(names);

        if (desc == NULL || json_object_set_new(body, "headers", desc) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (auth && !json_is_null(auth)
            && json_array_size(json_object_get(desc, "names")))
        {
            for (size_t i = 0; i < json_array_size(json_object_get(desc,
                                                                  "names"));
                 i++)
            {
                if (ngx_strcasecmp((u_char *) json_string_value(
                        json_array_get(json_object_get(desc, "names"), i)),
                        (u_char *) "authorization") == 0)
                {
                    return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                               "invalid_request", "an Authorization header "
                               "beside auth: give one or the other");
                }
            }
        }
    }

    if (auth && !json_is_null(auth)) {
        why[0] = '\0';

        if (hookd_auth_value(auth, &value, why, sizeof(why)) != 0) {
            return value == NULL && why[0] == '\0'
                   ? NGX_HTTP_INTERNAL_SERVER_ERROR
                   : ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                         "invalid_request", why);
        }

        sealed = hookd_seal(hmcf->secret_key, value);
        ngx_explicit_memzero(value, ngx_strlen(value));
        free(value);

        desc = sealed ? json_pack("{s:s, s:s}", "sealed", sealed, "type",
                                  json_string_value(json_object_get(auth,
                                                                    "type")))
                      : NULL;
        free(sealed);

        if (desc == NULL || json_object_set_new(body, "auth", desc) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_DECLINED;
}


/*
 * A new endpoint secret, given in the body or made here, sealed.
 * NGX_DECLINED: the given one is malformed.
 */
ngx_int_t
ngx_http_hookd_admin_secret(ngx_http_request_t *r, json_t *req, json_t *body)
{
    char                        *sealed;
    json_t                      *given;
    const char                  *plain;
    unsigned char                raw[HOOKD_SECRET_MAX];
    ngx_http_hookd_main_conf_t  *hmcf;
    char                         secret[128];

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);

    given = body ? json_object_get(body, "secret") : NULL;

    if (given) {
        plain = json_string_value(given);

        if (plain == NULL || ngx_strlen(plain) >= sizeof(secret)
            || hookd_secret_bytes(plain, raw) < 0)
        {
            return NGX_DECLINED;
        }

        ngx_cpystrn((u_char *) secret, (u_char *) plain, sizeof(secret));
        json_object_del(json_object_get(req, "body"), "secret");

    } else if (hookd_new_endpoint_secret(secret) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sealed = hookd_seal(hmcf->secret_key, secret);
    if (sealed == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json_object_set_new(req, "new_secret",
                            json_pack("{s:s}", "sealed", sealed)) != 0)
    {
        free(sealed);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    free(sealed);

    return ngx_http_hookd_admin_reveal(r, "secret", secret, sizeof(secret));
}


/*
 * A source's secret is the provider's, pasted: sealed, and PostgreSQL told
 * only what it looks like (hookd.source_secret_check). None given: a whsec_
 * made here, which only a standard source takes, shown once.
 * NGX_DECLINED: the given one is not printable ASCII of 1 to 512 bytes.
 */
ngx_int_t
ngx_http_hookd_admin_source_secret(ngx_http_request_t *r, json_t *req,
    json_t *body)
{
    int                          generated, whsec;
    char                        *sealed, *secret;
    size_t                       i, len;
    json_t                      *given, *desc;
    ngx_int_t                    rc;
    unsigned char                raw[HOOKD_SECRET_MAX];
    ngx_http_hookd_main_conf_t  *hmcf;
    char                         made[128];

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);

    given = body ? json_object_get(body, "secret") : NULL;
    generated = (given == NULL);

    if (given) {
        secret = (char *) json_string_value(given);
        len = secret ? ngx_strlen(secret) : 0;

        if (len == 0 || len > 512) {
            return NGX_DECLINED;
        }

        for (i = 0; i < len; i++) {
            if (secret[i] < 0x20 || secret[i] > 0x7e) {
                return NGX_DECLINED;
            }
        }

    } else {
        if (hookd_new_endpoint_secret(made) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        secret = made;
    }

    whsec = hookd_secret_bytes(secret, raw) >= 0;
    ngx_explicit_memzero(raw, sizeof(raw));

    sealed = hookd_seal(hmcf->secret_key, secret);
    if (sealed == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    desc = json_pack("{s:s, s:b, s:b, s:b}", "sealed", sealed,
                     "generated", generated, "whsec", whsec,
                     "colon", ngx_strchr(secret, ':') != NULL);
    free(sealed);

    if (desc == NULL || json_object_set_new(req, "new_secret", desc) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!generated) {
        /* the plaintext leaves with the body, the last copy of it here */
        json_object_del(json_object_get(req, "body"), "secret");
        return NGX_OK;
    }

    rc = ngx_http_hookd_admin_reveal(r, "secret", made, sizeof(made));

    return rc;
}


/*
 * A new Ed25519 key pair for v1a signatures: the secret key, whsk_ and the
 * base64 of its seed, goes to PostgreSQL only sealed; the public key,
 * whpk_, is the endpoint's public_key, for its consumers. Made for every
 * request that may need one; PostgreSQL stores it only if the endpoint
 * signs with v1a (hookd.api_endpoints).
 */
ngx_int_t
ngx_http_hookd_admin_signing_key(ngx_http_request_t *r, json_t *req)
{
    char                        *sealed, whpk[64];
    json_t                      *desc;
    ngx_http_hookd_main_conf_t  *hmcf;

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);

    sealed = hookd_new_signing_key(hmcf->secret_key, whpk);
    desc = sealed ? json_pack("{s:s, s:s}", "sealed", sealed, "public", whpk)
                  : NULL;
    free(sealed);

    if (desc == NULL || json_object_set_new(req, "new_key", desc) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* A new API key: PostgreSQL gets its hash and its first characters. */
ngx_int_t
ngx_http_hookd_admin_key(ngx_http_request_t *r, json_t *req,
    ngx_uint_t portal)
{
    char                   key[64], hex[2 * HOOKD_KEY_HASH_LEN];
    u_char                 hash[HOOKD_KEY_HASH_LEN];

    if (hookd_new_api_key(key, portal ? "hkp_" : "hk_") != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    hookd_key_hash(key, ngx_strlen(key), hash);
    hookd_key_hash_hex(hash, hex);

    if (json_object_set_new(req, "new_key",
            json_pack("{s:s#, s:s#}", "hash", hex, (int) sizeof(hex),
                      "prefix", key, portal ? 11 : 10)) != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_admin_reveal(r, portal ? "token" : "key", key,
                                       sizeof(key));
}


/* Keeps a new secret for the reply, the only place it is shown; the stack
 * copy is wiped. */
static ngx_int_t
ngx_http_hookd_admin_reveal(ngx_http_request_t *r, const char *name,
    char *secret, size_t size)
{
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    ctx->reveal_name = name;
    ctx->reveal.len = ngx_strlen(secret);
    ctx->reveal.data = ngx_pnalloc(r->pool, ctx->reveal.len);

    if (ctx->reveal.data != NULL) {
        ngx_memcpy(ctx->reveal.data, secret, ctx->reveal.len);
    }

    ngx_explicit_memzero(secret, size);

    return ctx->reveal.data ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


char *
ngx_http_hookd_secret_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hookd_main_conf_t *hmcf = conf;

    ssize_t          n;
    ngx_str_t       *value, name;
    ngx_file_t       file;
    ngx_file_info_t  fi;
    u_char           buf[2 * HOOKD_MASTER_KEY_LEN + 4];

    if (hmcf->secret_key_set) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open the master key \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) != NGX_FILE_ERROR
        && (ngx_file_access(&fi) & 0077))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the master key \"%V\" is readable by others; "
                           "chmod 600 it", &name);
    }

    n = ngx_read_file(&file, buf, sizeof(buf), 0);
    ngx_close_file(file.fd);

    if (n == NGX_ERROR
        || hookd_master_key_parse((char *) buf, (size_t) n,
                                  hmcf->secret_key) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the master key \"%V\" must hold %d hex digits",
                           &name, 2 * HOOKD_MASTER_KEY_LEN);
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(buf, sizeof(buf));
    hmcf->secret_key_set = 1;

    return NGX_CONF_OK;
}
