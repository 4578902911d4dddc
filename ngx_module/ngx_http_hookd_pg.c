/*
 * One PostgreSQL connection of the pool (ngx_http_hookd_pool.c): libpq
 * non-blocking, driven by the worker's event loop, as a small state
 * machine:
 *
 *   DOWN -(timer)-> CONNECTING -(PQconnectPoll ok)-> PREPARING -> IDLE
 *   IDLE -(jobs queued)-> BUSY -(all results read)-> IDLE
 *   any -(error, timeout, server gone)-> DOWN, with a growing back-off
 *
 * The worker's LISTEN connection (the live tail's) prepares nothing: it
 * sends LISTEN instead, then stays IDLE, handing each notification to
 * ngx_http_hookd_tail_feed.c.
 */

#include "ngx_http_hookd_pool.h"


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
static void ngx_http_hookd_pg_notified(ngx_http_hookd_pg_t *pc);


void
ngx_http_hookd_pg_init(ngx_http_hookd_pg_t *pc, ngx_http_hookd_pool_t *pool,
    ngx_log_t *log, ngx_uint_t listen)
{
    pc->pool = pool;
    pc->listen = listen;
    pc->backoff = NGX_HTTP_HOOKD_BACKOFF_MIN;
    ngx_queue_init(&pc->jobs);

    pc->timer.handler = ngx_http_hookd_pg_timer;
    pc->timer.data = pc;
    pc->timer.log = log;

    ngx_http_hookd_pg_connect(pc);
}


