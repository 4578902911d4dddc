#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "sign.h"
#include "hookd_seal.h"
#include "util.h"


int
hookd_sign(const unsigned char *secret, size_t secret_len, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out)
{
    int                n;
    char               prefix[160];
    size_t             len;
    EVP_MAC_CTX       *ctx;
    OSSL_PARAM         params[2];
    unsigned char      mac[EVP_MAX_MD_SIZE];
    static EVP_MAC    *hmac;

    n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, timestamp);
    if (n < 0 || (size_t) n >= sizeof(prefix)) {
        return -1;
    }

    /* fetched once: the provider look-up is the costly part */
    if (hmac == NULL) {
        hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    }

    ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;

    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (ctx == NULL
        || EVP_MAC_init(ctx, secret, secret_len, params) != 1
        || EVP_MAC_update(ctx, (const unsigned char *) prefix, (size_t) n) != 1
        || EVP_MAC_update(ctx, (const unsigned char *) body, body_len) != 1
        || EVP_MAC_final(ctx, mac, &len, sizeof(mac)) != 1)
    {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }

    EVP_MAC_CTX_free(ctx);

    memcpy(out, "v1,", 3);
    hookd_base64(mac, len, out + 3);

    return 0;
}
