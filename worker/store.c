#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "hookd_conninfo.h"
#include "log.h"
#include "store.h"


#define HOOKD_STORE_MAX_PARAMS  6
#define HOOKD_BACKOFF_MIN       0.05
#define HOOKD_BACKOFF_MAX       2.0



typedef struct hookd_stmt_s  hookd_stmt_t;

struct hookd_stmt_s {
    hookd_stmt_t           *next;
    const char             *name;
    int                     nparams;
    char                   *values[HOOKD_STORE_MAX_PARAMS];
    hookd_store_result_pt   cb;
    void                   *data;
};

typedef enum {
    HOOKD_STORE_DOWN = 0,
    HOOKD_STORE_RESOLVING,
    HOOKD_STORE_CONNECTING,
    HOOKD_STORE_PREPARING,
    HOOKD_STORE_IDLE,
    HOOKD_STORE_BUSY
} hookd_store_state_e;

typedef struct {
    hookd_store_t           *store;
    int                      host;          /* its position in the list */
} hookd_store_lookup_t;

struct hookd_store_s {
    struct ev_loop          *loop;
    char                    *conninfo;
    /* the names of its hosts, resolved before each connection */
    hookd_resolver_t        *resolver;
    hookd_conninfo_hosts_t   hosts;
    hookd_store_lookup_t    *lookups;
    char                   **addrs;
    int                      resolving;     /* answers still to come */
    char                     unresolved[256];
    hookd_store_events_t     events;
    PGconn                  *pg;
    hookd_store_state_e      state;
    ev_io                    rio, wio;
    ev_timer                 retry;
    double                   backoff;
    hookd_stmt_t            *head, *tail;   /* head is running when BUSY */
    PGresult                *res;
    int                      failed;
    int                      replanning;    /* BUSY with DISCARD PLANS */
    int                      read_only;     /* the last statement met one */
    double                   replan_interval;
    ev_tstamp                planned_at;
};


/*
 * synchronous_commit off: a claim or an outcome lost with a PostgreSQL
 * crash only means a delivery is made again once its lease expires, which
 * at-least-once delivery allows; waiting for the disk on each one would
 * bound delivery by fsync instead.
 * jit off: hookd's statements are short; compiling one costs more than
 * running it (55 ms against about 1 for a claim).
 */
static const char  hookd_store_prepare[] =
    "SET synchronous_commit = off;"
    "SET jit = off;"
    "LISTEN hookd_deliveries;"
    "PREPARE hookd_claim (text, integer, double precision) AS"
    " SELECT * FROM hookd.claim($1, $2, $3);"
    "PREPARE hookd_complete (jsonb) AS SELECT hookd.complete($1);"
    "PREPARE hookd_extend_leases (text, jsonb, double precision) AS"
    " SELECT hookd.extend_leases($1, $2, $3);"
    "PREPARE hookd_stats AS SELECT * FROM hookd.delivery_stats();"
    "PREPARE hookd_notice (integer, double precision) AS"
    " SELECT hookd.notice_dead_letters($1, $2);"
    "PREPARE hookd_take_notifications (integer) AS"
    " SELECT * FROM hookd.take_notifications($1);"
    "PREPARE hookd_notifications_done (jsonb, text) AS"
    " SELECT hookd.notifications_done($1, $2);"
    "PREPARE hookd_purge (double precision, integer) AS"
    " SELECT hookd.purge($1, $2);"
    "PREPARE hookd_queue_reindex AS SELECT hookd.queue_reindex();"
    "PREPARE hookd_stats_roll AS SELECT hookd.stats_roll();"
    "PREPARE hookd_assist_alive AS SELECT hookd.assist_backend_alive();"
    "PREPARE hookd_assist_take_events (integer, boolean) AS"
    " SELECT * FROM hookd.assist_take_events($1, $2);"
    "PREPARE hookd_assist_classified (text, text, text, text, text, text[]) AS"
    " SELECT hookd.assist_classified($1, $2, $3, $4, $5, $6);"
    "PREPARE hookd_assist_take_wanted (integer, boolean) AS"
    " SELECT * FROM hookd.assist_take_wanted($1, $2);"
    "PREPARE hookd_assist_answered (text, text, text, text, jsonb, text) AS"
    " SELECT hookd.assist_answered($1, $2, $3, $4, $5, $6)";


