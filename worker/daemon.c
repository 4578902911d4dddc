/*
 * hookd run: the delivery loop. Everything runs on one libev loop, and
 * this file wires its parts (delivery.h says which way they depend):
 *
 *   NOTIFY / poll timer / a finished attempt -> claims (claim.c)
 *   claimed deliveries -> attempts (attempt.c) -> outcomes
 *   outcomes -> recorded in batches (record.c)
 *
 * SIGTERM stops claiming and waits (drain_timeout at most) for the
 * attempts in flight and their outcomes; a second SIGTERM exits at once.
 * Leases of whatever is left expire and another hookd delivers it. SIGHUP
 * rereads hookd.conf and keeps the old settings if the new ones are wrong.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "attempt.h"
#include "claim.h"
#include "config.h"
#include "daemon.h"
#include "assist.h"
#include "housekeeping.h"
#include "log.h"
#include "metrics.h"
#include "record.h"
#include "secret.h"
#include "store.h"
#include "util.h"


typedef struct {
    struct ev_loop        *loop;
    const hookd_args_t    *args;
    hookd_config_t         conf;
    unsigned char          master[HOOKD_MASTER_KEY_LEN];
    hookd_resolver_t      *resolver;    /* names, for the stores and proxy */
    hookd_store_t         *store;       /* LISTEN and claims */
    hookd_store_t         *recording;   /* outcomes, so claims never wait */
    hookd_claims_t        *claims;
    hookd_attempts_t      *attempts;
    hookd_recorder_t      *recorder;
    hookd_housekeeping_t  *housekeeping;
    hookd_assist_t        *assist;      /* NULL: no backend configured */
    int                    draining;
    int                    pumping;
    ev_timer               poll;
    ev_timer               drain;
    ev_timer               stats;
    ev_timer               leases;
    ev_signal              sigterm, sigint, sighup;
} hookd_daemon_t;


static void hookd_pump(hookd_daemon_t *d);
static void hookd_maybe_exit(hookd_daemon_t *d);
static void hookd_daemon_free(hookd_daemon_t *d);


/* claimed deliveries go out while transfer slots are free */
static void
hookd_pump(hookd_daemon_t *d)
{
    hookd_delivery_t  *dl;

    d->pumping = 1;

    while (hookd_attempts_running(d->attempts) < d->conf.concurrency
           && (dl = hookd_claims_next(d->claims)) != NULL)
    {
        hookd_attempts_start(d->attempts, dl);
    }

    d->pumping = 0;
}


static void
hookd_on_claimed(void *data)
{
    hookd_pump(data);
}


static int
hookd_in_flight(void *data)
{
    hookd_daemon_t  *d = data;

    return hookd_attempts_running(d->attempts);
}


static void
hookd_on_outcome(void *data, const hookd_outcome_t *o)
{
    hookd_daemon_t  *d = data;

    hookd_recorder_add(d->recorder, o);

    /* a finished transfer freed its slot (one that failed as it started
       is followed by the next of the running pump) */
    if (!d->pumping) {
        hookd_pump(d);
        hookd_claims_top_up(d->claims);
        hookd_maybe_exit(d);
    }
}


static int
hookd_held_back(void *data)
{
    hookd_daemon_t  *d = data;

    return hookd_recorder_behind(d->recorder);
}


static void
hookd_on_recorded(void *data)
{
    hookd_daemon_t  *d = data;

    /* claims held back while outcomes waited go on */
    hookd_claims_top_up(d->claims);
    hookd_maybe_exit(d);
}


static void
hookd_maybe_exit(hookd_daemon_t *d)
{
    if (d->draining && hookd_attempts_running(d->attempts) == 0
        && hookd_claims_backlog(d->claims) == 0
        && hookd_recorder_idle(d->recorder))
    {
        hookd_log(HOOKD_LOG_INFO, "drained, exiting");
        ev_break(d->loop, EVBREAK_ALL);
    }
}


static void
hookd_on_ready(void *data)
{
    hookd_daemon_t  *d = data;

    hookd_recorder_flush(d->recorder);
    hookd_claims_wake(d->claims);
}


static void
hookd_on_notify(void *data)
{
    hookd_daemon_t  *d = data;

    hookd_claims_wake(d->claims);
}


static void
hookd_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_daemon_t  *d = w->data;

    hookd_claims_wake(d->claims);
}


static void
hookd_sampled(void *data, PGresult *res)
{
    if (res == NULL || PQntuples(res) != 1) {
        return;
    }

    hookd_metrics.queue_due = atoll(PQgetvalue(res, 0, 0));
    hookd_metrics.oldest_due_seconds = atof(PQgetvalue(res, 0, 1));
    hookd_metrics.breakers_open = atoll(PQgetvalue(res, 0, 2));
    hookd_metrics.breakers_half_open = atoll(PQgetvalue(res, 0, 3));
}


