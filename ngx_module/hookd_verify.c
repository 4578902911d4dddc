#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "hookd_seal.h"
#include "hookd_verify.h"


#define HOOKD_MAC_MAX      64       /* SHA-512 */
#define HOOKD_CANDIDATES   8        /* signatures one header may carry */


typedef struct {
    unsigned char  mac[HOOKD_MAC_MAX];
    size_t         len;
} hookd_candidate_t;

/* the signed bytes: up to four parts before the body, NULL-ended */
typedef struct {
    const char  *part[4];
    size_t       len[4];
} hookd_signed_t;


static const char  *hookd_provider_names[] = {
    "stripe", "github", "shopify", "slack", "standard", "hmac", "basic",
    "bearer"
};


const char *
hookd_provider_name(hookd_provider_e p)
{
    return (size_t) p < sizeof(hookd_provider_names) / sizeof(char *)
           ? hookd_provider_names[p] : "";
}


int
hookd_provider_parse(const char *name, size_t len, hookd_provider_e *p)
{
    size_t  i;

    for (i = 0; i < sizeof(hookd_provider_names) / sizeof(char *); i++) {
        if (strlen(hookd_provider_names[i]) == len
            && memcmp(hookd_provider_names[i], name, len) == 0)
        {
            *p = (hookd_provider_e) i;
            return 0;
        }
    }

    return -1;
}


int
hookd_header_find(const hookd_headers_t *hs, const char *name,
    const char **value, size_t *len)
{
    int     found;
    size_t  i, n;

    n = strlen(name);
    found = 0;

    for (i = 0; i < hs->n; i++) {
        if (hs->list[i].name_len == n
            && strncasecmp(hs->list[i].name, name, n) == 0)
        {
            if (found) {
                return -1;
            }

            found = 1;
            *value = hs->list[i].value;
            *len = hs->list[i].value_len;
        }
    }

    return found;
}


static hookd_verify_e
hookd_refuse(char *why, size_t size, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(why, size, fmt, args);
    va_end(args);

    return HOOKD_INVALID_SIGNATURE;
}


/* the header, present once and not empty, or the refusal in why */
static int
hookd_need(const hookd_headers_t *hs, const char *name, const char **v,
    size_t *len, char *why, size_t size)
{
    int  rc;

    rc = hookd_header_find(hs, name, v, len);

    if (rc < 0) {
        hookd_refuse(why, size, "%s is repeated: send it once", name);
        return -1;
    }

    if (rc == 0 || *len == 0) {
        hookd_refuse(why, size, "%s is missing", name);
        return -1;
    }

    return 0;
}


static long
hookd_unhex(const char *s, size_t n, unsigned char *out, size_t max)
{
    size_t  i;
    int     hi, lo;

    if (n % 2 || n / 2 > max) {
        return -1;
    }

    for (i = 0; i < n; i += 2) {
        hi = s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
             : (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f'
             ? (s[i] | 0x20) - 'a' + 10 : -1;
        lo = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0'
             : (s[i + 1] | 0x20) >= 'a' && (s[i + 1] | 0x20) <= 'f'
             ? (s[i + 1] | 0x20) - 'a' + 10 : -1;

        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[i / 2] = (unsigned char) (hi << 4 | lo);
    }

    return (long) (n / 2);
}


static long
hookd_unbase64n(const char *s, size_t n, unsigned char *out, size_t max)
{
    char  buf[4 * HOOKD_MAC_MAX];

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s, n);
    buf[n] = '\0';

    return hookd_unbase64(buf, out, max);
}


/* a decimal Unix time of at most 12 digits, or -1 */
static long long
hookd_unix_time(const char *s, size_t n)
{
    size_t     i;
    long long  t;

    if (n == 0 || n > 12) {
        return -1;
    }

    for (i = 0, t = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        t = t * 10 + (s[i] - '0');
    }

    return t;
}


static int
hookd_mac(hookd_hmac_e alg, const unsigned char *key, size_t key_len,
    const hookd_signed_t *sg, const unsigned char *body, size_t len,
    unsigned char *out, size_t *out_len)
{
    int               i, ok;
    char              digest[16];
    OSSL_PARAM        params[2];
    EVP_MAC_CTX      *ctx;
    static EVP_MAC   *hmac;

    if (hmac == NULL) {
        hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (hmac == NULL) {
            return -1;
        }
    }

    snprintf(digest, sizeof(digest), "%s", alg == HOOKD_HMAC_SHA1 ? "SHA1"
             : alg == HOOKD_HMAC_SHA512 ? "SHA512" : "SHA256");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    ctx = EVP_MAC_CTX_new(hmac);
    ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1;

    for (i = 0; ok && i < 4 && sg && sg->part[i]; i++) {
        ok = EVP_MAC_update(ctx, (const unsigned char *) sg->part[i],
                            sg->len[i]) == 1;
    }

    ok = ok && EVP_MAC_update(ctx, body, len) == 1
         && EVP_MAC_final(ctx, out, out_len, HOOKD_MAC_MAX) == 1;

    EVP_MAC_CTX_free(ctx);

    return ok ? 0 : -1;
}


