#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <openssl/crypto.h>

#include "attempt.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "resolve.h"
#include "sign.h"
#include "ssrf.h"
#include "util.h"


#define HOOKD_RESPONSE_KEEP  4096
/*
 * Easy handles kept for the next transfers, with the options that are the
 * same for every attempt set once: making one and cleaning it up was a
 * good part of libcurl's cost per delivery (docs/benchmarks.md, "The
 * delivery path"). More transfers than this at once make handles of their
 * own, as before.
 */
#define HOOKD_IDLE_EASY      256


struct hookd_attempts_s {
    const hookd_config_t  *conf;
    const unsigned char   *master;
    hookd_http_t          *http;
    hookd_resolver_t      *resolver;       /* the endpoint's, with a proxy */
    hookd_outcome_pt       outcome;
    void                  *data;
    CURL                  *idle[HOOKD_IDLE_EASY];
    int                    nidle;
    int                    running;
    struct hookd_transfer_s *transfers;    /* running, newest first */
};

typedef struct hookd_transfer_s  hookd_transfer_t;

struct hookd_transfer_s {
    hookd_transfer_t      *prev, *next;    /* in attempts->transfers */
    hookd_attempts_t      *attempts;
    hookd_delivery_t      *delivery;
    CURL                  *easy;
    struct curl_slist     *headers;
    struct curl_slist     *connect_to;     /* through a proxy, pinned */
    char                  *host;           /* through a proxy */
    long                   port;
    int                    pinned;
    double                 started;        /* epoch seconds */
    double                 retry_after;
    int                    refused;
    char                   refused_addr[64];
    /* grown as bytes come, up to HOOKD_RESPONSE_KEEP: most answers are a
       few bytes, and 10 000 transfers in flight should not hold 40 MB */
    char                  *response;
    size_t                 response_len;
    char                   errbuf[CURL_ERROR_SIZE];
};


static size_t hookd_on_body(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static size_t hookd_on_header(char *buf, size_t size, size_t nitems,
    void *userdata);
static curl_socket_t hookd_on_open_socket(void *clientp,
    curlsocktype purpose, struct curl_sockaddr *addr);
static void hookd_transfer_free(hookd_transfer_t *t);
static void hookd_report(hookd_transfer_t *t, long status, const char *error,
    hookd_class_e cls);
static void hookd_transfer_done(CURL *easy, CURLcode result, void *data);
static void hookd_not_sent(hookd_transfer_t *t, const char *why,
    hookd_class_e cls);
static void hookd_through_proxy(hookd_transfer_t *t);
static void hookd_on_resolved(void *data, int error,
    const struct sockaddr_storage *addrs, int naddrs);
static void hookd_send(hookd_transfer_t *t);
static int hookd_endpoint_headers(hookd_transfer_t *t);
static CURL *hookd_easy(hookd_attempts_t *a);


hookd_attempts_t *
hookd_attempts_new(struct ev_loop *loop, const hookd_config_t *conf,
    const unsigned char *master, hookd_resolver_t *resolver,
    hookd_outcome_pt outcome, void *data)
{
    hookd_attempts_t  *a;

    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NULL;
    }

    a->conf = conf;
    a->master = master;
    a->resolver = resolver;
    a->outcome = outcome;
    a->data = data;
    a->http = hookd_http_new(loop, hookd_transfer_done, a);

    if (a->http == NULL) {
        free(a);
        return NULL;
    }

    return a;
}


void
hookd_attempts_free(hookd_attempts_t *a)
{
    if (a) {
        /* before the multi handle and its share go */
        while (a->nidle > 0) {
            curl_easy_cleanup(a->idle[--a->nidle]);
        }
        hookd_http_free(a->http);
        hookd_sign_forget();
        free(a);
    }
}


int
hookd_attempts_running(const hookd_attempts_t *a)
{
    return a->running;
}


json_t *
hookd_attempts_leases(const hookd_attempts_t *a, double claimed_before)
{
    json_t            *list;
    hookd_transfer_t  *t;

    list = NULL;

    for (t = a->transfers; t; t = t->next) {
        if (t->delivery->claimed_at >= claimed_before) {
            continue;
        }

        if (list == NULL && (list = json_array()) == NULL) {
            return NULL;
        }

        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}",
                                  "app_id", t->delivery->app_id,
                                  "endpoint_id", t->delivery->endpoint_id,
                                  "delivery_id", t->delivery->id,
                                  "attempt_number",
                                  t->delivery->attempt_number));
    }

    return list;
}


