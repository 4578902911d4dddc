/*
 * Standard Webhooks signing, for deliveries and notifications alike:
 * webhook-signature: v1,<base64 HMAC-SHA256(secret, id.ts.body)> for each
 * whsec_ secret still valid, v1a,<base64 Ed25519 signature of id.ts.body>
 * for each whsk_ key (docs/routing.md), space-separated.
 */

#ifndef HOOKD_SIGN_H
#define HOOKD_SIGN_H

#include <stddef.h>
#include <curl/curl.h>

#include "hookd_seal.h"

#define HOOKD_SIGNATURE_LEN   (3 + 44)  /* "v1," + base64 of 32 bytes */
#define HOOKD_SIGNATURE_V1A_LEN  (4 + 88)  /* "v1a," + base64 of 64 bytes */
#define HOOKD_MAX_SIGNATURES  8
/* the header's value: signatures and the spaces between them */
#define HOOKD_SIGNATURES_LEN  (HOOKD_MAX_SIGNATURES                        \
                               * (HOOKD_SIGNATURE_V1A_LEN + 1))

typedef struct {
    unsigned char  bytes[HOOKD_SECRET_MAX];   /* an Ed25519 key: its seed */
    size_t         len;
    int            ed25519;
    long long      expires;                   /* epoch seconds, 0: never */
} hookd_signing_key_t;

/* Writes the NUL-terminated signature into out (HOOKD_SIGNATURE_LEN + 1). */
int hookd_sign(const unsigned char *secret, size_t secret_len, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out);

/*
 * Opens an endpoint's secrets (its JSON array of sealed secrets, newest
 * first) that are still valid at timestamp. Returns how many keys it
 * wrote, at most HOOKD_MAX_SIGNATURES; the caller cleanses them.
 */
int hookd_sign_open_secrets(const unsigned char *master,
    const char *secrets_json, long long timestamp, hookd_signing_key_t *keys);

/*
 * The same, from the secrets opened last for this text when that was less
 * than HOOKD_SIGN_CACHE_SECONDS ago: unsealing and parsing them cost more
 * than the signature. A rotation changes the text, so it takes effect at
 * once; the cache holds HOOKD_SIGN_CACHE_SLOTS endpoints' keys, cleansed
 * when they leave it.
 */
#define HOOKD_SIGN_CACHE_SLOTS    64
#define HOOKD_SIGN_CACHE_SECONDS  60
int hookd_sign_keys(const unsigned char *master, const char *secrets_json,
    long long timestamp, hookd_signing_key_t *keys);
void hookd_sign_forget(void);

/* "v1,… v1a,…" for n keys into out (HOOKD_SIGNATURES_LEN + 1); 0 or -1 */
int hookd_sign_all(const hookd_signing_key_t *keys, int n, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out);

/* The request headers of a signed POST; NULL when out of memory. */
struct curl_slist *hookd_sign_headers(const char *id, long long timestamp,
    const char *signatures);

#endif /* HOOKD_SIGN_H */
