/*
 * hookd run: the delivery loop. Claims due deliveries in batches under a
 * lease, signs and POSTs each with libcurl, and records the outcomes in
 * batches. Everything runs on one libev loop:
 *
 *   NOTIFY / poll timer / a finished transfer -> claim (one at a time)
 *   claimed rows -> transfers -> outcomes -> complete (one at a time)
 *
 * SIGTERM stops claiming and waits (drain_timeout at most) for the
 * transfers in flight and their outcomes; a second SIGTERM exits at once.
 * Leases of whatever is left expire and another hookd delivers it. SIGHUP
 * rereads hookd.conf and keeps the old settings if the new ones are wrong.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <openssl/rand.h>
#include <jansson.h>

#include "config.h"
#include "daemon.h"
#include "housekeeping.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "retry.h"
#include "secret.h"
#include "sign.h"
#include "store.h"
#include "util.h"


#define HOOKD_USER_AGENT      "hookd/0.1.0"
#define HOOKD_RESPONSE_KEEP   4096
#define HOOKD_MAX_SIGNATURES  8
#define HOOKD_RECORD_BATCH    500
/*
 * Outcomes are recorded at most once per interval unless HOOKD_RECORD_SOON
 * are waiting: each hookd.complete costs about 0.45 ms before its first
 * outcome, and 40 us for each.
 * Recording whatever came in during the last one ran it 430 times a
 * second at 3.4k deliveries/s, 8 outcomes each; paced, it runs 96 times
 * with 38, and the CPU given back shortened the ingest-to-delivery p50 by
 * 0.5-1 ms on 2 cores. A quiet hookd still records each outcome at once.
 * Under full load 32 waiting go at once: the rows not yet recorded stay
 * at the head of deliveries_due, where every claim walks past them (with
 * 100, delivery alone fell by about 6%).
 */
#define HOOKD_RECORD_INTERVAL 0.01
#define HOOKD_RECORD_SOON     32


/* a claimed delivery waiting for a free transfer slot */
typedef struct hookd_job_s  hookd_job_t;

struct hookd_job_s {
    hookd_job_t  *next;
    double        claimed_at;      /* monotonic seconds */
    char         *field[10];       /* the claim's columns, in order */
};

typedef struct {
    struct ev_loop   *loop;
    const hookd_args_t *args;
    hookd_config_t    conf;
    unsigned char     master[HOOKD_MASTER_KEY_LEN];
    hookd_store_t    *store;        /* LISTEN and claims */
    hookd_store_t    *recorder;     /* outcomes, so claims never wait */
    hookd_http_t     *http;
    hookd_housekeeping_t *housekeeping;
    int               in_flight;
    hookd_job_t      *backlog, *backlog_tail;
    int               backlog_len;
    int               claiming;
    int               want_claim;
    int               claim_n;        /* rows the running claim asked for */
    /* the last claim found less than it asked for: nothing more is due
       until a NOTIFY or the poll timer says otherwise */
    int               drained;
    int               woken;          /* a NOTIFY or poll since that claim */
    json_t           *outcomes;     /* waiting to be recorded */
    json_t           *sending;      /* being recorded */
    ev_tstamp         recorded_at;  /* when the last batch was sent */
    int               draining;
    ev_timer          poll;
    ev_timer          drain;
    ev_timer          stats;
    ev_timer          record;
    ev_signal         sigterm, sigint, sighup;
} hookd_daemon_t;

typedef struct {
    hookd_daemon_t        *d;
    CURL                  *easy;
    struct curl_slist     *headers;
    char                  *body;
    char                  *app_id, *id;
    int                    attempt;
    double                 age;
    hookd_retry_policy_t   policy;
    double                 started;        /* epoch seconds */
    double                 retry_after;
    int                    refused;
    char                   refused_addr[64];
    /* grown as bytes come, up to HOOKD_RESPONSE_KEEP: most answers are a
       few bytes, and 10 000 transfers in flight should not hold 40 MB */
    char                  *response;
    size_t                 response_len;
    char                   errbuf[CURL_ERROR_SIZE];
} hookd_transfer_t;


