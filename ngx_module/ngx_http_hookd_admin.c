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


#define NGX_HTTP_HOOKD_ADMIN_SEGS  8


typedef enum {
    NGX_HTTP_HOOKD_NEW_NONE = 0,
    NGX_HTTP_HOOKD_NEW_TAIL,        /* not new: GET …/tail, the live tail */
    NGX_HTTP_HOOKD_NEW_SECRET,      /* endpoint create, rotate-secret */
    NGX_HTTP_HOOKD_NEW_SIGNATURE,   /* endpoint update: if its scheme changes */
    NGX_HTTP_HOOKD_NEW_SOURCE_SECRET,   /* source create, rotate-secret */
    NGX_HTTP_HOOKD_NEW_KEY,         /* api key create */
    NGX_HTTP_HOOKD_NEW_TOKEN        /* portal session create */
} ngx_http_hookd_new_e;


static ngx_int_t ngx_http_hookd_admin_authorized(ngx_http_request_t *r);
static void ngx_http_hookd_admin_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_hookd_admin_send(ngx_http_request_t *r,
    json_t *body, ngx_uint_t from_handler);
static ngx_http_hookd_new_e ngx_http_hookd_admin_route(ngx_http_request_t *r,
    ngx_str_t *path);
static json_t *ngx_http_hookd_admin_query(ngx_http_request_t *r);
static ngx_str_t ngx_http_hookd_admin_path(ngx_http_request_t *r);
static void ngx_http_hookd_admin_done(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);


ngx_int_t
ngx_http_hookd_admin_handler(ngx_http_request_t *r)
{
    ngx_str_t                   allow;
    ngx_http_hookd_loc_conf_t  *hlcf;

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

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    return ngx_http_hookd_authenticate(r,
               hlcf->admin == NGX_HTTP_HOOKD_ADMIN_PORTAL
               ? NGX_HTTP_HOOKD_SCOPE_PORTAL : NGX_HTTP_HOOKD_SCOPE_ADMIN,
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
    ngx_str_t                    path;
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
    path = ngx_http_hookd_admin_path(r);

    req = json_pack("{s:s#, s:s#, s:s%, s:o, s:O?}",
                    "key", hex, (int) sizeof(hex),
                    "method", (char *) r->method_name.data,
                    (int) r->method_name.len,
                    "path", (char *) path.data, (size_t) path.len,
                    "query", query,
                    "body", body);
    if (req == NULL) {
        return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_request", "the path must be UTF-8");
    }

    what = ngx_http_hookd_admin_route(r, &path);

    /* a change of scheme (v1, v1a) may need a secret or a key of the new one */
    if (what == NGX_HTTP_HOOKD_NEW_SIGNATURE) {
        what = body && json_object_get(body, "signature")
               ? NGX_HTTP_HOOKD_NEW_SECRET : NGX_HTTP_HOOKD_NEW_NONE;
    }

    if (what == NGX_HTTP_HOOKD_NEW_SECRET) {
        rc = ngx_http_hookd_admin_secret(r, req, body);

        if (rc == NGX_OK) {
            rc = ngx_http_hookd_admin_signing_key(r, req);
        }

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
        rc = ngx_http_hookd_admin_key(r, req, 0);

    } else if (what == NGX_HTTP_HOOKD_NEW_TOKEN) {
        rc = ngx_http_hookd_admin_key(r, req, 1);

    } else if (what == NGX_HTTP_HOOKD_NEW_TAIL) {
        rc = ngx_http_hookd_tail_prepare(r, req);

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


/* Which POSTs make a secret: .../endpoints, .../endpoints/{id}/rotate-secret,
 * .../api-keys and .../portal-sessions, under /v1/apps/{app}; and which GET
 * is the live tail. */
static ngx_http_hookd_new_e
ngx_http_hookd_admin_route(ngx_http_request_t *r, ngx_str_t *path)
{
    u_char      *p, *end, *start;
    ngx_str_t    seg[NGX_HTTP_HOOKD_ADMIN_SEGS];
    ngx_uint_t   n;

    if (r->method != NGX_HTTP_POST && r->method != NGX_HTTP_PATCH
        && r->method != NGX_HTTP_GET)
    {
        return NGX_HTTP_HOOKD_NEW_NONE;
    }

    n = 0;
    p = path->data;
    end = path->data + path->len;

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

    if (r->method == NGX_HTTP_GET) {
        return n == 4 && ngx_http_hookd_seg_is(3, "tail")
               ? NGX_HTTP_HOOKD_NEW_TAIL : NGX_HTTP_HOOKD_NEW_NONE;
    }

    if (r->method == NGX_HTTP_PATCH) {
        return n == 5 && ngx_http_hookd_seg_is(3, "endpoints")
               ? NGX_HTTP_HOOKD_NEW_SIGNATURE : NGX_HTTP_HOOKD_NEW_NONE;
    }

    if (n == 4 && ngx_http_hookd_seg_is(3, "api-keys")) {
        return NGX_HTTP_HOOKD_NEW_KEY;
    }

    if (n == 4 && ngx_http_hookd_seg_is(3, "portal-sessions")) {
        return NGX_HTTP_HOOKD_NEW_TOKEN;
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


/*
 * The API's path: the URI, less the prefix of a location that mounts the
 * API under one (location /portal/ { hookd_admin portal; } serves
 * /portal/v1/apps/… as /v1/apps/…).
 */
static ngx_str_t
ngx_http_hookd_admin_path(ngx_http_request_t *r)
{
    u_char                    *v1;
    size_t                     n;
    ngx_str_t                  path;
    ngx_http_core_loc_conf_t  *clcf;

    path = r->uri;

    if (path.len >= 4 && ngx_strncmp(path.data, "/v1/", 4) == 0) {
        return path;
    }

    v1 = ngx_strlcasestrn(path.data, path.data + path.len,
                          (u_char *) "/v1/", 4 - 1);
    if (v1 == NULL) {
        return path;
    }

    n = v1 - path.data;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (n <= clcf->name.len && ngx_strncmp(clcf->name.data, path.data, n) == 0)
    {
        path.data += n;
        path.len -= n;
    }

    return path;
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


static void
ngx_http_hookd_admin_done(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row)
{
    u_char                *json, *p, *mark;
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

    if (ctx->tail && status == NGX_HTTP_OK) {
        sent = ngx_http_hookd_tail_start(r, body, len);

        if (sent != NGX_DONE) {
            ngx_http_hookd_job_finalize(r, sent);
        }

        return;
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
    /*
     * A secret is shown where PostgreSQL left "secret": null, that is when
     * it stored the one made (an endpoint that signs with v1a only stores
     * none); an API key always is, first.
     */
    mark = NULL;

    if (ctx->reveal.len && ngx_strcmp(ctx->reveal_name, "secret") == 0) {
        mark = ngx_strnstr((u_char *) body, "\"secret\": null", len);
    }

    if (mark && status >= 200 && status < 300) {
        json = ngx_pnalloc(r->pool, len + ctx->reveal.len + 32);
        if (json == NULL) {
            ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_cpymem(json, body, mark - (u_char *) body);
        p = ngx_sprintf(p, "\"secret\": \"%V\"", &ctx->reveal);
        mark += sizeof("\"secret\": null") - 1;
        p = ngx_cpymem(p, mark, (u_char *) body + len - mark);

    } else if (ctx->reveal.len && mark == NULL
               && ngx_strcmp(ctx->reveal_name, "secret") != 0
               && status >= 200 && status < 300 && len > 2 && body[0] == '{')
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
