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
#include "ngx_http_hookd_source.h"


static ngx_int_t ngx_http_hookd_source_known(ngx_http_request_t *r,
    ngx_http_hookd_source_t *s);
static void ngx_http_hookd_source_looked_up(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);
static ngx_int_t ngx_http_hookd_source_fill(ngx_http_request_t *r,
    ngx_http_hookd_source_t *s, PGresult *res, int row);
static void ngx_http_hookd_source_body(ngx_http_request_t *r);
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

    ctx->job.stmt = NGX_HTTP_HOOKD_STMT_SOURCE_LOOKUP;
    ctx->job.param.data = ngx_pnalloc(r->pool, len + 1);
    if (ctx->job.param.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->job.param.data, id, len);
    ctx->job.param.data[len] = '\0';
    ctx->job.param.len = len;
    ctx->job.handler = ngx_http_hookd_source_looked_up;

    return ngx_http_hookd_post_from_handler(r);
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

    rc = ngx_http_hookd_source_event(r, s, &hs, &body);
    if (rc != NGX_DONE) {
        ngx_http_hookd_job_finalize(r, rc);
    }
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
