#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "secret.h"
#include "util.h"


#define HOOKD_GCM_NONCE  12
#define HOOKD_GCM_TAG    16


int
hookd_new_api_key(char *out)
{
    unsigned char  raw[32];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    memcpy(out, "hk_", 3);
    hookd_base64url(raw, sizeof(raw), out + 3);

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


static int
hookd_master_key_path(const char *path, char *out, size_t size)
{
    const char  *env;

    if (path == NULL || path[0] == '\0') {
        path = getenv("HOOKD_SECRET_KEY_FILE");
    }

    if (path && path[0]) {
        return snprintf(out, size, "%s", path) < (int) size ? 0 : -1;
    }

    env = getenv("XDG_CONFIG_HOME");
    if (env && env[0]) {
        return snprintf(out, size, "%s/hookd/secret.key", env) < (int) size
               ? 0 : -1;
    }

    env = getenv("HOME");
    if (env == NULL || env[0] == '\0') {
        return -1;
    }

    return snprintf(out, size, "%s/.config/hookd/secret.key", env)
           < (int) size ? 0 : -1;
}


static int
hookd_master_key_create(const char *file)
{
    int            fd;
    char           dir[4096], *slash, hex[2 * HOOKD_MASTER_KEY_LEN + 2];
    unsigned char  raw[HOOKD_MASTER_KEY_LEN];
    size_t         i;

    snprintf(dir, sizeof(dir), "%s", file);
    slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        /* the parent of ~/.config/hookd may be missing too */
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0700);
            *slash = '/';
        }
        mkdir(dir, 0700);
    }

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    for (i = 0; i < sizeof(raw); i++) {
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    hex[2 * HOOKD_MASTER_KEY_LEN] = '\n';

    fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return errno == EEXIST ? 0 : -1;
    }

    if (write(fd, hex, sizeof(hex) - 1) != (ssize_t) sizeof(hex) - 1) {
        close(fd);
        unlink(file);
        return -1;
    }

    return close(fd);
}


int
hookd_master_key_load(const char *path, int create,
    unsigned char key[HOOKD_MASTER_KEY_LEN])
{
    FILE    *f;
    char     file[4096], hex[2 * HOOKD_MASTER_KEY_LEN + 1];
    size_t   i;
    unsigned int  byte;

    if (hookd_master_key_path(path, file, sizeof(file)) != 0) {
        hookd_fail("no_master_key", "cannot locate the master key: set "
                   "HOOKD_SECRET_KEY_FILE or secret_key_file");
        return -1;
    }

    if (create && access(file, F_OK) != 0
        && hookd_master_key_create(file) != 0)
    {
        hookd_fail("no_master_key", "cannot create the master key %s: %s",
                   file, strerror(errno));
        return -1;
    }

    f = fopen(file, "r");
    if (f == NULL) {
        hookd_fail("no_master_key", "cannot read the master key %s: %s",
                   file, strerror(errno));
        return -1;
    }

    i = fread(hex, 1, sizeof(hex) - 1, f);
    fclose(f);
    hex[i] = '\0';

    if (i != 2 * HOOKD_MASTER_KEY_LEN) {
        hookd_fail("bad_master_key", "%s must hold %d hex digits", file,
                   2 * HOOKD_MASTER_KEY_LEN);
        return -1;
    }

    for (i = 0; i < HOOKD_MASTER_KEY_LEN; i++) {
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            hookd_fail("bad_master_key", "%s must hold hex digits only", file);
            return -1;
        }
        key[i] = (unsigned char) byte;
    }

    return 0;
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
