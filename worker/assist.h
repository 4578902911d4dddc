/*
 * The assist backend (docs/assist.md, "A backend"): an OpenAI-compatible
 * chat-completions API that hookd asks, in the background on its loop and
 * never on the delivery path, to classify events the rule set left
 * "other", and to word diagnoses, summaries and samples that someone read.
 * At most assist_requests_per_hour requests in any hour, each bounded by
 * assist_timeout; what it answers is checked in PostgreSQL before it is
 * kept (sql/functions/assist.sql).
 */

#ifndef HOOKD_ASSIST_H
#define HOOKD_ASSIST_H

#include <ev.h>

#include "config.h"
#include "store.h"

typedef struct hookd_assist_s  hookd_assist_t;

/* NULL when hookd.conf names no backend (or out of memory: *failed set) */
hookd_assist_t *hookd_assist_new(struct ev_loop *loop, hookd_store_t *store,
    const hookd_config_t *conf, int *failed);
void hookd_assist_free(hookd_assist_t *as);

/* after a reload: the key file read again */
void hookd_assist_reset(hookd_assist_t *as);

/* draining: no new requests; those under way are dropped at free */
void hookd_assist_stop(hookd_assist_t *as);

#endif /* HOOKD_ASSIST_H */
