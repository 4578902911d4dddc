#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "sign.h"
#include "hookd_seal.h"
#include "util.h"


static time_t hookd_sign_parse_rfc3339(const char *s);


int
hookd_sign(const unsigned char *secret, size_t secret_len, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out)
{
    int                 n;
    char                prefix[160];
    size_t              len;
    EVP_MAC            *hmac;
    OSSL_PARAM          params[2];
    unsigned char       mac[EVP_MAX_MD_SIZE];
    static EVP_MAC_CTX *ctx;

    n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, timestamp);
    if (n < 0 || (size_t) n >= sizeof(prefix)) {
        return -1;
    }

    /*
     * One context, its digest set once, keyed again for each signature:
     * fetching HMAC and SHA256 from the provider, and a context's new and
     * free, cost more than the signature itself (one process, one thread).
     */
    if (ctx == NULL) {
        hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
        EVP_MAC_free(hmac);

        params[0] = OSSL_PARAM_construct_utf8_string("digest",
                                                     (char *) "SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();

        if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
        }

        if (ctx == NULL) {
            return -1;
        }
    }

    if (EVP_MAC_init(ctx, secret, secret_len, NULL) != 1
        || EVP_MAC_update(ctx, (const unsigned char *) prefix, (size_t) n) != 1
        || EVP_MAC_update(ctx, (const unsigned char *) body, body_len) != 1
        || EVP_MAC_final(ctx, mac, &len, sizeof(mac)) != 1)
    {
        return -1;
    }

    memcpy(out, "v1,", 3);
    hookd_base64(mac, len, out + 3);

    return 0;
}


/* "2026-11-25T12:00:00.123456Z" (hookd.rfc3339) to epoch seconds, or -1 */
static time_t
hookd_sign_parse_rfc3339(const char *s)
{
    char       *end;
    struct tm   tm;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

    return end == NULL ? (time_t) -1 : timegm(&tm);
}


int
hookd_sign_open_secrets(const unsigned char *master, const char *secrets_json,
    long long timestamp, hookd_signing_key_t *keys)
{
    int          n;
    long         len;
    char        *plain;
    size_t       i;
    json_t      *secrets, *s, *exp;
    const char  *sealed;
    time_t       expires;

    secrets = json_loads(secrets_json, 0, NULL);
    n = 0;

    json_array_foreach(secrets, i, s) {
        if (n == HOOKD_MAX_SIGNATURES) {
            break;
        }

        expires = -1;
        exp = json_object_get(s, "expires_at");
        if (json_is_string(exp)) {
            expires = hookd_sign_parse_rfc3339(json_string_value(exp));
            if (expires != -1 && expires <= (time_t) timestamp) {
                continue;
            }
        }

        sealed = json_string_value(json_object_get(s, "sealed"));
        plain = hookd_unseal(master, sealed ? sealed : "");
        if (plain == NULL) {
            continue;
        }

        keys[n].expires = expires != -1 ? (long long) expires : 0;
        /* an Ed25519 key (v1a) is whsk_ and the base64 of its seed */
        keys[n].ed25519 = strncmp(plain, "whsk_", 5) == 0;
        len = keys[n].ed25519
              ? hookd_unbase64(plain + 5, keys[n].bytes, HOOKD_SECRET_MAX)
              : hookd_secret_bytes(plain, keys[n].bytes);
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);

        if (len >= 0 && (!keys[n].ed25519 || len == 32)) {
            keys[n++].len = (size_t) len;
        }
    }

    json_decref(secrets);

    return n;
}


typedef struct {
    char                  *text;        /* the secrets' JSON, sealed */
    const unsigned char   *master;
    double                 opened;      /* monotonic seconds */
    long long              at;          /* the timestamp they were opened for */
    int                    n;
    hookd_signing_key_t    keys[HOOKD_MAX_SIGNATURES];
} hookd_sign_slot_t;

/* one process, one thread: the daemon's loop */
static hookd_sign_slot_t  hookd_sign_cache[HOOKD_SIGN_CACHE_SLOTS];


static void
hookd_sign_slot_clear(hookd_sign_slot_t *s)
{
    free(s->text);
    OPENSSL_cleanse(s, sizeof(*s));
}


