/*
 * ngx_http_hookd_module: webhook ingest at the edge. Requests are
 * authenticated, rate-limited and validated in nginx, then committed to
 * PostgreSQL in batches over a per-worker pool of non-blocking libpq
 * connections driven by nginx's own event loop.
 */

#ifndef NGX_HTTP_HOOKD_MODULE_H
#define NGX_HTTP_HOOKD_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libpq-fe.h>
#include <jansson.h>

#include "hookd_key.h"
#include "hookd_seal.h"
#include "hookd_validate.h"
#include "hookd_classify.h"


#define NGX_HTTP_HOOKD_VERSION  "0.1.0"

/* nginx 1.22 has neither a name nor a status line for it */
#define NGX_HTTP_HOOKD_UNPROCESSABLE  422


typedef struct ngx_http_hookd_pool_s   ngx_http_hookd_pool_t;
typedef struct ngx_http_hookd_job_s    ngx_http_hookd_job_t;
typedef struct ngx_http_hookd_limit_s  ngx_http_hookd_limit_t;


typedef enum {
    NGX_HTTP_HOOKD_STMT_KEY_LOOKUP = 0,
    NGX_HTTP_HOOKD_STMT_SOURCE_LOOKUP,
    NGX_HTTP_HOOKD_STMT_INGEST,
    NGX_HTTP_HOOKD_STMT_ADMIN,
    NGX_HTTP_HOOKD_STMT_TAIL_FETCH,
    NGX_HTTP_HOOKD_NSTMTS
} ngx_http_hookd_stmt_e;


/* how a job ended: its result row, or why there is none */
typedef enum {
    NGX_HTTP_HOOKD_JOB_OK = 0,
    NGX_HTTP_HOOKD_JOB_UNAVAILABLE,   /* PostgreSQL unreachable: 503 */
    NGX_HTTP_HOOKD_JOB_FAILED         /* the statement failed: 500 */
} ngx_http_hookd_job_rc_e;


typedef void (*ngx_http_hookd_job_handler_pt)(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);


/* what an API key may do: its scopes; a portal session's token has its own */
#define NGX_HTTP_HOOKD_SCOPE_INGEST  0x01
#define NGX_HTTP_HOOKD_SCOPE_ADMIN   0x02
#define NGX_HTTP_HOOKD_SCOPE_PORTAL  0x04

/* hookd_admin; and hookd_admin portal; */
#define NGX_HTTP_HOOKD_ADMIN_OPERATOR  1
#define NGX_HTTP_HOOKD_ADMIN_PORTAL    2

/* what a request does once its key is good: a content handler's result */
typedef ngx_int_t (*ngx_http_hookd_key_next_pt)(ngx_http_request_t *r);


struct ngx_http_hookd_job_s {
    ngx_queue_t                     queue;
    ngx_http_hookd_stmt_e           stmt;
    /*
     * KEY_LOOKUP: the 32-byte key hash; SOURCE_LOOKUP: the source id;
     * INGEST: one JSON batch item; ADMIN: the request as JSON,
     * NUL-terminated; TAIL_FETCH: the ids to fetch (tail.sql)
     */
    ngx_str_t                       param;
    ngx_msec_t                      queued_at;
    ngx_http_hookd_job_handler_pt   handler;
    void                           *data;
};


typedef struct {
    ngx_str_t                       conninfo;
    ngx_uint_t                      pool_size;
    ngx_uint_t                      batch_size;
    ngx_msec_t                      db_timeout;
    ngx_msec_t                      replan_interval;
    /* seals the endpoint secrets that the admin API makes */
    u_char                          secret_key[HOOKD_MASTER_KEY_LEN];
    ngx_flag_t                      secret_key_set;
    ngx_http_hookd_pool_t          *pool;       /* this worker's */
} ngx_http_hookd_main_conf_t;


typedef struct {
    ngx_flag_t                      ingest;
    ngx_flag_t                      admin;     /* NGX_HTTP_HOOKD_ADMIN_* */
    ngx_flag_t                      source;
    size_t                          max_payload;
    /* hookd_classify: the labels hookd.provider and hookd.category */
    ngx_flag_t                      classify;
    ngx_msec_t                      key_cache_ttl;
    size_t                          tail_buffer;
    ngx_shm_zone_t                 *limit_zone;
    /* failed authentications per client address */
    ngx_shm_zone_t                 *auth_limit_zone;
} ngx_http_hookd_loc_conf_t;