void
hookd_attempts_keep(hookd_attempts_t *a, long connections)
{
    while (a->nidle > 0) {
        curl_easy_cleanup(a->idle[--a->nidle]);
    }
    hookd_http_keep(a->http, connections);
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


/*
 * The SSRF guard judges the address curl is about to connect to; through a
 * proxy that is the operator's proxy, and the endpoint's own addresses were
 * judged before (hookd_through_proxy).
 */
static curl_socket_t
hookd_on_open_socket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    hookd_transfer_t      *t = clientp;
    const hookd_config_t  *c = t->attempts->conf;
    const void            *ip;

    if (purpose == CURLSOCKTYPE_IPCXN && !c->allow_private_networks
        && t->host == NULL
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
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        t->attempts->transfers = t->next;
    }

    if (t->next) {
        t->next->prev = t->prev;
    }

    /* no longer in the multi handle: its transfer ended, or never began */
    if (t->easy && t->attempts->nidle < HOOKD_IDLE_EASY) {
        t->attempts->idle[t->attempts->nidle++] = t->easy;
    } else if (t->easy) {
        curl_easy_cleanup(t->easy);
    }

    curl_slist_free_all(t->headers);
    curl_slist_free_all(t->connect_to);
    free(t->host);
    free(t->response);
    hookd_delivery_free(t->delivery);
    free(t);
}


/* the attempt is over: its outcome goes to the loop, its slot is free */
static void
hookd_report(hookd_transfer_t *t, long status, const char *error,
    hookd_class_e cls)
{
    double             elapsed;
    hookd_outcome_t    o;
    hookd_delivery_t  *dl = t->delivery;
    hookd_attempts_t  *a = t->attempts;

    elapsed = hookd_clock(CLOCK_REALTIME) - t->started;

    memset(&o, 0, sizeof(o));
    o.delivery = dl;
    o.started_at = t->started;
    o.duration_ms = (int) (elapsed * 1000);
    o.status_code = status;
    o.error = error;
    o.error_class = cls;
    o.response_body = t->response;
    o.response_len = t->response_len;
    o.endpoint_gone = status == 410;
    o.retry_in = hookd_next_delay(&dl->policy, dl->attempt_number,
                                  dl->age_seconds, cls,
                                  (status == 429 || status == 503)
                                  ? t->retry_after : 0,
                                  /* drawn only for what may be retried:
                                     RAND_bytes costs more than a POST's
                                     signature */
                                  cls == HOOKD_RETRYABLE
                                  || cls == HOOKD_UNKNOWN
                                  ? hookd_jitter() : 0);

    hookd_log(cls == HOOKD_SUCCEEDED ? HOOKD_LOG_DEBUG : HOOKD_LOG_INFO,
              "attempt delivery=%s attempt=%d status=%ld class=%s next=%.1f%s%s",
              dl->id, dl->attempt_number, status, hookd_class_name(cls),
              o.retry_in, error ? " error=" : "", error ? error : "");

    hookd_metrics_attempt(cls, elapsed, o.retry_in < 0);

    a->running--;
    hookd_metrics.in_flight = a->running;
    a->outcome(a->data, &o);

    hookd_transfer_free(t);
}


static void
hookd_transfer_done(CURL *easy, CURLcode result, void *data)
{
    long               status;
    char               error[512];
    const char        *why;
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

    /* the receiver's words (its Location, curl's quote of a bad reply)
       go to the log: no control bytes, no invalid UTF-8 */
    if (why == error) {
        hookd_printable(error, strlen(error), 0);
    }

    hookd_report(t, status, why, cls);
}


/* an attempt that failed before any request */
static void
hookd_not_sent(hookd_transfer_t *t, const char *why, hookd_class_e cls)
{
    hookd_report(t, 0, why, cls);
}


