/*
 * The live tail's feed, one per worker: the LISTEN connection
 * (ngx_http_hookd_pg.c) hands over each notification of hookd_tail
 * (sql/functions/tail.sql). Every id goes into a ring, in commit order,
 * which every worker sees the same; the ids of applications that someone
 * tails in this worker are fetched, one statement per notification (more
 * while one is in flight), and each message goes to each of their clients.
 *
 * The ring is what makes a resume exact: a client that comes back with
 * the last id it got has had exactly what came before that id in commit
 * order, and is replayed what came after it.
 */

#include "ngx_http_hookd_tail.h"


typedef struct {
    u_char     id[NGX_HTTP_HOOKD_TAIL_ID_LEN];
    uint32_t   app;
} ngx_http_hookd_tail_entry_t;


typedef struct {
    ngx_http_hookd_pool_t          *pool;
    ngx_log_t                      *log;
    ngx_http_hookd_tail_entry_t    *ring;
    uint64_t                        head;
    /* positions before it may lack ids: the ring's start, or a time the
       LISTEN connection was down */
    uint64_t                        floor;
    /* the LISTEN connection is up: no stream starts while it is not */
    ngx_uint_t                      listening;
    ngx_queue_t                     apps;
    /* the fetch in flight, and the one filling meanwhile */
    ngx_http_hookd_tail_fetch_t     fetch[2];
    ngx_uint_t                      in_flight;
    ngx_event_t                     tick;
} ngx_http_hookd_tail_feed_t;


#define NGX_HTTP_HOOKD_TAIL_FETCH_MAX  (4 * 1024 * 1024)


static void ngx_http_hookd_tail_ids(u_char kind, u_char *line, u_char *end);
static void ngx_http_hookd_tail_fetched(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int rows);
static void ngx_http_hookd_tail_send_fetch(void);
static void ngx_http_hookd_tail_on_tick(ngx_event_t *ev);
static void ngx_http_hookd_tail_end_all(const char *reason);
static void ngx_http_hookd_tail_close(ngx_http_hookd_tail_client_t *client,
    void *data);


static ngx_http_hookd_tail_feed_t  *ngx_http_hookd_tail_feed_state;


ngx_int_t
ngx_http_hookd_tail_init(ngx_cycle_t *cycle, ngx_http_hookd_pool_t *pool)
{
    ngx_http_hookd_tail_feed_t  *feed;

    feed = ngx_pcalloc(cycle->pool, sizeof(ngx_http_hookd_tail_feed_t));
    if (feed == NULL) {
        return NGX_ERROR;
    }

    feed->ring = ngx_alloc(NGX_HTTP_HOOKD_TAIL_RING
                           * sizeof(ngx_http_hookd_tail_entry_t), cycle->log);
    if (feed->ring == NULL) {
        return NGX_ERROR;
    }

    feed->pool = pool;
    feed->log = cycle->log;
    ngx_queue_init(&feed->apps);

    feed->tick.handler = ngx_http_hookd_tail_on_tick;
    feed->tick.log = cycle->log;
    feed->tick.cancelable = 1;
    ngx_add_timer(&feed->tick, 1000);

    ngx_http_hookd_tail_feed_state = feed;

    return NGX_OK;
}


void
ngx_http_hookd_tail_done(void)
{
    ngx_uint_t                   i;
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL) {
        return;
    }

    if (feed->tick.timer_set) {
        ngx_del_timer(&feed->tick);
    }

    /* the process exits: its streams' connections close with it */
    ngx_http_hookd_tail_each(ngx_http_hookd_tail_close, NULL);

    for (i = 0; i < 2; i++) {
        if (feed->fetch[i].lines) {
            ngx_free(feed->fetch[i].lines);
        }
    }

    ngx_free(feed->ring);
    ngx_http_hookd_tail_feed_state = NULL;
}


uint64_t
ngx_http_hookd_tail_head(void)
{
    return ngx_http_hookd_tail_feed_state
           ? ngx_http_hookd_tail_feed_state->head : 0;
}


