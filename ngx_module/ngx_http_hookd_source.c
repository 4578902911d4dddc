/*
 * POST /in/<source id> (`hookd_source;`): a provider's webhook, verified on
 * its raw bytes before anything parses it (shared/hookd_verify.c), then
 * stored as an event of the source's application exactly as ingest stores
 * one: the same batch, the same 202 after commit, the same fan-out. The
 * event type and the idempotency key come from where each provider puts
 * them (docs/sources.md); the key lives in the source's own namespace, so a
 * provider's retry is answered 202 with Idempotent-Replayed and stores
 * nothing new.
 *
 * Sources are cached per worker like API keys (hookd_key_cache_ttl), with
 * their secrets opened. Unknown source ids count toward the
 * failed-authentication limit of the address; failed verifications toward
 * the source's own bucket, since providers share their egress addresses.
 */

#include <jansson.h>

#include "ngx_http_hookd_module.h"
#include "hookd_form.h"
#include "hookd_verify.h"


#define NGX_HTTP_HOOKD_SOURCE_SETS    256
#define NGX_HTTP_HOOKD_SOURCE_WAYS    2
#define NGX_HTTP_HOOKD_SOURCE_ID_MAX  64
#define NGX_HTTP_HOOKD_SECRET_LEN     513
#define NGX_HTTP_HOOKD_OPTION_LEN     129

#define ngx_http_hookd_alnum(c)                                              \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z')                \
     || ((c) >= 'A' && (c) <= 'Z'))


typedef struct {
    u_char              hash[HOOKD_KEY_HASH_LEN];   /* of the source id */
    unsigned            used:1;
    unsigned            known:1;
    unsigned            form:1;                     /* options.content */
    ngx_msec_t          expires;
    u_char              app_id[NGX_HTTP_HOOKD_SOURCE_ID_MAX + 1];
    hookd_verify_conf_t verify;                     /* points into below */
    char                secrets[HOOKD_VERIFY_SECRETS]
                               [NGX_HTTP_HOOKD_SECRET_LEN];
    /* hmac, basic, bearer: header, prefix, and where type and id are */
    char                header[NGX_HTTP_HOOKD_OPTION_LEN];
    char                prefix[NGX_HTTP_HOOKD_OPTION_LEN];
    char                type_header[NGX_HTTP_HOOKD_OPTION_LEN];
    char                type_field[NGX_HTTP_HOOKD_OPTION_LEN];
    char                event_type[NGX_HTTP_HOOKD_OPTION_LEN];
    char                id_header[NGX_HTTP_HOOKD_OPTION_LEN];
    char                id_field[NGX_HTTP_HOOKD_OPTION_LEN];
} ngx_http_hookd_source_t;


static ngx_int_t ngx_http_hookd_source_known(ngx_http_request_t *r,
    ngx_http_hookd_source_t *s);
static void ngx_http_hookd_source_looked_up(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);
static ngx_int_t ngx_http_hookd_source_fill(ngx_http_request_t *r,
    ngx_http_hookd_source_t *s, PGresult *res, int row);
static void ngx_http_hookd_source_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_hookd_source_store(ngx_http_request_t *r,
    ngx_http_hookd_source_t *s, hookd_headers_t *hs, ngx_str_t *body);
static ngx_http_hookd_source_t *ngx_http_hookd_source_get(
    const u_char *hash);
static ngx_http_hookd_source_t *ngx_http_hookd_source_put(
    ngx_http_request_t *r, const u_char *hash, ngx_uint_t known);


static ngx_http_hookd_source_t  *ngx_http_hookd_sources;


