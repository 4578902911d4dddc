/*
 * The admin API (`hookd_admin;`): a thin router onto hookd.admin() in
 * PostgreSQL, which authorizes, validates and changes everything in one
 * transaction. nginx does what PostgreSQL should not see or cannot do:
 * it hashes the API key, parses the query string and the JSON body, and
 * makes new secrets. A new endpoint secret goes to PostgreSQL only sealed
 * with the master key, a new API key only as its hash; the plaintext is
 * spliced into the reply, shown this once.
 */

#include <jansson.h>

#include "ngx_http_hookd_module.h"
#include "hookd_filter.h"
#include "hookd_headers.h"


#define NGX_HTTP_HOOKD_ADMIN_SEGS  8


typedef enum {
    NGX_HTTP_HOOKD_NEW_NONE = 0,
    NGX_HTTP_HOOKD_NEW_SECRET,      /* endpoint create, rotate-secret */
    NGX_HTTP_HOOKD_NEW_SOURCE_SECRET,   /* source create, rotate-secret */
    NGX_HTTP_HOOKD_NEW_KEY          /* api key create */
} ngx_http_hookd_new_e;


static ngx_int_t ngx_http_hookd_admin_authorized(ngx_http_request_t *r);
static void ngx_http_hookd_admin_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_hookd_admin_send(ngx_http_request_t *r,
    json_t *body, ngx_uint_t from_handler);
static ngx_http_hookd_new_e ngx_http_hookd_admin_route(ngx_http_request_t *r);
static json_t *ngx_http_hookd_admin_query(ngx_http_request_t *r);
static ngx_int_t ngx_http_hookd_admin_filter(ngx_http_request_t *r,
    json_t *body);
static ngx_int_t ngx_http_hookd_admin_headers(ngx_http_request_t *r,
    json_t *body);
static ngx_int_t ngx_http_hookd_admin_secret(ngx_http_request_t *r,
    json_t *req, json_t *body);
static ngx_int_t ngx_http_hookd_admin_source_secret(ngx_http_request_t *r,
    json_t *req, json_t *body);
static ngx_int_t ngx_http_hookd_admin_key(ngx_http_request_t *r,
    json_t *req);
static ngx_int_t ngx_http_hookd_admin_reveal(ngx_http_request_t *r,
    const char *name, char *secret, size_t size);
static void ngx_http_hookd_admin_done(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);