static void hookd_claim(hookd_daemon_t *d);
static void hookd_pump(hookd_daemon_t *d);
static void hookd_record(hookd_daemon_t *d);
static void hookd_record_soon(hookd_daemon_t *d);
static void hookd_maybe_exit(hookd_daemon_t *d);


/* seconds: CLOCK_REALTIME for what is stored, CLOCK_MONOTONIC to wait */
static double
hookd_clock(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}


static double
hookd_jitter(void)
{
    uint32_t  r;

    if (RAND_bytes((unsigned char *) &r, sizeof(r)) != 1) {
        return 0.5;
    }

    return r / 4294967296.0;
}


/* response bytes become safe text: printable ASCII, newlines and tabs */
static json_t *
hookd_text(const char *s, size_t len)
{
    size_t   i;
    char    *copy;
    json_t  *v;

    copy = malloc(len + 1);
    if (copy == NULL) {
        return json_null();
    }

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        copy[i] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? (char) c
                  : '?';
    }

    v = json_stringn(copy, len);
    free(copy);

    return v ? v : json_null();
}


/* "2026-11-25T12:00:00.123456Z" (hookd.rfc3339) to epoch seconds, or -1 */
static time_t
hookd_parse_rfc3339(const char *s)
{
    char       *end;
    struct tm   tm;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

    return end == NULL ? (time_t) -1 : timegm(&tm);
}


static void
hookd_policy(json_t *p, hookd_retry_policy_t *out)
{
    json_t  *v;

    *out = hookd_default_policy;

    if (!json_is_object(p)) {
        return;
    }

    if ((v = json_object_get(p, "strategy")) && json_is_string(v)) {
        out->exponential = strcmp(json_string_value(v), "constant") != 0;
    }
    if ((v = json_object_get(p, "base_seconds")) && json_is_number(v)) {
        out->base = json_number_value(v);
    }
    if ((v = json_object_get(p, "cap_seconds")) && json_is_number(v)) {
        out->cap = json_number_value(v);
    }
    if ((v = json_object_get(p, "max_attempts")) && json_is_integer(v)) {
        out->max_attempts = (int) json_integer_value(v);
    }
    if ((v = json_object_get(p, "max_age_seconds")) && json_is_number(v)) {
        out->max_age = json_number_value(v);
    }
}


/* "v1,… v1,…": one signature per secret still valid, newest first */
static int
hookd_signatures(hookd_daemon_t *d, const char *secrets_json, const char *id,
    long long ts, const char *body, char *out, size_t size)
{
    int            n;
    long           klen;
    char          *plain, sig[HOOKD_SIGNATURE_LEN + 1];
    size_t         i, used;
    json_t        *secrets, *s, *exp;
    unsigned char  key[HOOKD_SECRET_MAX];
    time_t         expires;

    secrets = json_loads(secrets_json, 0, NULL);
    n = 0;
    used = 0;
    out[0] = '\0';

    json_array_foreach(secrets, i, s) {
        exp = json_object_get(s, "expires_at");
        if (json_is_string(exp)) {
            expires = hookd_parse_rfc3339(json_string_value(exp));
            if (expires != -1 && expires <= (time_t) ts) {
                continue;
            }
        }

        plain = hookd_unseal(d->master,
                             json_string_value(json_object_get(s, "sealed"))
                             ? json_string_value(json_object_get(s, "sealed"))
                             : "");
        if (plain == NULL) {
            continue;
        }

        klen = hookd_secret_bytes(plain, key);
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);

        if (klen < 0
            || hookd_sign(key, (size_t) klen, id, ts, body, strlen(body), sig)
               != 0)
        {
            continue;
        }

        OPENSSL_cleanse(key, sizeof(key));

        if (used + strlen(sig) + 2 > size || n == HOOKD_MAX_SIGNATURES) {
            break;
        }

        used += (size_t) snprintf(out + used, size - used, "%s%s",
                                  n ? " " : "", sig);
        n++;
    }

    json_decref(secrets);

    return n;
}