/*
 * Whether any secret's MAC of the signed bytes equals any candidate, each
 * compared in constant time.
 */
static int
hookd_any_match(const hookd_verify_conf_t *c, hookd_hmac_e alg,
    const hookd_signed_t *sg, const unsigned char *body, size_t len,
    const hookd_candidate_t *cand, int ncand)
{
    int             i, j, match;
    long            key_len;
    size_t          mac_len;
    unsigned char   mac[HOOKD_MAC_MAX], key[HOOKD_SECRET_MAX];
    const unsigned char  *k;

    match = 0;

    for (i = 0; i < c->nsecrets; i++) {
        /* only a Standard Webhooks secret is base64 after whsec_ */
        if (c->provider == HOOKD_PROVIDER_STANDARD) {
            key_len = hookd_secret_bytes(c->secrets[i], key);
            if (key_len < 0) {
                continue;
            }
            k = key;

        } else {
            k = (const unsigned char *) c->secrets[i];
            key_len = (long) strlen(c->secrets[i]);
        }

        if (hookd_mac(alg, k, (size_t) key_len, sg, body, len, mac, &mac_len)
            != 0)
        {
            continue;
        }

        for (j = 0; j < ncand; j++) {
            match |= cand[j].len == mac_len
                     && CRYPTO_memcmp(cand[j].mac, mac, mac_len) == 0;
        }
    }

    OPENSSL_cleanse(key, sizeof(key));

    return match;
}


static hookd_verify_e
hookd_in_time(const hookd_verify_conf_t *c, long long t, long long now,
    char *why, size_t size)
{
    long long  skew = now > t ? now - t : t - now;

    if (skew > c->tolerance) {
        snprintf(why, size, "the signed timestamp is %lld seconds %s, more "
                 "than the %lld allowed: a replay, or a clock to fix", skew,
                 t < now ? "old" : "ahead", c->tolerance);
        return HOOKD_STALE_SIGNATURE;
    }

    return HOOKD_VERIFIED;
}


/* Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…] */
static hookd_verify_e
hookd_verify_stripe(const hookd_verify_conf_t *c, const hookd_headers_t *hs,
    const unsigned char *body, size_t len, long long now, char *why,
    size_t size)
{
    int                 ncand, nt;
    long long           t;
    size_t              vlen, n;
    const char         *v, *p, *end, *comma, *ts;
    hookd_signed_t      sg;
    hookd_candidate_t   cand[HOOKD_CANDIDATES];

    if (hookd_need(hs, "stripe-signature", &v, &vlen, why, size) != 0) {
        return HOOKD_INVALID_SIGNATURE;
    }

    t = -1;
    nt = 0;
    ncand = 0;
    ts = NULL;
    n = 0;

    for (p = v, end = v + vlen; p < end; p = comma + 1) {
        comma = memchr(p, ',', (size_t) (end - p));
        if (comma == NULL) {
            comma = end;
        }

        if (comma - p > 2 && p[0] == 't' && p[1] == '=') {
            nt++;
            ts = p + 2;
            n = (size_t) (comma - ts);
            t = hookd_unix_time(ts, n);

        } else if (comma - p > 3 && memcmp(p, "v1=", 3) == 0
                   && ncand < HOOKD_CANDIDATES)
        {
            /* one that is not 64 hex digits can match nothing: skipped */
            if (hookd_unhex(p + 3, (size_t) (comma - p - 3), cand[ncand].mac,
                            HOOKD_MAC_MAX) == 32)
            {
                cand[ncand++].len = 32;
            }
        }
    }

    if (nt != 1 || t < 0) {
        return hookd_refuse(why, size, "Stripe-Signature needs one t=<unix "
                            "time>");
    }

    if (ncand == 0) {
        return hookd_refuse(why, size, "Stripe-Signature has no v1= "
                            "signature of 64 hex digits");
    }

    sg.part[0] = ts;
    sg.len[0] = n;
    sg.part[1] = ".";
    sg.len[1] = 1;
    sg.part[2] = NULL;
    sg.part[3] = NULL;

    if (!hookd_any_match(c, HOOKD_HMAC_SHA256, &sg, body, len, cand, ncand)) {
        return hookd_refuse(why, size, "no v1= signature of Stripe-Signature "
                            "matches this source's secret and the body");
    }

    return hookd_in_time(c, t, now, why, size);
}


