#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"


hookd_log_level_e  hookd_log_level = HOOKD_LOG_INFO;

static const char  *hookd_log_names[] = { "error", "warn", "info", "debug" };


int
hookd_log_level_parse(const char *s, hookd_log_level_e *out)
{
    int  i;

    for (i = 0; i <= HOOKD_LOG_DEBUG; i++) {
        if (strcmp(s, hookd_log_names[i]) == 0) {
            *out = (hookd_log_level_e) i;
            return 0;
        }
    }

    return -1;
}


void
hookd_log(hookd_log_level_e level, const char *fmt, ...)
{
    char             ts[32];
    va_list          ap;
    struct tm        tm;
    struct timespec  now;

    if (level > hookd_log_level) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    fprintf(stderr, "%s.%03ldZ %s ", ts, now.tv_nsec / 1000000,
            hookd_log_names[level]);

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}
