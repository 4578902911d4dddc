/* Standard Webhooks signatures: v1,<base64 HMAC-SHA256(secret, id.ts.body)> */

#ifndef HOOKD_SIGN_H
#define HOOKD_SIGN_H

#include <stddef.h>

#define HOOKD_SIGNATURE_LEN  (3 + 44)   /* "v1," + base64 of 32 bytes */

/* Writes the NUL-terminated signature into out (HOOKD_SIGNATURE_LEN + 1). */
int hookd_sign(const unsigned char *secret, size_t secret_len, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out);

#endif /* HOOKD_SIGN_H */