static void
hookd_on_stats(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_daemon_t  *d = w->data;

    (void) hookd_store_exec(d->recording, "hookd_stats", 0, NULL,
                            hookd_sampled, d);
}


static void
hookd_extended(void *data, PGresult *res)
{
    if (res == NULL) {
        hookd_log(HOOKD_LOG_WARN, "leases of running attempts could not be "
                  "extended");
    }
}


/*
 * A lease must outlast the attempt it covers, and an endpoint's timeout
 * may be longer than the lease: every third of a lease, the leases of the
 * running attempts claimed that long ago are extended by a whole one. By
 * claim, not by start: an attempt may start up to half a lease after its
 * claim (hookd_claims_next), and counted from its start its first extension
 * could come after the lease ran out.
 */
static void
hookd_on_leases(struct ev_loop *loop, ev_timer *w, int revents)
{
    char            *text, lease[32];
    json_t          *list;
    const char      *params[3];
    hookd_daemon_t  *d = w->data;

    list = hookd_attempts_leases(d->attempts, hookd_clock(CLOCK_MONOTONIC)
                                              - d->conf.lease_seconds / 3);
    if (list == NULL) {
        return;
    }

    text = json_dumps(list, JSON_COMPACT);
    json_decref(list);

    if (text == NULL) {
        return;
    }

    snprintf(lease, sizeof(lease), "%g", d->conf.lease_seconds);
    params[0] = d->conf.worker_id;
    params[1] = text;
    params[2] = lease;

    (void) hookd_store_exec(d->recording, "hookd_extend_leases", 3, params,
                            hookd_extended, d);
    free(text);
}


static void
hookd_on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_daemon_t  *d = w->data;

    hookd_log(HOOKD_LOG_WARN, "drain timeout with %d deliveries in flight; "
              "their leases will expire and they will be delivered again",
              hookd_attempts_running(d->attempts));
    ev_break(loop, EVBREAK_ALL);
}


static void
hookd_on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
    hookd_daemon_t  *d = w->data;

    if (d->draining) {
        hookd_log(HOOKD_LOG_WARN, "second signal: exiting now");
        ev_break(loop, EVBREAK_ALL);
        return;
    }

    hookd_log(HOOKD_LOG_INFO, "draining: %d deliveries in flight",
              hookd_attempts_running(d->attempts));
    d->draining = 1;
    hookd_recorder_drain(d->recorder);
    hookd_claims_stop(d->claims);
    ev_timer_stop(loop, &d->poll);
    ev_timer_stop(loop, &d->stats);
    hookd_housekeeping_stop(d->housekeeping);
    hookd_assist_stop(d->assist);
    ev_timer_set(&d->drain, d->conf.drain_timeout, 0);
    ev_timer_start(loop, &d->drain);

    hookd_maybe_exit(d);
}


static void
hookd_on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    hookd_daemon_t  *d = w->data;
    hookd_config_t   c;

    if (hookd_config_load(d->args, &c) != 0) {
        hookd_log(HOOKD_LOG_ERROR, "reload failed, keeping the running "
                  "configuration");
        return;
    }

    if (strcmp(c.database, d->conf.database) != 0) {
        hookd_log(HOOKD_LOG_WARN, "a new database takes a restart");
    }

    /* the parts keep pointers to d->conf, which is replaced in place */
    memcpy(c.database, d->conf.database, sizeof(c.database));
    memcpy(c.worker_id, d->conf.worker_id, sizeof(c.worker_id));
    d->conf = c;
    hookd_log_level = c.log_level;

    ev_timer_set(&d->poll, c.poll_interval, c.poll_interval);
    ev_timer_again(loop, &d->poll);
    ev_timer_set(&d->leases, c.lease_seconds / 3, c.lease_seconds / 3);
    ev_timer_again(loop, &d->leases);
    hookd_housekeeping_reset(d->housekeeping);
    hookd_assist_reset(d->assist);
    hookd_attempts_keep(d->attempts, c.concurrency);

    hookd_log(HOOKD_LOG_INFO, "configuration reloaded");
}


static void
hookd_daemon_free(hookd_daemon_t *d)
{
    /* first: what it still holds points into the stores and attempts */
    hookd_resolver_free(d->resolver);
    hookd_metrics_close(d->loop);
    hookd_housekeeping_free(d->housekeeping);
    hookd_assist_free(d->assist);
    hookd_claims_free(d->claims);
    hookd_recorder_free(d->recorder);
    hookd_attempts_free(d->attempts);
    hookd_store_free(d->store);
    hookd_store_free(d->recording);
    OPENSSL_cleanse(d->master, sizeof(d->master));
}