static size_t
hookd_on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    char               *grown;
    size_t              len = size * nmemb, room;
    hookd_transfer_t   *t = userdata;

    /* keep the first 4 KiB, read and drop the rest */
    room = HOOKD_RESPONSE_KEEP - t->response_len;
    if (room > len) {
        room = len;
    }

    if (room > 0) {
        grown = realloc(t->response, t->response_len + room);
        if (grown == NULL) {
            return len;
        }

        t->response = grown;
        memcpy(t->response + t->response_len, ptr, room);
        t->response_len += room;
    }

    return len;
}


static size_t
hookd_on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    char               value[128];
    size_t             len = size * nitems, n;
    time_t             when;
    hookd_transfer_t  *t = userdata;

    if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        n = len - 12 < sizeof(value) - 1 ? len - 12 : sizeof(value) - 1;
        memcpy(value, buf + 12, n);
        value[n] = '\0';

        if (strspn(value, " 0123456789\r\n") == n) {
            t->retry_after = atof(value);
        } else if ((when = curl_getdate(value, NULL)) != -1) {
            t->retry_after = difftime(when, time(NULL));
        }
    }

    return len;
}


/* The SSRF guard judges the address curl is about to connect to. */
static curl_socket_t
hookd_on_open_socket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    hookd_transfer_t  *t = clientp;
    hookd_config_t    *c = &t->d->conf;
    const void        *ip;

    if (purpose == CURLSOCKTYPE_IPCXN && !c->allow_private_networks
        && !hookd_address_allowed(&addr->addr, c->allow, (size_t) c->nallow))
    {
        ip = addr->family == AF_INET6
             ? (const void *) &((struct sockaddr_in6 *) &addr->addr)->sin6_addr
             : (const void *) &((struct sockaddr_in *) &addr->addr)->sin_addr;
        inet_ntop(addr->family, ip, t->refused_addr, sizeof(t->refused_addr));
        t->refused = 1;
        return CURL_SOCKET_BAD;
    }

    return socket(addr->family, addr->socktype, addr->protocol);
}


static void
hookd_transfer_free(hookd_transfer_t *t)
{
    if (t->easy) {
        curl_easy_cleanup(t->easy);
    }

    curl_slist_free_all(t->headers);
    free(t->response);
    free(t->body);
    free(t->app_id);
    free(t->id);
    free(t);
}


static void
hookd_outcome(hookd_daemon_t *d, hookd_transfer_t *t, long status,
    const char *error, hookd_class_e cls)
{
    double   next;
    json_t  *o;

    next = hookd_next_delay(&t->policy, t->attempt, t->age, cls,
                            (status == 429 || status == 503)
                            ? t->retry_after : 0, hookd_jitter());

    /* an outcome of hookd.complete (sql/functions/complete.sql) */
    o = json_pack("{s:s, s:s, s:i, s:s, s:f, s:i, s:o, s:o, s:s, s:o, s:o, "
                  "s:b}",
                  "app_id", t->app_id, "delivery_id", t->id,
                  "attempt_number", t->attempt,
                  "worker", d->conf.worker_id, "started_at", t->started,
                  "duration_ms",
                  (int) ((hookd_clock(CLOCK_REALTIME) - t->started) * 1000),
                  "status_code", status ? json_integer(status) : json_null(),
                  "error", error ? hookd_text(error, strlen(error))
                                 : json_null(),
                  "error_class", hookd_class_name(cls),
                  "response_body", t->response_len
                       ? hookd_text(t->response, t->response_len)
                       : json_null(),
                  "retry_in", next >= 0 ? json_real(next) : json_null(),
                  "endpoint_gone", status == 410);

    hookd_log(cls == HOOKD_SUCCEEDED ? HOOKD_LOG_DEBUG : HOOKD_LOG_INFO,
              "attempt delivery=%s attempt=%d status=%ld class=%s next=%.1f%s%s",
              t->id, t->attempt, status, hookd_class_name(cls), next,
              error ? " error=" : "", error ? error : "");

    hookd_metrics_attempt(cls, hookd_clock(CLOCK_REALTIME) - t->started, next < 0);

    json_array_append_new(d->outcomes, o);
    hookd_record_soon(d);
}