static void hookd_store_connect(hookd_store_t *s);
static void hookd_stmt_free(hookd_stmt_t *st);
static void hookd_store_down(hookd_store_t *s, const char *why);
static void hookd_store_resolved(void *data, int error,
    const struct sockaddr_storage *addrs, int naddrs);
static void hookd_store_start(hookd_store_t *s, const char *conninfo);
static void hookd_store_next(hookd_store_t *s);


static void
hookd_stmt_free(hookd_stmt_t *st)
{
    int  i;

    for (i = 0; i < st->nparams; i++) {
        free(st->values[i]);
    }

    free(st);
}


static void
hookd_store_watch(hookd_store_t *s, int want_write)
{
    int  fd = PQsocket(s->pg);

    if (s->rio.fd != fd) {
        ev_io_stop(s->loop, &s->rio);
        ev_io_stop(s->loop, &s->wio);
        ev_io_set(&s->rio, fd, EV_READ);
        ev_io_set(&s->wio, fd, EV_WRITE);
    }

    ev_io_start(s->loop, &s->rio);

    if (want_write) {
        ev_io_start(s->loop, &s->wio);
    } else {
        ev_io_stop(s->loop, &s->wio);
    }
}


static void
hookd_store_flush(hookd_store_t *s)
{
    int  rc = PQflush(s->pg);

    if (rc < 0) {
        hookd_store_down(s, PQerrorMessage(s->pg));
        return;
    }

    hookd_store_watch(s, rc == 1);
}


static void
hookd_store_poll(hookd_store_t *s)
{
    switch (PQconnectPoll(s->pg)) {

    case PGRES_POLLING_FAILED:
        hookd_store_down(s, PQerrorMessage(s->pg));
        return;

    case PGRES_POLLING_READING:
        hookd_store_watch(s, 0);
        return;

    case PGRES_POLLING_WRITING:
        hookd_store_watch(s, 1);
        return;

    default:
        break;
    }

    if (!PQsendQuery(s->pg, hookd_store_prepare)) {
        hookd_store_down(s, PQerrorMessage(s->pg));
        return;
    }

    s->state = HOOKD_STORE_PREPARING;
    s->failed = 0;
    hookd_store_flush(s);
}