ngx_int_t
ngx_http_hookd_admin_handler(ngx_http_request_t *r)
{
    ngx_str_t  allow;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_POST|NGX_HTTP_PATCH
                       |NGX_HTTP_DELETE)))
    {
        ngx_str_set(&allow, "GET, POST, PATCH, DELETE");
        if (ngx_http_hookd_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_hookd_reply(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed",
                   "the admin API takes GET, POST, PATCH and DELETE");
    }

    if (ngx_http_hookd_get_ctx(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_authenticate(r, NGX_HTTP_HOOKD_SCOPE_ADMIN,
                                       ngx_http_hookd_admin_authorized);
}


/*
 * The key is an admin key within its rate: only now is a body read.
 * hookd.admin() still decides what the key may do, on the key's row as it
 * is when the request runs.
 */
static ngx_int_t
ngx_http_hookd_admin_authorized(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_DELETE)) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_hookd_admin_send(r, NULL, 1);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_hookd_admin_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_hookd_admin_body_read(ngx_http_request_t *r)
{
    u_char        *msg;
    json_t        *body;
    ngx_int_t      rc;
    ngx_str_t      text;
    json_error_t   err;

    if (ngx_http_hookd_body_flatten(r, &text) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    body = NULL;

    if (text.len) {
        if (ngx_http_hookd_json_content_type(r) != NGX_OK) {
            rc = ngx_http_hookd_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                     "unsupported_media_type",
                     "send the body with \"Content-Type: application/json\"");
            ngx_http_finalize_request(r, rc);
            return;
        }

        body = json_loadb((char *) text.data, text.len,
                          JSON_REJECT_DUPLICATES, &err);

        if (body == NULL || !json_is_object(body)) {
            msg = ngx_pnalloc(r->pool, 256);
            if (msg == NULL) {
                json_decref(body);
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            if (body == NULL) {
                ngx_snprintf(msg, 256, "the body is not valid JSON: %s "
                             "(line %d, column %d)%Z",
                             err.text, err.line, err.column);
            } else {
                ngx_snprintf(msg, 256, "the body must be a JSON object%Z");
            }

            rc = ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                     body == NULL ? "invalid_json" : "invalid_request",
                     (char *) msg);
            json_decref(body);
            ngx_http_finalize_request(r, rc);
            return;
        }
    }

    rc = ngx_http_hookd_admin_send(r, body, 0);
    json_decref(body);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * Queues {"key", "method", "path", "query", "body", "new_secret" or
 * "new_key"} for hookd.admin(). NGX_DONE: the job's handler replies;
 * otherwise what to finalize the request with. From the content handler
 * the request needs a reference of its own while the job runs; from the
 * body handler, reading the body already holds one.
 */
static ngx_int_t
ngx_http_hookd_admin_send(ngx_http_request_t *r, json_t *body,
    ngx_uint_t from_handler)
{
    char                        *dump, hex[2 * HOOKD_KEY_HASH_LEN];
    json_t                      *req, *query;
    ngx_int_t                    rc;
    ngx_http_hookd_ctx_t        *ctx;
    ngx_http_hookd_new_e         what;
    ngx_http_hookd_main_conf_t  *hmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);

    rc = ngx_http_hookd_admin_filter(r, body);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_hookd_admin_headers(r, body);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    query = ngx_http_hookd_admin_query(r);
    if (query == NULL) {
        return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_query",
                   "the query string must be UTF-8 name=value pairs, "
                   "without NUL bytes");
    }

    /* PostgreSQL's text holds neither NUL nor invalid UTF-8; jansson
       checks the latter */
    if (ngx_strlchr(r->uri.data, r->uri.data + r->uri.len, '\0') != NULL) {
        json_decref(query);
        return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_request", "the path must not hold NUL bytes");
    }

    hookd_key_hash_hex(ctx->key_hash, hex);

    req = json_pack("{s:s#, s:s#, s:s%, s:o, s:O?}",
                    "key", hex, (int) sizeof(hex),
                    "method", (char *) r->method_name.data,
                    (int) r->method_name.len,
                    "path", (char *) r->uri.data, (size_t) r->uri.len,
                    "query", query,
                    "body", body);
    if (req == NULL) {
        return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_request", "the path must be UTF-8");
    }

    what = ngx_http_hookd_admin_route(r);

    if (what == NGX_HTTP_HOOKD_NEW_SECRET) {
        rc = ngx_http_hookd_admin_secret(r, req, body);

        if (rc == NGX_DECLINED) {
            json_decref(req);
            return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request",
                       "secret must be \"whsec_\" followed by the base64 of "
                       "24 to 64 bytes");
        }

    } else if (what == NGX_HTTP_HOOKD_NEW_SOURCE_SECRET) {
        rc = ngx_http_hookd_admin_source_secret(r, req, body);

        if (rc == NGX_DECLINED) {
            json_decref(req);
            return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_request",
                       "secret must be 1 to 512 printable ASCII characters: "
                       "the signing secret the provider shows");
        }

    } else if (what == NGX_HTTP_HOOKD_NEW_KEY) {
        rc = ngx_http_hookd_admin_key(r, req);

    } else {
        rc = NGX_OK;
    }

    if (rc != NGX_OK) {
        json_decref(req);
        return rc;
    }

    /*
     * jansson holds numbers as doubles and writes 17 digits by default
     * (0.1 as 0.10000000000000001); 15 give back every decimal of up to 15
     * significant digits as it was written (DBL_DIG), which is what a
     * filter's test payload or a retry policy is made of.
     */
    dump = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(req);

    if (dump == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->job.param.len = ngx_strlen(dump);
    ctx->job.param.data = ngx_pnalloc(r->pool, ctx->job.param.len + 1);

    if (ctx->job.param.data == NULL) {
        free(dump);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->job.param.data, dump, ctx->job.param.len + 1);
    free(dump);

    ctx->job.stmt = NGX_HTTP_HOOKD_STMT_ADMIN;
    ctx->job.handler = ngx_http_hookd_admin_done;
    ctx->job.data = r;

    /* as in ingest: the reference first, a failed post may finalize */
    if (from_handler) {
        r->main->count++;
    }

    if (ngx_http_hookd_pool_post(hmcf->pool, &ctx->job) != NGX_OK) {
        if (from_handler) {
            r->main->count--;
        }

        return ngx_http_hookd_unavailable(r, NULL);
    }

    return NGX_DONE;
}


