#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"


#define HOOKD_METRICS_REQUEST_MAX  4096
/* a scraper sends its request at once; what lingers is not a scraper */
#define HOOKD_METRICS_IDLE         5.0
#define HOOKD_METRICS_CONNS        16


hookd_metrics_t  hookd_metrics;

static const double  hookd_latency_le[HOOKD_LATENCY_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};

static const char  *hookd_class_labels[4] = {
    "SUCCEEDED", "RETRYABLE", "NON_RETRYABLE", "UNKNOWN"
};

typedef struct hookd_scrape_s  hookd_scrape_t;

struct hookd_scrape_s {
    ev_io            io;
    ev_timer         idle;
    hookd_scrape_t  *prev, *next;        /* oldest first */
    size_t           len;
    char             buf[HOOKD_METRICS_REQUEST_MAX];
};

static ev_io            hookd_metrics_listener;
static int              hookd_metrics_fd = -1;
static hookd_scrape_t  *hookd_scrapes, *hookd_scrapes_last;
static int              hookd_nscrapes;


void
hookd_metrics_attempt(hookd_class_e c, double seconds, int final)
{
    int  i;

    hookd_metrics.attempts[c]++;
    hookd_metrics.latency_sum += seconds;

    for (i = 0; i < HOOKD_LATENCY_BUCKETS && seconds > hookd_latency_le[i];
         i++)
    {
        /* find the bucket */
    }
    hookd_metrics.latency_bucket[i]++;

    if (c == HOOKD_SUCCEEDED) {
        hookd_metrics.succeeded++;
    } else if (final) {
        hookd_metrics.dead_lettered++;
    }
}


static size_t
hookd_metrics_render(char *out, size_t size)
{
    int                 i;
    size_t              n;
    unsigned long long  cumulative, total;

#define HOOKD_PUT(...)                                                      \
    n += (size_t) snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__)

    n = 0;

    HOOKD_PUT("# HELP hookd_attempts_total HTTP attempts by error class.\n"
              "# TYPE hookd_attempts_total counter\n");
    for (i = 0; i < 4; i++) {
        HOOKD_PUT("hookd_attempts_total{class=\"%s\"} %llu\n",
                  hookd_class_labels[i], hookd_metrics.attempts[i]);
    }

    HOOKD_PUT("# HELP hookd_deliveries_total Deliveries that ended.\n"
              "# TYPE hookd_deliveries_total counter\n"
              "hookd_deliveries_total{outcome=\"succeeded\"} %llu\n"
              "hookd_deliveries_total{outcome=\"dead_letter\"} %llu\n",
              hookd_metrics.succeeded, hookd_metrics.dead_lettered);

    HOOKD_PUT("# HELP hookd_attempt_duration_seconds Attempt latency.\n"
              "# TYPE hookd_attempt_duration_seconds histogram\n");
    cumulative = 0;
    for (i = 0; i < HOOKD_LATENCY_BUCKETS; i++) {
        cumulative += hookd_metrics.latency_bucket[i];
        HOOKD_PUT("hookd_attempt_duration_seconds_bucket{le=\"%g\"} %llu\n",
                  hookd_latency_le[i], cumulative);
    }
    total = cumulative + hookd_metrics.latency_bucket[HOOKD_LATENCY_BUCKETS];
    HOOKD_PUT("hookd_attempt_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
              "hookd_attempt_duration_seconds_sum %.6f\n"
              "hookd_attempt_duration_seconds_count %llu\n",
              total, hookd_metrics.latency_sum, total);

    HOOKD_PUT("# HELP hookd_in_flight Deliveries being sent now.\n"
              "# TYPE hookd_in_flight gauge\nhookd_in_flight %d\n"
              "# HELP hookd_backlog Claimed deliveries waiting for a slot.\n"
              "# TYPE hookd_backlog gauge\nhookd_backlog %d\n",
              hookd_metrics.in_flight, hookd_metrics.backlog);

    HOOKD_PUT("# HELP hookd_queue_due Deliveries due and not claimed "
              "(sampled).\n# TYPE hookd_queue_due gauge\n"
              "hookd_queue_due %lld\n"
              "# HELP hookd_queue_oldest_due_seconds Age of the oldest due "
              "delivery (sampled).\n"
              "# TYPE hookd_queue_oldest_due_seconds gauge\n"
              "hookd_queue_oldest_due_seconds %.3f\n",
              hookd_metrics.queue_due, hookd_metrics.oldest_due_seconds);

    HOOKD_PUT("# HELP hookd_breakers Endpoints by breaker state "
              "(sampled).\n# TYPE hookd_breakers gauge\n"
              "hookd_breakers{state=\"open\"} %lld\n"
              "hookd_breakers{state=\"half_open\"} %lld\n",
              hookd_metrics.breakers_open, hookd_metrics.breakers_half_open);

