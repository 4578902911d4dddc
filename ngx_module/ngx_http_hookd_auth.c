/*
 * Who sends the request: the address's failed-authentication limit, the
 * API key (a per-worker cache in front of PostgreSQL), what the key may do,
 * then the key's rate limit. Ingest and the admin API both ask here before
 * they read a body, so that nobody without a good key makes nginx read one.
 *
 * The cache is set-associative. A key that PostgreSQL knows (valid, revoked
 * or expired) is never pushed out by one it does not: made-up keys cost
 * nothing to send, and however many arrive, they only ever take the ways
 * that unknown keys or free slots hold.
 */

#include "ngx_http_hookd_module.h"


#define NGX_HTTP_HOOKD_KEY_SETS     1024
#define NGX_HTTP_HOOKD_KEY_WAYS     4
#define NGX_HTTP_HOOKD_APP_ID_MAX   64


typedef enum {
    NGX_HTTP_HOOKD_KEY_UNKNOWN = 0,
    NGX_HTTP_HOOKD_KEY_ACTIVE,
    NGX_HTTP_HOOKD_KEY_REVOKED,
    NGX_HTTP_HOOKD_KEY_EXPIRED
} ngx_http_hookd_key_state_e;


typedef struct {
    u_char          hash[HOOKD_KEY_HASH_LEN];
    u_char          app_id[NGX_HTTP_HOOKD_APP_ID_MAX];
    u_char          app_id_len;
    u_char          state;         /* ngx_http_hookd_key_state_e */
    u_char          scopes;        /* NGX_HTTP_HOOKD_SCOPE_* */
    unsigned        used:1;
    unsigned        has_app:1;
    ngx_msec_t      expires;
} ngx_http_hookd_key_entry_t;


static ngx_int_t ngx_http_hookd_auth_limited(ngx_http_request_t *r);
static ngx_int_t ngx_http_hookd_key_verdict(ngx_http_request_t *r,
    const ngx_http_hookd_key_entry_t *e);
static ngx_http_hookd_key_entry_t *ngx_http_hookd_key_cache_get(
    const u_char *hash);
static void ngx_http_hookd_key_cache_put(ngx_http_request_t *r,
    const ngx_http_hookd_key_entry_t *e);
static void ngx_http_hookd_key_looked_up(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);


static ngx_http_hookd_key_entry_t  *ngx_http_hookd_key_cache;


