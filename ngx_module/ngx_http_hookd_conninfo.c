/*
 * hookd_database at configuration time: the conninfo rewritten so that
 * connecting never resolves a name inside a worker, for one host or a list
 * of them (host=a,b target_session_attrs=read-write), each name resolved
 * here, once (shared/hookd_conninfo.h).
 */

#include <netdb.h>

#include "ngx_http_hookd_module.h"
#include "hookd_conninfo.h"


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


/* also names the connections in pg_stat_activity */
char *
ngx_http_hookd_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    int                      i;
    char                    *src, *err, *pinned, **addrs;
    char                    *rc;
    hookd_conninfo_hosts_t   h;

    src = ngx_pnalloc(cf->pool, conninfo->len + 1);
    if (src == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(src, conninfo->data, conninfo->len);
    src[conninfo->len] = '\0';

    if (hookd_conninfo_hosts(src, &h, &err) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"hookd_database\": %s", err);
        free(err);
        return NGX_CONF_ERROR;
    }

    rc = NGX_CONF_ERROR;
    pinned = NULL;

    addrs = ngx_pcalloc(cf->pool, (h.nhosts + 1) * sizeof(char *));
    if (addrs == NULL) {
        goto done;
    }

    for (i = 0; i < h.nhosts; i++) {
        if (h.names[i] == NULL) {
            continue;
        }

        addrs[i] = ngx_pnalloc(cf->pool, NI_MAXHOST);
        if (addrs[i] == NULL
            || ngx_http_hookd_conninfo_resolve(cf, h.names[i], addrs[i])
               != NGX_OK)
        {
            goto done;
        }
    }

    pinned = hookd_conninfo_pin(src, &h, addrs, "hookd-nginx");
    if (pinned == NULL) {
        goto done;
    }

    conninfo->len = ngx_strlen(pinned);
    conninfo->data = ngx_pnalloc(cf->pool, conninfo->len + 1);
    if (conninfo->data == NULL) {
        goto done;
    }

    ngx_memcpy(conninfo->data, pinned, conninfo->len + 1);
    rc = NGX_CONF_OK;

done:

    free(pinned);
    hookd_conninfo_hosts_free(&h);

    return rc;
}
