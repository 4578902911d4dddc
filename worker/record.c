#include <stdlib.h>
#include <string.h>

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
    void           (*recorded)(void *data);
    void            *data;
    /* each outcome as the JSON text of one element of hookd.complete's
       array, written here: building it as jansson values and dumping
       them cost more than anything else hookd does for an outcome */
    char           **waiting;       /* in order, from waiting_at */
    size_t           waiting_at, waiting_n, waiting_cap;
    char            *sending;       /* the batch being recorded */
    char            *resend;        /* one that PostgreSQL did not take */
    ev_tstamp        recorded_at;   /* when the last batch was sent */
    ev_timer         timer;
    int              draining;
};

typedef struct {
    char    *p;
    size_t   len, cap;
} hookd_buf_t;


static void hookd_put(hookd_buf_t *b, const char *s, size_t len);
static void hookd_put_string(hookd_buf_t *b, const char *s, size_t len,
    int receiver);
static void hookd_recorder_soon(hookd_recorder_t *r);
static void hookd_on_record(struct ev_loop *loop, ev_timer *w, int revents);
static void hookd_recorded(void *data, PGresult *res);


hookd_recorder_t *
hookd_recorder_new(struct ev_loop *loop, hookd_store_t *store,
    const char *worker_id, void (*recorded)(void *data), void *data)
{
    hookd_recorder_t  *r;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }

    r->loop = loop;
    r->store = store;
    r->worker_id = worker_id;
    r->recorded = recorded;
    r->data = data;

    ev_timer_init(&r->timer, hookd_on_record, 0, 0);
    r->timer.data = r;

    return r;
}


void
hookd_recorder_free(hookd_recorder_t *r)
{
    size_t  i;

    if (r == NULL) {
        return;
    }

    ev_timer_stop(r->loop, &r->timer);
    for (i = r->waiting_at; i < r->waiting_at + r->waiting_n; i++) {
        free(r->waiting[i]);
    }
    free(r->waiting);
    free(r->sending);
    free(r->resend);
    free(r);
}


/* the buffer is sized before: only the last resort grows it */
static void
hookd_put(hookd_buf_t *b, const char *s, size_t len)
{
    char  *p;

    if (b->p == NULL) {
        return;
    }

    if (b->len + len + 1 > b->cap) {
        p = realloc(b->p, (b->len + len + 1) * 2);
        if (p == NULL) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = p;
        b->cap = (b->len + len + 1) * 2;
    }

    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}


/*
 * A JSON string. What a receiver sent (receiver) becomes safe text first:
 * printable ASCII, newlines and tabs (hookd_printable); ids are ASCII.
 */
static void
hookd_put_string(hookd_buf_t *b, const char *s, size_t len, int receiver)
{
    size_t          i, from;
    unsigned char   c;
    char            esc[8];

    hookd_put(b, "\"", 1);

    for (i = 0, from = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            continue;
        }

        hookd_put(b, s + from, i - from);
        from = i + 1;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char) c;
            hookd_put(b, esc, 2);
        } else if (c == '\n' && receiver) {
            hookd_put(b, "\\n", 2);
        } else if (c == '\t' && receiver) {
            hookd_put(b, "\\t", 2);
        } else {
            hookd_put(b, "?", 1);
        }
    }

    hookd_put(b, s + from, len - from);
    hookd_put(b, "\"", 1);
}


