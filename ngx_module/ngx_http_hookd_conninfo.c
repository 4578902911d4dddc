/*
 * hookd_database at configuration time: the conninfo rewritten so that
 * connecting never resolves a name inside a worker.
 */

#include <netdb.h>
#include <arpa/inet.h>

#include "ngx_http_hookd_module.h"


/*
 * Runs at configuration time: rewrites the conninfo so that connecting
 * never resolves a name inside a worker (hostaddr is added) and names the
 * connections in pg_stat_activity.
 */
char *
ngx_http_hookd_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    int                    rc;
    char                  *err, *host, *hostaddr, *src;
    u_char                *p, *out;
    size_t                 len;
    ngx_uint_t             has_appname;
    struct addrinfo        hints, *ai;
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

    addr[0] = '\0';

    if (host && (ngx_strchr(host, ',') || (hostaddr && ngx_strchr(hostaddr, ','))))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hookd_database\" takes a single host");
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    if (host && hostaddr == NULL && host[0] != '/'
        && inet_pton(AF_INET, host, scratch) != 1
        && inet_pton(AF_INET6, host, scratch) != 1)
    {
        ngx_memzero(&hints, sizeof(struct addrinfo));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        rc = getaddrinfo(host, NULL, &hints, &ai);
        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hookd_database\": cannot resolve \"%s\": %s",
                               host, gai_strerror(rc));
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
                         NULL, 0, NI_NUMERICHOST);
        freeaddrinfo(ai);

        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hookd_database\": cannot resolve \"%s\"",
                               host);
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }
    }

    len += sizeof(" hostaddr=''") + ngx_strlen(addr)
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

    if (addr[0]) {
        p = ngx_sprintf(p, "hostaddr='%s' ", addr);
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
