/*
 * What an attempt's outcome means: its error class, and when (if ever) the
 * delivery is tried again.
 */

#ifndef HOOKD_RETRY_H
#define HOOKD_RETRY_H

typedef enum {
    HOOKD_SUCCEEDED = 0,
    HOOKD_RETRYABLE,        /* connect/DNS/TLS/read failures, timeouts,
                               408, 425, 429, 5xx */
    HOOKD_NON_RETRYABLE,    /* other 4xx, 3xx, bad URL, refused address,
                               certificate failure: dead letter at once */
    HOOKD_UNKNOWN           /* anything else: retried on a smaller budget */
} hookd_class_e;

typedef struct {
    int     exponential;    /* else constant */
    double  base;           /* seconds */
    double  cap;            /* seconds */
    int     max_attempts;
    double  max_age;        /* seconds since the delivery was created */
} hookd_retry_policy_t;

/* the longest wait between attempts: the bound of cap_seconds (30 days) */
#define HOOKD_RETRY_MAX_DELAY  2592000.0

/* 30 s doubling to 6 h, 20 attempts, 3 days: about 3 days of trying */
extern const hookd_retry_policy_t  hookd_default_policy;

/*
 * An endpoint's retry_policy column (JSON text: strategy, base_seconds,
 * cap_seconds, max_attempts, max_age_seconds); what it leaves out, or gets
 * wrong, is the default's.
 */
void hookd_retry_policy_parse(const char *json, hookd_retry_policy_t *out);

/* a random number in [0, 1) for the backoff's jitter */
double hookd_jitter(void);

/* curl_code is a CURLcode; status the HTTP status (0 if none). */
hookd_class_e hookd_classify(int curl_code, long status, int address_refused);

const char *hookd_class_name(hookd_class_e c);

/*
 * Seconds until the next attempt after `attempts` attempts, the last of
 * class c, or -1 to give up (dead letter). retry_after is the response's
 * Retry-After in seconds (<= 0 if none); jitter a number in [0, 1).
 */
double hookd_next_delay(const hookd_retry_policy_t *p, int attempts,
    double age, hookd_class_e c, double retry_after, double jitter);

#endif /* HOOKD_RETRY_H */