static void
hookd_store_results(hookd_store_t *s)
{
    PGnotify        *n;
    PGresult        *res;
    ExecStatusType   st;
    int              notified;

    if (!PQconsumeInput(s->pg)) {
        hookd_store_down(s, PQerrorMessage(s->pg));
        return;
    }

    while (s->state == HOOKD_STORE_BUSY || s->state == HOOKD_STORE_PREPARING) {
        if (PQisBusy(s->pg)) {
            break;
        }

        res = PQgetResult(s->pg);

        if (res == NULL) {
            hookd_stmt_t  *st_done;

            if (s->state == HOOKD_STORE_PREPARING) {
                if (s->failed) {
                    hookd_store_down(s, "cannot prepare statements; is the "
                                        "schema migrated (hookd migrate)?");
                    return;
                }

                hookd_log(HOOKD_LOG_INFO, "connected to PostgreSQL");
                s->state = HOOKD_STORE_IDLE;
                s->backoff = HOOKD_BACKOFF_MIN;
                s->planned_at = ev_now(s->loop);

                if (s->events.ready) {
                    s->events.ready(s->events.data);
                }

                hookd_store_next(s);
                break;
            }

            if (s->replanning) {
                s->replanning = 0;
                s->state = HOOKD_STORE_IDLE;
                s->planned_at = ev_now(s->loop);

                if (s->res) {
                    PQclear(s->res);
                    s->res = NULL;
                }

                hookd_store_next(s);
                continue;
            }

            st_done = s->head;
            s->head = st_done->next;
            if (s->head == NULL) {
                s->tail = NULL;
            }

            s->state = HOOKD_STORE_IDLE;
            res = s->failed ? NULL : s->res;
            s->res = NULL;

            st_done->cb(st_done->data, res);

            if (res) {
                PQclear(res);
            }

            hookd_stmt_free(st_done);

            if (s->read_only) {
                s->read_only = 0;
                hookd_store_down(s, "PostgreSQL is read-only");
                return;
            }

            hookd_store_next(s);
            continue;
        }

        st = PQresultStatus(res);

        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (s->res) {
                PQclear(s->res);
            }
            s->res = res;

        } else {
            hookd_log(HOOKD_LOG_ERROR, "PostgreSQL error: %s",
                      PQresultErrorMessage(res));
            s->failed = 1;
            /* a failover under way: reconnect, so that a multi-host
               conninfo finds the server that writes */
            s->read_only |= PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL
                            && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE),
                                      "25006") == 0;
            PQclear(res);
        }
    }

    if (s->pg == NULL) {
        return;
    }

    if (PQstatus(s->pg) != CONNECTION_OK) {
        hookd_store_down(s, PQerrorMessage(s->pg));
        return;
    }

    /*
     * After the results: libpq parses what it has read only as far as the
     * statement's end while one runs, so a NOTIFY that came in the same
     * read as a result is found only now. Its bytes are already read: no
     * readable event would come for it.
     */
    notified = 0;
    while ((n = PQnotifies(s->pg)) != NULL) {
        notified = 1;
        PQfreemem(n);
    }

    if (notified && s->events.notified) {
        s->events.notified(s->events.data);
    }
}


static void
hookd_store_io(struct ev_loop *loop, ev_io *w, int revents)
{
    hookd_store_t  *s = w->data;

    if (s->state == HOOKD_STORE_CONNECTING) {
        hookd_store_poll(s);
        return;
    }

    if (revents & EV_WRITE) {
        hookd_store_flush(s);
        if (s->state == HOOKD_STORE_DOWN) {
            return;
        }
    }

    if (revents & EV_READ) {
        hookd_store_results(s);
    }
}


static void
hookd_store_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_store_connect(w->data);
}


/*
 * libpq would resolve host names inside PQconnectStart, blocking the loop:
 * they are resolved first, in the resolver's threads, on every connection
 * (a failover may move a name), and connecting uses their addresses.
 */
static void
hookd_store_connect(hookd_store_t *s)
{
    int  i;

    if (s->hosts.nnames == 0) {
        hookd_store_start(s, s->conninfo);
        return;
    }

    s->state = HOOKD_STORE_RESOLVING;
    s->unresolved[0] = '\0';

    for (i = 0; i < s->hosts.nhosts; i++) {
        free(s->addrs[i]);
        s->addrs[i] = NULL;
    }

    for (i = 0; i < s->hosts.nhosts; i++) {
        if (s->hosts.names[i] == NULL) {
            continue;
        }

        s->resolving++;

        if (hookd_resolve(s->resolver, s->hosts.names[i],
                          hookd_store_resolved, &s->lookups[i]) != 0)
        {
            s->resolving--;
            snprintf(s->unresolved, sizeof(s->unresolved), "out of memory");
        }
    }

    if (s->resolving == 0) {
        hookd_store_down(s, s->unresolved);
    }
}


