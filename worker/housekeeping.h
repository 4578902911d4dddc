/*
 * The housekeeping tick of hookd run (housekeeping_interval): notices of
 * endpoints with many dead letters, the notification outbox sent to the
 * operator (at most one message per channel per tick, however many
 * notifications are waiting), and retention in small batches. And, a few
 * seconds into each minute, the stats of the minute that closed
 * (hookd.stats_roll, sql/functions/stats.sql).
 */

#ifndef HOOKD_HOUSEKEEPING_H
#define HOOKD_HOUSEKEEPING_H

#include <ev.h>

#include "config.h"
#include "store.h"

typedef struct hookd_housekeeping_s  hookd_housekeeping_t;

/* conf is read at each tick: a reload takes effect at the next one */
hookd_housekeeping_t *hookd_housekeeping_new(struct ev_loop *loop,
    hookd_store_t *store, const hookd_config_t *conf);
/* the interval changed (SIGHUP) */
void hookd_housekeeping_reset(hookd_housekeeping_t *hk);
void hookd_housekeeping_stop(hookd_housekeeping_t *hk);
void hookd_housekeeping_free(hookd_housekeeping_t *hk);

#endif /* HOOKD_HOUSEKEEPING_H */