void
hookd_attempts_start(hookd_attempts_t *a, hookd_delivery_t *dl)
{
    int                   nkeys;
    char                  sigs[HOOKD_SIGNATURES_LEN + 1];
    long long             ts;
    hookd_transfer_t     *t;
    hookd_signing_key_t   keys[HOOKD_MAX_SIGNATURES];
    CURL                 *e;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        hookd_delivery_free(dl);     /* its lease expires: claimed again */
        return;
    }

    t->attempts = a;
    t->delivery = dl;
    t->started = hookd_clock(CLOCK_REALTIME);
    t->next = a->transfers;
    if (a->transfers) {
        a->transfers->prev = t;
    }
    a->transfers = t;
    ts = (long long) t->started;

    a->running++;
    hookd_metrics.in_flight = a->running;

    nkeys = hookd_sign_keys(a->master, dl->secrets, ts, keys);

    if (nkeys == 0
        || hookd_sign_all(keys, nkeys, dl->event_id, ts, dl->body,
                          strlen(dl->body), sigs) != 0)
    {
        OPENSSL_cleanse(keys, sizeof(keys));
        /* nothing is ever sent unsigned */
        hookd_not_sent(t, "no signing secret of this endpoint could be "
                       "opened: is secret_key_file the key it was sealed "
                       "with?", HOOKD_RETRYABLE);
        return;
    }

    OPENSSL_cleanse(keys, sizeof(keys));

    t->headers = hookd_sign_headers(dl->event_id, ts, sigs);
    e = t->easy = hookd_easy(a);

    if (e == NULL || t->headers == NULL) {
        hookd_not_sent(t, "out of memory", HOOKD_UNKNOWN);
        return;
    }

    if (hookd_endpoint_headers(t) != 0) {
        /* as for secrets: nothing goes out without what the endpoint asks */
        hookd_not_sent(t, "the endpoint's headers or auth cannot be opened: "
                       "is secret_key_file the key they were sealed with?",
                       HOOKD_RETRYABLE);
        return;
    }

    /* what changes from one attempt to the next (hookd_easy sets the rest) */
    curl_easy_setopt(e, CURLOPT_URL, dl->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, dl->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) strlen(dl->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, dl->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, NULL);
    /* Debian 12's libcurl cannot reuse cleartext HTTP/2 connections */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     strncasecmp(dl->url, "http:", 5) == 0
                     ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_NONE);

    if (a->conf->proxy[0] && !a->conf->allow_private_networks) {
        hookd_through_proxy(t);
        return;
    }

    hookd_send(t);
}


/* an easy handle from the idle ones, or a new one with what never changes */
static CURL *
hookd_easy(hookd_attempts_t *a)
{
    CURL  *e;

    if (a->nidle > 0) {
        return a->idle[--a->nidle];
    }

    e = curl_easy_init();
    if (e == NULL) {
        return NULL;
    }

    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* proxies only as configured, never from the environment */
    curl_easy_setopt(e, CURLOPT_PROXY, a->conf->proxy);
    if (a->conf->ca_file[0]) {
        curl_easy_setopt(e, CURLOPT_CAINFO, a->conf->ca_file);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hookd_on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hookd_on_header);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, hookd_on_open_socket);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);

    return e;
}


/*
 * The endpoint's own headers and Authorization, opened from their seal and
 * added after the protocol's (checked where they were accepted: none of
 * them can replace one of those). Their values are never logged.
 */
static int
hookd_endpoint_headers(hookd_transfer_t *t)
{
    int                 rc;
    char               *plain, *line;
    size_t              n;
    json_t             *headers, *v;
    const char         *name;
    hookd_delivery_t   *dl = t->delivery;
    struct curl_slist  *next;

    rc = 0;

    if (dl->headers_sealed) {
        plain = hookd_unseal(t->attempts->master, dl->headers_sealed);
        headers = plain ? json_loads(plain, 0, NULL) : NULL;

        if (plain) {
            OPENSSL_cleanse(plain, strlen(plain));
            free(plain);
        }

        if (!json_is_object(headers)) {
            json_decref(headers);
            return -1;
        }

        json_object_foreach(headers, name, v) {
            n = strlen(name) + json_string_length(v) + 3;
            line = malloc(n);
            if (line == NULL) {
                rc = -1;
                break;
            }

            snprintf(line, n, "%s: %s", name, json_string_value(v));
            next = curl_slist_append(t->headers, line);
            OPENSSL_cleanse(line, n);
            free(line);

            if (next == NULL) {
                rc = -1;
                break;
            }
        }

        json_decref(headers);
    }

    if (rc == 0 && dl->auth_sealed) {
        plain = hookd_unseal(t->attempts->master, dl->auth_sealed);
        if (plain == NULL) {
            return -1;
        }

        n = strlen(plain) + sizeof("authorization: ");
        line = malloc(n);
        if (line != NULL) {
            snprintf(line, n, "authorization: %s", plain);
            rc = curl_slist_append(t->headers, line) ? 0 : -1;
            OPENSSL_cleanse(line, n);
            free(line);
        } else {
            rc = -1;
        }

        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }

    return rc;
}


static void
hookd_send(hookd_transfer_t *t)
{
    if (hookd_http_start(t->attempts->http, t->easy) != 0) {
        hookd_not_sent(t, "cannot start the transfer", HOOKD_UNKNOWN);
    }
}


