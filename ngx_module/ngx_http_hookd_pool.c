/*
 * A pool of non-blocking libpq connections per nginx worker, driven by the
 * worker's event loop (each connection's state machine is in
 * ngx_http_hookd_pg.c).
 *
 * Jobs wait in per-statement queues. An idle connection takes one key
 * lookup, or one admin request, or up to hookd_batch_size ingest items at
 * once: the group commit, by which the events of concurrent requests commit
 * in one transaction. A worker keeps one ingest batch in flight and lets
 * the next one grow meanwhile; a second starts only when a full batch is
 * already waiting. Fewer, larger commits are what makes durable ingest
 * faster than one insert per transaction.
 */

#include "ngx_http_hookd_pool.h"


static void ngx_http_hookd_pool_guard(ngx_event_t *ev);
static void ngx_http_hookd_pool_arm_guard(ngx_http_hookd_pool_t *pool);


const char  ngx_http_hookd_prepare_sql[] =
    "PREPARE hookd_key_lookup (bytea) AS"
    " SELECT * FROM hookd.key_lookup($1);"
    "PREPARE hookd_source_lookup (text) AS"
    " SELECT * FROM hookd.source_lookup($1);"
    "PREPARE hookd_ingest (jsonb) AS"
    " SELECT * FROM hookd.ingest($1);"
    "PREPARE hookd_admin (jsonb) AS"
    " SELECT * FROM hookd.admin($1);"
    "PREPARE hookd_tail_fetch (text) AS"
    " SELECT * FROM hookd.tail_fetch($1)";

const char  *ngx_http_hookd_stmt_names[NGX_HTTP_HOOKD_NSTMTS] = {
    "hookd_key_lookup",
    "hookd_source_lookup",
    "hookd_ingest",
    "hookd_admin",
    "hookd_tail_fetch"
};


ngx_int_t
ngx_http_hookd_pool_init(ngx_cycle_t *cycle, ngx_http_hookd_main_conf_t *hmcf)
{
    ngx_uint_t              i;
    ngx_http_hookd_pool_t  *pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_hookd_pool_t));
    if (pool == NULL) {
        return NGX_ERROR;
    }

    pool->conns = ngx_pcalloc(cycle->pool,
                              hmcf->pool_size * sizeof(ngx_http_hookd_pg_t));
    if (pool->conns == NULL) {
        return NGX_ERROR;
    }

    pool->hmcf = hmcf;
    pool->log = cycle->log;
    pool->nconns = hmcf->pool_size;

    for (i = 0; i < NGX_HTTP_HOOKD_NSTMTS; i++) {
        ngx_queue_init(&pool->queue[i]);
    }

    pool->guard.handler = ngx_http_hookd_pool_guard;
    pool->guard.data = pool;
    pool->guard.log = cycle->log;

    hmcf->pool = pool;

    for (i = 0; i < pool->nconns; i++) {
        ngx_http_hookd_pg_init(&pool->conns[i], pool, cycle->log, 0);
    }

    ngx_http_hookd_pg_init(&pool->listen, pool, cycle->log, 1);

    return NGX_OK;
}


void
ngx_http_hookd_pool_done(ngx_http_hookd_pool_t *pool)
{
    ngx_uint_t  i;

    if (pool->guard.timer_set) {
        ngx_del_timer(&pool->guard);
    }

    for (i = 0; i < pool->nconns; i++) {
        ngx_http_hookd_pg_close(&pool->conns[i]);
    }

    ngx_http_hookd_pg_close(&pool->listen);

    if (pool->buf) {
        ngx_free(pool->buf);
        pool->buf = NULL;
    }
}


