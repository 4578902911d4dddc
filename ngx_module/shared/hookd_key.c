#include <openssl/sha.h>

#include "hookd_key.h"


int
hookd_key_well_formed(const char *key, size_t len)
{
    size_t  i;

    if (len < 16 || len > HOOKD_KEY_MAX_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) key[i];

        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }

    return 1;
}


void
hookd_key_hash(const char *key, size_t len,
    unsigned char hash[HOOKD_KEY_HASH_LEN])
{
    SHA256((const unsigned char *) key, len, hash);
}


void
hookd_key_hash_hex(const unsigned char hash[HOOKD_KEY_HASH_LEN], char *hex)
{
    static const char  digits[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < HOOKD_KEY_HASH_LEN; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 0xf];
    }
}