/* per request; also marks the responses hookd wrote itself */
typedef struct {
    ngx_http_hookd_job_t            job;
    u_char                          key_hash[HOOKD_KEY_HASH_LEN];
    ngx_uint_t                      key_scope;
    ngx_http_hookd_key_next_pt      key_next;
    ngx_str_t                       idempotency_key;
    ngx_str_t                       body;
    ngx_str_t                       app_id;
    ngx_str_t                       source;       /* empty: "api" */
    hookd_event_class_t                   cls;          /* when classified */
    /* hookd_source: the source when it is not in the worker's cache */
    void                           *source_entry;
    ngx_str_t                       error_json;   /* replaces nginx's page */
    /* admin: a new secret, shown once in the reply under this name */
    const char                     *reveal_name;
    ngx_str_t                       reveal;
    /* the live tail: where in the worker's ring its replay starts */
    uint64_t                        tail_from;
    void                           *tail_client;
    unsigned                        tail:1;
    unsigned                        classified:1;
    unsigned                        own_response:1;
    unsigned                        error_sent:1;
} ngx_http_hookd_ctx_t;


extern ngx_module_t  ngx_http_hookd_module;


/* ngx_http_hookd_request.c */
ngx_http_hookd_ctx_t *ngx_http_hookd_get_ctx(ngx_http_request_t *r);
size_t ngx_http_hookd_json_escape(u_char *dst, const u_char *src, size_t len);
/* {"error": {"code": code, "message": message, "detail": {"hint": hint}}} */
u_char *ngx_http_hookd_error_json(ngx_pool_t *pool, const char *code,
    const char *message, const char *hint, size_t *len);
ngx_int_t ngx_http_hookd_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_hookd_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *json, size_t len);
ngx_int_t ngx_http_hookd_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);
/* the same with error.detail.hint, what to send instead (NULL: none) */
ngx_int_t ngx_http_hookd_send_hint(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *hint);
/* an error answer that also discards the request body */
ngx_int_t ngx_http_hookd_reply(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);
ngx_int_t ngx_http_hookd_reply_hint(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *hint);
/* 503 with Retry-After */
ngx_int_t ngx_http_hookd_unavailable(ngx_http_request_t *r,
    const char *message);
/* the API key of Authorization: Bearer or X-API-Key, if well formed */
ngx_int_t ngx_http_hookd_get_key(ngx_http_request_t *r, ngx_str_t *key);
ngx_table_elt_t *ngx_http_hookd_find_header(ngx_http_request_t *r,
    const char *name, size_t len);
ngx_int_t ngx_http_hookd_json_content_type(ngx_http_request_t *r);
ngx_int_t ngx_http_hookd_body_flatten(ngx_http_request_t *r,
    ngx_str_t *body);
/* 429 rate_limited with Retry-After */
ngx_int_t ngx_http_hookd_too_many(ngx_http_request_t *r,
    ngx_uint_t retry_after, const char *message);
/*
 * Posts ctx->job (its statement, parameter and handler set) from a content
 * handler, which then returns what this returns: NGX_DONE while the job
 * runs (it holds a reference of the request), or the 503 answered.
 */
ngx_int_t ngx_http_hookd_post_from_handler(ngx_http_request_t *r);
/* finalizes from the PostgreSQL connection's event, not the request's */
void ngx_http_hookd_job_finalize(ngx_http_request_t *r, ngx_int_t rc);

/* ngx_http_hookd_pool.c */
ngx_int_t ngx_http_hookd_pool_init(ngx_cycle_t *cycle,
    ngx_http_hookd_main_conf_t *hmcf);
void ngx_http_hookd_pool_done(ngx_http_hookd_pool_t *pool);
ngx_int_t ngx_http_hookd_pool_post(ngx_http_hookd_pool_t *pool,
    ngx_http_hookd_job_t *job);

/* ngx_http_hookd_conninfo.c */
char *ngx_http_hookd_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo);

/* ngx_http_hookd_auth.c */
ngx_int_t ngx_http_hookd_key_cache_init(ngx_cycle_t *cycle);
/*
 * Authenticates the request for a scope, then takes a token of the
 * location's per-key rate limit. When the cache knows the key: next(r)'s
 * result. NGX_DONE while PostgreSQL is asked: next runs when it answers,
 * and the request is finalized with what it returns. Otherwise the refusal
 * (401, 403, 429, 503), already answered.
 */
