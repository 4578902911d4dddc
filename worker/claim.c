#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "log.h"
#include "metrics.h"
#include "util.h"


struct hookd_claims_s {
    hookd_store_t           *store;
    const hookd_config_t    *conf;
    hookd_claims_events_t    events;
    hookd_delivery_t        *backlog, *backlog_tail;
    int                      backlog_len;
    int                      claiming;
    int                      want_claim;
    int                      claim_n;    /* rows the running claim asked for */
    /* the last claim found less than it asked for: nothing more is due
       until a NOTIFY or the poll timer says otherwise */
    int                      drained;
    int                      woken;      /* a NOTIFY or poll since that claim */
    int                      held;       /* events.held_back said so: logged */
    int                      stopped;
};


static void hookd_claims_run(hookd_claims_t *c);
static void hookd_claimed(void *data, PGresult *res);
static hookd_delivery_t *hookd_delivery_from_row(PGresult *res, int row,
    double now, const hookd_delivery_t *prev);


hookd_claims_t *
hookd_claims_new(hookd_store_t *store, const hookd_config_t *conf,
    const hookd_claims_events_t *events)
{
    hookd_claims_t  *c;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }

    c->store = store;
    c->conf = conf;
    c->events = *events;

    return c;
}


void
hookd_claims_free(hookd_claims_t *c)
{
    hookd_delivery_t  *dl;

    if (c == NULL) {
        return;
    }

    while ((dl = c->backlog) != NULL) {
        c->backlog = dl->next;
        hookd_delivery_free(dl);
    }

    free(c);
}


void
hookd_delivery_free(hookd_delivery_t *dl)
{
    /* its strings are in the same allocation (hookd_delivery_from_row) */
    free(dl);
}


void
hookd_claims_wake(hookd_claims_t *c)
{
    c->drained = 0;
    c->woken = 1;
    hookd_claims_run(c);
}


void
hookd_claims_top_up(hookd_claims_t *c)
{
    if (!c->drained) {
        hookd_claims_run(c);
    }
}


hookd_delivery_t *
hookd_claims_next(hookd_claims_t *c)
{
    double             now;
    hookd_delivery_t  *dl;

    now = hookd_clock(CLOCK_MONOTONIC);

    while ((dl = c->backlog) != NULL) {
        c->backlog = dl->next;
        if (c->backlog == NULL) {
            c->backlog_tail = NULL;
        }
        c->backlog_len--;
        hookd_metrics.backlog = c->backlog_len;
        dl->next = NULL;

        if (now - dl->claimed_at < c->conf->lease_seconds / 2) {
            return dl;
        }

        hookd_log(HOOKD_LOG_WARN, "delivery=%s waited too long for a slot; "
                  "left to its lease", dl->id);
        hookd_delivery_free(dl);
    }

    return NULL;
}


int
hookd_claims_backlog(const hookd_claims_t *c)
{
    return c->backlog_len;
}


void
hookd_claims_stop(hookd_claims_t *c)
{
    c->stopped = 1;
}


static void
hookd_claims_run(hookd_claims_t *c)
{
    int          n, free_slots;
    char         count[16], lease[32];
    const char  *params[3];

    if (c->stopped || !hookd_store_ready(c->store)) {
        return;
    }

    if (c->claiming) {
        c->want_claim = 1;
        return;
    }

    if (c->events.held_back(c->events.data)) {
        if (!c->held) {
            c->held = 1;
            hookd_log(HOOKD_LOG_WARN, "PostgreSQL records outcomes more "
                      "slowly than deliveries finish: no claims until those "
                      "waiting are recorded");
        }
        return;
    }

    if (c->held) {
        c->held = 0;
        hookd_log(HOOKD_LOG_INFO, "outcomes recorded, claims go on");
    }

    /*
     * Keep up to claim_batch claimed deliveries ready beside those in
     * flight, so that a finished transfer is followed at once by the next;
     * top up only when half of that is gone: a claim costs about the same
     * for 1 row as for 50.
     */
    free_slots = c->conf->concurrency - c->events.in_flight(c->events.data)
                 - c->backlog_len;
    n = c->conf->claim_batch - c->backlog_len;
    if (free_slots > 0 && n < free_slots) {
        n = free_slots < c->conf->claim_batch ? free_slots
                                              : c->conf->claim_batch;
    }

    if (n <= 0 || c->backlog_len > c->conf->claim_batch / 2) {
        return;
    }

    snprintf(count, sizeof(count), "%d", n);
    snprintf(lease, sizeof(lease), "%g", c->conf->lease_seconds);
    params[0] = c->conf->worker_id;
    params[1] = count;
    params[2] = lease;

    if (hookd_store_exec(c->store, "hookd_claim", 3, params, hookd_claimed, c)
        == 0)
    {
        c->claiming = 1;
        c->claim_n = n;
        c->woken = 0;
    }
}


