/*
 * An endpoint's own request headers and credentials (docs/routing.md):
 * checked where they are accepted (nginx's admin API, hookd's CLI), sealed
 * at rest, opened by hookd only to send. A header the delivery protocol
 * owns, a hop-by-hop one, or a byte that would split a header is refused.
 */

#ifndef HOOKD_HEADERS_H
#define HOOKD_HEADERS_H

#include <stddef.h>
#include <jansson.h>

#define HOOKD_HEADERS_MAX_BYTES  8192      /* names and values, in all */

/*
 * headers: {"Name": "value", …}; 0 and *names (a new JSON array of the
 * names), or -1 and why.
 */
int hookd_headers_check(const json_t *headers, json_t **names, char *why,
    size_t why_size);

/*
 * auth: {"type": "basic", "username", "password"} or {"type": "bearer",
 * "token"}; 0 and the Authorization value in out (malloc'ed, to cleanse),
 * or -1 and why.
 */
int hookd_auth_value(const json_t *auth, char **out, char *why,
    size_t why_size);

#endif /* HOOKD_HEADERS_H */