ngx_int_t ngx_http_hookd_authenticate(ngx_http_request_t *r,
    ngx_uint_t scope, ngx_http_hookd_key_next_pt next);
/*
 * Counts a failed authentication of the request's address (in the zone of
 * hookd_auth_failure_limit, checked before any database round trip).
 */
void ngx_http_hookd_auth_failed(ngx_http_request_t *r);
/*
 * The same limit for another bucket than the address (a source's: its
 * providers share their egress addresses across customers). NULL: the
 * address. NGX_DECLINED when it may try, else the 429 answered.
 */
ngx_int_t ngx_http_hookd_auth_limited_by(ngx_http_request_t *r,
    const u_char *bucket);
void ngx_http_hookd_auth_failed_by(ngx_http_request_t *r,
    const u_char *bucket);

/* forgets a key (revoked) from this worker's cache */
void ngx_http_hookd_key_cache_forget(const u_char *hash);

/* ngx_http_hookd_tail.c, ngx_http_hookd_tail_feed.c: the live tail */
ngx_int_t ngx_http_hookd_tail_init(ngx_cycle_t *cycle,
    ngx_http_hookd_pool_t *pool);
void ngx_http_hookd_tail_done(void);
/* adds "tail" to hookd.admin's request: where a resume starts */
ngx_int_t ngx_http_hookd_tail_prepare(ngx_http_request_t *r, json_t *req);
/* hookd.admin allowed the tail: the stream starts, NGX_DONE, or the
   status to finalize with */
ngx_int_t ngx_http_hookd_tail_start(ngx_http_request_t *r, const char *json,
    size_t len);
/* the LISTEN connection is up (1) or lost (0); a notification it read */
void ngx_http_hookd_tail_listening(ngx_uint_t up);
void ngx_http_hookd_tail_feed(const char *payload);

/* ngx_http_hookd_ingest.c */
ngx_int_t ngx_http_hookd_ingest_handler(ngx_http_request_t *r);
/* the event joins the next batch: NGX_DONE, or what to finalize with */
ngx_int_t ngx_http_hookd_ingest_event(ngx_http_request_t *r,
    ngx_str_t *event);

/* ngx_http_hookd_source.c */
ngx_int_t ngx_http_hookd_source_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_hookd_source_cache_init(ngx_cycle_t *cycle);

/* ngx_http_hookd_admin.c */
ngx_int_t ngx_http_hookd_admin_handler(ngx_http_request_t *r);

/*
 * ngx_http_hookd_admin_seal.c: each changes the request's body or adds to
 * req what PostgreSQL is to store; NGX_DECLINED (filter, headers) or NGX_OK
 * to go on, NGX_DECLINED for a secret that is malformed, else what to
 * answer.
 */
ngx_int_t ngx_http_hookd_admin_filter(ngx_http_request_t *r, json_t *body);
ngx_int_t ngx_http_hookd_admin_headers(ngx_http_request_t *r, json_t *body);
ngx_int_t ngx_http_hookd_admin_secret(ngx_http_request_t *r, json_t *req,
    json_t *body);
ngx_int_t ngx_http_hookd_admin_source_secret(ngx_http_request_t *r,
    json_t *req, json_t *body);
/* a new API key (hk_), or a portal session's token (hkp_) */
ngx_int_t ngx_http_hookd_admin_key(ngx_http_request_t *r, json_t *req,
    ngx_uint_t portal);
ngx_int_t ngx_http_hookd_admin_signing_key(ngx_http_request_t *r,
    json_t *req);
char *ngx_http_hookd_secret_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_hookd_limit.c */
char *ngx_http_hookd_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_hookd_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* hookd_admin's zone when its location has no hookd_rate_limit */
ngx_shm_zone_t *ngx_http_hookd_limit_admin_zone(ngx_conf_t *cf);
/* NGX_OK, or NGX_BUSY with *retry_after set in seconds */
ngx_int_t ngx_http_hookd_limit_take(ngx_shm_zone_t *zone,
    const u_char *key_hash, ngx_uint_t *retry_after);
/* as take, without taking: NGX_BUSY when the bucket is empty */
ngx_int_t ngx_http_hookd_limit_peek(ngx_shm_zone_t *zone,
    const u_char *key_hash, ngx_uint_t *retry_after);

#endif /* NGX_HTTP_HOOKD_MODULE_H */