ngx_int_t
ngx_http_hookd_pool_post(ngx_http_hookd_pool_t *pool,
    ngx_http_hookd_job_t *job)
{
    if (pool == NULL || !ngx_http_hookd_pool_alive(pool)
        || pool->queued >= NGX_HTTP_HOOKD_MAX_QUEUED)
    {
        return NGX_DECLINED;
    }

    job->queued_at = ngx_current_msec;
    ngx_queue_insert_tail(&pool->queue[job->stmt], &job->queue);
    pool->nqueued[job->stmt]++;
    pool->queued++;

    ngx_http_hookd_pool_dispatch(pool);

    if (pool->queued) {
        ngx_http_hookd_pool_arm_guard(pool);
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_hookd_pool_alive(ngx_http_hookd_pool_t *pool)
{
    ngx_uint_t  i;

    for (i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].state != NGX_HTTP_HOOKD_PG_DOWN) {
            return 1;
        }
    }

    return 0;
}


void
ngx_http_hookd_pool_dispatch(ngx_http_hookd_pool_t *pool)
{
    ngx_uint_t            i;
    ngx_http_hookd_pg_t  *pc;

    for (i = 0; i < pool->nconns && pool->queued; i++) {
        pc = &pool->conns[i];

        if (pc->state != NGX_HTTP_HOOKD_PG_IDLE) {
            continue;
        }

        if (pool->nqueued[NGX_HTTP_HOOKD_STMT_KEY_LOOKUP] == 0
            && pool->nqueued[NGX_HTTP_HOOKD_STMT_SOURCE_LOOKUP] == 0
            && pool->nqueued[NGX_HTTP_HOOKD_STMT_ADMIN] == 0
            && pool->nqueued[NGX_HTTP_HOOKD_STMT_TAIL_FETCH] == 0
            && pool->ingesting > 0
            && pool->nqueued[NGX_HTTP_HOOKD_STMT_INGEST]
               < pool->hmcf->batch_size)
        {
            return;
        }

        ngx_http_hookd_pg_send(pc);
    }
}


static void
ngx_http_hookd_pool_arm_guard(ngx_http_hookd_pool_t *pool)
{
    ngx_uint_t             i;
    ngx_msec_t             oldest;
    ngx_msec_int_t         wait;
    ngx_http_hookd_job_t  *job;

    if (pool->guard.timer_set || pool->queued == 0) {
        return;
    }

    oldest = ngx_current_msec;

    for (i = 0; i < NGX_HTTP_HOOKD_NSTMTS; i++) {
        if (!ngx_queue_empty(&pool->queue[i])) {
            job = ngx_queue_data(ngx_queue_head(&pool->queue[i]),
                                 ngx_http_hookd_job_t, queue);
            if ((ngx_msec_int_t) (job->queued_at - oldest) < 0) {
                oldest = job->queued_at;
            }
        }
    }

    wait = (ngx_msec_int_t) (oldest + pool->hmcf->db_timeout
                             - ngx_current_msec);

    /* queued requests keep a worker that is shutting down alive */
    pool->guard.cancelable = 0;
    ngx_add_timer(&pool->guard, wait > 0 ? (ngx_msec_t) wait : 1);
}


static void
ngx_http_hookd_pool_guard(ngx_event_t *ev)
{
    ngx_http_hookd_pool_t  *pool = ev->data;

    ngx_http_hookd_pool_fail_queued(pool, pool->hmcf->db_timeout);
    ngx_http_hookd_pool_arm_guard(pool);
}


/* Fails the queued jobs that have waited at least older_than. */
void
ngx_http_hookd_pool_fail_queued(ngx_http_hookd_pool_t *pool,
    ngx_msec_t older_than)
{
    ngx_uint_t             i;
    ngx_queue_t            failed, *q;
    ngx_http_hookd_job_t  *job;

    ngx_queue_init(&failed);

    for (i = 0; i < NGX_HTTP_HOOKD_NSTMTS; i++) {
        while (!ngx_queue_empty(&pool->queue[i])) {
            q = ngx_queue_head(&pool->queue[i]);
            job = ngx_queue_data(q, ngx_http_hookd_job_t, queue);

            if (ngx_current_msec - job->queued_at < older_than) {
                break;
            }

            ngx_queue_remove(q);
            ngx_queue_insert_tail(&failed, q);
            pool->nqueued[i]--;
            pool->queued--;
        }
    }

    if (!ngx_queue_empty(&failed)) {
        ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                      "hookd: PostgreSQL unavailable, failing queued "
                      "requests");
        ngx_http_hookd_pool_complete(&failed, NGX_HTTP_HOOKD_JOB_UNAVAILABLE,
                                   NULL);
    }
}


