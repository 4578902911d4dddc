/*
 * What the delivery loop's parts hand each other, as pgbouncer's core
 * header does for its subsystems: claim.c makes claimed deliveries,
 * attempt.c turns each into the outcome of one attempt, record.c records
 * outcomes, and daemon.c wires them on one loop. Each part reports back
 * through a callback the loop gives it, so dependencies point one way:
 * daemon.c -> claim.c, attempt.c, record.c -> this header.
 */

#ifndef HOOKD_DELIVERY_H
#define HOOKD_DELIVERY_H

#include <stddef.h>

#include "retry.h"

/* a row of hookd.claim (sql/functions/claim.sql) */
typedef struct hookd_delivery_s  hookd_delivery_t;

struct hookd_delivery_s {
    hookd_delivery_t      *next;          /* in the claim's backlog */
    double                 claimed_at;    /* monotonic seconds */
    char                  *app_id;
    char                  *endpoint_id;
    char                  *id;
    int                    attempt_number;
    char                  *event_id;
    char                  *url;
    char                  *secrets;       /* sealed, as JSON */
    long                   timeout_ms;
    hookd_retry_policy_t   policy;
    double                 age_seconds;   /* since the delivery was made */
    char                  *body;
    /* the endpoint's own headers (a JSON object) and Authorization value,
       sealed; NULL when it has none */
    char                  *headers_sealed;
    char                  *auth_sealed;
};

/* an outcome of hookd.complete (sql/functions/complete.sql) */
typedef struct {
    const hookd_delivery_t  *delivery;
    double                   started_at;     /* epoch seconds */
    int                      duration_ms;
    long                     status_code;    /* 0: no answer */
    const char              *error;          /* NULL when it succeeded */
    hookd_class_e            error_class;
    const char              *response_body;  /* its first 4 KiB */
    size_t                   response_len;
    double                   retry_in;       /* seconds, -1: dead letter */
    int                      endpoint_gone;  /* it answered 410 */
} hookd_outcome_t;

void hookd_delivery_free(hookd_delivery_t *dl);

#endif /* HOOKD_DELIVERY_H */