static void
hookd_store_resolved(void *data, int error,
    const struct sockaddr_storage *addrs, int naddrs)
{
    char                   addr[INET6_ADDRSTRLEN], *pinned;
    const void            *in;
    hookd_store_lookup_t  *l = data;
    hookd_store_t         *s = l->store;

    if (error != 0) {
        snprintf(s->unresolved, sizeof(s->unresolved), "cannot resolve %s: %s",
                 s->hosts.names[l->host], gai_strerror(error));

    } else {
        in = addrs[0].ss_family == AF_INET6
             ? (const void *) &((struct sockaddr_in6 *) &addrs[0])->sin6_addr
             : (const void *) &((struct sockaddr_in *) &addrs[0])->sin_addr;
        inet_ntop(addrs[0].ss_family, in, addr, sizeof(addr));
        s->addrs[l->host] = strdup(addr);

        if (s->addrs[l->host] == NULL) {
            snprintf(s->unresolved, sizeof(s->unresolved), "out of memory");
        }
    }

    if (--s->resolving > 0) {
        return;
    }

    if (s->unresolved[0]) {
        hookd_store_down(s, s->unresolved);
        return;
    }

    pinned = hookd_conninfo_pin(s->conninfo, &s->hosts, s->addrs, "hookd");
    if (pinned == NULL) {
        hookd_store_down(s, "out of memory");
        return;
    }

    hookd_store_start(s, pinned);
    free(pinned);
}


static void
hookd_store_start(hookd_store_t *s, const char *conninfo)
{
    s->pg = PQconnectStart(conninfo);

    if (s->pg == NULL || PQstatus(s->pg) == CONNECTION_BAD
        || PQsetnonblocking(s->pg, 1) != 0)
    {
        hookd_store_down(s, s->pg ? PQerrorMessage(s->pg) : "out of memory");
        return;
    }

    s->state = HOOKD_STORE_CONNECTING;
    s->rio.fd = -1;
    hookd_store_watch(s, 1);
}


static void
hookd_store_down(hookd_store_t *s, const char *why)
{
    hookd_stmt_t  *st, *next;

    hookd_log(HOOKD_LOG_ERROR, "PostgreSQL unavailable, retrying in %.2fs: %s",
              s->backoff, why);

    ev_io_stop(s->loop, &s->rio);
    ev_io_stop(s->loop, &s->wio);

    if (s->res) {
        PQclear(s->res);
        s->res = NULL;
    }

    if (s->pg) {
        PQfinish(s->pg);
        s->pg = NULL;
    }

    s->state = HOOKD_STORE_DOWN;
    s->replanning = 0;

    ev_timer_set(&s->retry, s->backoff, 0);
    ev_timer_start(s->loop, &s->retry);
    s->backoff = s->backoff * 2 > HOOKD_BACKOFF_MAX
                 ? HOOKD_BACKOFF_MAX : s->backoff * 2;

    /* what was queued cannot run on this connection: its callers decide */
    st = s->head;
    s->head = s->tail = NULL;

    for ( ; st; st = next) {
        next = st->next;
        st->cb(st->data, NULL);
        hookd_stmt_free(st);
    }
}


static void
hookd_store_next(hookd_store_t *s)
{
    hookd_stmt_t  *st = s->head;

    if (s->state != HOOKD_STORE_IDLE || st == NULL) {
        return;
    }

    if (ev_now(s->loop) - s->planned_at >= s->replan_interval) {
        if (!PQsendQuery(s->pg, "DISCARD PLANS")) {
            hookd_store_down(s, PQerrorMessage(s->pg));
            return;
        }

        s->state = HOOKD_STORE_BUSY;
        s->replanning = 1;
        s->failed = 0;
        hookd_store_flush(s);
        return;
    }

    if (!PQsendQueryPrepared(s->pg, st->name, st->nparams,
                             (const char *const *) st->values, NULL, NULL, 0))
    {
        hookd_store_down(s, PQerrorMessage(s->pg));
        return;
    }

    s->state = HOOKD_STORE_BUSY;
    s->failed = 0;
    hookd_store_flush(s);
}