int
hookd_sign_keys(const unsigned char *master, const char *secrets_json,
    long long timestamp, hookd_signing_key_t *keys)
{
    int                 i, n;
    double              now;
    unsigned long       h;
    const char         *c;
    hookd_sign_slot_t  *s;

    for (h = 5381, c = secrets_json; *c; c++) {
        h = h * 33 + (unsigned char) *c;
    }
    s = &hookd_sign_cache[h % HOOKD_SIGN_CACHE_SLOTS];
    now = hookd_clock(CLOCK_MONOTONIC);

    if (s->text == NULL || s->master != master
        || now - s->opened > HOOKD_SIGN_CACHE_SECONDS
        || timestamp < s->at || strcmp(s->text, secrets_json) != 0)
    {
        hookd_sign_slot_clear(s);
        s->n = hookd_sign_open_secrets(master, secrets_json, timestamp,
                                       s->keys);
        s->text = s->n > 0 ? strdup(secrets_json) : NULL;
        if (s->text == NULL) {
            n = s->n;
            memcpy(keys, s->keys, sizeof(s->keys));
            hookd_sign_slot_clear(s);
            return n;
        }
        s->master = master;
        s->opened = now;
        s->at = timestamp;
    }

    /* a key that expired since it was opened is left out, as then */
    for (i = 0, n = 0; i < s->n; i++) {
        if (s->keys[i].expires == 0 || s->keys[i].expires > timestamp) {
            keys[n++] = s->keys[i];
        }
    }

    return n;
}


void
hookd_sign_forget(void)
{
    int  i;

    for (i = 0; i < HOOKD_SIGN_CACHE_SLOTS; i++) {
        hookd_sign_slot_clear(&hookd_sign_cache[i]);
    }
}


/* v1a: the Ed25519 signature of id.ts.body with the key of this seed */
static int
hookd_sign_ed25519(const unsigned char *seed, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out)
{
    int             n, ok;
    char           *msg;
    size_t          siglen;
    EVP_PKEY       *key;
    EVP_MD_CTX     *md;
    unsigned char   sig[64];

    n = snprintf(NULL, 0, "%s.%lld.", id, timestamp);
    msg = n > 0 ? malloc((size_t) n + body_len + 1) : NULL;
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    md = EVP_MD_CTX_new();

    ok = msg != NULL && key != NULL && md != NULL;

    if (ok) {
        snprintf(msg, (size_t) n + 1, "%s.%lld.", id, timestamp);
        memcpy(msg + n, body, body_len);
        siglen = sizeof(sig);
        /* Ed25519 signs the message whole, no digest first */
        ok = EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1
             && EVP_DigestSign(md, sig, &siglen, (unsigned char *) msg,
                               (size_t) n + body_len) == 1
             && siglen == 64;
    }

    if (ok) {
        memcpy(out, "v1a,", 4);
        hookd_base64(sig, 64, out + 4);
    }

    free(msg);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);

    return ok ? 0 : -1;
}


int
hookd_sign_all(const hookd_signing_key_t *keys, int n, const char *id,
    long long timestamp, const char *body, size_t body_len, char *out)
{
    int     i, rc;
    char   *p;

    p = out;

    for (i = 0; i < n && i < HOOKD_MAX_SIGNATURES; i++) {
        if (i > 0) {
            *p++ = ' ';
        }

        rc = keys[i].ed25519
             ? hookd_sign_ed25519(keys[i].bytes, id, timestamp, body,
                                  body_len, p)
             : hookd_sign(keys[i].bytes, keys[i].len, id, timestamp, body,
                          body_len, p);
        if (rc != 0) {
            return -1;
        }

        p += strlen(p);
    }

    *p = '\0';

    return n > 0 ? 0 : -1;
}


struct curl_slist *
hookd_sign_headers(const char *id, long long timestamp, const char *signatures)
{
    char                header[HOOKD_SIGNATURES_LEN + 64];
    struct curl_slist  *list, *next;

    list = curl_slist_append(NULL, "content-type: application/json");
    next = list ? curl_slist_append(list, "user-agent: hookd/" HOOKD_VERSION)
                : NULL;

    snprintf(header, sizeof(header), "webhook-id: %s", id);
    next = next ? curl_slist_append(list, header) : NULL;
    snprintf(header, sizeof(header), "webhook-timestamp: %lld", timestamp);
    next = next ? curl_slist_append(list, header) : NULL;
    snprintf(header, sizeof(header), "webhook-signature: %s", signatures);
    next = next ? curl_slist_append(list, header) : NULL;
    /* no "Expect: 100-continue" round trip before the body */
    next = next ? curl_slist_append(list, "expect:") : NULL;

    if (next == NULL) {
        curl_slist_free_all(list);
        return NULL;
    }

    return list;
}