/*
 * Hands each job its row of the result: ingest answers one row per item,
 * in order. A tail fetch is alone on its statement and gets every row:
 * its handler's row is their number.
 */
void
ngx_http_hookd_pool_complete(ngx_queue_t *jobs, ngx_http_hookd_job_rc_e rc,
    PGresult *res)
{
    int                    row, rows;
    ngx_queue_t           *q;
    ngx_http_hookd_job_t  *job;

    rows = (rc == NGX_HTTP_HOOKD_JOB_OK && res) ? PQntuples(res) : 0;
    row = 0;

    while (!ngx_queue_empty(jobs)) {
        q = ngx_queue_head(jobs);
        ngx_queue_remove(q);
        job = ngx_queue_data(q, ngx_http_hookd_job_t, queue);

        if (rc != NGX_HTTP_HOOKD_JOB_OK) {
            job->handler(job, rc, NULL, -1);

        } else if (job->stmt == NGX_HTTP_HOOKD_STMT_TAIL_FETCH) {
            job->handler(job, NGX_HTTP_HOOKD_JOB_OK, res, rows);

        } else if (row < rows) {
            job->handler(job, NGX_HTTP_HOOKD_JOB_OK, res, row);

        } else if (job->stmt == NGX_HTTP_HOOKD_STMT_KEY_LOOKUP
                   || job->stmt == NGX_HTTP_HOOKD_STMT_SOURCE_LOOKUP)
        {
            /* no row: an unknown key or source */
            job->handler(job, NGX_HTTP_HOOKD_JOB_OK, res, -1);

        } else {
            job->handler(job, NGX_HTTP_HOOKD_JOB_FAILED, NULL, -1);
        }

        row++;
    }
}


/*
 * The group commit: up to batch_size queued ingest items sent on pc as one
 * jsonb parameter, the JSON array hookd.ingest takes.
 */
ngx_int_t
ngx_http_hookd_pool_send_batch(ngx_http_hookd_pool_t *pool,
    ngx_http_hookd_pg_t *pc)
{
    u_char                 *p, *buf;
    size_t                  need;
    ngx_uint_t              n;
    ngx_queue_t            *q, *queue;
    const char             *value;
    ngx_http_hookd_job_t   *job;

    queue = &pool->queue[NGX_HTTP_HOOKD_STMT_INGEST];

    need = 2;
    n = 0;

    for (q = ngx_queue_head(queue);
         q != ngx_queue_sentinel(queue) && n < pool->hmcf->batch_size;
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_hookd_job_t, queue);

        if (n > 0 && need + job->param.len + 1 > NGX_HTTP_HOOKD_BATCH_BYTES) {
            break;
        }

        need += job->param.len + 1;
        n++;
    }

    if (need + 1 > pool->buf_size) {
        buf = ngx_alloc(ngx_max(need + 1, 64 * 1024), pool->log);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        if (pool->buf) {
            ngx_free(pool->buf);
        }

        pool->buf = buf;
        pool->buf_size = ngx_max(need + 1, 64 * 1024);
    }

    p = pool->buf;
    *p++ = '[';

    while (n--) {
        q = ngx_queue_head(queue);
        ngx_queue_remove(q);
        pool->nqueued[NGX_HTTP_HOOKD_STMT_INGEST]--;
        pool->queued--;
        ngx_queue_insert_tail(&pc->jobs, q);

        job = ngx_queue_data(q, ngx_http_hookd_job_t, queue);

        if (p != pool->buf + 1) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, job->param.data, job->param.len);
    }

    *p++ = ']';
    *p = '\0';

    value = (const char *) pool->buf;

    /* libpq copies the parameter into its output buffer: buf is reusable */
    return PQsendQueryPrepared(pc->pg,
                   ngx_http_hookd_stmt_names[NGX_HTTP_HOOKD_STMT_INGEST],
                   1, &value, NULL, NULL, 0)
           ? NGX_OK : NGX_ERROR;
}
