/*
 * Private to the per-worker pool of PostgreSQL connections:
 * ngx_http_hookd_pool.c (the queues of jobs, their dispatch and the group
 * commit of ingest) and ngx_http_hookd_pg.c (one connection's libpq state
 * machine). Everything else posts jobs through ngx_http_hookd_module.h.
 */

#ifndef _NGX_HTTP_HOOKD_POOL_H_INCLUDED_
#define _NGX_HTTP_HOOKD_POOL_H_INCLUDED_


#include "ngx_http_hookd_module.h"


#define NGX_HTTP_HOOKD_BACKOFF_MIN   50
#define NGX_HTTP_HOOKD_BACKOFF_MAX   1000
#define NGX_HTTP_HOOKD_MAX_QUEUED    65536
#define NGX_HTTP_HOOKD_BATCH_BYTES   (8 * 1024 * 1024)

typedef enum {
    NGX_HTTP_HOOKD_PG_DOWN = 0,
    NGX_HTTP_HOOKD_PG_CONNECTING,
    NGX_HTTP_HOOKD_PG_PREPARING,
    NGX_HTTP_HOOKD_PG_IDLE,
    NGX_HTTP_HOOKD_PG_BUSY
} ngx_http_hookd_pg_state_e;


typedef struct {
    ngx_http_hookd_pool_t          *pool;
    PGconn                         *pg;
    ngx_connection_t               *c;
    ngx_http_hookd_pg_state_e       state;
    ConnStatusType                  conn_status;   /* while connecting */
    ngx_queue_t                     jobs;          /* sent, awaiting rows */
    ngx_http_hookd_stmt_e           stmt;          /* of those jobs */
    PGresult                       *res;
    ngx_http_hookd_job_rc_e         failure;
    /* reconnect while DOWN, otherwise the connect or statement timeout */
    ngx_event_t                     timer;
    ngx_msec_t                      backoff;
    ngx_msec_t                      planned_at;
    unsigned                        flushing:1;
    unsigned                        replanning:1;  /* DISCARD PLANS sent */
    /* the server turned read-only (a failover under way): reconnect, so
       that a multi-host conninfo finds the one that writes */
    unsigned                        replace:1;
    /* the worker's LISTEN connection for the live tail: it runs no jobs */
    unsigned                        listen:1;
} ngx_http_hookd_pg_t;


struct ngx_http_hookd_pool_s {
    ngx_http_hookd_main_conf_t     *hmcf;
    ngx_log_t                      *log;
    ngx_http_hookd_pg_t            *conns;
    ngx_uint_t                      nconns;
    ngx_http_hookd_pg_t             listen;
    ngx_queue_t                     queue[NGX_HTTP_HOOKD_NSTMTS];
    ngx_uint_t                      nqueued[NGX_HTTP_HOOKD_NSTMTS];
    ngx_uint_t                      queued;
    ngx_uint_t                      ingesting;     /* batches in flight */
    /* fails jobs that waited db_timeout for a connection */
    ngx_event_t                     guard;
    u_char                         *buf;
    size_t                          buf_size;
};


extern const char   ngx_http_hookd_prepare_sql[];
extern const char  *ngx_http_hookd_stmt_names[NGX_HTTP_HOOKD_NSTMTS];

/* ngx_http_hookd_pg.c: one connection */
void ngx_http_hookd_pg_init(ngx_http_hookd_pg_t *pc,
    ngx_http_hookd_pool_t *pool, ngx_log_t *log, ngx_uint_t listen);
void ngx_http_hookd_pg_close(ngx_http_hookd_pg_t *pc);
void ngx_http_hookd_pg_send(ngx_http_hookd_pg_t *pc);

/* ngx_http_hookd_pool.c: the pool */
ngx_uint_t ngx_http_hookd_pool_alive(ngx_http_hookd_pool_t *pool);
void ngx_http_hookd_pool_dispatch(ngx_http_hookd_pool_t *pool);
void ngx_http_hookd_pool_fail_queued(ngx_http_hookd_pool_t *pool,
    ngx_msec_t older_than);
void ngx_http_hookd_pool_complete(ngx_queue_t *jobs,
    ngx_http_hookd_job_rc_e rc, PGresult *res);
ngx_int_t ngx_http_hookd_pool_send_batch(ngx_http_hookd_pool_t *pool,
    ngx_http_hookd_pg_t *pc);


#endif /* _NGX_HTTP_HOOKD_POOL_H_INCLUDED_ */
