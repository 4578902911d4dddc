#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ssrf.h"


typedef struct {
    const char  *cidr;
    int          embedded_v4_at;   /* byte offset of an IPv4 inside, or -1 */
} hookd_range_t;


/* IPv4 ranges are given in their ::ffff:0:0/96 form */
static const hookd_range_t  hookd_blocked[] = {
    { "0.0.0.0/8", -1 },            /* this network */
    { "10.0.0.0/8", -1 },           /* private */
    { "100.64.0.0/10", -1 },        /* carrier-grade NAT */
    { "127.0.0.0/8", -1 },          /* loopback */
    { "169.254.0.0/16", -1 },       /* link-local, cloud metadata */
    { "172.16.0.0/12", -1 },        /* private */
    { "192.0.0.0/24", -1 },         /* IETF protocol assignments */
    { "192.0.2.0/24", -1 },         /* documentation */
    { "192.88.99.0/24", -1 },       /* 6to4 relay anycast */
    { "192.168.0.0/16", -1 },       /* private */
    { "198.18.0.0/15", -1 },        /* benchmarking */
    { "198.51.100.0/24", -1 },      /* documentation */
    { "203.0.113.0/24", -1 },       /* documentation */
    { "224.0.0.0/4", -1 },          /* multicast */
    { "240.0.0.0/4", -1 },          /* reserved, broadcast */
    { "::/128", -1 },               /* unspecified */
    { "::1/128", -1 },              /* loopback */
    { "100::/64", -1 },             /* discard */
    { "2001::/32", -1 },            /* Teredo */
    { "2001:db8::/32", -1 },        /* documentation */
    { "fc00::/7", -1 },             /* unique local */
    { "fe80::/10", -1 },            /* link-local */
    { "fec0::/10", -1 },            /* site-local */
    { "ff00::/8", -1 },             /* multicast */
    { "64:ff9b:1::/48", -1 },       /* local-use NAT64 */
    { "64:ff9b::/96", 12 },         /* NAT64: judged by its IPv4 */
    { "2002::/16", 2 },             /* 6to4: judged by its IPv4 */
    { "::/96", 12 },                /* IPv4-compatible: judged by its IPv4 */
};


int
hookd_cidr_parse(const char *s, hookd_cidr_t *out)
{
    int              prefix, v4;
    char             buf[INET6_ADDRSTRLEN + 8], *slash, *end;
    struct in_addr   a4;

    if (strlen(s) >= sizeof(buf)) {
        return -1;
    }

    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (slash) {
        *slash++ = '\0';
    }

    memset(out, 0, sizeof(*out));

    if (inet_pton(AF_INET, buf, &a4) == 1) {
        out->addr[10] = 0xff;
        out->addr[11] = 0xff;
        memcpy(out->addr + 12, &a4, 4);
        v4 = 1;

    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        v4 = 0;

    } else {
        return -1;
    }

    prefix = v4 ? 32 : 128;

    if (slash) {
        prefix = (int) strtol(slash, &end, 10);
        if (*slash == '\0' || *end != '\0' || prefix < 0
            || prefix > (v4 ? 32 : 128))
        {
            return -1;
        }
    }

    out->prefix = v4 ? prefix + 96 : prefix;

    return 0;
}


static int
hookd_cidr_contains(const hookd_cidr_t *c, const unsigned char *addr)
{
    int  full, rest;

    full = c->prefix / 8;
    rest = c->prefix % 8;

    if (memcmp(c->addr, addr, (size_t) full) != 0) {
        return 0;
    }

    return rest == 0
           || ((c->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}


static int
hookd_blocked_addr(const unsigned char *addr, int depth)
{
    size_t         i;
    hookd_cidr_t   c;
    unsigned char  v4[16];

    for (i = 0; i < sizeof(hookd_blocked) / sizeof(hookd_blocked[0]); i++) {
        if (hookd_cidr_parse(hookd_blocked[i].cidr, &c) != 0
            || !hookd_cidr_contains(&c, addr))
        {
            continue;
        }

        if (hookd_blocked[i].embedded_v4_at < 0 || depth > 0) {
            return 1;
        }

        memset(v4, 0, 10);
        v4[10] = 0xff;
        v4[11] = 0xff;
        memcpy(v4 + 12, addr + hookd_blocked[i].embedded_v4_at, 4);

        return hookd_blocked_addr(v4, depth + 1);
    }

    return 0;
}


int
hookd_address_allowed(const struct sockaddr *sa, const hookd_cidr_t *allow,
    size_t nallow)
{
    size_t         i;
    unsigned char  addr[16];

    memset(addr, 0, sizeof(addr));

    if (sa->sa_family == AF_INET) {
        addr[10] = 0xff;
        addr[11] = 0xff;
        memcpy(addr + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);

    } else if (sa->sa_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);

    } else {
        return 0;
    }

    for (i = 0; i < nallow; i++) {
        if (hookd_cidr_contains(&allow[i], addr)) {
            return 1;
        }
    }

    return !hookd_blocked_addr(addr, 0);
}


int
hookd_ssrf_choose(const struct sockaddr_storage *addrs, int naddrs,
    int pinned, const hookd_cidr_t *allow, size_t nallow, int *refused)
{
    int  i;

    *refused = -1;

    for (i = 0; i < naddrs; i++) {
        if (hookd_address_allowed((const struct sockaddr *) &addrs[i], allow,
                                  nallow))
        {
            if (pinned) {
                return i;
            }

        } else {
            if (*refused < 0) {
                *refused = i;
            }

            if (!pinned) {
                return -1;
            }
        }
    }

    return pinned || naddrs == 0 ? -1 : 0;
}
