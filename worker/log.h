/* Structured logs on stderr: `<time> <level> <message> key=value …` */

#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

typedef enum {
    HOOKD_LOG_ERROR = 0,
    HOOKD_LOG_WARN,
    HOOKD_LOG_INFO,
    HOOKD_LOG_DEBUG
} hookd_log_level_e;

extern hookd_log_level_e  hookd_log_level;

int hookd_log_level_parse(const char *s, hookd_log_level_e *out);

void hookd_log(hookd_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* HOOKD_LOG_H */