ngx_uint_t
ngx_http_hookd_tail_live(void)
{
    return ngx_http_hookd_tail_feed_state
           && ngx_http_hookd_tail_feed_state->listening;
}


uint64_t
ngx_http_hookd_tail_floor(void)
{
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL) {
        return 0;
    }

    if (feed->head > NGX_HTTP_HOOKD_TAIL_RING
        && feed->head - NGX_HTTP_HOOKD_TAIL_RING > feed->floor)
    {
        return feed->head - NGX_HTTP_HOOKD_TAIL_RING;
    }

    return feed->floor;
}


ngx_int_t
ngx_http_hookd_tail_find(const u_char *id, size_t len, uint64_t *pos)
{
    uint64_t                     p, floor;
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL || len != NGX_HTTP_HOOKD_TAIL_ID_LEN) {
        return NGX_DECLINED;
    }

    floor = ngx_http_hookd_tail_floor();

    /* newest first: a client comes back soon after it left */
    for (p = feed->head; p > floor; p--) {
        if (ngx_memcmp(feed->ring[(p - 1) % NGX_HTTP_HOOKD_TAIL_RING].id, id,
                       NGX_HTTP_HOOKD_TAIL_ID_LEN) == 0)
        {
            *pos = p;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_hookd_tail_since(ngx_http_hookd_tail_fetch_t *f, ngx_str_t *app,
    uint64_t from, uint64_t head, ngx_uint_t *skipped)
{
    uint32_t                      hash;
    uint64_t                      p, start;
    ngx_uint_t                    n;
    ngx_http_hookd_tail_entry_t  *e;
    ngx_http_hookd_tail_feed_t   *feed = ngx_http_hookd_tail_feed_state;

    hash = ngx_crc32_short(app->data, app->len);
    n = 0;
    start = from;

    /* the newest DEPTH of the application's are replayed, oldest first */
    for (p = head; p > from; p--) {
        if (feed->ring[(p - 1) % NGX_HTTP_HOOKD_TAIL_RING].app == hash
            && ++n == NGX_HTTP_HOOKD_TAIL_DEPTH)
        {
            start = p - 1;
        }
    }

    *skipped = n > NGX_HTTP_HOOKD_TAIL_DEPTH ? n - NGX_HTTP_HOOKD_TAIL_DEPTH
                                             : 0;

    for (p = (n > NGX_HTTP_HOOKD_TAIL_DEPTH ? start : from); p < head; p++) {
        e = &feed->ring[p % NGX_HTTP_HOOKD_TAIL_RING];

        if (e->app == hash
            && ngx_http_hookd_tail_line(f, e->id[0] == 'e' ? 'e' : 'd', app,
                                        e->id) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_http_hookd_tail_app_t *
ngx_http_hookd_tail_app(ngx_str_t *id, ngx_uint_t create)
{
    uint32_t                     hash;
    ngx_queue_t                 *q;
    ngx_http_hookd_tail_app_t   *app;
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL) {
        return NULL;
    }

    hash = ngx_crc32_short(id->data, id->len);

    /* a worker that shuts down waits for the tick, which ends the streams */
    if (create) {
        feed->tick.cancelable = 0;
    }

    for (q = ngx_queue_head(&feed->apps);
         q != ngx_queue_sentinel(&feed->apps);
         q = ngx_queue_next(q))
    {
        app = ngx_queue_data(q, ngx_http_hookd_tail_app_t, queue);

        if (app->hash == hash && app->id.len == id->len
            && ngx_memcmp(app->id.data, id->data, id->len) == 0)
        {
            return app;
        }
    }

    if (!create) {
        return NULL;
    }

    app = ngx_alloc(sizeof(ngx_http_hookd_tail_app_t) + id->len, feed->log);
    if (app == NULL) {
        return NULL;
    }

    ngx_memzero(app, sizeof(ngx_http_hookd_tail_app_t));
    app->hash = hash;
    app->id.len = id->len;
    app->id.data = (u_char *) (app + 1);
    ngx_memcpy(app->id.data, id->data, id->len);
    ngx_queue_init(&app->clients);
    ngx_queue_insert_tail(&feed->apps, &app->queue);

    return app;
}


ngx_int_t
ngx_http_hookd_tail_line(ngx_http_hookd_tail_fetch_t *f, u_char kind,
    ngx_str_t *app, const u_char *id)
{
    u_char  *p;
    size_t   need;

    need = 2 + app->len + 1 + NGX_HTTP_HOOKD_TAIL_ID_LEN + 2;

    if (ngx_http_hookd_tail_reserve(&f->lines, f->len, &f->cap, need,
                                    NGX_HTTP_HOOKD_TAIL_FETCH_MAX,
                                    ngx_cycle->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = f->lines + f->len;

    if (f->len) {
        *p++ = '\n';
    }

    *p++ = kind;
    *p++ = ' ';
    p = ngx_cpymem(p, app->data, app->len);
    *p++ = ' ';
    p = ngx_cpymem(p, id, NGX_HTTP_HOOKD_TAIL_ID_LEN);
    *p = '\0';

    f->len = p - f->lines;

    return NGX_OK;
}


ngx_int_t
ngx_http_hookd_tail_reserve(u_char **data, size_t len, size_t *cap,
    size_t more, size_t max, ngx_log_t *log)
{
    u_char  *p;
    size_t   size;

    if (len + more <= *cap) {
        return NGX_OK;
    }

    if (len + more > max) {
        return NGX_ERROR;
    }

    size = ngx_min(ngx_max(*cap * 2, len + more + 4096), max);

    p = ngx_alloc(size, log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (*data) {
        ngx_memcpy(p, *data, len);
        ngx_free(*data);
    }

    *data = p;
    *cap = size;

    return NGX_OK;
}


ngx_int_t
ngx_http_hookd_tail_post(ngx_http_hookd_tail_fetch_t *f)
{
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    f->job.stmt = NGX_HTTP_HOOKD_STMT_TAIL_FETCH;
    f->job.param.data = f->lines;
    f->job.param.len = f->len;
    f->job.handler = ngx_http_hookd_tail_fetched;
    f->job.data = f;

    return ngx_http_hookd_pool_post(feed->pool, &f->job);
}


void
ngx_http_hookd_tail_listening(ngx_uint_t up)
{
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL) {
        return;
    }

    /*
     * Whatever committed while the connection was down was never seen:
     * no resume may rely on the ring across the gap, and the streams,
     * which missed it, end so that their clients resume from PostgreSQL.
     */
    feed->floor = feed->head;
    feed->listening = up;

    if (!up) {
        ngx_http_hookd_tail_end_all("lagging");
    }
}


void
ngx_http_hookd_tail_feed(const char *payload)
{
    u_char                      *p, *end, *nl, hash[HOOKD_KEY_HASH_LEN];
    u_char                       kind;
    ngx_int_t                    hi, lo;
    ngx_uint_t                   i;
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL) {
        return;
    }

    p = (u_char *) payload;
    end = p + ngx_strlen(p);

    if (end - p == 2 + 2 * HOOKD_KEY_HASH_LEN && p[0] == 'r' && p[1] == ' ') {
        for (i = 0; i < HOOKD_KEY_HASH_LEN; i++) {
            hi = ngx_hextoi(p + 2 + 2 * i, 1);
            lo = ngx_hextoi(p + 3 + 2 * i, 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                return;
            }

            hash[i] = (u_char) ((hi << 4) | lo);
        }

        ngx_http_hookd_key_cache_forget(hash);
        ngx_http_hookd_tail_each(ngx_http_hookd_tail_revoked, hash);
        return;
    }

    if (end - p < 2 || (p[0] != 'e' && p[0] != 'd') || p[1] != '\n') {
        ngx_log_error(NGX_LOG_WARN, feed->log, 0,
                      "hookd: unexpected notification on hookd_tail");
        return;
    }

    kind = p[0];
    p += 2;

    while (p < end) {
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        ngx_http_hookd_tail_ids(kind, p, nl);
        p = nl + 1;
    }

    ngx_http_hookd_tail_send_fetch();
}


/* "<application id> <id> <id> …": into the ring, and to fetch if tailed */
static void
ngx_http_hookd_tail_ids(u_char kind, u_char *line, u_char *end)
{
    u_char                       *p, *sp;
    uint32_t                      hash;
    ngx_str_t                     app;
    ngx_http_hookd_tail_app_t    *tailed;
    ngx_http_hookd_tail_entry_t  *e;
    ngx_http_hookd_tail_fetch_t  *f;
    ngx_http_hookd_tail_feed_t   *feed = ngx_http_hookd_tail_feed_state;

    sp = ngx_strlchr(line, end, ' ');
    if (sp == NULL) {
        return;
    }

    app.data = line;
    app.len = sp - line;
    hash = ngx_crc32_short(app.data, app.len);
    tailed = ngx_http_hookd_tail_app(&app, 0);
    f = &feed->fetch[feed->in_flight ? 1 : 0];

    for (p = sp + 1; p + NGX_HTTP_HOOKD_TAIL_ID_LEN <= end;
         p += NGX_HTTP_HOOKD_TAIL_ID_LEN + 1)
    {
        e = &feed->ring[feed->head % NGX_HTTP_HOOKD_TAIL_RING];
        ngx_memcpy(e->id, p, NGX_HTTP_HOOKD_TAIL_ID_LEN);
        e->app = hash;
        feed->head++;

        if (tailed && tailed->nclients
            && ngx_http_hookd_tail_line(f, kind, &app, p) != NGX_OK)
        {
            /* more than a fetch holds: the streams resume instead */
            f->len = 0;
            tailed = NULL;
            ngx_http_hookd_tail_end_all("lagging");
        }
    }
}


static void
ngx_http_hookd_tail_send_fetch(void)
{
    ngx_http_hookd_tail_fetch_t  *f;
    ngx_http_hookd_tail_feed_t   *feed = ngx_http_hookd_tail_feed_state;

    if (feed->in_flight || feed->fetch[0].len == 0) {
        return;
    }

    f = &feed->fetch[0];
    f->client = NULL;
    feed->in_flight = 1;

    if (ngx_http_hookd_tail_post(f) != NGX_OK) {
        feed->in_flight = 0;
        f->len = 0;
        ngx_http_hookd_tail_end_all("lagging");
    }
}


static void
ngx_http_hookd_tail_fetched(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int rows)
{
    int                            row;
    u_char                        *swap_lines;
    size_t                         swap_cap;
    json_t                        *labels;
    ngx_str_t                      app_id, id, msg;
    ngx_queue_t                   *q, *next;
    ngx_http_hookd_tail_app_t     *app;
    ngx_http_hookd_tail_fetch_t   *f = job->data;
    ngx_http_hookd_tail_client_t  *client;
    ngx_http_hookd_tail_feed_t    *feed = ngx_http_hookd_tail_feed_state;

    if (f->replay) {
        if (f->client) {
            ngx_http_hookd_tail_replayed(f->client, rc, res, rows);

        } else {
            /* its stream ended while the replay was fetched */
            ngx_free(f->lines);
            ngx_free(f);
        }

        return;
    }

    if (feed == NULL) {
        return;
    }

    if (rc != NGX_HTTP_HOOKD_JOB_OK) {
        ngx_http_hookd_tail_end_all("lagging");
    }

    for (row = 0; rc == NGX_HTTP_HOOKD_JOB_OK && row < rows; row++) {
        app_id.data = (u_char *) PQgetvalue(res, row, 0);
        app_id.len = PQgetlength(res, row, 0);

        app = ngx_http_hookd_tail_app(&app_id, 0);
        if (app == NULL || app->nclients == 0) {
            continue;
        }

        id.data = (u_char *) PQgetvalue(res, row, 1);
        id.len = PQgetlength(res, row, 1);

        if (ngx_http_hookd_tail_format(&msg, (char *) id.data, id.len,
                                       PQgetvalue(res, row, 2),
                                       PQgetvalue(res, row, 4),
                                       PQgetlength(res, row, 4))
            != NGX_OK)
        {
            continue;
        }

        labels = app->labelled ? json_loads(PQgetvalue(res, row, 3), 0, NULL)
                               : NULL;

        for (q = ngx_queue_head(&app->clients);
             q != ngx_queue_sentinel(&app->clients);
             q = next)
        {
            next = ngx_queue_next(q);
            client = ngx_queue_data(q, ngx_http_hookd_tail_client_t, queue);
            ngx_http_hookd_tail_message(client, &id, labels, &msg);
        }

        json_decref(labels);
        ngx_free(msg.data);
    }

    ngx_http_hookd_tail_each(ngx_http_hookd_tail_send, NULL);

    /* the one filled meanwhile goes next */
    f->len = 0;
    swap_lines = feed->fetch[0].lines;
    swap_cap = feed->fetch[0].cap;
    feed->fetch[0] = feed->fetch[1];
    feed->fetch[1].lines = swap_lines;
    feed->fetch[1].cap = swap_cap;
    feed->fetch[1].len = 0;
    feed->in_flight = 0;

    ngx_http_hookd_tail_send_fetch();
}


void
ngx_http_hookd_tail_each(ngx_http_hookd_tail_each_pt handler, void *data)
{
    ngx_queue_t                   *q, *cq, *next;
    ngx_http_hookd_tail_app_t     *app;
    ngx_http_hookd_tail_client_t  *client;
    ngx_http_hookd_tail_feed_t    *feed = ngx_http_hookd_tail_feed_state;

    if (feed == NULL) {
        return;
    }

    for (q = ngx_queue_head(&feed->apps);
         q != ngx_queue_sentinel(&feed->apps);
         q = ngx_queue_next(q))
    {
        app = ngx_queue_data(q, ngx_http_hookd_tail_app_t, queue);

        for (cq = ngx_queue_head(&app->clients);
             cq != ngx_queue_sentinel(&app->clients);
             cq = next)
        {
            next = ngx_queue_next(cq);
            client = ngx_queue_data(cq, ngx_http_hookd_tail_client_t, queue);
            handler(client, data);
        }
    }
}


static void
ngx_http_hookd_tail_ending(ngx_http_hookd_tail_client_t *client, void *data)
{
    ngx_http_hookd_tail_end(client, data);
}


static void
ngx_http_hookd_tail_end_all(const char *reason)
{
    ngx_http_hookd_tail_each(ngx_http_hookd_tail_ending, (void *) reason);
}


static void
ngx_http_hookd_tail_close(ngx_http_hookd_tail_client_t *client, void *data)
{
    ngx_http_hookd_tail_drop(client, 1);
}


/*
 * Heartbeats and expiries; applications left without clients are
 * forgotten here, never while a fetch's rows go through their clients.
 * While streams are open the tick holds a worker that shuts down: it ends
 * them, so that their clients come back to a new worker at once.
 */
static void
ngx_http_hookd_tail_on_tick(ngx_event_t *ev)
{
    ngx_uint_t                   open;
    ngx_queue_t                 *q, *next;
    ngx_http_hookd_tail_app_t   *app;
    ngx_http_hookd_tail_feed_t  *feed = ngx_http_hookd_tail_feed_state;

    if (ngx_exiting) {
        ngx_http_hookd_tail_end_all("restarting");

    } else {
        ngx_http_hookd_tail_each(ngx_http_hookd_tail_tick, NULL);
    }

    open = 0;

    for (q = ngx_queue_head(&feed->apps);
         q != ngx_queue_sentinel(&feed->apps);
         q = next)
    {
        next = ngx_queue_next(q);
        app = ngx_queue_data(q, ngx_http_hookd_tail_app_t, queue);

        if (app->nclients == 0) {
            ngx_queue_remove(&app->queue);
            ngx_free(app);

        } else {
            open = 1;
        }
    }

    if (ngx_exiting && !open) {
        return;
    }

    ev->cancelable = !open;
    ngx_add_timer(ev, 1000);
}
