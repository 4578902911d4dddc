/*
 * hookd's PostgreSQL connection: non-blocking libpq on the libev loop. It
 * LISTENs for wake-ups and runs one statement at a time from a queue;
 * after a failure it reconnects by itself, failing what was queued. The
 * conninfo's host names are resolved by the resolver before each
 * connection, never by libpq on the loop.
 */

#ifndef HOOKD_STORE_H
#define HOOKD_STORE_H

#include <ev.h>
#include <libpq-fe.h>

#include "resolve.h"

typedef struct hookd_store_s  hookd_store_t;

/* res is NULL when the statement could not run */
typedef void (*hookd_store_result_pt)(void *data, PGresult *res);

typedef struct {
    void  (*ready)(void *data);     /* connected and prepared */
    void  (*notified)(void *data);  /* a NOTIFY arrived */
    void   *data;
} hookd_store_events_t;

/*
 * Plans made on a young install's near-empty tables read a whole table per
 * row once the tables grow, until autovacuum's next ANALYZE; planned again,
 * they are scaled to the tables' current size (docs/architecture.md). So
 * the connection drops its plans every replan_interval seconds, before its
 * next statement.
 */
hookd_store_t *hookd_store_new(struct ev_loop *loop, const char *conninfo,
    double replan_interval, hookd_resolver_t *resolver,
    const hookd_store_events_t *events);
void hookd_store_free(hookd_store_t *s);

int hookd_store_ready(hookd_store_t *s);

/* Runs a statement prepared at connect (see store.c); a NULL value is SQL
 * NULL. 0 if queued. */
int hookd_store_exec(hookd_store_t *s, const char *stmt, int nparams,
    const char *const *values, hookd_store_result_pt cb, void *data);

#endif /* HOOKD_STORE_H */