hookd_store_t *
hookd_store_new(struct ev_loop *loop, const char *conninfo,
    double replan_interval, hookd_resolver_t *resolver,
    const hookd_store_events_t *events)
{
    int             i;
    char           *err, *pinned;
    hookd_store_t  *s;

    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
        free(s);
        return NULL;
    }

    s->loop = loop;
    s->resolver = resolver;
    s->events = *events;
    s->backoff = HOOKD_BACKOFF_MIN;
    s->replan_interval = replan_interval;

    /* a conninfo libpq cannot parse fails at connect, with its message */
    if (hookd_conninfo_hosts(conninfo, &s->hosts, &err) != 0) {
        free(err);

    } else if (s->hosts.nnames == 0) {
        /* nothing to resolve: only named, as hookd, once */
        pinned = hookd_conninfo_pin(conninfo, &s->hosts, NULL, "hookd");
        if (pinned) {
            free(s->conninfo);
            s->conninfo = pinned;
        }
    }

    if (s->hosts.nnames > 0) {
        s->lookups = calloc((size_t) s->hosts.nhosts, sizeof(*s->lookups));
        s->addrs = calloc((size_t) s->hosts.nhosts, sizeof(char *));

        if (s->lookups == NULL || s->addrs == NULL) {
            hookd_conninfo_hosts_free(&s->hosts);
            free(s->lookups);
            free(s->addrs);
            free(s->conninfo);
            free(s);
            return NULL;
        }

        for (i = 0; i < s->hosts.nhosts; i++) {
            s->lookups[i].store = s;
            s->lookups[i].host = i;
        }
    }

    ev_io_init(&s->rio, hookd_store_io, -1, EV_READ);
    ev_io_init(&s->wio, hookd_store_io, -1, EV_WRITE);
    s->rio.data = s;
    s->wio.data = s;

    ev_timer_init(&s->retry, hookd_store_retry, 0, 0);
    s->retry.data = s;

    hookd_store_connect(s);

    return s;
}


void
hookd_store_free(hookd_store_t *s)
{
    int  i;

    if (s == NULL) {
        return;
    }

    ev_io_stop(s->loop, &s->rio);
    ev_io_stop(s->loop, &s->wio);
    ev_timer_stop(s->loop, &s->retry);

    while (s->head) {
        hookd_stmt_t  *st = s->head;

        s->head = st->next;
        hookd_stmt_free(st);
    }

    if (s->res) {
        PQclear(s->res);
    }

    if (s->pg) {
        PQfinish(s->pg);
    }

    for (i = 0; s->addrs && i < s->hosts.nhosts; i++) {
        free(s->addrs[i]);
    }

    hookd_conninfo_hosts_free(&s->hosts);
    free(s->addrs);
    free(s->lookups);
    free(s->conninfo);
    free(s);
}


int
hookd_store_ready(hookd_store_t *s)
{
    return s->state == HOOKD_STORE_IDLE || s->state == HOOKD_STORE_BUSY;
}


int
hookd_store_exec(hookd_store_t *s, const char *stmt, int nparams,
    const char *const *values, hookd_store_result_pt cb, void *data)
{
    int            i;
    hookd_stmt_t  *st;

    if (!hookd_store_ready(s) || nparams > HOOKD_STORE_MAX_PARAMS) {
        return -1;
    }

    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return -1;
    }

    st->name = stmt;
    st->nparams = nparams;
    st->cb = cb;
    st->data = data;

    /* a NULL value is SQL's NULL */
    for (i = 0; i < nparams; i++) {
        if (values[i] == NULL) {
            continue;
        }

        st->values[i] = strdup(values[i]);
        if (st->values[i] == NULL) {
            while (i--) {
                free(st->values[i]);
            }
            free(st);
            return -1;
        }
    }

    if (s->tail) {
        s->tail->next = st;
    } else {
        s->head = st;
    }
    s->tail = st;

    hookd_store_next(s);

    return 0;
}
