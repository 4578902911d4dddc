/*
 * Claim scheduling: runs hookd.claim on the store's connection when
 * deliveries may be due, and keeps what it claimed in a backlog that the
 * loop takes from as transfer slots free up.
 */

#ifndef HOOKD_CLAIM_H
#define HOOKD_CLAIM_H

#include "config.h"
#include "delivery.h"
#include "store.h"

typedef struct hookd_claims_s  hookd_claims_t;

typedef struct {
    void  (*claimed)(void *data);     /* deliveries wait in the backlog */
    int   (*in_flight)(void *data);   /* attempts running now */
    int   (*held_back)(void *data);   /* claim nothing while true */
    void   *data;
} hookd_claims_events_t;

hookd_claims_t *hookd_claims_new(hookd_store_t *store,
    const hookd_config_t *conf, const hookd_claims_events_t *events);
void hookd_claims_free(hookd_claims_t *c);

/* new deliveries were committed (NOTIFY), or may have come due (poll) */
void hookd_claims_wake(hookd_claims_t *c);

/* a slot freed up, or claims are no longer held back: claims more unless
   the last claim found nothing due */
void hookd_claims_top_up(hookd_claims_t *c);

/*
 * The next claimed delivery, or NULL. One that waited past half its lease
 * is let go rather than sent late: its lease runs out and it is claimed
 * again, so no two workers ever hold it at once.
 */
hookd_delivery_t *hookd_claims_next(hookd_claims_t *c);

int hookd_claims_backlog(const hookd_claims_t *c);

/* drain: no more claims; what is in the backlog is still sent */
void hookd_claims_stop(hookd_claims_t *c);

#endif /* HOOKD_CLAIM_H */