/* a column's text at *at, which moves past it; NULL for a NULL column */
static char *
hookd_claim_text(char **at, PGresult *res, int row, int column)
{
    char    *s = *at;
    size_t   len;

    if (PQgetisnull(res, row, column)) {
        return NULL;
    }

    len = (size_t) PQgetlength(res, row, column);
    memcpy(s, PQgetvalue(res, row, column), len);
    s[len] = '\0';
    *at = s + len + 1;
    return s;
}


/* a delivery and its strings in one allocation, freed with it */
static hookd_delivery_t *
hookd_delivery_from_row(PGresult *res, int row, double now,
    const hookd_delivery_t *prev)
{
    int                i;
    char              *at;
    size_t             size;
    hookd_delivery_t  *dl;

    /* room for every column of the row: a column kept later cannot
       outgrow it */
    size = sizeof(*dl);
    for (i = 0; i < PQnfields(res); i++) {
        size += (size_t) PQgetlength(res, row, i) + 1;
    }

    dl = calloc(1, size);
    if (dl == NULL) {
        return NULL;
    }

    /* the columns of hookd.claim, in order; only the sealed headers and
       authorization may be NULL */
    at = (char *) (dl + 1);
    dl->app_id = hookd_claim_text(&at, res, row, 0);
    dl->id = hookd_claim_text(&at, res, row, 1);
    dl->event_id = hookd_claim_text(&at, res, row, 3);
    dl->url = hookd_claim_text(&at, res, row, 4);
    dl->secrets = hookd_claim_text(&at, res, row, 5);
    dl->body = hookd_claim_text(&at, res, row, 9);
    dl->headers_sealed = hookd_claim_text(&at, res, row, 10);
    dl->auth_sealed = hookd_claim_text(&at, res, row, 11);
    dl->endpoint_id = hookd_claim_text(&at, res, row, 12);

    dl->claimed_at = now;
    dl->attempt_number = atoi(PQgetvalue(res, row, 2));
    dl->timeout_ms = atol(PQgetvalue(res, row, 6));
    /* rows of one endpoint carry the same policy: parsed once a run */
    if (prev && strcmp(PQgetvalue(res, row, 7), PQgetvalue(res, row - 1, 7))
                == 0)
    {
        dl->policy = prev->policy;
    } else {
        hookd_retry_policy_parse(PQgetvalue(res, row, 7), &dl->policy);
    }
    dl->age_seconds = atof(PQgetvalue(res, row, 8));

    if (dl->app_id == NULL || dl->endpoint_id == NULL || dl->id == NULL
        || dl->event_id == NULL
        || dl->url == NULL || dl->secrets == NULL || dl->body == NULL)
    {
        hookd_delivery_free(dl);
        return NULL;
    }

    return dl;
}


static void
hookd_claimed(void *data, PGresult *res)
{
    int                i, rows;
    double             now;
    hookd_claims_t    *c = data;
    hookd_delivery_t  *dl;

    c->claiming = 0;

    if (res == NULL) {
        return;
    }

    rows = PQntuples(res);
    now = hookd_clock(CLOCK_MONOTONIC);

    for (i = 0; i < rows; i++) {
        dl = hookd_delivery_from_row(res, i, now, i > 0 ? c->backlog_tail
                                                        : NULL);
        if (dl == NULL) {
            break;          /* its lease expires; it is claimed again */
        }

        if (c->backlog_tail) {
            c->backlog_tail->next = dl;
        } else {
            c->backlog = dl;
        }
        c->backlog_tail = dl;
        c->backlog_len++;
    }

    hookd_metrics.backlog = c->backlog_len;
    c->events.claimed(c->events.data);

    if (rows > 0) {
        hookd_log(HOOKD_LOG_DEBUG, "claimed %d", rows);
    }

    /*
     * A short claim means nothing else is due: finished transfers stop
     * asking (each claim costs PostgreSQL the same, rows or none) until a
     * wake-up, so that the next NOTIFY finds the connection idle and its
     * events are claimed at once. A full one means there may be more.
     */
    if (rows < c->claim_n && !c->woken) {
        c->drained = 1;
        c->want_claim = 0;

    } else if (rows > 0) {
        c->want_claim = 1;
    }

    if (c->want_claim) {
        c->want_claim = 0;
        hookd_claims_run(c);
    }
}
