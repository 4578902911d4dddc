/*
 * The SSRF guard: may hookd connect to this address? Judged on the address
 * actually connected to, after DNS, in libcurl's open-socket callback; or,
 * through a proxy, on the addresses hookd resolved the endpoint's name to.
 */

#ifndef HOOKD_SSRF_H
#define HOOKD_SSRF_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct {
    unsigned char  addr[16];    /* IPv4 as ::ffff:a.b.c.d */
    int            prefix;      /* over the 128 bits */
} hookd_cidr_t;

/* "10.0.0.0/8", "127.0.0.1", "fd00::/8"; 0 on success */
int hookd_cidr_parse(const char *s, hookd_cidr_t *out);

/*
 * 1 if the address is public, or inside one of the allowed networks; 0 if
 * it is loopback, private, link-local, CGNAT, multicast, reserved,
 * documentation or cloud metadata, IPv4 or IPv6, including the IPv4-mapped,
 * -compatible, NAT64 and 6to4 forms of such IPv4 addresses.
 */
int hookd_address_allowed(const struct sockaddr *sa, const hookd_cidr_t *allow,
    size_t nallow);

/*
 * Through a proxy: which of the addresses an endpoint's name resolved to
 * the request goes to. Pinned (the proxy is told the address itself): the
 * first allowed one. Not pinned (the proxy resolves the name again and may
 * pick any): 0 when every one is allowed. -1 when refused, with *refused
 * the index of the address that was.
 */
int hookd_ssrf_choose(const struct sockaddr_storage *addrs, int naddrs,
    int pinned, const hookd_cidr_t *allow, size_t nallow, int *refused);

#endif /* HOOKD_SSRF_H */
