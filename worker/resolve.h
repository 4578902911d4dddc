/*
 * Names resolved off the loop: getaddrinfo() runs in a few threads and its
 * answers come back to the libev loop through an ev_async. hookd needs it
 * where curl's own resolution is out of its sight: through a proxy, curl
 * resolves nothing and the SSRF guard must judge the endpoint's addresses
 * itself (attempt.c).
 */

#ifndef HOOKD_RESOLVE_H
#define HOOKD_RESOLVE_H

#include <ev.h>
#include <sys/socket.h>

#define HOOKD_RESOLVE_MAX  16      /* addresses kept per name */

typedef struct hookd_resolver_s  hookd_resolver_t;

/* error: 0, or getaddrinfo()'s code (gai_strerror() names it) */
typedef void (*hookd_resolved_pt)(void *data, int error,
    const struct sockaddr_storage *addrs, int naddrs);

hookd_resolver_t *hookd_resolver_new(struct ev_loop *loop);
/* after every request was answered: the threads are joined */
void hookd_resolver_free(hookd_resolver_t *r);

/* done(data, …) is called from the loop; 0 if the request was queued */
int hookd_resolve(hookd_resolver_t *r, const char *host,
    hookd_resolved_pt done, void *data);

#endif /* HOOKD_RESOLVE_H */
