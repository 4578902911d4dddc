#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <libpq-fe.h>

#include "hookd_conninfo.h"


static PQconninfoOption *
hookd_conninfo_parse(const char *conninfo, char **err)
{
    char              *msg;
    PQconninfoOption  *opts;

    msg = NULL;
    opts = PQconninfoParse(conninfo, &msg);

    if (err) {
        *err = strdup(msg ? msg : "out of memory");
    }

    if (msg) {
        PQfreemem(msg);
    }

    if (opts && err) {
        free(*err);
        *err = NULL;
    }

    return opts;
}


static const char *
hookd_conninfo_value(const PQconninfoOption *opts, const char *keyword)
{
    for ( ; opts->keyword; opts++) {
        if (strcmp(opts->keyword, keyword) == 0) {
            return opts->val && opts->val[0] ? opts->val : NULL;
        }
    }

    return NULL;
}


int
hookd_conninfo_hosts(const char *conninfo, hookd_conninfo_hosts_t *h,
    char **err)
{
    int                 i;
    size_t              n;
    const char         *host, *p, *comma;
    PQconninfoOption   *opts;
    unsigned char       scratch[sizeof(struct in6_addr)];

    memset(h, 0, sizeof(*h));
    *err = NULL;

    opts = hookd_conninfo_parse(conninfo, err);
    if (opts == NULL) {
        return -1;
    }

    host = hookd_conninfo_value(opts, "host");

    if (host == NULL || hookd_conninfo_value(opts, "hostaddr") != NULL) {
        PQconninfoFree(opts);
        return 0;
    }

    h->nhosts = 1;
    for (p = host; *p; p++) {
        h->nhosts += (*p == ',');
    }

    h->names = calloc((size_t) h->nhosts, sizeof(char *));
    if (h->names == NULL) {
        PQconninfoFree(opts);
        *err = strdup("out of memory");
        return -1;
    }

    for (i = 0, p = host; p; p = comma ? comma + 1 : NULL, i++) {
        comma = strchr(p, ',');
        n = comma ? (size_t) (comma - p) : strlen(p);

        if (n == 0 || p[0] == '/') {
            continue;
        }

        h->names[i] = strndup(p, n);
        if (h->names[i] == NULL) {
            hookd_conninfo_hosts_free(h);
            PQconninfoFree(opts);
            *err = strdup("out of memory");
            return -1;
        }

        /* an address is its own */
        if (inet_pton(AF_INET, h->names[i], scratch) == 1
            || inet_pton(AF_INET6, h->names[i], scratch) == 1)
        {
            continue;
        }

        h->nnames++;
    }

    PQconninfoFree(opts);

    return 0;
}


void
hookd_conninfo_hosts_free(hookd_conninfo_hosts_t *h)
{
    int  i;

    for (i = 0; i < h->nhosts; i++) {
        free(h->names[i]);
    }

    free(h->names);
    memset(h, 0, sizeof(*h));
}


char *
hookd_conninfo_pin(const char *conninfo, const hookd_conninfo_hosts_t *h,
    char *const *addrs, const char *application_name)
{
    int                 i;
    char               *out, *q;
    size_t              len;
    const char         *v;
    PQconninfoOption   *opts, *o;

    opts = hookd_conninfo_parse(conninfo, NULL);
    if (opts == NULL) {
        return NULL;
    }

    len = sizeof(" hostaddr=''") + sizeof(" application_name=''")
          + strlen(application_name);

    for (o = opts; o->keyword; o++) {
        if (o->val) {
            len += strlen(o->keyword) + 2 * strlen(o->val) + 4;
        }
    }

    for (i = 0; i < h->nhosts; i++) {
        len += (addrs && addrs[i] ? strlen(addrs[i])
                : h->names[i] ? strlen(h->names[i]) : 0) + 1;
    }

    out = malloc(len + 1);
    if (out == NULL) {
        PQconninfoFree(opts);
        return NULL;
    }

    q = out;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        q += strlen(strcpy(q, o->keyword));
        *q++ = '=';
        *q++ = '\'';

        for (v = o->val; *v; v++) {
            if (*v == '\'' || *v == '\\') {
                *q++ = '\\';
            }
            *q++ = *v;
        }

        *q++ = '\'';
        *q++ = ' ';
    }

    /* a number in its own position, nothing for a socket directory */
    if (h->nnames > 0) {
        q += strlen(strcpy(q, "hostaddr='"));

        for (i = 0; i < h->nhosts; i++) {
            v = addrs && addrs[i] ? addrs[i] : h->names[i] ? h->names[i] : "";
            q += strlen(strcpy(q, v));
            *q++ = i + 1 < h->nhosts ? ',' : '\'';
        }

        *q++ = ' ';
    }

    if (hookd_conninfo_value(opts, "application_name") == NULL) {
        q += strlen(strcpy(q, "application_name='"));
        q += strlen(strcpy(q, application_name));
        *q++ = '\'';
    }

    *q = '\0';
    PQconninfoFree(opts);

    return out;
}
