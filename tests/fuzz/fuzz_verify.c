/*
 * libFuzzer: every provider's signature-header parser on hostile headers
 * and bodies, and the form decoder on the bodies, must never crash, leak or
 * read out of bounds. The input is split on its first two NUL bytes: one
 * header value, a second one, the body; each provider gets them as the
 * headers it reads.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hookd_form.h"
#include "hookd_verify.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  p;
    char                 why[256];
    size_t               n1, n2;
    const char          *v1, *v2, *body, *end, *nul;
    hookd_headers_t      hs;
    hookd_header_t       h[6];
    hookd_verify_conf_t  c;

    v1 = (const char *) data;
    end = v1 + size;
    nul = memchr(v1, '\0', size);
    n1 = nul ? (size_t) (nul - v1) : size;
    v2 = nul ? nul + 1 : end;
    nul = memchr(v2, '\0', (size_t) (end - v2));
    n2 = nul ? (size_t) (nul - v2) : (size_t) (end - v2);
    body = nul ? nul + 1 : end;

#define HOOKD_FUZZ_H(i, n, v, l)                                            \
    h[i].name = n; h[i].name_len = strlen(n); h[i].value = v;               \
    h[i].value_len = l

    memset(&c, 0, sizeof(c));
    c.secrets[0] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    c.secrets[1] = "u:pass";
    c.nsecrets = 2;
    c.tolerance = 300;
    c.header = "x-sig";
    c.prefix = "sha256=";

    hs.list = h;
    hs.n = 6;

    for (p = HOOKD_PROVIDER_STRIPE; p <= HOOKD_PROVIDER_BEARER; p++) {
        c.provider = (hookd_provider_e) p;
        c.base64 = p % 2;
        c.algorithm = (hookd_hmac_e) (p % 3);

        switch (c.provider) {
        case HOOKD_PROVIDER_STRIPE:
            HOOKD_FUZZ_H(0, "stripe-signature", v1, n1);
            break;
        case HOOKD_PROVIDER_GITHUB:
            HOOKD_FUZZ_H(0, "x-hub-signature-256", v1, n1);
            break;
        case HOOKD_PROVIDER_SHOPIFY:
            HOOKD_FUZZ_H(0, "x-shopify-hmac-sha256", v1, n1);
            break;
        case HOOKD_PROVIDER_SLACK:
            HOOKD_FUZZ_H(0, "x-slack-signature", v1, n1);
            break;
        case HOOKD_PROVIDER_STANDARD:
            HOOKD_FUZZ_H(0, "webhook-signature", v1, n1);
            break;
        case HOOKD_PROVIDER_HMAC:
            HOOKD_FUZZ_H(0, "x-sig", v1, n1);
            break;
        default:
            HOOKD_FUZZ_H(0, "authorization", v1, n1);
        }

        HOOKD_FUZZ_H(1, "x-slack-request-timestamp", v2, n2);
        HOOKD_FUZZ_H(2, "webhook-id", v2, n2);
        HOOKD_FUZZ_H(3, "webhook-timestamp", v2, n2 > 10 ? 10 : n2);
        HOOKD_FUZZ_H(4, "x-other", v1, n1);
        HOOKD_FUZZ_H(5, "x-more", v2, n2);

        hookd_verify(&c, &hs, (const unsigned char *) body,
                     (size_t) (end - body), 1614265330, why, sizeof(why));
    }

    json_decref(hookd_form_object(body, (size_t) (end - body)));

    return 0;
}
