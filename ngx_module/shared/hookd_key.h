/*
 * API key tokens: what a presented key may look like, and its SHA-256, the
 * only form in which hookd stores or compares it.
 */

#ifndef HOOKD_KEY_H
#define HOOKD_KEY_H

#include <stddef.h>

#define HOOKD_KEY_MAX_LEN   256
#define HOOKD_KEY_HASH_LEN  32

/* printable ASCII without spaces, 16 to HOOKD_KEY_MAX_LEN bytes */
int hookd_key_well_formed(const char *key, size_t len);

void hookd_key_hash(const char *key, size_t len,
    unsigned char hash[HOOKD_KEY_HASH_LEN]);

/* hex of the hash: 2 * HOOKD_KEY_HASH_LEN characters, no terminator */
void hookd_key_hash_hex(const unsigned char hash[HOOKD_KEY_HASH_LEN],
    char *hex);

#endif /* HOOKD_KEY_H */
