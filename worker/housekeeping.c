#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "housekeeping.h"
#include "log.h"
#include "notify.h"


#define HOOKD_NOTIFY_BATCH   50
#define HOOKD_PURGE_BATCH    1000
/* a tick removes at most this many batches; the next tick goes on */
#define HOOKD_PURGE_BATCHES  100
/* into each minute: the last batches of the one before have committed */
#define HOOKD_STATS_DELAY    6.0


struct hookd_housekeeping_s {
    struct ev_loop         *loop;
    hookd_store_t          *store;
    const hookd_config_t   *conf;
    hookd_notify_t         *notify;
    ev_timer                tick;
    ev_timer                roll;
    int                     rolling;
    int                     stopped;
    int                     busy;
    int                     purged_batches;
    long                    purged;
    json_t                 *taken;      /* ids of the notifications sent */
};


static void hookd_hk_take(hookd_housekeeping_t *hk);
static void hookd_hk_purge(hookd_housekeeping_t *hk);
static void hookd_hk_roll_at(hookd_housekeeping_t *hk);


/* a minute rolled; while closed minutes remain, the next one at once */
static void
hookd_hk_rolled(void *data, PGresult *res)
{
    hookd_housekeeping_t  *hk = data;

    hk->rolling = 0;

    if (!hk->stopped && res && PQntuples(res) == 1
        && atoi(PQgetvalue(res, 0, 0)) > 0)
    {
        ev_timer_stop(hk->loop, &hk->roll);
        ev_timer_set(&hk->roll, 0.0, 0);
        ev_timer_start(hk->loop, &hk->roll);
    }
}


static void
hookd_hk_roll(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_housekeeping_t  *hk = w->data;

    /* not connected yet: soon again */
    if (!hookd_store_ready(hk->store)) {
        ev_timer_set(&hk->roll, 1.0, 0);
        ev_timer_start(loop, &hk->roll);
        return;
    }

    if (!hk->rolling) {
        hk->rolling = 1;

        if (hookd_store_exec(hk->store, "hookd_stats_roll", 0, NULL,
                             hookd_hk_rolled, hk) != 0)
        {
            hk->rolling = 0;
        }
    }

    hookd_hk_roll_at(hk);
}


/* the next minute, HOOKD_STATS_DELAY seconds in */
static void
hookd_hk_roll_at(hookd_housekeeping_t *hk)
{
    ev_tstamp  now = ev_now(hk->loop);

    ev_timer_set(&hk->roll, 60.0 - fmod(now, 60.0) + HOOKD_STATS_DELAY, 0);
    ev_timer_start(hk->loop, &hk->roll);
}


static void
hookd_hk_reindexed(void *data, PGresult *res)
{
    int                    n;
    hookd_housekeeping_t  *hk = data;

    n = res && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    if (n > 0) {
        hookd_log(HOOKD_LOG_INFO, "rebuilt %d of the queue's indexes: they "
                  "had grown far past the rows they index", n);
    }

    hk->busy = 0;
}


/* the last step of a tick (sql/functions/housekeeping.sql) */
static void
hookd_hk_done(hookd_housekeeping_t *hk)
{
    if (hk->purged) {
        hookd_log(HOOKD_LOG_INFO, "retention removed %ld events older than "
                  "%gs", hk->purged, hk->conf->retention);
    }

    if (hk->stopped
        || hookd_store_exec(hk->store, "hookd_queue_reindex", 0, NULL,
                            hookd_hk_reindexed, hk) != 0)
    {
        hk->busy = 0;
    }
}


static void
hookd_hk_purged(void *data, PGresult *res)
{
    long                   n;
    hookd_housekeeping_t  *hk = data;

    if (res == NULL || PQntuples(res) != 1) {
        hookd_hk_done(hk);
        return;
    }

    n = atol(PQgetvalue(res, 0, 0));
    hk->purged += n;

    if (n == HOOKD_PURGE_BATCH && ++hk->purged_batches < HOOKD_PURGE_BATCHES) {
        hookd_hk_purge(hk);
        return;
    }

    hookd_hk_done(hk);
}


/* one batch per statement: short transactions, completions interleave */
static void
hookd_hk_purge(hookd_housekeeping_t *hk)
{
    char         age[32], batch[16];
    const char  *params[2];

    if (hk->conf->retention <= 0) {
        hookd_hk_done(hk);
        return;
    }

    snprintf(age, sizeof(age), "%.3f", hk->conf->retention);
    snprintf(batch, sizeof(batch), "%d", HOOKD_PURGE_BATCH);
    params[0] = age;
    params[1] = batch;

    if (hookd_store_exec(hk->store, "hookd_purge", 2, params, hookd_hk_purged,
                         hk) != 0)
    {
        hookd_hk_done(hk);
    }
}


