/*
 * Secrets shared by nginx (the admin API makes them) and hookd (it signs
 * with them): API keys, endpoint signing secrets, and the AES-256-GCM seal
 * that keeps endpoint secrets encrypted in PostgreSQL under a master key
 * that never enters the database. Plain C and OpenSSL: no nginx, no libpq.
 */

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hookd_seal.h"


#define HOOKD_GCM_NONCE  12
#define HOOKD_GCM_TAG    16


static int
hookd_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


size_t
hookd_base64(const unsigned char *in, size_t len, char *out)
{
    return (size_t) EVP_EncodeBlock((unsigned char *) out, in, (int) len);
}


size_t
hookd_base64url(const unsigned char *in, size_t len, char *out)
{
    size_t  n, i;

    n = hookd_base64(in, len, out);

    while (n && out[n - 1] == '=') {
        n--;
    }

    for (i = 0; i < n; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        } else if (out[i] == '/') {
            out[i] = '_';
        }
    }

    out[n] = '\0';
    return n;
}


long
hookd_unbase64(const char *in, unsigned char *out, size_t max)
{
    int             n;
    size_t          len, pad;
    unsigned char   buf[512];

    len = strlen(in);

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf)) {
        return -1;
    }

    n = EVP_DecodeBlock(buf, (const unsigned char *) in, (int) len);
    if (n < 0) {
        return -1;
    }

    /* EVP_DecodeBlock counts the padding as zero bytes */
    pad = (in[len - 1] == '=') + (in[len - 2] == '=');
    n -= (int) pad;

    if ((size_t) n > max) {
        return -1;
    }

    memcpy(out, buf, (size_t) n);
    return n;
}


int
hookd_new_api_key(char *out, const char *prefix)
{
    size_t         n = strlen(prefix);
    unsigned char  raw[32];

    if (n > 4 || RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    memcpy(out, prefix, n);
    hookd_base64url(raw, sizeof(raw), out + n);

    return 0;
}


int
hookd_new_endpoint_secret(char *out)
{
    unsigned char  raw[32];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    memcpy(out, "whsec_", 6);
    hookd_base64(raw, sizeof(raw), out + 6);

    return 0;
}


long
hookd_secret_bytes(const char *whsec, unsigned char *out)
{
    long  n;

    if (strncmp(whsec, "whsec_", 6) != 0) {
        return -1;
    }

    n = hookd_unbase64(whsec + 6, out, HOOKD_SECRET_MAX);

    return (n < HOOKD_SECRET_MIN) ? -1 : n;
}


char *
hookd_seal(const unsigned char key[HOOKD_MASTER_KEY_LEN], const char *plain)
{
    int               len, n;
    char             *out;
    size_t            plen;
    unsigned char    *buf;
    EVP_CIPHER_CTX   *ctx;

    plen = strlen(plain);
    buf = malloc(HOOKD_GCM_NONCE + plen + HOOKD_GCM_TAG);
    out = malloc(3 + 4 * ((HOOKD_GCM_NONCE + plen + HOOKD_GCM_TAG + 2) / 3) + 1);
    ctx = EVP_CIPHER_CTX_new();

    if (buf == NULL || out == NULL || ctx == NULL
        || RAND_bytes(buf, HOOKD_GCM_NONCE) != 1
        || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) != 1
        || EVP_EncryptUpdate(ctx, buf + HOOKD_GCM_NONCE, &len,
                             (const unsigned char *) plain, (int) plen) != 1
        || EVP_EncryptFinal_ex(ctx, buf + HOOKD_GCM_NONCE + len, &n) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HOOKD_GCM_TAG,
                               buf + HOOKD_GCM_NONCE + len + n) != 1)
    {
        free(buf);
        free(out);
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }

    memcpy(out, "v1.", 3);
    hookd_base64(buf, HOOKD_GCM_NONCE + plen + HOOKD_GCM_TAG, out + 3);

    free(buf);
    EVP_CIPHER_CTX_free(ctx);

    return out;
}


char *
hookd_unseal(const unsigned char key[HOOKD_MASTER_KEY_LEN], const char *sealed)
{
    int               len, n, ok;
    char             *plain;
    size_t            slen;
    unsigned char    *buf;
    EVP_CIPHER_CTX   *ctx;

    if (strncmp(sealed, "v1.", 3) != 0) {
        return NULL;
    }

    slen = strlen(sealed + 3);
    buf = malloc(slen);
    if (buf == NULL) {
        return NULL;
    }

    n = (int) hookd_unbase64(sealed + 3, buf, slen);
    if (n < HOOKD_GCM_NONCE + HOOKD_GCM_TAG) {
        free(buf);
        return NULL;
    }

    len = n - HOOKD_GCM_NONCE - HOOKD_GCM_TAG;
    plain = malloc((size_t) len + 1);
    ctx = EVP_CIPHER_CTX_new();

    ok = plain != NULL && ctx != NULL
         && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) == 1
         && EVP_DecryptUpdate(ctx, (unsigned char *) plain, &n,
                              buf + HOOKD_GCM_NONCE, len) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HOOKD_GCM_TAG,
                                buf + HOOKD_GCM_NONCE + len) == 1
         && EVP_DecryptFinal_ex(ctx, (unsigned char *) plain + n, &n) == 1;

    free(buf);
    EVP_CIPHER_CTX_free(ctx);

    if (!ok) {
        free(plain);
        return NULL;
    }

    plain[len] = '\0';
    return plain;
}


int
hookd_master_key_parse(const char *hex, size_t len,
    unsigned char key[HOOKD_MASTER_KEY_LEN])
{
    size_t  i;
    int     hi, lo;

    while (len && (hex[len - 1] == '\n' || hex[len - 1] == '\r'
                   || hex[len - 1] == ' '))
    {
        len--;
    }

    if (len != 2 * HOOKD_MASTER_KEY_LEN) {
        return -1;
    }

    for (i = 0; i < HOOKD_MASTER_KEY_LEN; i++) {
        hi = hookd_hex_digit(hex[2 * i]);
        lo = hookd_hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        key[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


char *
hookd_new_signing_key(const unsigned char key[HOOKD_MASTER_KEY_LEN],
    char *public_key)
{
    char           *sealed, whsk[64];
    size_t          len, plen;
    EVP_PKEY       *pair;
    unsigned char   seed[32], pub[32];

    pair = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    len = sizeof(seed);
    plen = sizeof(pub);

    if (pair == NULL
        || EVP_PKEY_get_raw_private_key(pair, seed, &len) != 1 || len != 32
        || EVP_PKEY_get_raw_public_key(pair, pub, &plen) != 1 || plen != 32)
    {
        EVP_PKEY_free(pair);
        OPENSSL_cleanse(seed, sizeof(seed));
        return NULL;
    }

    EVP_PKEY_free(pair);

    memcpy(whsk, "whsk_", 5);
    hookd_base64(seed, 32, whsk + 5);
    memcpy(public_key, "whpk_", 5);
    hookd_base64(pub, 32, public_key + 5);

    sealed = hookd_seal(key, whsk);
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(whsk, sizeof(whsk));

    return sealed;
}