void
hookd_recorder_add(hookd_recorder_t *r, const hookd_outcome_t *o)
{
    int                      n;
    char                     num[128], **grown;
    size_t                   cap;
    hookd_buf_t              b;
    const hookd_delivery_t  *dl = o->delivery;

    b.len = 0;
    b.cap = 512 + 2 * o->response_len + (o->error ? 2 * strlen(o->error) : 0);
    b.p = malloc(b.cap);

    hookd_put(&b, "{\"app_id\":", 10);
    hookd_put_string(&b, dl->app_id, strlen(dl->app_id), 0);
    hookd_put(&b, ",\"endpoint_id\":", 15);
    hookd_put_string(&b, dl->endpoint_id, strlen(dl->endpoint_id), 0);
    hookd_put(&b, ",\"delivery_id\":", 15);
    hookd_put_string(&b, dl->id, strlen(dl->id), 0);
    hookd_put(&b, ",\"worker\":", 10);
    hookd_put_string(&b, r->worker_id, strlen(r->worker_id), 0);

    n = snprintf(num, sizeof(num),
                 ",\"attempt_number\":%d,\"started_at\":%.6f,"
                 "\"duration_ms\":%d,\"error_class\":\"%s\"",
                 dl->attempt_number, o->started_at, o->duration_ms,
                 hookd_class_name(o->error_class));
    hookd_put(&b, num, (size_t) n);

    if (o->status_code) {
        n = snprintf(num, sizeof(num), ",\"status_code\":%ld", o->status_code);
        hookd_put(&b, num, (size_t) n);
    }
    if (o->retry_in >= 0) {
        n = snprintf(num, sizeof(num), ",\"retry_in\":%.6f", o->retry_in);
        hookd_put(&b, num, (size_t) n);
    }
    if (o->endpoint_gone) {
        hookd_put(&b, ",\"endpoint_gone\":true", 21);
    }
    if (o->error) {
        hookd_put(&b, ",\"error\":", 9);
        hookd_put_string(&b, o->error, strlen(o->error), 1);
    }
    if (o->response_len) {
        hookd_put(&b, ",\"response_body\":", 17);
        hookd_put_string(&b, o->response_body, o->response_len, 1);
    }
    hookd_put(&b, "}", 1);

    if (b.p == NULL) {
        return;             /* its lease expires: it is delivered again */
    }

    if (r->waiting_at + r->waiting_n == r->waiting_cap) {
        /* the consumed front makes room before the array grows */
        memmove(r->waiting, r->waiting + r->waiting_at,
                r->waiting_n * sizeof(char *));
        r->waiting_at = 0;

        if (r->waiting_n == r->waiting_cap) {
            cap = r->waiting_cap ? r->waiting_cap * 2 : 256;
            grown = realloc(r->waiting, cap * sizeof(char *));
            if (grown == NULL) {
                free(b.p);
                return;
            }
            r->waiting = grown;
            r->waiting_cap = cap;
        }
    }

    r->waiting[r->waiting_at + r->waiting_n++] = b.p;
    hookd_recorder_soon(r);
}


int
hookd_recorder_idle(const hookd_recorder_t *r)
{
    return r->sending == NULL && r->resend == NULL && r->waiting_n == 0;
}


int
hookd_recorder_behind(const hookd_recorder_t *r)
{
    return r->waiting_n >= 2 * HOOKD_RECORD_BATCH;
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

    if (r->waiting_n == 0 && r->resend == NULL) {
        return;
    }

    wait = r->recorded_at + HOOKD_RECORD_INTERVAL - ev_now(r->loop);

    if (r->draining || wait <= 0 || r->resend
        || r->waiting_n >= HOOKD_RECORD_SOON)
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
    size_t       i, n, len, at;
    const char  *params[1];

    if (r->sending || (r->waiting_n == 0 && r->resend == NULL)
        || !hookd_store_ready(r->store))
    {
        return;
    }

    if (r->resend) {
        text = r->resend;
        r->resend = NULL;
        n = 0;

    } else {
        n = r->waiting_n < HOOKD_RECORD_BATCH ? r->waiting_n
                                              : HOOKD_RECORD_BATCH;
        len = 2;
        for (i = 0; i < n; i++) {
            len += strlen(r->waiting[r->waiting_at + i]) + 1;
        }

        text = malloc(len + 1);
        if (text == NULL) {
            return;
        }

        text[0] = '[';
        at = 1;
        for (i = 0; i < n; i++) {
            if (i > 0) {
                text[at++] = ',';
            }
            len = strlen(r->waiting[r->waiting_at + i]);
            memcpy(text + at, r->waiting[r->waiting_at + i], len);
            at += len;
        }
        text[at++] = ']';
        text[at] = '\0';
    }

    params[0] = text;

    if (hookd_store_exec(r->store, "hookd_complete", 1, params,
                         hookd_recorded, r) != 0)
    {
        if (n == 0) {
            r->resend = text;
        } else {
            free(text);
        }
        return;
    }

    for (i = 0; i < n; i++) {
        free(r->waiting[r->waiting_at + i]);
    }
    r->waiting_at += n;
    r->waiting_n -= n;
    if (r->waiting_n == 0) {
        r->waiting_at = 0;
    }

    r->sending = text;
    r->recorded_at = ev_now(r->loop);
    ev_timer_stop(r->loop, &r->timer);
}


static void
hookd_recorded(void *data, PGresult *res)
{
    hookd_recorder_t  *r = data;

    if (res == NULL) {
        /* kept for when PostgreSQL is back; the leases still fence */
        r->resend = r->sending;
    } else {
        free(r->sending);
    }
    r->sending = NULL;

    hookd_recorder_soon(r);

    r->recorded(r->data);
}
