/*
 * Outgoing HTTP: one libcurl multi handle driven by the libev loop
 * (multi_socket: an ev_io per socket, one ev_timer for curl's timeouts).
 * Its transfers share kept connections and TLS sessions, so that a new
 * connection to a host resumes the session of an earlier one.
 */

#ifndef HOOKD_HTTP_H
#define HOOKD_HTTP_H

#include <ev.h>
#include <curl/curl.h>

typedef struct hookd_http_s  hookd_http_t;

/* called once per finished transfer, with curl's result for it */
typedef void (*hookd_http_done_pt)(CURL *easy, CURLcode result, void *data);

hookd_http_t *hookd_http_new(struct ev_loop *loop, hookd_http_done_pt done,
    void *data);
void hookd_http_free(hookd_http_t *h);

/*
 * How many idle connections to keep for reuse. libcurl's default follows
 * the number of transfers running, so a burst's connections were closed
 * as it ebbed and opened again for the next one.
 */
void hookd_http_keep(hookd_http_t *h, long connections);

/* starts a configured easy handle; 0 on success */
int hookd_http_start(hookd_http_t *h, CURL *easy);

#endif /* HOOKD_HTTP_H */
