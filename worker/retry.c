#include <math.h>
#include <stdint.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "retry.h"


static double hookd_clamp(double v, double lo, double hi);


const hookd_retry_policy_t  hookd_default_policy = {
    1, 30.0, 6 * 3600.0, 20, 3 * 86400.0
};


static double
hookd_clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}


hookd_class_e
hookd_classify(int curl_code, long status, int address_refused)
{
    if (address_refused) {
        return HOOKD_NON_RETRYABLE;
    }

    switch (curl_code) {

    case CURLE_OK:
        if (status >= 200 && status < 300) {
            return HOOKD_SUCCEEDED;
        }

        if (status == 408 || status == 425 || status == 429
            || (status >= 500 && status < 600))
        {
            return HOOKD_RETRYABLE;
        }

        if ((status >= 300 && status < 500)) {
            return HOOKD_NON_RETRYABLE;
        }

        return HOOKD_UNKNOWN;

    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return HOOKD_RETRYABLE;

    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_TOO_MANY_REDIRECTS:
        return HOOKD_NON_RETRYABLE;

    default:
        return HOOKD_UNKNOWN;
    }
}


const char *
hookd_class_name(hookd_class_e c)
{
    switch (c) {
    case HOOKD_SUCCEEDED:
        return "SUCCEEDED";
    case HOOKD_RETRYABLE:
        return "RETRYABLE";
    case HOOKD_NON_RETRYABLE:
        return "NON_RETRYABLE";
    default:
        return "UNKNOWN";
    }
}


double
hookd_next_delay(const hookd_retry_policy_t *p, int attempts, double age,
    hookd_class_e c, double retry_after, double jitter)
{
    int     budget;
    double  delay;

    if (c == HOOKD_SUCCEEDED || c == HOOKD_NON_RETRYABLE) {
        return -1;
    }

    budget = p->max_attempts;
    if (c == HOOKD_UNKNOWN) {
        budget = (budget + 1) / 2;
    }

    if (attempts >= budget) {
        return -1;
    }

    delay = p->base;
    if (p->exponential && attempts > 1) {
        delay = p->base * pow(2.0, attempts - 1);
    }

    if (delay > p->cap) {
        delay = p->cap;
    }

    /* equal jitter: spread retries of one outage over [d/2, d) */
    delay = delay / 2 + delay / 2 * jitter;

    if (retry_after > delay) {
        delay = retry_after < p->cap ? retry_after : p->cap;
    }

    if (age + delay > p->max_age) {
        return -1;
    }

    return delay;
}


void
hookd_retry_policy_parse(const char *json, hookd_retry_policy_t *out)
{
    json_t  *p, *v;

    *out = hookd_default_policy;

    p = json_loads(json, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return;
    }

    if ((v = json_object_get(p, "strategy")) && json_is_string(v)) {
        out->exponential = strcmp(json_string_value(v), "constant") != 0;
    }
    if ((v = json_object_get(p, "base_seconds")) && json_is_number(v)) {
        out->base = json_number_value(v);
    }
    if ((v = json_object_get(p, "cap_seconds")) && json_is_number(v)) {
        out->cap = json_number_value(v);
    }
    if ((v = json_object_get(p, "max_attempts")) && json_is_integer(v)) {
        out->max_attempts = (int) json_integer_value(v);
    }
    if ((v = json_object_get(p, "max_age_seconds")) && json_is_number(v)) {
        out->max_age = json_number_value(v);
    }

    json_decref(p);

    /* as the admin API bounds them (sql/functions/bounds.sql): a policy
       written by hand in SQL still schedules what PostgreSQL can store */
    out->base = hookd_clamp(out->base, 0.01, 86400);
    out->cap = hookd_clamp(out->cap, 0.01, HOOKD_RETRY_MAX_DELAY);
    out->max_age = hookd_clamp(out->max_age, 1, HOOKD_RETRY_MAX_DELAY);
    if (out->max_attempts < 1) {
        out->max_attempts = 1;
    } else if (out->max_attempts > 1000) {
        out->max_attempts = 1000;
    }
}


double
hookd_jitter(void)
{
    uint32_t  r;

    if (RAND_bytes((unsigned char *) &r, sizeof(r)) != 1) {
        return 0.5;
    }

    return r / 4294967296.0;
}