static void
hookd_transfer_done(CURL *easy, CURLcode result, void *data)
{
    long               status;
    char               error[512];
    const char        *why;
    hookd_daemon_t    *d = data;
    hookd_transfer_t  *t;
    hookd_class_e      cls;
    char              *location;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);

    status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

    cls = hookd_classify(result, status, t->refused && result != CURLE_OK);
    why = NULL;

    if (t->refused && result != CURLE_OK) {
        snprintf(error, sizeof(error), "address %s refused by the SSRF guard "
                 "(allow it with allow_network in hookd.conf)",
                 t->refused_addr);
        why = error;

    } else if (result != CURLE_OK) {
        snprintf(error, sizeof(error), "%s%s%s", curl_easy_strerror(result),
                 t->errbuf[0] ? ": " : "", t->errbuf);
        why = error;

    } else if (status >= 300 && status < 400) {
        location = NULL;
        curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location);
        snprintf(error, sizeof(error), "redirect (HTTP %ld) to %s not followed",
                 status, location ? location : "nowhere");
        why = error;
    }

    hookd_outcome(d, t, status, why, cls);

    hookd_transfer_free(t);
    d->in_flight--;
    hookd_metrics.in_flight = d->in_flight;

    hookd_pump(d);

    if (!d->drained) {
        hookd_claim(d);
    }

    hookd_maybe_exit(d);
}


/* an attempt that failed before any request: recorded, slot given back */
static void
hookd_not_sent(hookd_daemon_t *d, hookd_transfer_t *t, const char *why,
    hookd_class_e cls)
{
    hookd_outcome(d, t, 0, why, cls);
    hookd_transfer_free(t);
    d->in_flight--;
}


static void
hookd_deliver(hookd_daemon_t *d, hookd_job_t *job)
{
    char               header[1024], sigs[HOOKD_MAX_SIGNATURES
                                          * (HOOKD_SIGNATURE_LEN + 1) + 1];
    long long          ts;
    json_t            *policy;
    hookd_transfer_t  *t;
    const char        *event_id, *url;
    CURL              *e;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return;
    }

    t->d = d;
    t->app_id = strdup(job->field[0]);
    t->id = strdup(job->field[1]);
    t->attempt = atoi(job->field[2]);
    event_id = job->field[3];
    url = job->field[4];
    t->age = atof(job->field[8]);
    t->body = strdup(job->field[9]);
    t->started = hookd_clock(CLOCK_REALTIME);

    policy = json_loads(job->field[7], 0, NULL);
    hookd_policy(policy, &t->policy);
    json_decref(policy);

    d->in_flight++;

    ts = (long long) t->started;

    if (hookd_signatures(d, job->field[5], event_id, ts, t->body,
                         sigs, sizeof(sigs)) == 0)
    {
        /* nothing is ever sent unsigned */
        hookd_not_sent(d, t, "no signing secret of this endpoint could be "
                       "opened: is secret_key_file the key it was sealed "
                       "with?", HOOKD_RETRYABLE);
        return;
    }

    t->headers = curl_slist_append(NULL, "content-type: application/json");
    t->headers = curl_slist_append(t->headers, "user-agent: " HOOKD_USER_AGENT);
    snprintf(header, sizeof(header), "webhook-id: %s", event_id);
    t->headers = curl_slist_append(t->headers, header);
    snprintf(header, sizeof(header), "webhook-timestamp: %lld", ts);
    t->headers = curl_slist_append(t->headers, header);
    snprintf(header, sizeof(header), "webhook-signature: %s", sigs);
    t->headers = curl_slist_append(t->headers, header);
    /* no "Expect: 100-continue" round trip before the body */
    t->headers = curl_slist_append(t->headers, "expect:");

    e = t->easy = curl_easy_init();

    if (e == NULL || t->headers == NULL) {
        hookd_not_sent(d, t, "out of memory", HOOKD_UNKNOWN);
        return;
    }

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) strlen(t->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, atol(job->field[6]));
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* proxies only as configured, never from the environment */
    curl_easy_setopt(e, CURLOPT_PROXY, d->conf.proxy);
    if (d->conf.ca_file[0]) {
        curl_easy_setopt(e, CURLOPT_CAINFO, d->conf.ca_file);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hookd_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hookd_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, hookd_on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Debian 12's libcurl cannot reuse cleartext HTTP/2 connections */
    if (strncasecmp(url, "http:", 5) == 0) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    }

    if (hookd_http_start(d->http, e) != 0) {
        hookd_not_sent(d, t, "cannot start the transfer", HOOKD_UNKNOWN);
    }
}


