/*
 * One attempt at a claimed delivery: the signed POST built and sent with
 * libcurl (through http.c, on the loop), its answer classified and its next
 * try scheduled (retry.c). Each attempt started reports exactly one outcome
 * through the callback, perhaps before hookd_attempts_start returns.
 */

#ifndef HOOKD_ATTEMPT_H
#define HOOKD_ATTEMPT_H

#include <ev.h>
#include <jansson.h>

#include "config.h"
#include "delivery.h"
#include "hookd_seal.h"
#include "resolve.h"

typedef struct hookd_attempts_s  hookd_attempts_t;

/* the outcome and its delivery are valid during the call only */
typedef void (*hookd_outcome_pt)(void *data, const hookd_outcome_t *o);

/* the resolver judges endpoints' names when a proxy connects for hookd */
hookd_attempts_t *hookd_attempts_new(struct ev_loop *loop,
    const hookd_config_t *conf, const unsigned char *master,
    hookd_resolver_t *resolver, hookd_outcome_pt outcome, void *data);
void hookd_attempts_free(hookd_attempts_t *a);

/* takes the delivery over */
void hookd_attempts_start(hookd_attempts_t *a, hookd_delivery_t *dl);

/*
 * The running attempts claimed before `claimed_before` (monotonic seconds),
 * as hookd.extend_leases takes them; NULL when there are none.
 */
json_t *hookd_attempts_leases(const hookd_attempts_t *a,
    double claimed_before);

/* attempts started whose outcome is not reported yet */
int hookd_attempts_running(const hookd_attempts_t *a);

/*
 * How many idle connections to keep for reuse (http.c), at start and after
 * each reload; idle easy handles, set up with what may be an old proxy and
 * CA file, are let go.
 */
void hookd_attempts_keep(hookd_attempts_t *a, long connections);

#endif /* HOOKD_ATTEMPT_H */