/* Which POSTs make a secret: .../endpoints, .../endpoints/{id}/rotate-secret
 * and .../api-keys, under /v1/apps/{app}. */
static ngx_http_hookd_new_e
ngx_http_hookd_admin_route(ngx_http_request_t *r)
{
    u_char      *p, *end, *start;
    ngx_str_t    seg[NGX_HTTP_HOOKD_ADMIN_SEGS];
    ngx_uint_t   n;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_HOOKD_NEW_NONE;
    }

    n = 0;
    p = r->uri.data;
    end = r->uri.data + r->uri.len;

    while (p < end && n < NGX_HTTP_HOOKD_ADMIN_SEGS) {
        while (p < end && *p == '/') {
            p++;
        }

        if (p == end) {
            break;
        }

        start = p;

        while (p < end && *p != '/') {
            p++;
        }

        seg[n].data = start;
        seg[n].len = p - start;
        n++;
    }

#define ngx_http_hookd_seg_is(i, s)                                          \
    (seg[i].len == sizeof(s) - 1                                             \
     && ngx_strncmp(seg[i].data, s, sizeof(s) - 1) == 0)

    if (n < 4 || !ngx_http_hookd_seg_is(0, "v1")
        || !ngx_http_hookd_seg_is(1, "apps"))
    {
        return NGX_HTTP_HOOKD_NEW_NONE;
    }

    if (n == 4 && ngx_http_hookd_seg_is(3, "api-keys")) {
        return NGX_HTTP_HOOKD_NEW_KEY;
    }

    if (ngx_http_hookd_seg_is(3, "sources")
        && (n == 4 || (n == 6 && ngx_http_hookd_seg_is(5, "rotate-secret"))))
    {
        return NGX_HTTP_HOOKD_NEW_SOURCE_SECRET;
    }

    if (ngx_http_hookd_seg_is(3, "endpoints")
        && (n == 4 || (n == 6 && ngx_http_hookd_seg_is(5, "rotate-secret"))))
    {
        return NGX_HTTP_HOOKD_NEW_SECRET;
    }

#undef ngx_http_hookd_seg_is

    return NGX_HTTP_HOOKD_NEW_NONE;
}


/* name=value&… as a JSON object of strings, percent-decoded; "+" is a
 * space. NULL if a name or value is not UTF-8 or holds a NUL byte. */
static json_t *
ngx_http_hookd_admin_query(ngx_http_request_t *r)
{
    u_char      *p, *end, *amp, *eq, *dst, *src, *name, *value;
    size_t       nlen, vlen;
    json_t      *q, *v;
    ngx_uint_t   i;

    q = json_object();
    if (q == NULL) {
        return NULL;
    }

    p = r->args.data;
    end = r->args.data + r->args.len;

    while (p < end) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        eq = ngx_strlchr(p, amp, '=');

        name = ngx_pnalloc(r->pool, amp - p + 2);
        if (name == NULL) {
            json_decref(q);
            return NULL;
        }

        for (i = 0; i < (ngx_uint_t) (amp - p); i++) {
            name[i] = (p[i] == '+') ? ' ' : p[i];
        }

        /* decode the name and the value in place, apart */
        nlen = (eq ? eq : amp) - p;
        dst = name;
        src = name;
        ngx_unescape_uri(&dst, &src, nlen, 0);
        nlen = dst - name;

        value = name + (eq ? eq - p + 1 : (u_char *) amp - p);
        vlen = eq ? (size_t) (amp - eq - 1) : 0;
        dst = value;
        src = value;
        ngx_unescape_uri(&dst, &src, vlen, 0);
        vlen = dst - value;

        if (ngx_strlchr(name, name + nlen, '\0') != NULL
            || ngx_strlchr(value, value + vlen, '\0') != NULL)
        {
            json_decref(q);
            return NULL;
        }

        if (nlen) {
            v = json_stringn((char *) value, vlen);
            if (v == NULL
                || json_object_setn_new(q, (char *) name, nlen, v) != 0)
            {
                json_decref(q);
                return NULL;
            }
        }

        p = amp + 1;
    }

    return q;
}


