/*
 * A pool of non-blocking libpq connections per nginx worker, driven by the
 * worker's event loop. Each connection is a small state machine:
 *
 *   DOWN -(timer)-> CONNECTING -(PQconnectPoll ok)-> PREPARING -> IDLE
 *   IDLE -(jobs queued)-> BUSY -(all results read)-> IDLE
 *   any -(error, timeout, server gone)-> DOWN, with a growing back-off
 *
 * Jobs wait in per-statement queues. An idle connection takes one key
 * lookup, or one admin request, or up to hookd_batch_size ingest items at
 * once, so that the events of concurrent requests commit in one
 * transaction. A worker keeps one ingest batch in flight and lets the next
 * one grow meanwhile; a second starts only when a full batch is already
 * waiting. Fewer, larger commits
 * are what makes durable ingest faster than one insert per transaction.
 */

#include <netdb.h>
#include <arpa/inet.h>

#include "ngx_http_hookd_module.h"


#define NGX_HTTP_HOOKD_BACKOFF_MIN   50
#define NGX_HTTP_HOOKD_BACKOFF_MAX   1000
#define NGX_HTTP_HOOKD_MAX_QUEUED    65536
#define NGX_HTTP_HOOKD_BATCH_BYTES   (8 * 1024 * 1024)

/*
 * As hookd's connections do (worker/store.c, docs/architecture.md): plans
 * made on near-empty tables read a whole table per row once they grow, so
 * each connection drops its plans this often, before its next statement.
 */
#define NGX_HTTP_HOOKD_REPLAN_INTERVAL  10000


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
} ngx_http_hookd_pg_t;


struct ngx_http_hookd_pool_s {
    ngx_http_hookd_main_conf_t     *hmcf;
    ngx_log_t                      *log;
    ngx_http_hookd_pg_t            *conns;
    ngx_uint_t                      nconns;
    ngx_queue_t                     queue[NGX_HTTP_HOOKD_NSTMTS];
    ngx_uint_t                      nqueued[NGX_HTTP_HOOKD_NSTMTS];
    ngx_uint_t                      queued;
    ngx_uint_t                      ingesting;     /* batches in flight */
    /* fails jobs that waited db_timeout for a connection */
    ngx_event_t                     guard;
    u_char                         *buf;
    size_t                          buf_size;
};