static void
hookd_job_free(hookd_job_t *job)
{
    int  i;

    for (i = 0; i < 10; i++) {
        free(job->field[i]);
    }

    free(job);
}


/*
 * Starts backlog jobs while transfer slots are free. A job that waited
 * past half its lease is let go rather than sent late: its lease runs out
 * and it is claimed again, so no two workers ever hold it at once.
 */
static void
hookd_pump(hookd_daemon_t *d)
{
    hookd_job_t  *job;

    while (d->backlog && d->in_flight < d->conf.concurrency) {
        job = d->backlog;
        d->backlog = job->next;
        if (d->backlog == NULL) {
            d->backlog_tail = NULL;
        }
        d->backlog_len--;

        if (hookd_clock(CLOCK_MONOTONIC) - job->claimed_at < d->conf.lease_seconds / 2) {
            hookd_deliver(d, job);
        } else {
            hookd_log(HOOKD_LOG_WARN, "delivery=%s waited too long for a "
                      "slot; left to its lease", job->field[1]);
        }

        hookd_job_free(job);
    }

    hookd_metrics.in_flight = d->in_flight;
    hookd_metrics.backlog = d->backlog_len;
}


static void
hookd_claimed(void *data, PGresult *res)
{
    int              i, j, rows;
    double           now;
    hookd_job_t     *job;
    hookd_daemon_t  *d = data;

    d->claiming = 0;

    if (res == NULL) {
        return;
    }

    rows = PQntuples(res);
    now = hookd_clock(CLOCK_MONOTONIC);

    for (i = 0; i < rows; i++) {
        job = calloc(1, sizeof(*job));
        if (job == NULL) {
            break;          /* its lease expires; it is claimed again */
        }

        job->claimed_at = now;
        for (j = 0; j < 10; j++) {
            job->field[j] = strdup(PQgetvalue(res, i, j));
        }

        if (d->backlog_tail) {
            d->backlog_tail->next = job;
        } else {
            d->backlog = job;
        }
        d->backlog_tail = job;
        d->backlog_len++;
    }

    hookd_pump(d);

    if (rows > 0) {
        hookd_log(HOOKD_LOG_DEBUG, "claimed %d", rows);
    }

    /*
     * A short claim means nothing else is due: finished transfers stop
     * asking (each claim costs PostgreSQL the same, rows or none) until a
     * wake-up, so that the next NOTIFY finds the connection idle and its
     * events are claimed at once. A full one means there may be more.
     */
    if (rows < d->claim_n && !d->woken) {
        d->drained = 1;
        d->want_claim = 0;

    } else if (rows > 0) {
        d->want_claim = 1;
    }

    if (d->want_claim) {
        d->want_claim = 0;
        hookd_claim(d);
    }
}