ngx_int_t
ngx_http_hookd_key_cache_init(ngx_cycle_t *cycle)
{
    ngx_http_hookd_key_cache = ngx_pcalloc(cycle->pool,
                                   NGX_HTTP_HOOKD_KEY_SETS
                                   * NGX_HTTP_HOOKD_KEY_WAYS
                                   * sizeof(ngx_http_hookd_key_entry_t));

    return ngx_http_hookd_key_cache ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_hookd_authenticate(ngx_http_request_t *r, ngx_uint_t scope,
    ngx_http_hookd_key_next_pt next)
{
    ngx_int_t                    rc;
    ngx_str_t                    key;
    ngx_http_hookd_ctx_t        *ctx;
    ngx_http_hookd_key_entry_t  *e;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    ctx->key_scope = scope;
    ctx->key_next = next;

    rc = ngx_http_hookd_auth_limited(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_hookd_get_key(r, &key) != NGX_OK) {
        ngx_http_hookd_auth_failed(r);
        return ngx_http_hookd_reply(r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                   scope == NGX_HTTP_HOOKD_SCOPE_ADMIN
                   ? "send an admin API key or a portal session token as "
                     "\"Authorization: Bearer <key>\" or \"X-API-Key: "
                     "<key>\""
                   : scope == NGX_HTTP_HOOKD_SCOPE_PORTAL
                   ? "send a portal session token as \"Authorization: "
                     "Bearer hkp_...\""
                   : "send an API key as \"Authorization: Bearer <key>\" "
                     "or \"X-API-Key: <key>\"");
    }

    hookd_key_hash((char *) key.data, key.len, ctx->key_hash);

    e = ngx_http_hookd_key_cache_get(ctx->key_hash);

    if (e != NULL) {
        rc = ngx_http_hookd_key_verdict(r, e);
        return rc == NGX_DECLINED ? next(r) : rc;
    }

    ctx->job.stmt = NGX_HTTP_HOOKD_STMT_KEY_LOOKUP;
    ctx->job.param.data = ctx->key_hash;
    ctx->job.param.len = HOOKD_KEY_HASH_LEN;
    ctx->job.handler = ngx_http_hookd_key_looked_up;

    return ngx_http_hookd_post_from_handler(r);
}


/* the client's address (realip's, behind a load balancer) as a bucket key */
static void
ngx_http_hookd_address_hash(ngx_http_request_t *r, u_char *hash)
{
    hookd_key_hash((char *) r->connection->addr_text.data,
                   r->connection->addr_text.len, hash);
}


static ngx_int_t
ngx_http_hookd_auth_limited(ngx_http_request_t *r)
{
    return ngx_http_hookd_auth_limited_by(r, NULL);
}


ngx_int_t
ngx_http_hookd_auth_limited_by(ngx_http_request_t *r, const u_char *bucket)
{
    u_char                      hash[HOOKD_KEY_HASH_LEN];
    ngx_uint_t                  retry_after;
    ngx_http_hookd_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    if (hlcf->auth_limit_zone == NULL) {
        return NGX_DECLINED;
    }

    if (bucket == NULL) {
        ngx_http_hookd_address_hash(r, hash);
        bucket = hash;
    }

    if (ngx_http_hookd_limit_peek(hlcf->auth_limit_zone, bucket, &retry_after)
        == NGX_OK)
    {
        return NGX_DECLINED;
    }

    return ngx_http_hookd_too_many(r, retry_after,
               "too many failed authentications; retry after the "
               "Retry-After seconds with valid credentials");
}


void
ngx_http_hookd_auth_failed(ngx_http_request_t *r)
{
    ngx_http_hookd_auth_failed_by(r, NULL);
}


void
ngx_http_hookd_auth_failed_by(ngx_http_request_t *r, const u_char *bucket)
{
    u_char                      hash[HOOKD_KEY_HASH_LEN];
    ngx_uint_t                  retry_after;
    ngx_http_hookd_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    if (hlcf->auth_limit_zone == NULL) {
        return;
    }

    if (bucket == NULL) {
        ngx_http_hookd_address_hash(r, hash);
        bucket = hash;
    }

    (void) ngx_http_hookd_limit_take(hlcf->auth_limit_zone, bucket,
                                     &retry_after);
}


/* NGX_DECLINED with ctx->app_id set and a token taken, or the refusal */
static ngx_int_t
ngx_http_hookd_key_verdict(ngx_http_request_t *r,
    const ngx_http_hookd_key_entry_t *e)
{
    ngx_uint_t                  status, want, retry_after;
    const char                 *message;
    ngx_http_hookd_ctx_t       *ctx;
    ngx_http_hookd_loc_conf_t  *hlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    status = NGX_HTTP_FORBIDDEN;

    /* an operators' admin location takes portal tokens too */
    want = ctx->key_scope;
    if (want == NGX_HTTP_HOOKD_SCOPE_ADMIN) {
        want |= NGX_HTTP_HOOKD_SCOPE_PORTAL;
    }

    switch (e->state) {

    case NGX_HTTP_HOOKD_KEY_UNKNOWN:
        status = NGX_HTTP_UNAUTHORIZED;
        message = "unknown API key";
        break;

    case NGX_HTTP_HOOKD_KEY_REVOKED:
        message = (e->scopes & NGX_HTTP_HOOKD_SCOPE_PORTAL)
                  ? "this portal session was revoked"
                  : "this API key was revoked";
        break;

    case NGX_HTTP_HOOKD_KEY_EXPIRED:
        message = (e->scopes & NGX_HTTP_HOOKD_SCOPE_PORTAL)
                  ? "this portal session has expired"
                  : "this API key has expired";
        break;

    default:
        /* an operator's key (no application) ingests for nobody */
        if ((e->scopes & want)
            && (ctx->key_scope != NGX_HTTP_HOOKD_SCOPE_INGEST || e->has_app))
        {
            message = NULL;

        } else if (ctx->key_scope == NGX_HTTP_HOOKD_SCOPE_PORTAL) {
            message = "this location takes portal session tokens (hkp_...) "
                      "only";

        } else {
            message = ctx->key_scope == NGX_HTTP_HOOKD_SCOPE_ADMIN
                      ? "this API key has no admin scope"
                      : (e->scopes & NGX_HTTP_HOOKD_SCOPE_PORTAL)
                      ? "a portal session token cannot ingest"
                      : "this API key has no ingest scope";
        }
    }

    if (message != NULL) {
        ngx_http_hookd_auth_failed(r);
        return ngx_http_hookd_reply(r, status,
                   status == NGX_HTTP_UNAUTHORIZED ? "unauthorized"
                                                   : "forbidden", message);
    }

    ctx->app_id.len = e->app_id_len;
    ctx->app_id.data = ngx_pnalloc(r->pool, e->app_id_len + 1);
    if (ctx->app_id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->app_id.data, e->app_id, e->app_id_len);

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    if (hlcf->limit_zone
        && ngx_http_hookd_limit_take(hlcf->limit_zone, ctx->key_hash,
                                     &retry_after) == NGX_BUSY)
    {
        return ngx_http_hookd_too_many(r, retry_after,
                   "this API key is over its rate limit; retry after the "
                   "Retry-After seconds");
    }

    return NGX_DECLINED;
}


static ngx_http_hookd_key_entry_t *
ngx_http_hookd_key_set(const u_char *hash)
{
    return &ngx_http_hookd_key_cache[((hash[0] | (hash[1] << 8))
                                      % NGX_HTTP_HOOKD_KEY_SETS)
                                     * NGX_HTTP_HOOKD_KEY_WAYS];
}


void
ngx_http_hookd_key_cache_forget(const u_char *hash)
{
    ngx_http_hookd_key_entry_t  *e;

    e = ngx_http_hookd_key_cache ? ngx_http_hookd_key_cache_get(hash) : NULL;

    if (e != NULL) {
        e->used = 0;
    }
}


static ngx_http_hookd_key_entry_t *
ngx_http_hookd_key_cache_get(const u_char *hash)
{
    ngx_uint_t                   i;
    ngx_http_hookd_key_entry_t  *e;

    e = ngx_http_hookd_key_set(hash);

    for (i = 0; i < NGX_HTTP_HOOKD_KEY_WAYS; i++) {
        if (e[i].used
            && ngx_memcmp(e[i].hash, hash, HOOKD_KEY_HASH_LEN) == 0
            && (ngx_msec_int_t) (e[i].expires - ngx_current_msec) > 0)
        {
            return &e[i];
        }
    }

    return NULL;
}


/*
 * The way a new entry takes: its own key's, else a free or stale one, else
 * the unknown key closest to expiry, else, for a known key only, the known
 * key closest to expiry. An unknown key finding only known ones is not
 * cached.
 */
static void
ngx_http_hookd_key_cache_put(ngx_http_request_t *r,
    const ngx_http_hookd_key_entry_t *n)
{
    ngx_uint_t                   i;
    ngx_msec_int_t               left, unknown_left, known_left;
    ngx_http_hookd_loc_conf_t   *hlcf;
    ngx_http_hookd_key_entry_t  *e, *way, *unknown, *known;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    if (hlcf->key_cache_ttl == 0) {
        return;
    }

    e = ngx_http_hookd_key_set(n->hash);
    way = NULL;
    unknown = NULL;
    known = NULL;
    unknown_left = 0;
    known_left = 0;

    for (i = 0; i < NGX_HTTP_HOOKD_KEY_WAYS && way == NULL; i++) {
        left = (ngx_msec_int_t) (e[i].expires - ngx_current_msec);

        if (!e[i].used || left <= 0
            || ngx_memcmp(e[i].hash, n->hash, HOOKD_KEY_HASH_LEN) == 0)
        {
            way = &e[i];

        } else if (e[i].state == NGX_HTTP_HOOKD_KEY_UNKNOWN) {
            if (unknown == NULL || left < unknown_left) {
                unknown = &e[i];
                unknown_left = left;
            }

        } else if (known == NULL || left < known_left) {
            known = &e[i];
            known_left = left;
        }
    }

    if (way == NULL) {
        way = unknown;
    }

    if (way == NULL && n->state != NGX_HTTP_HOOKD_KEY_UNKNOWN) {
        way = known;
    }

    if (way == NULL) {
        return;
    }

    *way = *n;
    way->used = 1;
    way->expires = ngx_current_msec + hlcf->key_cache_ttl;
}


static void
ngx_http_hookd_key_looked_up(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row)
{
    size_t                       len;
    ngx_int_t                    status;
    const char                  *scopes, *state;
    ngx_http_request_t          *r = job->data;
    ngx_http_hookd_ctx_t        *ctx;
    ngx_http_hookd_key_entry_t   e;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    if (rc != NGX_HTTP_HOOKD_JOB_OK) {
        ngx_http_hookd_job_finalize(r, ngx_http_hookd_unavailable(r, NULL));
        return;
    }

    ngx_memzero(&e, sizeof(e));
    ngx_memcpy(e.hash, ctx->key_hash, HOOKD_KEY_HASH_LEN);
    e.state = NGX_HTTP_HOOKD_KEY_UNKNOWN;

    if (row >= 0) {
        scopes = PQgetvalue(res, row, 2);
        state = PQgetvalue(res, row, 3);
        len = PQgetlength(res, row, 1);

        e.state = ngx_strcmp(state, "revoked") == 0
                  ? NGX_HTTP_HOOKD_KEY_REVOKED
                  : ngx_strcmp(state, "expired") == 0
                  ? NGX_HTTP_HOOKD_KEY_EXPIRED : NGX_HTTP_HOOKD_KEY_ACTIVE;

        /* scopes are "ingest", "admin" or both, comma separated */
        if (ngx_strstr(scopes, "ingest") != NULL) {
            e.scopes |= NGX_HTTP_HOOKD_SCOPE_INGEST;
        }

        if (ngx_strstr(scopes, "admin") != NULL) {
            e.scopes |= NGX_HTTP_HOOKD_SCOPE_ADMIN;
        }

        if (ngx_strcmp(scopes, "portal") == 0) {
            e.scopes = NGX_HTTP_HOOKD_SCOPE_PORTAL;
        }

        if (!PQgetisnull(res, row, 1)) {
            if (len > NGX_HTTP_HOOKD_APP_ID_MAX) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "hookd: an application id of %uz bytes is "
                              "longer than %d", len,
                              NGX_HTTP_HOOKD_APP_ID_MAX);
                ngx_http_hookd_job_finalize(r,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            e.has_app = 1;
            e.app_id_len = (u_char) len;
            ngx_memcpy(e.app_id, PQgetvalue(res, row, 1), len);
        }
    }

    ngx_http_hookd_key_cache_put(r, &e);

    status = ngx_http_hookd_key_verdict(r, &e);

    if (status == NGX_DECLINED) {
        status = ctx->key_next(r);
    }

    ngx_http_hookd_job_finalize(r, status);
}
