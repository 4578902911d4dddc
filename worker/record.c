#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "record.h"
#include "util.h"


/* a bounded statement: at most this many outcomes a round trip */
#define HOOKD_RECORD_BATCH     500
/*
 * Recorded at most once per interval unless HOOKD_RECORD_SOON wait: each
 * call of hookd.complete costs more before its first outcome than for each
 * (docs/benchmarks.md, "What moved it"). A quiet hookd still records
 * each outcome at once.
 */
#define HOOKD_RECORD_INTERVAL  0.01
#define HOOKD_RECORD_SOON      32


struct hookd_recorder_s {
    struct ev_loop  *loop;
    hookd_store_t   *store;
    const char      *worker_id;
    void           (*idle)(void *data);
    void            *data;
    json_t          *outcomes;      /* waiting to be recorded */
    json_t          *sending;       /* being recorded */
    ev_tstamp        recorded_at;   /* when the last batch was sent */
    ev_timer         timer;
    int              draining;
};


static json_t *hookd_text(const char *s, size_t len);
static void hookd_recorder_soon(hookd_recorder_t *r);
static void hookd_on_record(struct ev_loop *loop, ev_timer *w, int revents);
static void hookd_recorded(void *data, PGresult *res);


hookd_recorder_t *
hookd_recorder_new(struct ev_loop *loop, hookd_store_t *store,
    const char *worker_id, void (*idle)(void *data), void *data)
{
    hookd_recorder_t  *r;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }

    r->loop = loop;
    r->store = store;
    r->worker_id = worker_id;
    r->idle = idle;
    r->data = data;
    r->outcomes = json_array();

    ev_timer_init(&r->timer, hookd_on_record, 0, 0);
    r->timer.data = r;

    return r;
}


void
hookd_recorder_free(hookd_recorder_t *r)
{
    if (r == NULL) {
        return;
    }

    ev_timer_stop(r->loop, &r->timer);
    json_decref(r->outcomes);
    json_decref(r->sending);
    free(r);
}


/* response bytes become safe text: printable ASCII, newlines and tabs */
static json_t *
hookd_text(const char *s, size_t len)
{
    char    *copy;
    json_t  *v;

    copy = malloc(len + 1);
    if (copy == NULL) {
        return json_null();
    }

    memcpy(copy, s, len);
    hookd_printable(copy, len, 1);

    v = json_stringn(copy, len);
    free(copy);

    return v ? v : json_null();
}


void
hookd_recorder_add(hookd_recorder_t *r, const hookd_outcome_t *o)
{
    json_t                  *j;
    const hookd_delivery_t  *dl = o->delivery;

    j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:f, s:i, s:o, s:o, s:s, s:o, "
                  "s:o, s:b}",
                  "app_id", dl->app_id, "endpoint_id", dl->endpoint_id,
                  "delivery_id", dl->id,
                  "attempt_number", dl->attempt_number,
                  "worker", r->worker_id, "started_at", o->started_at,
                  "duration_ms", o->duration_ms,
                  "status_code", o->status_code
                                 ? json_integer(o->status_code) : json_null(),
                  "error", o->error ? hookd_text(o->error, strlen(o->error))
                                    : json_null(),
                  "error_class", hookd_class_name(o->error_class),
                  "response_body", o->response_len
                                   ? hookd_text(o->response_body,
                                                o->response_len)
                                   : json_null(),
                  "retry_in", o->retry_in >= 0 ? json_real(o->retry_in)
                                               : json_null(),
                  "endpoint_gone", o->endpoint_gone);

    if (j == NULL) {
        return;             /* its lease expires: it is delivered again */
    }

    json_array_append_new(r->outcomes, j);
    hookd_recorder_soon(r);
}


int
hookd_recorder_idle(const hookd_recorder_t *r)
{
    return r->sending == NULL && json_array_size(r->outcomes) == 0;
}


void
hookd_recorder_drain(hookd_recorder_t *r)
{
    r->draining = 1;
    hookd_recorder_flush(r);
}


static void
hookd_recorder_soon(hookd_recorder_t *r)
{
    ev_tstamp  wait;

    if (json_array_size(r->outcomes) == 0) {
        return;
    }

    wait = r->recorded_at + HOOKD_RECORD_INTERVAL - ev_now(r->loop);

    if (r->draining || wait <= 0
        || json_array_size(r->outcomes) >= HOOKD_RECORD_SOON)
    {
        hookd_recorder_flush(r);

    } else if (!ev_is_active(&r->timer)) {
        ev_timer_set(&r->timer, wait, 0);
        ev_timer_start(r->loop, &r->timer);
    }
}


static void
hookd_on_record(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_recorder_flush(w->data);
}


void
hookd_recorder_flush(hookd_recorder_t *r)
{
    char        *text;
    json_t      *batch;
    const char  *params[1];

    if (r->sending || json_array_size(r->outcomes) == 0
        || !hookd_store_ready(r->store))
    {
        return;
    }

    batch = json_array();
    while (json_array_size(batch) < HOOKD_RECORD_BATCH
           && json_array_size(r->outcomes) > 0)
    {
        json_array_append(batch, json_array_get(r->outcomes, 0));
        json_array_remove(r->outcomes, 0);
    }

    text = json_dumps(batch, JSON_COMPACT);
    if (text == NULL) {
        json_array_extend(r->outcomes, batch);
        json_decref(batch);
        return;
    }

    params[0] = text;

    if (hookd_store_exec(r->store, "hookd_complete", 1, params,
                         hookd_recorded, r) == 0)
    {
        r->sending = batch;
        r->recorded_at = ev_now(r->loop);
        ev_timer_stop(r->loop, &r->timer);

    } else {
        json_array_extend(r->outcomes, batch);
        json_decref(batch);
    }

    free(text);
}


static void
hookd_recorded(void *data, PGresult *res)
{
    size_t             i;
    json_t            *o;
    hookd_recorder_t  *r = data;

    if (res == NULL) {
        /* kept for when PostgreSQL is back; the leases still fence */
        json_array_foreach(r->sending, i, o) {
            json_array_append(r->outcomes, o);
        }
    }

    json_decref(r->sending);
    r->sending = NULL;

    hookd_recorder_soon(r);

    if (hookd_recorder_idle(r)) {
        r->idle(r->data);
    }
}
