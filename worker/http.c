/*
 * libcurl multi_socket on libev, in the shape of curl's evhiperfifo.c: one
 * socket callback that adds, changes or removes an ev_io, one one-shot
 * timer set by curl's timer callback (milliseconds / 1000.0: sub-second
 * timeouts must not round to zero), and one place that reaps finished
 * transfers. Multi errors are logged and survived, never fatal.
 */

#include <stdlib.h>

#include "http.h"
#include "log.h"


struct hookd_http_s {
    struct ev_loop      *loop;
    CURLM               *multi;
    CURLSH              *share;
    ev_timer             timer;
    int                  running;
    hookd_http_done_pt   done;
    void                *data;
};

typedef struct {
    ev_io           io;
    hookd_http_t   *http;
} hookd_sock_t;


static void
hookd_http_reap(hookd_http_t *h)
{
    int        left;
    CURLMsg   *msg;
    CURL      *easy;
    CURLcode   result;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;
        result = msg->data.result;

        curl_multi_remove_handle(h->multi, easy);
        h->done(easy, result, h->data);
    }
}


static void
hookd_http_action(hookd_http_t *h, curl_socket_t fd, int mask)
{
    CURLMcode  rc;

    rc = curl_multi_socket_action(h->multi, fd, mask, &h->running);
    if (rc != CURLM_OK) {
        hookd_log(HOOKD_LOG_ERROR, "curl multi: %s", curl_multi_strerror(rc));
    }

    hookd_http_reap(h);
}


static void
hookd_http_io(struct ev_loop *loop, ev_io *w, int revents)
{
    hookd_sock_t  *s = (hookd_sock_t *) w;

    hookd_http_action(s->http, w->fd,
                      ((revents & EV_READ) ? CURL_CSELECT_IN : 0)
                      | ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0));
}


static void
hookd_http_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_http_action(w->data, CURL_SOCKET_TIMEOUT, 0);
}


static int
hookd_http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
    int            events;
    hookd_http_t  *h = userp;
    hookd_sock_t  *s = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            ev_io_stop(h->loop, &s->io);
            free(s);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }

    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            return -1;
        }
        s->http = h;
        curl_multi_assign(h->multi, fd, s);
    } else {
        ev_io_stop(h->loop, &s->io);
    }

    events = ((what & CURL_POLL_IN) ? EV_READ : 0)
             | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);

    ev_io_init(&s->io, hookd_http_io, fd, events);
    ev_io_start(h->loop, &s->io);

    return 0;
}


static int
hookd_http_timer_cb(CURLM *multi, long ms, void *userp)
{
    hookd_http_t  *h = userp;

    ev_timer_stop(h->loop, &h->timer);

    if (ms >= 0) {
        /* never call curl from here: the loop runs it on the timer */
        ev_timer_set(&h->timer, ms / 1000.0, 0);
        ev_timer_start(h->loop, &h->timer);
    }

    return 0;
}


hookd_http_t *
hookd_http_new(struct ev_loop *loop, hookd_http_done_pt done, void *data)
{
    hookd_http_t  *h;

    h = calloc(1, sizeof(*h));
    if (h == NULL || (h->multi = curl_multi_init()) == NULL) {
        free(h);
        return NULL;
    }

    /*
     * Each transfer has an easy handle of its own, and libcurl keeps TLS
     * sessions per easy handle unless they are shared: without this, every
     * new connection made a full handshake. One thread: no locks.
     */
    h->share = curl_share_init();
    if (h->share == NULL
        || curl_share_setopt(h->share, CURLSHOPT_SHARE,
                             CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
    {
        if (h->share) {
            curl_share_cleanup(h->share);
        }
        curl_multi_cleanup(h->multi);
        free(h);
        return NULL;
    }

    h->loop = loop;
    h->done = done;
    h->data = data;

    ev_timer_init(&h->timer, hookd_http_timeout, 0, 0);
    h->timer.data = h;

    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, hookd_http_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, hookd_http_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);

    return h;
}


void
hookd_http_keep(hookd_http_t *h, long connections)
{
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, connections);
}


void
hookd_http_free(hookd_http_t *h)
{
    ev_timer_stop(h->loop, &h->timer);
    curl_multi_cleanup(h->multi);
    curl_share_cleanup(h->share);
    free(h);
}


int
hookd_http_start(hookd_http_t *h, CURL *easy)
{
    CURLMcode  rc;

    curl_easy_setopt(easy, CURLOPT_SHARE, h->share);

    rc = curl_multi_add_handle(h->multi, easy);
    if (rc != CURLM_OK) {
        hookd_log(HOOKD_LOG_ERROR, "curl multi: %s", curl_multi_strerror(rc));
        return -1;
    }

    return 0;
}