ngx_int_t
ngx_http_hookd_source_cache_init(ngx_cycle_t *cycle)
{
    ngx_http_hookd_sources = ngx_pcalloc(cycle->pool,
                                 NGX_HTTP_HOOKD_SOURCE_SETS
                                 * NGX_HTTP_HOOKD_SOURCE_WAYS
                                 * sizeof(ngx_http_hookd_source_t));

    return ngx_http_hookd_sources ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_hookd_source_handler(ngx_http_request_t *r)
{
    u_char                      *p, *id;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_str_t                    allow;
    ngx_http_hookd_ctx_t        *ctx;
    ngx_http_hookd_source_t     *s;
    ngx_http_hookd_main_conf_t  *hmcf;

    if (r->method != NGX_HTTP_POST) {
        ngx_str_set(&allow, "POST");
        if (ngx_http_hookd_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_hookd_reply(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "webhooks are sent with POST");
    }

    ctx = ngx_http_hookd_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the source id: the path's last segment */
    id = r->uri.data + r->uri.len;
    while (id > r->uri.data && id[-1] != '/') {
        id--;
    }

    len = r->uri.data + r->uri.len - id;

    for (p = id; p < id + len; p++) {
        if (!(ngx_http_hookd_alnum(*p) || *p == '_')) {
            break;
        }
    }

    rc = ngx_http_hookd_auth_limited_by(r, NULL);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (len == 0 || len > NGX_HTTP_HOOKD_SOURCE_ID_MAX || p != id + len) {
        ngx_http_hookd_auth_failed_by(r, NULL);
        return ngx_http_hookd_reply(r, NGX_HTTP_NOT_FOUND, "not_found",
                   "send to /in/<source id>, the path the source was "
                   "created with");
    }

    ctx->source.data = id;
    ctx->source.len = len;
    hookd_key_hash((char *) id, len, ctx->key_hash);

    /* the source's own bucket: failed verifications of it */
    rc = ngx_http_hookd_auth_limited_by(r, ctx->key_hash);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    s = ngx_http_hookd_source_get(ctx->key_hash);
    if (s != NULL) {
        return ngx_http_hookd_source_known(r, s);
    }

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);

    ctx->job.stmt = NGX_HTTP_HOOKD_STMT_SOURCE_LOOKUP;
    ctx->job.param.data = ngx_pnalloc(r->pool, len + 1);
    if (ctx->job.param.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->job.param.data, id, len);
    ctx->job.param.data[len] = '\0';
    ctx->job.param.len = len;
    ctx->job.handler = ngx_http_hookd_source_looked_up;
    ctx->job.data = r;

    /* as for keys: the reference first, a failed post may finalize */
    r->main->count++;

    if (ngx_http_hookd_pool_post(hmcf->pool, &ctx->job) != NGX_OK) {
        r->main->count--;
        return ngx_http_hookd_unavailable(r, NULL);
    }

    return NGX_DONE;
}


/* a source PostgreSQL knows (or not): only now is the body read */
static ngx_int_t
ngx_http_hookd_source_known(ngx_http_request_t *r, ngx_http_hookd_source_t *s)
{
    ngx_int_t              rc;
    ngx_http_hookd_ctx_t  *ctx;

    if (!s->known) {
        ngx_http_hookd_auth_failed_by(r, NULL);
        return ngx_http_hookd_reply(r, NGX_HTTP_NOT_FOUND, "not_found",
                   "no such source: send to the path the source was "
                   "created with");
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    ctx->app_id.data = s->app_id;
    ctx->app_id.len = ngx_strlen(s->app_id);

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_hookd_source_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_hookd_source_looked_up(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row)
{
    ngx_http_request_t       *r = job->data;
    ngx_http_hookd_ctx_t     *ctx;
    ngx_http_hookd_source_t  *s;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    if (rc != NGX_HTTP_HOOKD_JOB_OK) {
        ngx_http_hookd_job_finalize(r, ngx_http_hookd_unavailable(r, NULL));
        return;
    }

    s = ngx_http_hookd_source_put(r, ctx->key_hash, row >= 0);

    /* not cached (the cache is off, or full of known sources): this
       request's own */
    if (s == NULL) {
        s = ngx_pcalloc(r->pool, sizeof(ngx_http_hookd_source_t));
        if (s == NULL) {
            ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        s->known = (row >= 0);
        ctx->source_entry = s;
    }

    if (row >= 0 && ngx_http_hookd_source_fill(r, s, res, row) != NGX_OK) {
        s->used = 0;
        ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_hookd_job_finalize(r, ngx_http_hookd_source_known(r, s));
}


static ngx_int_t
ngx_http_hookd_source_option(json_t *options, const char *name, char *to)
{
    const char  *v;

    v = json_string_value(json_object_get(options, name));
    to[0] = '\0';

    if (v == NULL) {
        return NGX_OK;
    }

    if (ngx_strlen(v) >= NGX_HTTP_HOOKD_OPTION_LEN) {
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) to, (u_char *) v, NGX_HTTP_HOOKD_OPTION_LEN);

    return NGX_OK;
}


/*
 * The row of hookd.source_lookup into the entry: its secrets opened with
 * the master key, its options checked where they were accepted.
 */
static ngx_int_t
ngx_http_hookd_source_fill(ngx_http_request_t *r, ngx_http_hookd_source_t *s,
    PGresult *res, int row)
{
    char                        *plain;
    size_t                       i, len;
    json_t                      *secrets, *options;
    const char                  *provider, *v;
    hookd_verify_conf_t         *c;
    ngx_http_hookd_main_conf_t  *hmcf;

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);
    c = &s->verify;

    len = PQgetlength(res, row, 0);
    provider = PQgetvalue(res, row, 1);

    if (len > NGX_HTTP_HOOKD_SOURCE_ID_MAX
        || hookd_provider_parse(provider, ngx_strlen(provider), &c->provider)
           != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hookd: source \"%V\" is unreadable", &((
                          ngx_http_hookd_ctx_t *) ngx_http_get_module_ctx(r,
                          ngx_http_hookd_module))->source);
        return NGX_ERROR;
    }

    ngx_memcpy(s->app_id, PQgetvalue(res, row, 0), len);
    s->app_id[len] = '\0';
    c->tolerance = ngx_atoi((u_char *) PQgetvalue(res, row, 4),
                            PQgetlength(res, row, 4));

    secrets = json_loads(PQgetvalue(res, row, 2), 0, NULL);
    options = json_loads(PQgetvalue(res, row, 3), 0, NULL);

    c->nsecrets = 0;

    for (i = 0; i < json_array_size(secrets)
                && c->nsecrets < HOOKD_VERIFY_SECRETS; i++)
    {
        v = json_string_value(json_array_get(secrets, i));
        plain = v ? hookd_unseal(hmcf->secret_key, v) : NULL;

        if (plain == NULL || ngx_strlen(plain) >= NGX_HTTP_HOOKD_SECRET_LEN) {
            /* sealed with another master key: it verifies nothing */
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "hookd: a secret of source \"%s\" cannot be opened "
                          "with hookd_secret_key_file", s->app_id);
            free(plain);
            continue;
        }

        ngx_cpystrn((u_char *) s->secrets[c->nsecrets], (u_char *) plain,
                    NGX_HTTP_HOOKD_SECRET_LEN);
        ngx_explicit_memzero(plain, ngx_strlen(plain));
        free(plain);
        c->secrets[c->nsecrets] = s->secrets[c->nsecrets];
        c->nsecrets++;
    }

    v = json_string_value(json_object_get(options, "algorithm"));
    c->algorithm = v == NULL || ngx_strcmp(v, "sha256") == 0
                   ? HOOKD_HMAC_SHA256
                   : ngx_strcmp(v, "sha1") == 0 ? HOOKD_HMAC_SHA1
                                                : HOOKD_HMAC_SHA512;
    v = json_string_value(json_object_get(options, "encoding"));
    c->base64 = v != NULL && ngx_strcmp(v, "base64") == 0;
    v = json_string_value(json_object_get(options, "content"));
    s->form = v != NULL && ngx_strcmp(v, "form") == 0;

    if (ngx_http_hookd_source_option(options, "header", s->header) != NGX_OK
        || ngx_http_hookd_source_option(options, "prefix", s->prefix)
           != NGX_OK
        || ngx_http_hookd_source_option(options, "type_header",
                                        s->type_header) != NGX_OK
        || ngx_http_hookd_source_option(options, "type_field", s->type_field)
           != NGX_OK
        || ngx_http_hookd_source_option(options, "event_type", s->event_type)
           != NGX_OK
        || ngx_http_hookd_source_option(options, "id_header", s->id_header)
           != NGX_OK
        || ngx_http_hookd_source_option(options, "id_field", s->id_field)
           != NGX_OK)
    {
        json_decref(secrets);
        json_decref(options);
        return NGX_ERROR;
    }

    c->header = s->header;
    c->prefix = s->prefix[0] ? s->prefix : NULL;

    json_decref(secrets);
    json_decref(options);

    return NGX_OK;
}


static void
ngx_http_hookd_source_body(ngx_http_request_t *r)
{
    char                      why[256];
    ngx_str_t                 body;
    ngx_int_t                 rc;
    ngx_uint_t                i, n;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    hookd_header_t           *list;
    hookd_headers_t           hs;
    hookd_verify_e            verdict;
    ngx_http_hookd_ctx_t     *ctx;
    ngx_http_hookd_source_t  *s;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    /*
     * The entry read before the body: this request's own, or the cache's,
     * unless another source took its place while the body came (then the
     * provider's retry finds it again).
     */
    s = ctx->source_entry;
    if (s == NULL) {
        s = ngx_http_hookd_source_get(ctx->key_hash);
    }

    if (s == NULL || !s->known) {
        ngx_http_hookd_job_finalize(r, ngx_http_hookd_unavailable(r,
                                           "the source was reloaded while "
                                           "the body was read; retry"));
        return;
    }

    if (ngx_http_hookd_body_flatten(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = 0;
    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    list = ngx_palloc(r->pool, (n + 1) * sizeof(hookd_header_t));
    if (list == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = 0;
    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;
        for (i = 0; i < part->nelts; i++) {
            list[n].name = (const char *) h[i].key.data;
            list[n].name_len = h[i].key.len;
            list[n].value = (const char *) h[i].value.data;
            list[n].value_len = h[i].value.len;
            n++;
        }
    }

    hs.list = list;
    hs.n = n;

    verdict = hookd_verify(&s->verify, &hs, body.data, body.len, ngx_time(),
                           why, sizeof(why));

    if (verdict != HOOKD_VERIFIED) {
        ngx_http_hookd_auth_failed_by(r, ctx->key_hash);
        rc = ngx_http_hookd_send_error(r, NGX_HTTP_UNAUTHORIZED,
                 verdict == HOOKD_STALE_SIGNATURE ? "stale_signature"
                                                  : "invalid_signature", why);
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_hookd_source_store(r, s, &hs, &body);
    if (rc != NGX_DONE) {
        ngx_http_hookd_job_finalize(r, rc);
    }
}


/* a header's value, as a NUL-terminated copy in the pool, or NULL */
static char *
ngx_http_hookd_source_header(ngx_http_request_t *r, hookd_headers_t *hs,
    const char *name)
{
    char        *copy;
    size_t       len;
    const char  *v;

    if (name[0] == '\0' || hookd_header_find(hs, name, &v, &len) != 1) {
        return NULL;
    }

    copy = ngx_pnalloc(r->pool, len + 1);
    if (copy != NULL) {
        ngx_memcpy(copy, v, len);
        copy[len] = '\0';
    }

    return copy;
}


/* a string (or a number, for ids) at a JSON pointer such as /data/type */
static const char *
ngx_http_hookd_source_field(ngx_http_request_t *r, json_t *v,
    const char *pointer)
{
    u_char      *p;
    char         key[NGX_HTTP_HOOKD_OPTION_LEN];
    size_t       n;
    const char  *seg, *next;

    for (seg = pointer; v && *seg == '/'; seg = next) {
        next = ngx_strchr(seg + 1, '/');
        n = next ? (size_t) (next - seg - 1) : ngx_strlen(seg + 1);
        if (next == NULL) {
            next = seg + 1 + n;
        }

        if (n >= sizeof(key)) {
            return NULL;
        }

        ngx_memcpy(key, seg + 1, n);
        key[n] = '\0';
        v = json_object_get(v, key);
    }

    if (json_is_string(v)) {
        return json_string_value(v);
    }

    if (json_is_integer(v)) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
        if (p != NULL) {
            *ngx_sprintf(p, "%L", (int64_t) json_integer_value(v)) = '\0';
        }
        return (const char *) p;
    }

    return NULL;
}


/* a provider's type in the type alphabet: others become _, cut to 128 */
static ngx_int_t
ngx_http_hookd_source_type(ngx_http_request_t *r, const char *a,
    const char *b, ngx_str_t *type)
{
    u_char  *p;
    size_t   i, la, lb;

    if (a == NULL || a[0] == '\0') {
        a = "unknown";
        b = NULL;
    }

    la = ngx_strlen(a);
    lb = b && b[0] ? ngx_strlen(b) + 1 : 0;

    p = ngx_pnalloc(r->pool, la + lb);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, a, la);
    if (lb) {
        p[la] = '.';
        ngx_memcpy(p + la + 1, b, lb - 1);
    }

    type->data = p;
    type->len = ngx_min(la + lb, 128);

    for (i = 0; i < type->len; i++) {
        if (!(ngx_http_hookd_alnum(p[i]) || p[i] == '_' || p[i] == '.' || p[i] == ':'
              || p[i] == '-'))
        {
            p[i] = '_';
        }
    }

    return NGX_OK;
}


/*
 * The verified webhook as an event: its payload (the body's JSON text as
 * it came, never re-encoded; a form's payload field or its fields), its
 * type and idempotency key from where the provider puts them. NGX_DONE
 * once it joined a batch; otherwise what to finalize with (an answer sent,
 * as Slack's challenge, or an error).
 */
static ngx_int_t
ngx_http_hookd_source_store(ngx_http_request_t *r, ngx_http_hookd_source_t *s,
    hookd_headers_t *hs, ngx_str_t *body)
{
    u_char                *p;
    char                  *dumped, *ct;
    json_t                *doc, *form, *inner;
    ngx_str_t              text, type, event;
    ngx_int_t              rc;
    ngx_uint_t             is_form, wrap;
    json_error_t           err;
    const char            *a, *b, *id;
    hookd_provider_e       provider;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    provider = s->verify.provider;

    ct = ngx_http_hookd_source_header(r, hs, "content-type");
    is_form = s->form
              || ((provider == HOOKD_PROVIDER_GITHUB
                   || provider == HOOKD_PROVIDER_SLACK)
                  && ct && ngx_strncasecmp((u_char *) ct, (u_char *)
                         "application/x-www-form-urlencoded", 33) == 0);

    text = *body;
    form = NULL;
    dumped = NULL;

    if (is_form) {
        form = hookd_form_object((const char *) body->data, body->len);
        if (form == NULL) {
            return ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_form", "the form body is not UTF-8 "
                       "name=value pairs, each name once");
        }

        inner = json_object_get(form, "payload");

        if (json_is_string(inner)) {
            text.data = (u_char *) json_string_value(inner);
            text.len = json_string_length(inner);

        } else {
            dumped = json_dumps(form, JSON_COMPACT);
            if (dumped == NULL) {
                json_decref(form);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            text.data = (u_char *) dumped;
            text.len = ngx_strlen(dumped);
        }
    }

    doc = NULL;

    if (hookd_json_depth((const char *) text.data, text.len,
                         HOOKD_MAX_JSON_DEPTH) < 0
        || hookd_json_unstorable_number((const char *) text.data, text.len)
           >= 0
        || (doc = json_loadb((const char *) text.data, text.len, 0, &err))
           == NULL)
    {
        rc = ngx_http_hookd_send_error(r, NGX_HTTP_BAD_REQUEST,
                 "invalid_json", "the webhook's body is not JSON this store "
                 "takes (depth at most 64, numbers PostgreSQL can store)");
        goto done;
    }

    /* Slack checks a new Events API URL with a challenge, not stored */
    if (provider == HOOKD_PROVIDER_SLACK
        && ngx_strcmp(json_string_value(json_object_get(doc, "type"))
                      ? json_string_value(json_object_get(doc, "type")) : "",
                      "url_verification") == 0)
    {
        char    *reply;
        json_t  *answer;

        answer = json_pack("{s:O?}", "challenge",
                           json_object_get(doc, "challenge"));
        reply = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        json_decref(answer);

        if (reply == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        p = ngx_pnalloc(r->pool, ngx_strlen(reply));
        if (p == NULL) {
            free(reply);
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        ngx_memcpy(p, reply, ngx_strlen(reply));
        rc = ngx_http_hookd_send_json(r, NGX_HTTP_OK, p, ngx_strlen(reply));
        free(reply);
        goto done;
    }

    a = NULL;
    b = NULL;
    id = NULL;

    switch (provider) {

    case HOOKD_PROVIDER_STRIPE:
    case HOOKD_PROVIDER_STANDARD:
        a = ngx_http_hookd_source_field(r, doc, "/type");
        id = provider == HOOKD_PROVIDER_STRIPE
             ? ngx_http_hookd_source_field(r, doc, "/id")
             : ngx_http_hookd_source_header(r, hs, "webhook-id");
        break;

    case HOOKD_PROVIDER_GITHUB:
        a = ngx_http_hookd_source_header(r, hs, "x-github-event");
        b = ngx_http_hookd_source_field(r, doc, "/action");
        id = ngx_http_hookd_source_header(r, hs, "x-github-delivery");
        break;

    case HOOKD_PROVIDER_SHOPIFY:
        a = ngx_http_hookd_source_header(r, hs, "x-shopify-topic");
        id = ngx_http_hookd_source_header(r, hs, "x-shopify-webhook-id");
        if (a) {
            for (p = (u_char *) a; *p; p++) {
                *p = *p == '/' ? '.' : *p;
            }
        }
        break;

    case HOOKD_PROVIDER_SLACK:
        a = "slack";
        b = ngx_http_hookd_source_field(r, doc, "/event/type");
        if (b == NULL) {
            b = ngx_http_hookd_source_field(r, doc, "/type");
        }
        if (b == NULL && json_object_get(doc, "command")) {
            b = "slash_command";
        }
        id = ngx_http_hookd_source_field(r, doc, "/event_id");
        break;

    default:
        a = s->event_type[0] ? s->event_type
            : s->type_header[0]
            ? ngx_http_hookd_source_header(r, hs, s->type_header)
            : ngx_http_hookd_source_field(r, doc, s->type_field);
        id = s->id_header[0]
             ? ngx_http_hookd_source_header(r, hs, s->id_header)
             : s->id_field[0]
             ? ngx_http_hookd_source_field(r, doc, s->id_field) : NULL;
    }

    if (ngx_http_hookd_source_type(r, a, b, &type) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    /* a key the store cannot take dedupes nothing, and is dropped */
    if (id && hookd_valid_idempotency_key(id, ngx_strlen(id))) {
        ctx->idempotency_key.data = (u_char *) id;
        ctx->idempotency_key.len = ngx_strlen(id);
    }

    wrap = !json_is_object(doc);

    /* {"event_type":"<type>","payload":<text>} */
    event.len = sizeof("{\"event_type\":\"\",\"payload\":}") - 1 + type.len
                + text.len + (wrap ? sizeof("{\"data\":}") - 1 : 0);
    event.data = ngx_pnalloc(r->pool, event.len);
    if (event.data == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    p = ngx_sprintf(event.data, "{\"event_type\":\"%V\",\"payload\":%s",
                    &type, wrap ? "{\"data\":" : "");
    p = ngx_cpymem(p, text.data, text.len);
    p = ngx_cpymem(p, wrap ? "}}" : "}", wrap ? 2 : 1);
    event.len = p - event.data;

    rc = ngx_http_hookd_ingest_event(r, &event);

done:

    json_decref(doc);
    json_decref(form);
    free(dumped);

    return rc;
}


static ngx_http_hookd_source_t *
ngx_http_hookd_source_set(const u_char *hash)
{
    return &ngx_http_hookd_sources[((hash[0] | (hash[1] << 8))
                                    % NGX_HTTP_HOOKD_SOURCE_SETS)
                                   * NGX_HTTP_HOOKD_SOURCE_WAYS];
}


static ngx_http_hookd_source_t *
ngx_http_hookd_source_get(const u_char *hash)
{
    ngx_uint_t                i;
    ngx_http_hookd_source_t  *s;

    s = ngx_http_hookd_source_set(hash);

    for (i = 0; i < NGX_HTTP_HOOKD_SOURCE_WAYS; i++) {
        if (s[i].used
            && ngx_memcmp(s[i].hash, hash, HOOKD_KEY_HASH_LEN) == 0
            && (ngx_msec_int_t) (s[i].expires - ngx_current_msec) > 0)
        {
            return &s[i];
        }
    }

    return NULL;
}


/*
 * A way for a source, as the key cache chooses (ngx_http_hookd_auth.c): its
 * own, a free or stale one, an unknown id's, and for a known source only,
 * the known one closest to expiry. NULL: not cached.
 */
static ngx_http_hookd_source_t *
ngx_http_hookd_source_put(ngx_http_request_t *r, const u_char *hash,
    ngx_uint_t known)
{
    ngx_uint_t                  i;
    ngx_msec_int_t              left, best;
    ngx_http_hookd_source_t    *s, *way, *unknown, *oldest;
    ngx_http_hookd_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    if (hlcf->key_cache_ttl == 0) {
        return NULL;
    }

    s = ngx_http_hookd_source_set(hash);
    way = NULL;
    unknown = NULL;
    oldest = NULL;
    best = 0;

    for (i = 0; i < NGX_HTTP_HOOKD_SOURCE_WAYS && way == NULL; i++) {
        left = (ngx_msec_int_t) (s[i].expires - ngx_current_msec);

        if (!s[i].used || left <= 0
            || ngx_memcmp(s[i].hash, hash, HOOKD_KEY_HASH_LEN) == 0)
        {
            way = &s[i];

        } else if (!s[i].known) {
            unknown = &s[i];

        } else if (oldest == NULL || left < best) {
            oldest = &s[i];
            best = left;
        }
    }

    if (way == NULL) {
        way = unknown ? unknown : known ? oldest : NULL;
    }

    if (way == NULL) {
        return NULL;
    }

    ngx_explicit_memzero(way, sizeof(ngx_http_hookd_source_t));
    ngx_memcpy(way->hash, hash, HOOKD_KEY_HASH_LEN);
    way->used = 1;
    way->known = known;
    way->expires = ngx_current_msec + hlcf->key_cache_ttl;

    return way;
}
