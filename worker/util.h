/* Small helpers shared by the CLI and the daemon. */

#ifndef HOOKD_UTIL_H
#define HOOKD_UTIL_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include <libpq-fe.h>

#define HOOKD_VERSION  "0.1.0"

/* Prints {"error": {"code": code, "message": …}} on stderr. */
void hookd_fail(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a JSON value on stdout and releases it. */
void hookd_print_json(json_t *v);

/* seconds: CLOCK_REALTIME for what is stored, CLOCK_MONOTONIC to wait */
double hookd_clock(clockid_t clock);

/*
 * What a receiver sent, made safe to log and store: every byte that is not
 * printable ASCII becomes '?' (newlines and tabs kept with keep_lines).
 */
void hookd_printable(char *s, size_t len, int keep_lines);

/* Blocking connection, for the CLI only. NULL after printing why. */
PGconn *hookd_connect(const char *conninfo);

#endif /* HOOKD_UTIL_H */
