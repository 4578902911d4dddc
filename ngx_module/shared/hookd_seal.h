/*
 * Secrets: API keys (shown once, stored as SHA-256) and endpoint signing
 * secrets (whsec_…, stored sealed with AES-256-GCM under a master key that
 * never enters the database). Used by nginx's admin API and by hookd.
 */

#ifndef HOOKD_SEAL_H
#define HOOKD_SEAL_H

#include <stddef.h>

#define HOOKD_MASTER_KEY_LEN   32
#define HOOKD_SECRET_MIN       24
#define HOOKD_SECRET_MAX       64

/* base64 (standard alphabet, padded) and base64url (unpadded) */
size_t hookd_base64(const unsigned char *in, size_t len, char *out);
size_t hookd_base64url(const unsigned char *in, size_t len, char *out);
/* -1 if not valid standard base64 or longer than max */
long hookd_unbase64(const char *in, unsigned char *out, size_t max);

/*
 * prefix ("hk_" for API keys, "hkp_" for portal session tokens) + base64url
 * of 32 random bytes; out holds at least 48 bytes
 */
int hookd_new_api_key(char *out, const char *prefix);

/* whsec_ + base64 of 32 random bytes; out holds at least 64 bytes */
int hookd_new_endpoint_secret(char *out);

/* raw bytes of a whsec_ secret; -1 unless 24 to 64 bytes of base64 */
long hookd_secret_bytes(const char *whsec, unsigned char *out);

/* 64 hex digits (a trailing newline allowed) to the key; -1 if malformed */
int hookd_master_key_parse(const char *hex, size_t len,
    unsigned char key[HOOKD_MASTER_KEY_LEN]);

/* "v1." + base64(nonce | ciphertext | tag); NULL on failure (malloc'ed) */
char *hookd_seal(const unsigned char key[HOOKD_MASTER_KEY_LEN],
    const char *plain);

/* the plaintext, NUL-terminated (malloc'ed); NULL if tampered or wrong key */
char *hookd_unseal(const unsigned char key[HOOKD_MASTER_KEY_LEN],
    const char *sealed);

/*
 * A new Ed25519 key pair for v1a signatures: whsk_ and the base64 of its
 * seed, sealed (malloc'ed), and whpk_ and the base64 of the public key into
 * public_key (64 bytes at least). NULL on failure.
 */
char *hookd_new_signing_key(const unsigned char key[HOOKD_MASTER_KEY_LEN],
    char *public_key);

#endif /* HOOKD_SEAL_H */
