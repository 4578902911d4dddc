/*
 * Secrets: API keys (shown once, stored as SHA-256) and endpoint signing
 * secrets (whsec_…, stored sealed with AES-256-GCM under a master key that
 * never enters the database).
 */

#ifndef HOOKD_SECRET_H
#define HOOKD_SECRET_H

#include <stddef.h>

#define HOOKD_MASTER_KEY_LEN   32
#define HOOKD_SECRET_MIN       24
#define HOOKD_SECRET_MAX       64

/* "hk_" + base64url of 32 random bytes; out holds at least 48 bytes */
int hookd_new_api_key(char *out);

/* whsec_ + base64 of 32 random bytes; out holds at least 64 bytes */
int hookd_new_endpoint_secret(char *out);

/* raw bytes of a whsec_ secret; -1 unless 24 to 64 bytes of base64 */
long hookd_secret_bytes(const char *whsec, unsigned char *out);

/*
 * The master key file: path given, else $HOOKD_SECRET_KEY_FILE, else
 * $XDG_CONFIG_HOME/hookd/secret.key (~/.config/…). With create, a missing
 * file is made (mode 0600) with a new random key.
 */
int hookd_master_key_load(const char *path, int create,
    unsigned char key[HOOKD_MASTER_KEY_LEN]);

/* "v1." + base64(nonce | ciphertext | tag); NULL on failure (malloc'ed) */
char *hookd_seal(const unsigned char key[HOOKD_MASTER_KEY_LEN],
    const char *plain);

/* the plaintext, NUL-terminated (malloc'ed); NULL if tampered or wrong key */
char *hookd_unseal(const unsigned char key[HOOKD_MASTER_KEY_LEN],
    const char *sealed);

#endif /* HOOKD_SECRET_H */