void
ngx_http_hookd_pg_close(ngx_http_hookd_pg_t *pc)
{
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

    if (!PQsendQuery(pc->pg, pc->listen ? "LISTEN hookd_tail"
                                        : ngx_http_hookd_prepare_sql))
    {
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
        if (ev->write) {
            return;
        }

        if (!ngx_http_hookd_pg_idle_alive(pc)) {
            ngx_log_error(NGX_LOG_WARN, pc->pool->log, 0,
                          "hookd: PostgreSQL closed an idle connection: %s",
                          PQerrorMessage(pc->pg));
            ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
            return;
        }

        if (pc->listen) {
            ngx_http_hookd_pg_notified(pc);
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


/*
 * Reads what the socket holds. One PQconsumeInput may leave some of a
 * large result in the socket, and nginx's events are edge-triggered: no
 * new edge comes for what is already there. So read again while libpq
 * still waits for more and the socket has some.
 */
static ngx_int_t
ngx_http_hookd_pg_consume(ngx_http_hookd_pg_t *pc)
{
    char  byte;

    for ( ;; ) {
        if (!PQconsumeInput(pc->pg)) {
            ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                          "hookd: reading from PostgreSQL failed: %s",
                          PQerrorMessage(pc->pg));
            return NGX_ERROR;
        }

        if (!PQisBusy(pc->pg)
            || recv(PQsocket(pc->pg), &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
        {
            return NGX_OK;
        }
    }
}


static void
ngx_http_hookd_pg_read(ngx_http_hookd_pg_t *pc)
{
    char            *sqlstate;
    PGresult        *res;
    ExecStatusType   status;

    if (ngx_http_hookd_pg_consume(pc) != NGX_OK) {
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
        return;
    }

    for ( ;; ) {
        if (PQisBusy(pc->pg)) {
            /* a result parsed may have left input that completes the next */
            if (ngx_http_hookd_pg_consume(pc) != NGX_OK) {
                ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
                return;
            }

            if (PQisBusy(pc->pg)) {
                return;
            }
        }

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

        if (sqlstate != NULL && ngx_strcmp(sqlstate, "25006") == 0) {
            pc->failure = NGX_HTTP_HOOKD_JOB_UNAVAILABLE;
            pc->replace = 1;

        } else if (sqlstate != NULL
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
                      pc->listen ? "hookd: listening to PostgreSQL"
                                 : "hookd: connected to PostgreSQL");

        pc->state = NGX_HTTP_HOOKD_PG_IDLE;
        pc->backoff = NGX_HTTP_HOOKD_BACKOFF_MIN;
        pc->planned_at = ngx_current_msec;

        if (pc->listen) {
            ngx_http_hookd_tail_listening(1);
            ngx_http_hookd_pg_notified(pc);
            return;
        }

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

    ngx_http_hookd_pool_complete(&jobs, failure, res);

    if (res) {
        PQclear(res);
    }

    if (pc->replace) {
        pc->replace = 0;
        ngx_log_error(NGX_LOG_WARN, pc->pool->log, 0,
                      "hookd: PostgreSQL is read-only, reconnecting");
        ngx_http_hookd_pg_fail(pc, NGX_HTTP_HOOKD_JOB_UNAVAILABLE);
    }

    ngx_http_hookd_pool_dispatch(pc->pool);
}


static void
ngx_http_hookd_pg_fail(ngx_http_hookd_pg_t *pc, ngx_http_hookd_job_rc_e rc)
{
    ngx_queue_t             jobs;
    ngx_http_hookd_pool_t  *pool = pc->pool;

    ngx_http_hookd_pg_close(pc);

    if (pc->listen && pc->state == NGX_HTTP_HOOKD_PG_IDLE) {
        ngx_http_hookd_tail_listening(0);
    }

    if (pc->state == NGX_HTTP_HOOKD_PG_BUSY && !pc->replanning
        && pc->stmt == NGX_HTTP_HOOKD_STMT_INGEST)
    {
        pool->ingesting--;
    }

    pc->state = NGX_HTTP_HOOKD_PG_DOWN;
    pc->flushing = 0;
    pc->replanning = 0;
    pc->replace = 0;
    pc->failure = NGX_HTTP_HOOKD_JOB_OK;

    pc->timer.cancelable = 1;
    ngx_add_timer(&pc->timer, pc->backoff);
    pc->backoff = ngx_min(pc->backoff * 2, NGX_HTTP_HOOKD_BACKOFF_MAX);

    ngx_queue_init(&jobs);

    if (!ngx_queue_empty(&pc->jobs)) {
        ngx_queue_add(&jobs, &pc->jobs);
        ngx_queue_init(&pc->jobs);
    }

    ngx_http_hookd_pool_complete(&jobs, rc, NULL);

    /* with no connection left, waiting helps nobody: answer now */
    if (!ngx_http_hookd_pool_alive(pool)) {
        ngx_http_hookd_pool_fail_queued(pool, 0);
    }
}


/* the notifications libpq has read, in the order PostgreSQL sent them */
static void
ngx_http_hookd_pg_notified(ngx_http_hookd_pg_t *pc)
{
    PGnotify  *n;

    while ((n = PQnotifies(pc->pg)) != NULL) {
        ngx_http_hookd_tail_feed(n->extra);
        PQfreemem(n);
    }
}


void
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

    /* lookups, admin requests and the tail's fetches go one by one,
       ahead of ingest */
    stmt = NGX_HTTP_HOOKD_STMT_KEY_LOOKUP;

    if (ngx_queue_empty(&pool->queue[stmt])) {
        stmt = NGX_HTTP_HOOKD_STMT_SOURCE_LOOKUP;
    }

    if (ngx_queue_empty(&pool->queue[stmt])) {
        stmt = NGX_HTTP_HOOKD_STMT_ADMIN;
    }

    if (ngx_queue_empty(&pool->queue[stmt])) {
        stmt = NGX_HTTP_HOOKD_STMT_TAIL_FETCH;
    }

    q = &pool->queue[stmt];

    /* as hookd's connections do (worker/store.h, docs/architecture.md) */
    if (ngx_current_msec - pc->planned_at >= pool->hmcf->replan_interval) {
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
        ok = (ngx_http_hookd_pool_send_batch(pool, pc) == NGX_OK);
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