int
hookd_run(const hookd_args_t *a)
{
    int                     rc, failed;
    hookd_daemon_t          d;
    hookd_store_events_t    ev = { hookd_on_ready, hookd_on_notify, NULL };
    hookd_store_events_t    rev = { hookd_on_ready, NULL, NULL };
    hookd_claims_events_t   cev = { hookd_on_claimed, hookd_in_flight,
                                    hookd_held_back, NULL };

    memset(&d, 0, sizeof(d));
    d.args = a;
    failed = 0;

    if (hookd_config_load(a, &d.conf) != 0
        || hookd_master_key_load(d.conf.secret_key_file[0]
                                 ? d.conf.secret_key_file : NULL, 0,
                                 d.master) != 0)
    {
        return 1;
    }

    hookd_log_level = d.conf.log_level;
    signal(SIGPIPE, SIG_IGN);

    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS)) {
        hookd_log(HOOKD_LOG_WARN, "libcurl resolves names synchronously: a "
                  "slow DNS answer stalls every delivery");
    }

    d.loop = EV_DEFAULT;
    ev.data = rev.data = cev.data = &d;

    d.resolver = hookd_resolver_new(d.loop);
    d.store = d.resolver
              ? hookd_store_new(d.loop, d.conf.database,
                                d.conf.replan_interval, d.resolver, &ev)
              : NULL;
    d.recording = d.resolver
                  ? hookd_store_new(d.loop, d.conf.database,
                                    d.conf.replan_interval, d.resolver, &rev)
                  : NULL;
    d.claims = d.store ? hookd_claims_new(d.store, &d.conf, &cev) : NULL;
    d.attempts = d.resolver
                 ? hookd_attempts_new(d.loop, &d.conf, d.master, d.resolver,
                                      hookd_on_outcome, &d)
                 : NULL;
    d.recorder = d.recording
                 ? hookd_recorder_new(d.loop, d.recording, d.conf.worker_id,
                                      hookd_on_recorded, &d)
                 : NULL;
    /* on the recording connection: its statements are short and rare */
    d.housekeeping = d.recording
                     ? hookd_housekeeping_new(d.loop, d.recording, &d.conf)
                     : NULL;

    d.assist = d.recording
               ? hookd_assist_new(d.loop, d.recording, &d.conf, &failed)
               : NULL;

    if (d.claims == NULL || d.attempts == NULL || d.recorder == NULL
        || d.housekeeping == NULL || failed)
    {
        hookd_fail("internal", "out of memory");
        hookd_daemon_free(&d);
        return 1;
    }

    /* as many as can be busy at once */
    hookd_attempts_keep(d.attempts, d.conf.concurrency);

    ev_timer_init(&d.poll, hookd_on_poll, d.conf.poll_interval,
                  d.conf.poll_interval);
    d.poll.data = &d;
    ev_timer_start(d.loop, &d.poll);

    ev_timer_init(&d.drain, hookd_on_drain_timeout, 0, 0);
    d.drain.data = &d;

    ev_timer_init(&d.leases, hookd_on_leases, d.conf.lease_seconds / 3,
                  d.conf.lease_seconds / 3);
    d.leases.data = &d;
    ev_timer_start(d.loop, &d.leases);

    ev_timer_init(&d.stats, hookd_on_stats, 0.1, 5.0);
    d.stats.data = &d;

    if (d.conf.metrics_listen[0]) {
        if (hookd_metrics_listen(d.loop, d.conf.metrics_listen) != 0) {
            hookd_fail("bad_config", "cannot listen for metrics on %s",
                       d.conf.metrics_listen);
            hookd_daemon_free(&d);
            return 1;
        }
        ev_timer_start(d.loop, &d.stats);
    }

    ev_signal_init(&d.sigterm, hookd_on_term, SIGTERM);
    ev_signal_init(&d.sigint, hookd_on_term, SIGINT);
    ev_signal_init(&d.sighup, hookd_on_hup, SIGHUP);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);
    ev_signal_start(d.loop, &d.sighup);

    hookd_log(HOOKD_LOG_INFO, "hookd running worker=%s concurrency=%d "
              "lease=%gs", d.conf.worker_id, d.conf.concurrency,
              d.conf.lease_seconds);

    ev_run(d.loop, 0);

    rc = d.draining ? 0 : 1;
    hookd_daemon_free(&d);

    return rc;
}