/*
 * One MAC in a header, after an optional prefix (sha256=, v0=): GitHub,
 * Shopify, Slack and the configurable hmac.
 */
static hookd_verify_e
hookd_verify_one(const hookd_verify_conf_t *c, const char *header,
    const char *prefix, int base64, hookd_hmac_e alg,
    const hookd_signed_t *sg, const hookd_headers_t *hs,
    const unsigned char *body, size_t len, char *why, size_t size)
{
    long                n;
    size_t              vlen, plen;
    const char         *v;
    hookd_candidate_t   cand;

    if (hookd_need(hs, header, &v, &vlen, why, size) != 0) {
        return HOOKD_INVALID_SIGNATURE;
    }

    plen = prefix ? strlen(prefix) : 0;

    if (vlen < plen || strncasecmp(v, prefix ? prefix : "", plen) != 0) {
        return hookd_refuse(why, size, "%s must start with %s", header,
                            prefix);
    }

    n = base64 ? hookd_unbase64n(v + plen, vlen - plen, cand.mac,
                                 HOOKD_MAC_MAX)
               : hookd_unhex(v + plen, vlen - plen, cand.mac, HOOKD_MAC_MAX);

    if (n <= 0) {
        return hookd_refuse(why, size, "%s is not %s", header,
                            base64 ? "base64" : "hex");
    }

    cand.len = (size_t) n;

    if (!hookd_any_match(c, alg, sg, body, len, &cand, 1)) {
        return hookd_refuse(why, size, "%s does not match this source's "
                            "secret and the body", header);
    }

    return HOOKD_VERIFIED;
}


/* X-Slack-Signature: v0=<hex HMAC-SHA256("v0:" ts ":" body)> */
static hookd_verify_e
hookd_verify_slack(const hookd_verify_conf_t *c, const hookd_headers_t *hs,
    const unsigned char *body, size_t len, long long now, char *why,
    size_t size)
{
    long long        t;
    size_t           n;
    const char      *ts;
    hookd_verify_e   rc;
    hookd_signed_t   sg;

    if (hookd_need(hs, "x-slack-request-timestamp", &ts, &n, why, size)
        != 0)
    {
        return HOOKD_INVALID_SIGNATURE;
    }

    t = hookd_unix_time(ts, n);
    if (t < 0) {
        return hookd_refuse(why, size, "X-Slack-Request-Timestamp must be a "
                            "Unix time");
    }

    sg.part[0] = "v0:";
    sg.len[0] = 3;
    sg.part[1] = ts;
    sg.len[1] = n;
    sg.part[2] = ":";
    sg.len[2] = 1;
    sg.part[3] = NULL;

    rc = hookd_verify_one(c, "x-slack-signature", "v0=", 0, HOOKD_HMAC_SHA256,
                          &sg, hs, body, len, why, size);

    return rc != HOOKD_VERIFIED ? rc : hookd_in_time(c, t, now, why, size);
}


/* webhook-id, webhook-timestamp, webhook-signature: v1,<base64> … */
static hookd_verify_e
hookd_verify_standard(const hookd_verify_conf_t *c, const hookd_headers_t *hs,
    const unsigned char *body, size_t len, long long now, char *why,
    size_t size)
{
    int                 ncand;
    long                n;
    long long           t;
    size_t              idlen, tslen, slen;
    const char         *id, *ts, *sig, *p, *end, *sp;
    hookd_signed_t      sg;
    hookd_candidate_t   cand[HOOKD_CANDIDATES];

    if (hookd_need(hs, "webhook-id", &id, &idlen, why, size) != 0
        || hookd_need(hs, "webhook-timestamp", &ts, &tslen, why, size) != 0
        || hookd_need(hs, "webhook-signature", &sig, &slen, why, size) != 0)
    {
        return HOOKD_INVALID_SIGNATURE;
    }

    t = hookd_unix_time(ts, tslen);
    if (t < 0) {
        return hookd_refuse(why, size, "webhook-timestamp must be a Unix "
                            "time");
    }

    ncand = 0;

    for (p = sig, end = sig + slen; p < end; p = sp + 1) {
        sp = memchr(p, ' ', (size_t) (end - p));
        if (sp == NULL) {
            sp = end;
        }

        if (sp - p > 3 && memcmp(p, "v1,", 3) == 0
            && ncand < HOOKD_CANDIDATES)
        {
            n = hookd_unbase64n(p + 3, (size_t) (sp - p - 3), cand[ncand].mac,
                                HOOKD_MAC_MAX);
            if (n == 32) {
                cand[ncand++].len = 32;
            }
        }
    }

    if (ncand == 0) {
        return hookd_refuse(why, size, "webhook-signature has no v1,<base64> "
                            "signature");
    }

    /* id "." timestamp "." body */
    sg.part[0] = id;
    sg.len[0] = idlen;
    sg.part[1] = ".";
    sg.len[1] = 1;
    sg.part[2] = ts;
    sg.len[2] = tslen;
    sg.part[3] = ".";
    sg.len[3] = 1;

    if (!hookd_any_match(c, HOOKD_HMAC_SHA256, &sg, body, len, cand, ncand)) {
        return hookd_refuse(why, size, "no v1 signature of webhook-signature "
                            "matches this source's secret and the body");
    }

    return hookd_in_time(c, t, now, why, size);
}