#undef HOOKD_PUT

    return n < size ? n : size - 1;
}


static void
hookd_scrape_close(struct ev_loop *loop, hookd_scrape_t *s)
{
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        hookd_scrapes = s->next;
    }

    if (s->next) {
        s->next->prev = s->prev;
    } else {
        hookd_scrapes_last = s->prev;
    }

    hookd_nscrapes--;

    ev_io_stop(loop, &s->io);
    ev_timer_stop(loop, &s->idle);
    close(s->io.fd);
    free(s);
}


static void
hookd_scrape_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_scrape_close(loop, w->data);
}


static void
hookd_scrape_read(struct ev_loop *loop, ev_io *w, int revents)
{
    int              ok;
    char             body[8192], head[256];
    size_t           blen;
    ssize_t          n;
    hookd_scrape_t  *s = (hookd_scrape_t *) w;

    n = read(w->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }

    if (n <= 0) {
        hookd_scrape_close(loop, s);
        return;
    }

    s->len += (size_t) n;
    s->buf[s->len] = '\0';

    if (strstr(s->buf, "\r\n\r\n") == NULL) {
        if (s->len == sizeof(s->buf) - 1) {
            hookd_scrape_close(loop, s);
        }
        return;
    }

    ok = strncmp(s->buf, "GET /metrics ", 13) == 0
         || strncmp(s->buf, "GET /metrics?", 13) == 0;

    blen = ok ? hookd_metrics_render(body, sizeof(body))
              : (size_t) snprintf(body, sizeof(body), "GET /metrics\n");

    snprintf(head, sizeof(head),
             "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             ok ? "200 OK" : "404 Not Found", blen);

    /* small answers to a local scraper: one write each, best effort */
    if (write(w->fd, head, strlen(head)) > 0) {
        (void) !write(w->fd, body, blen);
    }

    hookd_scrape_close(loop, s);
}


static void
hookd_metrics_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    int              fd;
    hookd_scrape_t  *s;

    fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        close(fd);
        return;
    }

    /* full: the connection open longest makes room */
    if (hookd_nscrapes == HOOKD_METRICS_CONNS) {
        hookd_scrape_close(loop, hookd_scrapes);
    }

    s->prev = hookd_scrapes_last;
    if (hookd_scrapes_last) {
        hookd_scrapes_last->next = s;
    } else {
        hookd_scrapes = s;
    }
    hookd_scrapes_last = s;
    hookd_nscrapes++;

    ev_io_init(&s->io, hookd_scrape_read, fd, EV_READ);
    ev_io_start(loop, &s->io);
    ev_timer_init(&s->idle, hookd_scrape_idle, HOOKD_METRICS_IDLE, 0);
    s->idle.data = s;
    ev_timer_start(loop, &s->idle);
}


int
hookd_metrics_listen(struct ev_loop *loop, const char *address)
{
    int               fd, rc, one = 1;
    char              host[256], *port;
    struct addrinfo   hints, *ai;

    if (snprintf(host, sizeof(host), "%s", address) >= (int) sizeof(host)) {
        return -1;
    }

    port = strrchr(host, ':');
    if (port == NULL) {
        return -1;
    }
    *port++ = '\0';

    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;

    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        hookd_log(HOOKD_LOG_ERROR, "metrics_listen %s: %s", address,
                  gai_strerror(rc));
        return -1;
    }

    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0
        || listen(fd, 64) != 0)
    {
        hookd_log(HOOKD_LOG_ERROR, "metrics_listen %s: %s", address,
                  strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }

    freeaddrinfo(ai);

    hookd_metrics_fd = fd;
    ev_io_init(&hookd_metrics_listener, hookd_metrics_accept, fd, EV_READ);
    ev_io_start(loop, &hookd_metrics_listener);

    hookd_log(HOOKD_LOG_INFO, "metrics on http://%s/metrics", address);

    return 0;
}


void
hookd_metrics_close(struct ev_loop *loop)
{
    while (hookd_scrapes) {
        hookd_scrape_close(loop, hookd_scrapes);
    }

    if (hookd_metrics_fd >= 0) {
        ev_io_stop(loop, &hookd_metrics_listener);
        close(hookd_metrics_fd);
        hookd_metrics_fd = -1;
    }
}
