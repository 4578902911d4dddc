#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

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


size_t
hookd_base64(const unsigned char *in, size_t len, char *out)
{
    return (size_t) EVP_EncodeBlock((unsigned char *) out, in, (int) len);
}


size_t
hookd_base64url(const unsigned char *in, size_t len, char *out)
{
    size_t  n, i;

    n = hookd_base64(in, len, out);

    while (n && out[n - 1] == '=') {
        n--;
    }

    for (i = 0; i < n; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        } else if (out[i] == '/') {
            out[i] = '_';
        }
    }

    out[n] = '\0';
    return n;
}


long
hookd_unbase64(const char *in, unsigned char *out, size_t max)
{
    int             n;
    size_t          len, pad;
    unsigned char   buf[512];

    len = strlen(in);

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf)) {
        return -1;
    }

    n = EVP_DecodeBlock(buf, (const unsigned char *) in, (int) len);
    if (n < 0) {
        return -1;
    }

    /* EVP_DecodeBlock counts the padding as zero bytes */
    pad = (in[len - 1] == '=') + (in[len - 2] == '=');
    n -= (int) pad;

    if ((size_t) n > max) {
        return -1;
    }

    memcpy(out, buf, (size_t) n);
    return n;
}