/* Authorization equal to the configured credentials, in constant time */
static hookd_verify_e
hookd_verify_credentials(const hookd_verify_conf_t *c,
    const hookd_headers_t *hs, char *why, size_t size)
{
    int             i, match, basic;
    long            n;
    size_t          vlen, plen;
    const char     *v, *given;
    unsigned char   decoded[512], want[SHA256_DIGEST_LENGTH],
                    got[SHA256_DIGEST_LENGTH];
    char            buf[700];

    basic = c->provider == HOOKD_PROVIDER_BASIC;

    if (hookd_need(hs, "authorization", &v, &vlen, why, size) != 0) {
        return HOOKD_INVALID_SIGNATURE;
    }

    plen = basic ? sizeof("Basic ") - 1 : sizeof("Bearer ") - 1;

    if (vlen <= plen || strncasecmp(v, basic ? "Basic " : "Bearer ", plen)
                        != 0)
    {
        return hookd_refuse(why, size, "Authorization must be \"%s\"",
                            basic ? "Basic <base64 of user:password>"
                                  : "Bearer <token>");
    }

    given = v + plen;
    n = (long) (vlen - plen);

    if (basic) {
        if ((size_t) n >= sizeof(buf)) {
            return hookd_refuse(why, size, "Authorization is too long");
        }

        memcpy(buf, given, (size_t) n);
        buf[n] = '\0';
        n = hookd_unbase64(buf, decoded, sizeof(decoded));
        if (n < 0) {
            return hookd_refuse(why, size, "Authorization's credentials are "
                                "not base64");
        }

        given = (const char *) decoded;
    }

    /* digests of both: equal length, so the comparison says nothing */
    SHA256((const unsigned char *) given, (size_t) n, got);
    match = 0;

    for (i = 0; i < c->nsecrets; i++) {
        SHA256((const unsigned char *) c->secrets[i], strlen(c->secrets[i]),
               want);
        match |= CRYPTO_memcmp(want, got, sizeof(want)) == 0;
    }

    OPENSSL_cleanse(decoded, sizeof(decoded));
    OPENSSL_cleanse(buf, sizeof(buf));

    if (!match) {
        return hookd_refuse(why, size, "Authorization does not match this "
                            "source's credentials");
    }

    return HOOKD_VERIFIED;
}


hookd_verify_e
hookd_verify(const hookd_verify_conf_t *c, const hookd_headers_t *hs,
    const unsigned char *body, size_t len, long long now, char *why,
    size_t why_size)
{
    why[0] = '\0';

    if (c->nsecrets == 0) {
        return hookd_refuse(why, why_size, "this source has no secret that "
                            "verifies now");
    }

    switch (c->provider) {

    case HOOKD_PROVIDER_STRIPE:
        return hookd_verify_stripe(c, hs, body, len, now, why, why_size);

    case HOOKD_PROVIDER_GITHUB:
        return hookd_verify_one(c, "x-hub-signature-256", "sha256=", 0,
                                HOOKD_HMAC_SHA256, NULL, hs, body, len, why,
                                why_size);

    case HOOKD_PROVIDER_SHOPIFY:
        return hookd_verify_one(c, "x-shopify-hmac-sha256", NULL, 1,
                                HOOKD_HMAC_SHA256, NULL, hs, body, len, why,
                                why_size);

    case HOOKD_PROVIDER_SLACK:
        return hookd_verify_slack(c, hs, body, len, now, why, why_size);

    case HOOKD_PROVIDER_STANDARD:
        return hookd_verify_standard(c, hs, body, len, now, why, why_size);

    case HOOKD_PROVIDER_HMAC:
        return hookd_verify_one(c, c->header, c->prefix, c->base64,
                                c->algorithm, NULL, hs, body, len, why,
                                why_size);

    default:
        return hookd_verify_credentials(c, hs, why, why_size);
    }
}
