/*
 * Recording outcomes: they are gathered and sent to hookd.complete in
 * batches, on a connection of their own so that claims never wait behind
 * them. An outcome that could not be recorded is kept and sent again once
 * PostgreSQL is back (the leases still fence it).
 */

#ifndef HOOKD_RECORD_H
#define HOOKD_RECORD_H

#include <ev.h>

#include "delivery.h"
#include "store.h"

typedef struct hookd_recorder_s  hookd_recorder_t;

/* recorded: after each batch, recorded or kept to be sent again */
hookd_recorder_t *hookd_recorder_new(struct ev_loop *loop,
    hookd_store_t *store, const char *worker_id,
    void (*recorded)(void *data), void *data);
void hookd_recorder_free(hookd_recorder_t *r);

/* copies what it needs of the outcome */
void hookd_recorder_add(hookd_recorder_t *r, const hookd_outcome_t *o);

/* sends what waits now, if the connection can take it */
void hookd_recorder_flush(hookd_recorder_t *r);

/* draining: from now on each outcome is recorded at once */
void hookd_recorder_drain(hookd_recorder_t *r);

int hookd_recorder_idle(const hookd_recorder_t *r);

/*
 * More outcomes wait than two batches of hookd.complete: PostgreSQL
 * records more slowly than deliveries finish (a lock, a long housekeeping
 * statement on the same connection, a slow disk). hookd then claims
 * nothing more until they are recorded, so that what it holds in memory,
 * and the leases that could run out before their outcome counts, stay
 * bounded.
 */
int hookd_recorder_behind(const hookd_recorder_t *r);

#endif /* HOOKD_RECORD_H */