/*
 * A proxy connects for hookd, so curl's socket is the proxy's: the
 * endpoint's name is resolved here and judged. HTTPS goes through a CONNECT
 * to the address judged (CURLOPT_CONNECT_TO; the name still checks the
 * certificate), so the proxy cannot be steered elsewhere. Plain HTTP hands
 * the proxy the URL, which it resolves again: every address of the name must
 * be allowed, and what the name resolves to at the proxy's moment is its own
 * to check (docs/hookd.md).
 */
static void
hookd_through_proxy(hookd_transfer_t *t)
{
    int                       family;
    char                     *host, *scheme, *port;
    size_t                    len;
    CURLU                    *u;
    struct sockaddr_storage   literal;

    u = curl_url();
    host = scheme = port = NULL;

    if (u == NULL
        || curl_url_set(u, CURLUPART_URL, t->delivery->url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
           != CURLUE_OK)
    {
        curl_free(host);
        curl_free(scheme);
        curl_url_cleanup(u);
        hookd_not_sent(t, "the endpoint's URL cannot be parsed",
                       HOOKD_NON_RETRYABLE);
        return;
    }

    t->pinned = strcasecmp(scheme, "https") == 0;
    t->port = atol(port);

    /* an IPv6 literal is given in brackets */
    len = strlen(host);
    if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
        t->host = strndup(host + 1, len - 2);
    } else {
        t->host = strdup(host);
    }

    curl_free(host);
    curl_free(scheme);
    curl_free(port);
    curl_url_cleanup(u);

    if (t->host == NULL) {
        hookd_not_sent(t, "out of memory", HOOKD_UNKNOWN);
        return;
    }

    memset(&literal, 0, sizeof(literal));
    family = strchr(t->host, ':') ? AF_INET6 : AF_INET;

    if (inet_pton(family, t->host, family == AF_INET6
                  ? (void *) &((struct sockaddr_in6 *) &literal)->sin6_addr
                  : (void *) &((struct sockaddr_in *) &literal)->sin_addr)
        == 1)
    {
        /* an address is what the proxy is told already */
        literal.ss_family = (sa_family_t) family;
        t->pinned = 0;
        hookd_on_resolved(t, 0, &literal, 1);
        return;
    }

    if (hookd_resolve(t->attempts->resolver, t->host, hookd_on_resolved, t)
        != 0)
    {
        hookd_not_sent(t, "cannot start resolving the endpoint's name",
                       HOOKD_UNKNOWN);
    }
}


static void
hookd_on_resolved(void *data, int error, const struct sockaddr_storage *addrs,
    int naddrs)
{
    int                    i, refused;
    char                   why[512], ip[INET6_ADDRSTRLEN], pin[512];
    const void            *in;
    hookd_transfer_t      *t = data;
    const hookd_config_t  *c = t->attempts->conf;

    if (error != 0) {
        snprintf(why, sizeof(why), "cannot resolve %s: %s", t->host,
                 gai_strerror(error));
        hookd_not_sent(t, why, hookd_classify(CURLE_COULDNT_RESOLVE_HOST, 0,
                                              0));
        return;
    }

    i = hookd_ssrf_choose(addrs, naddrs, t->pinned, c->allow,
                          (size_t) c->nallow, &refused);

    if (i < 0) {
        in = addrs[refused].ss_family == AF_INET6
             ? (const void *) &((struct sockaddr_in6 *) &addrs[refused])
                   ->sin6_addr
             : (const void *) &((struct sockaddr_in *) &addrs[refused])
                   ->sin_addr;
        inet_ntop(addrs[refused].ss_family, in, t->refused_addr,
                  sizeof(t->refused_addr));
        t->refused = 1;
        snprintf(why, sizeof(why), "address %s of %s refused by the SSRF "
                 "guard (allow it with allow_network in hookd.conf)",
                 t->refused_addr, t->host);
        hookd_not_sent(t, why, hookd_classify(CURLE_COULDNT_CONNECT, 0, 1));
        return;
    }

    if (t->pinned) {
        in = addrs[i].ss_family == AF_INET6
             ? (const void *) &((struct sockaddr_in6 *) &addrs[i])->sin6_addr
             : (const void *) &((struct sockaddr_in *) &addrs[i])->sin_addr;
        inet_ntop(addrs[i].ss_family, in, ip, sizeof(ip));

        snprintf(pin, sizeof(pin), addrs[i].ss_family == AF_INET6
                 ? "%s:%ld:[%s]:%ld" : "%s:%ld:%s:%ld",
                 t->host, t->port, ip, t->port);

        t->connect_to = curl_slist_append(NULL, pin);
        if (t->connect_to == NULL) {
            hookd_not_sent(t, "out of memory", HOOKD_UNKNOWN);
            return;
        }

        curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, t->connect_to);
    }

    hookd_send(t);
}