static void ngx_http_hookd_pg_connect(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_connect_poll(ngx_http_hookd_pg_t *pc);
static ngx_int_t ngx_http_hookd_pg_bind(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_unbind(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_event(ngx_event_t *ev);
static void ngx_http_hookd_pg_timer(ngx_event_t *ev);
static ngx_uint_t ngx_http_hookd_pg_idle_alive(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_flush(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_read(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_done(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pg_fail(ngx_http_hookd_pg_t *pc,
    ngx_http_hookd_job_rc_e rc);
static void ngx_http_hookd_pg_complete(ngx_queue_t *jobs,
    ngx_http_hookd_job_rc_e rc, PGresult *res);
static void ngx_http_hookd_pg_send(ngx_http_hookd_pg_t *pc);
static ngx_int_t ngx_http_hookd_pg_send_ingest(ngx_http_hookd_pg_t *pc);
static void ngx_http_hookd_pool_dispatch(ngx_http_hookd_pool_t *pool);
static ngx_uint_t ngx_http_hookd_pool_alive(ngx_http_hookd_pool_t *pool);
static void ngx_http_hookd_pool_fail_queued(ngx_http_hookd_pool_t *pool,
    ngx_msec_t older_than);
static void ngx_http_hookd_pool_guard(ngx_event_t *ev);
static void ngx_http_hookd_pool_arm_guard(ngx_http_hookd_pool_t *pool);


static const char  ngx_http_hookd_prepare_sql[] =
    "PREPARE hookd_key_lookup (bytea) AS"
    " SELECT * FROM hookd.key_lookup($1);"
    "PREPARE hookd_ingest (jsonb) AS"
    " SELECT * FROM hookd.ingest($1);"
    "PREPARE hookd_admin (jsonb) AS"
    " SELECT * FROM hookd.admin($1)";

static const char  *ngx_http_hookd_stmt_names[NGX_HTTP_HOOKD_NSTMTS] = {
    "hookd_key_lookup",
    "hookd_ingest",
    "hookd_admin"
};


ngx_int_t
ngx_http_hookd_pool_init(ngx_cycle_t *cycle, ngx_http_hookd_main_conf_t *hmcf)
{
    ngx_uint_t              i;
    ngx_http_hookd_pg_t    *pc;
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
        pc = &pool->conns[i];
        pc->pool = pool;
        pc->backoff = NGX_HTTP_HOOKD_BACKOFF_MIN;
        ngx_queue_init(&pc->jobs);

        pc->timer.handler = ngx_http_hookd_pg_timer;
        pc->timer.data = pc;
        pc->timer.log = cycle->log;

        ngx_http_hookd_pg_connect(pc);
    }

    return NGX_OK;
}


void
ngx_http_hookd_pool_done(ngx_http_hookd_pool_t *pool)
{
    ngx_uint_t            i;
    ngx_http_hookd_pg_t  *pc;

    if (pool->guard.timer_set) {
        ngx_del_timer(&pool->guard);
    }

    for (i = 0; i < pool->nconns; i++) {
        pc = &pool->conns[i];

        if (pc->timer.timer_set) {
            ngx_del_timer(&pc->timer);
        }

        ngx_http_hookd_pg_unbind(pc);

        if (pc->res) {
            PQclear(pc->res);
            pc->res = NULL;
        }

        if (pc->pg) {
            PQfinish(pc->pg);
            pc->pg = NULL;
        }
    }

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


static ngx_uint_t
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


static void
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
            && pool->nqueued[NGX_HTTP_HOOKD_STMT_ADMIN] == 0
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
static void
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
        ngx_http_hookd_pg_complete(&failed, NGX_HTTP_HOOKD_JOB_UNAVAILABLE,
                                   NULL);
    }
}


static void
ngx_http_hookd_pg_connect(ngx_http_hookd_pg_t *pc)
{
    ngx_http_hookd_pool_t  *pool = pc->pool;

    pc->pg = PQconnectStart((char *) pool->hmcf->conninfo.data);

    if (pc->pg == NULL || PQstatus(pc->pg) == CONNECTION_BAD
        || PQsetnonblocking(pc->pg, 1) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "hookd: cannot start connecting to PostgreSQL: %s",
                      pc->pg ? PQerrorMessage(pc->pg) : "out of memory");
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    pc->state = NGX_HTTP_HOOKD_PG_CONNECTING;
    pc->conn_status = CONNECTION_BAD;

    pc->timer.cancelable = 1;
    ngx_add_timer(&pc->timer, pool->hmcf->db_timeout);

    if (ngx_http_hookd_pg_bind(pc) != NGX_OK) {
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    pc->conn_status = PQstatus(pc->pg);
}


static void
ngx_http_hookd_pg_connect_poll(ngx_http_hookd_pg_t *pc)
{
    ConnStatusType                status, prev;
    PostgresPollingStatusType     rc;

    /*
     * nginx's events are edge-triggered: when libpq asks to write on a
     * socket that is already writable, no new edge will come, so poll
     * again at once for as long as that moves the connection on.
     */
    for ( ;; ) {
        prev = PQstatus(pc->pg);
        rc = PQconnectPoll(pc->pg);

        if (rc != PGRES_POLLING_WRITING || PQstatus(pc->pg) == prev
            || PQstatus(pc->pg) == CONNECTION_STARTED)
        {
            break;
        }
    }

    if (rc == PGRES_POLLING_FAILED) {
        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "hookd: connecting to PostgreSQL failed: %s",
                      PQerrorMessage(pc->pg));
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    /*
     * libpq closes its socket and opens another when it moves on to the
     * next address or retries without SSL; the new one may even reuse the
     * descriptor number, so a fresh CONNECTION_STARTED means a new socket.
     */
    status = PQstatus(pc->pg);

    if (PQsocket(pc->pg) != pc->c->fd
        || (status == CONNECTION_STARTED
            && pc->conn_status != CONNECTION_STARTED))
    {
        ngx_http_hookd_pg_unbind(pc);

        if (ngx_http_hookd_pg_bind(pc) != NGX_OK) {
            ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
            return;
        }
    }

    pc->conn_status = status;

    if (rc != PGRES_POLLING_OK) {
        return;
    }

    if (!PQsendQuery(pc->pg, ngx_http_hookd_prepare_sql)) {
        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "hookd: preparing statements failed: %s",
                      PQerrorMessage(pc->pg));
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    pc->state = NGX_HTTP_HOOKD_PG_PREPARING;
    pc->failure = NGX_HTTP_HOOKD_JOB_OK;
    ngx_http_hookd_pg_flush(pc);
}


/* Wraps libpq's socket in an nginx connection registered with the loop. */
static ngx_int_t
ngx_http_hookd_pg_bind(ngx_http_hookd_pg_t *pc)
{
    int                fd;
    ngx_int_t          rc;
    ngx_connection_t  *c;

    fd = PQsocket(pc->pg);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "hookd: libpq has no socket: %s",
                      PQerrorMessage(pc->pg));
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, pc->pool->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = pc;
    c->read->handler = ngx_http_hookd_pg_event;
    c->write->handler = ngx_http_hookd_pg_event;
    c->read->log = pc->pool->log;
    c->write->log = pc->pool->log;

    pc->c = c;

    if (ngx_add_conn) {
        rc = ngx_add_conn(c);

    } else {
        rc = ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT);
        if (rc == NGX_OK) {
            rc = ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_CLEAR_EVENT);
        }
    }

    if (rc != NGX_OK) {
        ngx_http_hookd_pg_unbind(pc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Forgets the nginx side of the socket. libpq owns the descriptor and
 * closes it itself, so nginx is told the descriptor is going away and
 * never closes it.
 */
static void
ngx_http_hookd_pg_unbind(ngx_http_hookd_pg_t *pc)
{
    ngx_connection_t  *c = pc->c;

    if (c == NULL) {
        return;
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (ngx_del_conn) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    pc->c = NULL;
}


static void
ngx_http_hookd_pg_event(ngx_event_t *ev)
{
    ngx_connection_t     *c = ev->data;
    ngx_http_hookd_pg_t  *pc = c->data;

    switch (pc->state) {

    case NGX_HTTP_HOOKD_PG_CONNECTING:
        ngx_http_hookd_pg_connect_poll(pc);
        return;

    case NGX_HTTP_HOOKD_PG_PREPARING:
    case NGX_HTTP_HOOKD_PG_BUSY:
        if (pc->flushing) {
            ngx_http_hookd_pg_flush(pc);
        }

        if (!ev->write && pc->c != NULL) {
            ngx_http_hookd_pg_read(pc);
        }
        return;

    case NGX_HTTP_HOOKD_PG_IDLE:
        if (!ev->write && !ngx_http_hookd_pg_idle_alive(pc)) {
            ngx_log_error(NGX_LOG_WARN, pc->pool->log, 0,
                          "hookd: PostgreSQL closed an idle connection: %s",
                          PQerrorMessage(pc->pg));
            ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        }
        return;

    default:
        return;
    }
}


/*
 * Nothing is expected on an idle connection but a notice or the server
 * going away. A shutdown sends its FATAL message and closes at once: one
 * edge-triggered event may carry both, and libpq, having read the message,
 * still says CONNECTION_OK. So read until the socket has nothing more to
 * say, and treat the end of the stream as the end of the connection.
 */
static ngx_uint_t
ngx_http_hookd_pg_idle_alive(ngx_http_hookd_pg_t *pc)
{
    char        byte;
    ssize_t     n;
    ngx_uint_t  i;

    for (i = 0; i < 16; i++) {
        n = recv(PQsocket(pc->pg), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

        if (n < 0) {
            return ngx_socket_errno == NGX_EAGAIN
                   || ngx_socket_errno == NGX_EINTR;
        }

        if (n == 0
            || !PQconsumeInput(pc->pg)
            || PQstatus(pc->pg) != CONNECTION_OK)
        {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_hookd_pg_timer(ngx_event_t *ev)
{
    ngx_http_hookd_pg_t  *pc = ev->data;

    if (pc->state == NGX_HTTP_HOOKD_PG_DOWN) {
        ngx_http_hookd_pg_connect(pc);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                  "hookd: PostgreSQL did not answer within %M ms",
                  pc->pool->hmcf->db_timeout);
    ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
}


/*
 * A non-blocking send leaves what the socket would not take in libpq's
 * buffer: flush until it is all gone, on each write event.
 */
static void
ngx_http_hookd_pg_flush(ngx_http_hookd_pg_t *pc)
{
    int  rc;

    rc = PQflush(pc->pg);

    if (rc < 0) {
        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "hookd: sending to PostgreSQL failed: %s",
                      PQerrorMessage(pc->pg));
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    pc->flushing = (rc == 1);
}


static void
ngx_http_hookd_pg_read(ngx_http_hookd_pg_t *pc)
{
    char            *sqlstate;
    PGresult        *res;
    ExecStatusType   status;

    if (!PQconsumeInput(pc->pg)) {
        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "hookd: reading from PostgreSQL failed: %s",
                      PQerrorMessage(pc->pg));
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    while (!PQisBusy(pc->pg)) {
        res = PQgetResult(pc->pg);

        if (res == NULL) {
            ngx_http_hookd_pg_done(pc);
            return;
        }

        status = PQresultStatus(res);

        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            if (pc->res) {
                PQclear(pc->res);
            }

            pc->res = res;
            continue;
        }

        /*
         * Connection trouble (08), operator intervention such as a
         * shutdown (57), exhausted resources (53) and serialization
         * failures (40) pass: the client may retry. Anything else is a bug
         * or a schema out of date.
         */
        sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        if (sqlstate != NULL
            && (ngx_strncmp(sqlstate, "08", 2) == 0
                || ngx_strncmp(sqlstate, "57", 2) == 0
                || ngx_strncmp(sqlstate, "53", 2) == 0
                || ngx_strncmp(sqlstate, "40", 2) == 0))
        {
            pc->failure = NGX_HTTP_HOOKD_JOB_UNAVAILABLE;

        } else if (pc->failure == NGX_HTTP_HOOKD_JOB_OK) {
            pc->failure = NGX_HTTP_HOOKD_JOB_FAILED;
        }

        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "hookd: PostgreSQL error %s: %s",
                      sqlstate ? sqlstate : "-", PQresultErrorMessage(res));
        PQclear(res);
    }
}


static void
ngx_http_hookd_pg_done(ngx_http_hookd_pg_t *pc)
{
    PGresult                 *res;
    ngx_queue_t               jobs;
    ngx_http_hookd_job_rc_e   failure;

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    failure = pc->failure;
    res = pc->res;
    pc->res = NULL;
    pc->failure = NGX_HTTP_HOOKD_JOB_OK;

    if (pc->state == NGX_HTTP_HOOKD_PG_PREPARING) {
        if (res) {
            PQclear(res);
        }

        if (failure != NGX_HTTP_HOOKD_JOB_OK) {
            ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                          "hookd: cannot prepare statements; is the "
                          "schema migrated (\"hookd migrate\")?");
            ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
            return;
        }

        ngx_log_error(NGX_LOG_INFO, pc->pool->log, 0,
                      "hookd: connected to PostgreSQL");

        pc->state = NGX_HTTP_HOOKD_PG_IDLE;
        pc->backoff = NGX_HTTP_HOOKD_BACKOFF_MIN;
        pc->planned_at = ngx_current_msec;
        ngx_http_hookd_pool_dispatch(pc->pool);
        return;
    }

    if (pc->replanning) {
        /* an error was logged as it came; the plans are dropped anyway */
        if (res) {
            PQclear(res);
        }

        pc->replanning = 0;
        pc->planned_at = ngx_current_msec;
        pc->state = NGX_HTTP_HOOKD_PG_IDLE;
        ngx_http_hookd_pool_dispatch(pc->pool);
        return;
    }

    /* detach first: handlers may post new jobs onto this connection */
    ngx_queue_init(&jobs);

    if (!ngx_queue_empty(&pc->jobs)) {
        ngx_queue_add(&jobs, &pc->jobs);
        ngx_queue_init(&pc->jobs);
    }

    if (pc->stmt == NGX_HTTP_HOOKD_STMT_INGEST) {
        pc->pool->ingesting--;
    }

    pc->state = NGX_HTTP_HOOKD_PG_IDLE;

    ngx_http_hookd_pg_complete(&jobs, failure, res);

    if (res) {
        PQclear(res);
    }

    ngx_http_hookd_pool_dispatch(pc->pool);
}


static void
ngx_http_hookd_pg_complete(ngx_queue_t *jobs, ngx_http_hookd_job_rc_e rc,
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

        } else if (row < rows) {
            job->handler(job, NGX_HTTP_HOOKD_JOB_OK, res, row);

        } else if (job->stmt == NGX_HTTP_HOOKD_STMT_KEY_LOOKUP) {
            /* no row: an unknown key */
            job->handler(job, NGX_HTTP_HOOKD_JOB_OK, res, -1);

        } else {
            job->handler(job, NGX_HTTP_HOOKD_JOB_FAILED, NULL, -1);
        }

        row++;
    }
}


static void
ngx_http_hookd_pg_fail(ngx_http_hookd_pg_t *pc, ngx_http_hookd_job_rc_e rc)
{
    ngx_queue_t             jobs;
    ngx_http_hookd_pool_t  *pool = pc->pool;

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    ngx_http_hookd_pg_unbind(pc);

    if (pc->res) {
        PQclear(pc->res);
        pc->res = NULL;
    }

    if (pc->pg) {
        PQfinish(pc->pg);
        pc->pg = NULL;
    }

    if (pc->state == NGX_HTTP_HOOKD_PG_BUSY && !pc->replanning
        && pc->stmt == NGX_HTTP_HOOKD_STMT_INGEST)
    {
        pool->ingesting--;
    }

    pc->state = NGX_HTTP_HOOKD_PG_DOWN;
    pc->flushing = 0;
    pc->replanning = 0;
    pc->failure = NGX_HTTP_HOOKD_JOB_OK;

    pc->timer.cancelable = 1;
    ngx_add_timer(&pc->timer, pc->backoff);
    pc->backoff = ngx_min(pc->backoff * 2, NGX_HTTP_HOOKD_BACKOFF_MAX);

    ngx_queue_init(&jobs);

    if (!ngx_queue_empty(&pc->jobs)) {
        ngx_queue_add(&jobs, &pc->jobs);
        ngx_queue_init(&pc->jobs);
    }

    ngx_http_hookd_pg_complete(&jobs, rc, NULL);

    /* with no connection left, waiting helps nobody: answer now */
    if (!ngx_http_hookd_pool_alive(pool)) {
        ngx_http_hookd_pool_fail_queued(pool, 0);
    }
}


static void
ngx_http_hookd_pg_send(ngx_http_hookd_pg_t *pc)
{
    int                    ok;
    ngx_queue_t           *q;
    ngx_http_hookd_job_t  *job;
    ngx_http_hookd_pool_t *pool = pc->pool;
    int                    length, format;
    const char            *value;
    ngx_http_hookd_stmt_e  stmt;

    /* BUSY first: a failed send is then undone by ngx_http_hookd_pg_fail() */
    pc->state = NGX_HTTP_HOOKD_PG_BUSY;

    /* key lookups and admin requests go one by one, ahead of ingest */
    stmt = NGX_HTTP_HOOKD_STMT_KEY_LOOKUP;

    if (ngx_queue_empty(&pool->queue[stmt])) {
        stmt = NGX_HTTP_HOOKD_STMT_ADMIN;
    }

    q = &pool->queue[stmt];

    if (ngx_current_msec - pc->planned_at >= NGX_HTTP_HOOKD_REPLAN_INTERVAL) {
        /* the jobs stay queued for the next round */
        pc->replanning = 1;
        ok = PQsendQuery(pc->pg, "DISCARD PLANS");

    } else if (!ngx_queue_empty(q)) {
        q = ngx_queue_head(q);
        ngx_queue_remove(q);
        pool->nqueued[stmt]--;
        pool->queued--;
        ngx_queue_insert_tail(&pc->jobs, q);

        pc->stmt = stmt;
        job = ngx_queue_data(q, ngx_http_hookd_job_t, queue);
        value = (const char *) job->param.data;
        length = (int) job->param.len;
        format = (stmt == NGX_HTTP_HOOKD_STMT_KEY_LOOKUP);

        ok = PQsendQueryPrepared(pc->pg, ngx_http_hookd_stmt_names[stmt],
                                 1, &value, &length, &format, 0);

    } else {
        pc->stmt = NGX_HTTP_HOOKD_STMT_INGEST;
        pool->ingesting++;
        ok = (ngx_http_hookd_pg_send_ingest(pc) == NGX_OK);
    }

    if (!ok) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "hookd: sending a statement failed: %s",
                      PQerrorMessage(pc->pg));
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    pc->failure = NGX_HTTP_HOOKD_JOB_OK;

    /* a statement in flight keeps a worker that is shutting down alive */
    pc->timer.cancelable = 0;
    ngx_add_timer(&pc->timer, pool->hmcf->db_timeout);

    ngx_http_hookd_pg_flush(pc);
}


/* One jsonb parameter: the JSON array of up to batch_size queued items. */
static ngx_int_t
ngx_http_hookd_pg_send_ingest(ngx_http_hookd_pg_t *pc)
{
    u_char                 *p, *buf;
    size_t                  need;
    ngx_uint_t              n;
    ngx_queue_t            *q, *queue;
    const char             *value;
    ngx_http_hookd_job_t   *job;
    ngx_http_hookd_pool_t  *pool = pc->pool;

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


/*
 * Runs at configuration time: rewrites the conninfo so that connecting
 * never resolves a name inside a worker (hostaddr is added) and names the
 * connections in pg_stat_activity.
 */
char *
ngx_http_hookd_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    int                    rc;
    char                  *err, *host, *hostaddr, *src;
    u_char                *p, *out;
    size_t                 len;
    ngx_uint_t             has_appname;
    struct addrinfo        hints, *ai;
    PQconninfoOption      *opts, *o;
    char                   addr[NI_MAXHOST];
    unsigned char          scratch[sizeof(struct in6_addr)];

    src = ngx_pnalloc(cf->pool, conninfo->len + 1);
    if (src == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(src, conninfo->data, conninfo->len);
    src[conninfo->len] = '\0';

    err = NULL;
    opts = PQconninfoParse(src, &err);
    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"hookd_database\": %s",
                           err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    host = NULL;
    hostaddr = NULL;
    has_appname = 0;
    len = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0 && o->val[0]) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0 && o->val[0]) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            has_appname = 1;
        }

        len += ngx_strlen(o->keyword) + 2 * ngx_strlen(o->val) + 4;
    }

    addr[0] = '\0';

    if (host && (ngx_strchr(host, ',') || (hostaddr && ngx_strchr(hostaddr, ','))))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hookd_database\" takes a single host");
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    if (host && hostaddr == NULL && host[0] != '/'
        && inet_pton(AF_INET, host, scratch) != 1
        && inet_pton(AF_INET6, host, scratch) != 1)
    {
        ngx_memzero(&hints, sizeof(struct addrinfo));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        rc = getaddrinfo(host, NULL, &hints, &ai);
        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hookd_database\": cannot resolve \"%s\": %s",
                               host, gai_strerror(rc));
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
                         NULL, 0, NI_NUMERICHOST);
        freeaddrinfo(ai);

        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hookd_database\": cannot resolve \"%s\"",
                               host);
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }
    }

    len += sizeof(" hostaddr=''") + ngx_strlen(addr)
           + sizeof(" application_name='hookd-nginx'");

    out = ngx_pnalloc(cf->pool, len + 1);
    if (out == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    p = out;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        p = ngx_sprintf(p, "%s='", o->keyword);

        for (src = o->val; *src; src++) {
            if (*src == '\'' || *src == '\\') {
                *p++ = '\\';
            }
            *p++ = *src;
        }

        *p++ = '\'';
        *p++ = ' ';
    }

    if (addr[0]) {
        p = ngx_sprintf(p, "hostaddr='%s' ", addr);
    }

    if (!has_appname) {
        p = ngx_sprintf(p, "application_name='hookd-nginx' ");
    }

    *p = '\0';

    conninfo->data = out;
    conninfo->len = p - out;

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}
