/*
 * Providers' webhook signatures, checked on the raw request bytes before
 * anything parses them (docs/sources.md has the table): Stripe, GitHub,
 * Shopify, Slack, Standard Webhooks, a configurable HMAC, Basic and Bearer
 * credentials. MACs are compared in constant time; every malformed header
 * is a refusal with what was wrong, never a crash.
 */

#ifndef HOOKD_VERIFY_H
#define HOOKD_VERIFY_H

#include <stddef.h>

#define HOOKD_VERIFY_SECRETS  4     /* the current one and those in grace */

typedef enum {
    HOOKD_PROVIDER_STRIPE = 0,
    HOOKD_PROVIDER_GITHUB,
    HOOKD_PROVIDER_SHOPIFY,
    HOOKD_PROVIDER_SLACK,
    HOOKD_PROVIDER_STANDARD,
    HOOKD_PROVIDER_HMAC,
    HOOKD_PROVIDER_BASIC,
    HOOKD_PROVIDER_BEARER
} hookd_provider_e;

typedef enum {
    HOOKD_HMAC_SHA256 = 0,
    HOOKD_HMAC_SHA1,
    HOOKD_HMAC_SHA512
} hookd_hmac_e;

typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} hookd_header_t;

typedef struct {
    const hookd_header_t  *list;
    size_t                 n;
} hookd_headers_t;

typedef struct {
    hookd_provider_e   provider;
    const char        *secrets[HOOKD_VERIFY_SECRETS];   /* plaintext */
    int                nsecrets;
    long long          tolerance;                       /* seconds */
    /* hmac */
    const char        *header;
    hookd_hmac_e       algorithm;
    int                base64;                          /* else hex */
    const char        *prefix;                          /* or NULL */
} hookd_verify_conf_t;

typedef enum {
    HOOKD_VERIFIED = 0,
    HOOKD_INVALID_SIGNATURE,        /* 401 invalid_signature */
    HOOKD_STALE_SIGNATURE           /* 401 stale_signature */
} hookd_verify_e;

/* "stripe", … by name; -1 if none */
const char *hookd_provider_name(hookd_provider_e p);

int hookd_provider_parse(const char *name, size_t len, hookd_provider_e *p);

/*
 * The header of that name (case-insensitive): 1 and its value, 0 if absent,
 * -1 if it is repeated (a signature header sent twice is refused).
 */
int hookd_header_find(const hookd_headers_t *hs, const char *name,
    const char **value, size_t *len);

/* why: what was wrong, NUL-terminated, for the 401's message */
hookd_verify_e hookd_verify(const hookd_verify_conf_t *c,
    const hookd_headers_t *hs, const unsigned char *body, size_t len,
    long long now, char *why, size_t why_size);

#endif /* HOOKD_VERIFY_H */
