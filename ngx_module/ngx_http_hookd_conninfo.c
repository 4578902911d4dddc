/*
 * hookd_database at configuration time: the conninfo rewritten so that
 * connecting never resolves a name inside a worker, for one host or a list
 * of them (host=a,b target_session_attrs=read-write).
 */

#include <netdb.h>
#include <arpa/inet.h>

#include "ngx_http_hookd_module.h"


static ngx_int_t ngx_http_hookd_conninfo_resolve(ngx_conf_t *cf,
    const char *host, char *addr);


/* host's first address, numeric, into addr (NI_MAXHOST) */
static ngx_int_t
ngx_http_hookd_conninfo_resolve(ngx_conf_t *cf, const char *host, char *addr)
{
    int               rc;
    struct addrinfo   hints, *ai;

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hookd_database\": cannot resolve \"%s\": %s",
                           host, gai_strerror(rc));
        return NGX_ERROR;
    }

    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, NI_MAXHOST, NULL, 0,
                     NI_NUMERICHOST);
    freeaddrinfo(ai);

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hookd_database\": cannot resolve \"%s\"", host);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Runs at configuration time: rewrites the conninfo so that connecting
 * never resolves a name inside a worker (hostaddr is added) and names the
 * connections in pg_stat_activity.
 */
char *
ngx_http_hookd_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    char                  *err, *host, *hostaddr, *src, *comma;
    u_char                *p, *out, *addrs;
    size_t                 len, n;
    ngx_uint_t             has_appname, nhosts, named;
    PQconninfoOption      *opts, *o;
    char                   addr[NI_MAXHOST];
    unsigned char          scratch[sizeof(struct in6_addr)];

    src = ngx_pnalloc(cf->pool, conninfo->len + 1);
    if (src == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(src, conninfo->data, conninfo->len);
    src[conninfo->len] = '\0';

    err = NULL;
    opts = PQconninfoParse(src, &err);
    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"hookd_database\": %s",
                           err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    host = NULL;
    hostaddr = NULL;
    has_appname = 0;
    len = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0 && o->val[0]) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0 && o->val[0]) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            has_appname = 1;
        }

        len += ngx_strlen(o->keyword) + 2 * ngx_strlen(o->val) + 4;
    }

    /*
     * Each host named (not a number, not a socket directory) gets its
     * address in hostaddr, in the same position: libpq then tries the
     * hosts of a list in order (with target_session_attrs, until one
     * writes) without resolving anything.
     */
    addrs = NULL;

    if (host && hostaddr == NULL) {
        nhosts = 1;
        for (src = host; *src; src++) {
            nhosts += (*src == ',');
        }

        addrs = ngx_pnalloc(cf->pool, nhosts * (NI_MAXHOST + 1));
        if (addrs == NULL) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        p = addrs;
        named = 0;

        for (src = host; src; src = comma ? comma + 1 : NULL) {
            comma = ngx_strchr(src, ',');
            n = comma ? (size_t) (comma - src) : ngx_strlen(src);

            if (p != addrs) {
                *p++ = ',';
            }

            if (n == 0 || n >= NI_MAXHOST || src[0] == '/') {
                continue;
            }

            ngx_memcpy(addr, src, n);
            addr[n] = '\0';

            /* a number is its own address */
            if (inet_pton(AF_INET, addr, scratch) == 1
                || inet_pton(AF_INET6, addr, scratch) == 1)
            {
                p = ngx_cpymem(p, addr, n);
                continue;
            }

            if (ngx_http_hookd_conninfo_resolve(cf, addr, (char *) p)
                != NGX_OK)
            {
                PQconninfoFree(opts);
                return NGX_CONF_ERROR;
            }

            p += ngx_strlen(p);
            named = 1;
        }

        *p = '\0';

        if (!named) {
            addrs = NULL;
        }
    }

    len += sizeof(" hostaddr=''") + (addrs ? ngx_strlen(addrs) : 0)
           + sizeof(" application_name='hookd-nginx'");

    out = ngx_pnalloc(cf->pool, len + 1);
    if (out == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    p = out;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        p = ngx_sprintf(p, "%s='", o->keyword);

        for (src = o->val; *src; src++) {
            if (*src == '\'' || *src == '\\') {
                *p++ = '\\';
            }
            *p++ = *src;
        }

        *p++ = '\'';
        *p++ = ' ';
    }

    if (addrs) {
        p = ngx_sprintf(p, "hostaddr='%s' ", addrs);
    }

    if (!has_appname) {
        p = ngx_sprintf(p, "application_name='hookd-nginx' ");
    }

    *p = '\0';

    conninfo->data = out;
    conninfo->len = p - out;

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}