static void
hookd_claim(hookd_daemon_t *d)
{
    int          n;
    char         count[16], lease[32];
    const char  *params[3];

    if (d->draining || !hookd_store_ready(d->store)) {
        return;
    }

    if (d->claiming) {
        d->want_claim = 1;
        return;
    }

    /*
     * Keep up to claim_batch claimed deliveries ready beside those in
     * flight, so that a finished transfer is followed at once by the next;
     * top up only when half of that is gone: a claim costs about the same
     * for 1 row as for 50.
     */
    n = d->conf.claim_batch - d->backlog_len;
    if (d->in_flight + d->backlog_len < d->conf.concurrency
        && n < d->conf.concurrency - d->in_flight - d->backlog_len)
    {
        n = d->conf.concurrency - d->in_flight - d->backlog_len;
        if (n > d->conf.claim_batch) {
            n = d->conf.claim_batch;
        }
    }

    if (n <= 0 || d->backlog_len > d->conf.claim_batch / 2) {
        return;
    }

    snprintf(count, sizeof(count), "%d", n);
    snprintf(lease, sizeof(lease), "%g", d->conf.lease_seconds);
    params[0] = d->conf.worker_id;
    params[1] = count;
    params[2] = lease;

    if (hookd_store_exec(d->store, "hookd_claim", 3, params, hookd_claimed, d)
        == 0)
    {
        d->claiming = 1;
        d->claim_n = n;
        d->woken = 0;
    }
}


static void
hookd_recorded(void *data, PGresult *res)
{
    size_t           i;
    json_t          *o;
    hookd_daemon_t  *d = data;

    if (res == NULL) {
        /* keep them for when PostgreSQL is back; the leases still fence */
        json_array_foreach(d->sending, i, o) {
            json_array_append(d->outcomes, o);
        }
    }

    json_decref(d->sending);
    d->sending = NULL;

    hookd_record_soon(d);
    hookd_maybe_exit(d);
}


static void
hookd_record_soon(hookd_daemon_t *d)
{
    ev_tstamp  wait;

    if (json_array_size(d->outcomes) == 0) {
        return;
    }

    wait = d->recorded_at + HOOKD_RECORD_INTERVAL - ev_now(d->loop);

    if (d->draining || wait <= 0
        || json_array_size(d->outcomes) >= HOOKD_RECORD_SOON)
    {
        hookd_record(d);

    } else if (!ev_is_active(&d->record)) {
        ev_timer_set(&d->record, wait, 0);
        ev_timer_start(d->loop, &d->record);
    }
}


static void
hookd_on_record(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_record(w->data);
}


static void
hookd_record(hookd_daemon_t *d)
{
    char        *text;
    json_t      *batch;
    const char  *params[1];

    if (d->sending || json_array_size(d->outcomes) == 0
        || !hookd_store_ready(d->recorder))
    {
        return;
    }

    /* at most HOOKD_RECORD_BATCH a round trip: a bounded statement */
    batch = json_array();
    while (json_array_size(batch) < HOOKD_RECORD_BATCH
           && json_array_size(d->outcomes) > 0)
    {
        json_array_append(batch, json_array_get(d->outcomes, 0));
        json_array_remove(d->outcomes, 0);
    }

    text = json_dumps(batch, JSON_COMPACT);
    if (text == NULL) {
        json_array_extend(d->outcomes, batch);
        json_decref(batch);
        return;
    }

    params[0] = text;

    if (hookd_store_exec(d->recorder, "hookd_complete", 1, params,
                         hookd_recorded, d) == 0)
    {
        d->sending = batch;
        d->recorded_at = ev_now(d->loop);
        ev_timer_stop(d->loop, &d->record);

    } else {
        json_array_extend(d->outcomes, batch);
        json_decref(batch);
    }

    free(text);
}


static void
hookd_maybe_exit(hookd_daemon_t *d)
{
    if (d->draining && d->in_flight == 0 && d->backlog == NULL
        && d->sending == NULL
        && json_array_size(d->outcomes) == 0)
    {
        hookd_log(HOOKD_LOG_INFO, "drained, exiting");
        ev_break(d->loop, EVBREAK_ALL);
    }
}


/* new deliveries were committed, or may have come due */
static void
hookd_wake(hookd_daemon_t *d)
{
    d->drained = 0;
    d->woken = 1;
    hookd_claim(d);
}


