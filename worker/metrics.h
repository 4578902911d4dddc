/*
 * hookd's Prometheus endpoint: counters kept by the daemon, served as text
 * on metrics_listen (GET /metrics) from the same libev loop.
 */

#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include <ev.h>

#include "retry.h"

#define HOOKD_LATENCY_BUCKETS  12

typedef struct {
    /* by class: SUCCEEDED, RETRYABLE, NON_RETRYABLE, UNKNOWN */
    unsigned long long  attempts[4];
    /* final outcomes: succeeded, failed (dead letter) */
    unsigned long long  succeeded, dead_lettered;
    unsigned long long  latency_bucket[HOOKD_LATENCY_BUCKETS + 1];
    double              latency_sum;
    /* sampled from the database */
    long long           queue_due;
    double              oldest_due_seconds;
    long long           breakers_open, breakers_half_open;
    /* set by the daemon when a scrape comes */
    int                 in_flight, backlog;
} hookd_metrics_t;

extern hookd_metrics_t  hookd_metrics;

void hookd_metrics_attempt(hookd_class_e c, double seconds, int final);

/* "127.0.0.1:9464" or "[::1]:9464"; 0 on success */
int hookd_metrics_listen(struct ev_loop *loop, const char *address);
void hookd_metrics_close(struct ev_loop *loop);

#endif /* HOOKD_METRICS_H */