/*
 * An endpoint's filter compiled to the jsonpath PostgreSQL evaluates
 * (shared/hookd_filter.c), beside it in the body as filter_path: a field
 * only nginx writes, since an arbitrary jsonpath would run in batches that
 * every application shares. NGX_DECLINED to go on, or the 400 answered.
 */
static ngx_int_t
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
static ngx_int_t
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
static ngx_int_t
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
static ngx_int_t
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


/* A new API key: PostgreSQL gets its hash and its first characters. */
static ngx_int_t
ngx_http_hookd_admin_key(ngx_http_request_t *r, json_t *req)
{
    char                   key[64], hex[2 * HOOKD_KEY_HASH_LEN];
    u_char                 hash[HOOKD_KEY_HASH_LEN];

    if (hookd_new_api_key(key) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    hookd_key_hash(key, ngx_strlen(key), hash);
    hookd_key_hash_hex(hash, hex);

    if (json_object_set_new(req, "new_key",
            json_pack("{s:s#, s:s#}", "hash", hex, (int) sizeof(hex),
                      "prefix", key, 10)) != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_admin_reveal(r, "key", key, sizeof(key));
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


static void
ngx_http_hookd_admin_done(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row)
{
    u_char                *json, *p;
    size_t                 len;
    ngx_int_t              status, sent;
    const char            *body;
    ngx_http_request_t    *r = job->data;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    if (rc == NGX_HTTP_HOOKD_JOB_UNAVAILABLE) {
        ngx_http_hookd_job_finalize(r, ngx_http_hookd_unavailable(r, NULL));
        return;
    }

    if (rc != NGX_HTTP_HOOKD_JOB_OK || row < 0) {
        sent = ngx_http_hookd_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                   "internal", "the request failed; see the nginx error log");
        ngx_http_hookd_job_finalize(r, sent);
        return;
    }

    status = ngx_atoi((u_char *) PQgetvalue(res, row, 0),
                      PQgetlength(res, row, 0));
    body = PQgetvalue(res, row, 1);
    len = PQgetlength(res, row, 1);

    if (status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN) {
        ngx_http_hookd_auth_failed(r);
    }

    if (status == NGX_HTTP_NO_CONTENT) {
        ctx->own_response = 1;
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = 0;
        r->header_only = 1;
        ngx_http_hookd_job_finalize(r, ngx_http_send_header(r));
        return;
    }

    /* {"secret": "whsec_…", …} or {"key": "hk_…", …}: shown this once */
    if (ctx->reveal.len && status >= 200 && status < 300
        && len > 2 && body[0] == '{')
    {
        json = ngx_pnalloc(r->pool, len + ctx->reveal.len + 32);
        if (json == NULL) {
            ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_sprintf(json, "{\"%s\": \"%V\", ", ctx->reveal_name,
                        &ctx->reveal);
        p = ngx_cpymem(p, body + 1, len - 1);

    } else {
        json = ngx_pnalloc(r->pool, len);
        if (json == NULL) {
            ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_cpymem(json, body, len);
    }

    sent = ngx_http_hookd_send_json(r, status, json, p - json);
    ngx_http_hookd_job_finalize(r, sent);
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
