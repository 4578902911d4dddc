#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


void
hookd_fail(const char *code, const char *fmt, ...)
{
    char     msg[1024];
    size_t   len;
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) {
        msg[--len] = '\0';
    }

    json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", code,
                            "message", msg);
    json_dumpf(err, stderr, JSON_COMPACT);
    fputc('\n', stderr);
    json_decref(err);
}


void
hookd_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(v);
}


PGconn *
hookd_connect(const char *conninfo)
{
    PGconn  *pg;

    if (conninfo == NULL) {
        conninfo = getenv("DATABASE_URL");
    }

    if (conninfo == NULL || conninfo[0] == '\0') {
        hookd_fail("no_database",
                   "give --database <conninfo> or set DATABASE_URL");
        return NULL;
    }

    pg = PQconnectdb(conninfo);

    if (PQstatus(pg) != CONNECTION_OK) {
        hookd_fail("unavailable", "cannot connect to PostgreSQL: %s",
                   PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }

    PQclear(PQexec(pg, "SET client_min_messages = warning"));

    return pg;
}


double
hookd_clock(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}


void
hookd_printable(char *s, size_t len, int keep_lines)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if ((c < 0x20 || c >= 0x7f)
            && !(keep_lines && (c == '\n' || c == '\t')))
        {
            s[i] = '?';
        }
    }
}