static void
hookd_hk_recorded(void *data, PGresult *res)
{
    hookd_housekeeping_t  *hk = data;

    json_decref(hk->taken);
    hk->taken = NULL;
    hookd_hk_purge(hk);
}


static void
hookd_hk_sent(void *data, const char *error)
{
    char                  *ids;
    const char            *params[2];
    hookd_housekeeping_t  *hk = data;

    ids = json_dumps(hk->taken, JSON_COMPACT);
    params[0] = ids;
    params[1] = error;

    if (ids == NULL
        || hookd_store_exec(hk->store, "hookd_notifications_done", 2, params,
                            hookd_hk_recorded, hk) != 0)
    {
        /* not recorded: each is tried again when its lease ends */
        hookd_hk_recorded(hk, NULL);
    }

    free(ids);
}


static void
hookd_hk_taken(void *data, PGresult *res)
{
    int                    i;
    hookd_housekeeping_t  *hk = data;

    if (res == NULL || PQntuples(res) == 0) {
        hookd_hk_purge(hk);
        return;
    }

    hk->taken = json_array();

    for (i = 0; i < PQntuples(res); i++) {
        json_array_append_new(hk->taken, json_string(PQgetvalue(res, i, 0)));
    }

    hookd_log(HOOKD_LOG_INFO, "sending %d notification%s", PQntuples(res),
              PQntuples(res) == 1 ? "" : "s");

    if (hookd_notify_send(hk->notify, hk->conf, res, hookd_hk_sent, hk) != 0) {
        hookd_hk_sent(hk, "cannot start sending");
    }
}


static void
hookd_hk_take(hookd_housekeeping_t *hk)
{
    char         n[16];
    const char  *params[1];

    snprintf(n, sizeof(n), "%d", HOOKD_NOTIFY_BATCH);
    params[0] = n;

    if (hookd_store_exec(hk->store, "hookd_take_notifications", 1, params,
                         hookd_hk_taken, hk) != 0)
    {
        hookd_hk_purge(hk);
    }
}


static void
hookd_hk_noticed(void *data, PGresult *res)
{
    hookd_hk_take(data);
}


static void
hookd_hk_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    char                   threshold[16], window[32];
    const char            *params[2];
    hookd_housekeeping_t  *hk = w->data;

    if (hk->busy || !hookd_store_ready(hk->store)) {
        return;
    }

    hk->busy = 1;
    hk->purged = 0;
    hk->purged_batches = 0;

    /* without a channel, notifications wait in hookd.notifications */
    if (!hookd_notify_configured(hk->conf)) {
        hookd_hk_purge(hk);
        return;
    }

    if (hk->conf->dead_letter_threshold <= 0) {
        hookd_hk_take(hk);
        return;
    }

    snprintf(threshold, sizeof(threshold), "%d",
             hk->conf->dead_letter_threshold);
    snprintf(window, sizeof(window), "%.3f", hk->conf->dead_letter_window);
    params[0] = threshold;
    params[1] = window;

    if (hookd_store_exec(hk->store, "hookd_notice", 2, params,
                         hookd_hk_noticed, hk) != 0)
    {
        hookd_hk_take(hk);
    }
}


hookd_housekeeping_t *
hookd_housekeeping_new(struct ev_loop *loop, hookd_store_t *store,
    const hookd_config_t *conf)
{
    hookd_housekeeping_t  *hk;

    hk = calloc(1, sizeof(*hk));
    if (hk == NULL) {
        return NULL;
    }

    hk->notify = hookd_notify_new(loop);
    if (hk->notify == NULL) {
        free(hk);
        return NULL;
    }

    hk->loop = loop;
    hk->store = store;
    hk->conf = conf;

    ev_timer_init(&hk->tick, hookd_hk_tick, 1.0, conf->housekeeping_interval);
    hk->tick.data = hk;
    ev_timer_start(loop, &hk->tick);

    /* at start too: the minutes closed while no hookd ran */
    ev_timer_init(&hk->roll, hookd_hk_roll, 1.0, 0);
    hk->roll.data = hk;
    ev_timer_start(loop, &hk->roll);

    return hk;
}


void
hookd_housekeeping_reset(hookd_housekeeping_t *hk)
{
    hk->tick.repeat = hk->conf->housekeeping_interval;
    ev_timer_again(hk->loop, &hk->tick);
}


void
hookd_housekeeping_stop(hookd_housekeeping_t *hk)
{
    ev_timer_stop(hk->loop, &hk->tick);
    ev_timer_stop(hk->loop, &hk->roll);
    hk->stopped = 1;
}


void
hookd_housekeeping_free(hookd_housekeeping_t *hk)
{
    if (hk) {
        ev_timer_stop(hk->loop, &hk->tick);
        ev_timer_stop(hk->loop, &hk->roll);
        hookd_notify_free(hk->notify);
        json_decref(hk->taken);
        free(hk);
    }
}