static void
hookd_on_ready(void *data)
{
    hookd_daemon_t  *d = data;

    hookd_record(d);
    hookd_wake(d);
}


static void
hookd_on_notify(void *data)
{
    hookd_wake(data);
}


static void
hookd_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_wake(w->data);
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

    (void) hookd_store_exec(d->recorder, "hookd_stats", 0, NULL,
                            hookd_sampled, d);
}


static void
hookd_on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_daemon_t  *d = w->data;

    hookd_log(HOOKD_LOG_WARN, "drain timeout with %d deliveries in flight; "
              "their leases will expire and they will be delivered again",
              d->in_flight);
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
              d->in_flight);
    hookd_record(d);
    d->draining = 1;
    ev_timer_stop(loop, &d->poll);
    ev_timer_stop(loop, &d->stats);
    hookd_housekeeping_stop(d->housekeeping);
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

    memcpy(c.database, d->conf.database, sizeof(c.database));
    memcpy(c.worker_id, d->conf.worker_id, sizeof(c.worker_id));
    d->conf = c;
    hookd_log_level = c.log_level;

    ev_timer_set(&d->poll, c.poll_interval, c.poll_interval);
    ev_timer_again(loop, &d->poll);
    hookd_housekeeping_reset(d->housekeeping);
    hookd_http_keep(d->http, c.concurrency);

    hookd_log(HOOKD_LOG_INFO, "configuration reloaded");
}


int
hookd_run(const hookd_args_t *a)
{
    int                    rc;
    hookd_daemon_t         d;
    hookd_store_events_t   ev = { hookd_on_ready, hookd_on_notify, NULL };
    hookd_store_events_t   rev = { hookd_on_ready, NULL, NULL };

    memset(&d, 0, sizeof(d));
    d.args = a;

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
    d.outcomes = json_array();
    ev.data = &d;
    rev.data = &d;

    d.http = hookd_http_new(d.loop, hookd_transfer_done, &d);
    d.store = hookd_store_new(d.loop, d.conf.database, &ev);
    d.recorder = hookd_store_new(d.loop, d.conf.database, &rev);

    /* on the recorder's connection: its statements are short and rare */
    d.housekeeping = d.recorder
                     ? hookd_housekeeping_new(d.loop, d.recorder, &d.conf)
                     : NULL;

    if (d.http == NULL || d.store == NULL || d.recorder == NULL
        || d.housekeeping == NULL)
    {
        hookd_fail("internal", "out of memory");
        return 1;
    }

    /* as many as can be busy at once */
    hookd_http_keep(d.http, d.conf.concurrency);

    ev_timer_init(&d.poll, hookd_on_poll, d.conf.poll_interval,
                  d.conf.poll_interval);
    d.poll.data = &d;
    ev_timer_start(d.loop, &d.poll);

    ev_timer_init(&d.drain, hookd_on_drain_timeout, 0, 0);
    d.drain.data = &d;

    ev_timer_init(&d.record, hookd_on_record, 0, 0);
    d.record.data = &d;

    ev_timer_init(&d.stats, hookd_on_stats, 0.1, 5.0);
    d.stats.data = &d;

    if (d.conf.metrics_listen[0]) {
        if (hookd_metrics_listen(d.loop, d.conf.metrics_listen) != 0) {
            hookd_fail("bad_config", "cannot listen for metrics on %s",
                       d.conf.metrics_listen);
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

    while (d.backlog) {
        hookd_job_t  *job = d.backlog;

        d.backlog = job->next;
        hookd_job_free(job);
    }

    hookd_metrics_close(d.loop);
    hookd_housekeeping_free(d.housekeeping);
    hookd_store_free(d.store);
    hookd_store_free(d.recorder);
    hookd_http_free(d.http);
    json_decref(d.outcomes);
    json_decref(d.sending);
    OPENSSL_cleanse(d.master, sizeof(d.master));

    return rc;
}
