/* Standard Webhooks signing: the published vector, and what changes it. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "secret.h"
#include "sign.h"


static void
matches_the_published_vector(void **state)
{
    long           n;
    char           sig[HOOKD_SIGNATURE_LEN + 1];
    unsigned char  key[HOOKD_SECRET_MAX];
    const char    *body = "{\"test\": 2432232314}";

    n = hookd_secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key);
    assert_int_equal(n, 24);

    assert_int_equal(hookd_sign(key, (size_t) n, "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                1614265330, body, strlen(body), sig), 0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}


static void
depends_on_id_timestamp_body_and_secret(void **state)
{
    long           n;
    char           a[HOOKD_SIGNATURE_LEN + 1], b[HOOKD_SIGNATURE_LEN + 1];
    unsigned char  key[HOOKD_SECRET_MAX];
    const char    *body = "{\"test\": 2432232314}";

    n = hookd_secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key);
    hookd_sign(key, (size_t) n, "msg_1", 1614265330, body, strlen(body), a);

    hookd_sign(key, (size_t) n, "msg_2", 1614265330, body, strlen(body), b);
    assert_string_not_equal(a, b);
    hookd_sign(key, (size_t) n, "msg_1", 1614265331, body, strlen(body), b);
    assert_string_not_equal(a, b);
    hookd_sign(key, (size_t) n, "msg_1", 1614265330, "{}", 2, b);
    assert_string_not_equal(a, b);
    key[0] ^= 1;
    hookd_sign(key, (size_t) n, "msg_1", 1614265330, body, strlen(body), b);
    assert_string_not_equal(a, b);
}


/*
 * The header of an endpoint with a rotated secret: the sealed secrets
 * still valid at the timestamp, newest first, each signed.
 */
static void
signs_with_every_secret_still_valid(void **state)
{
    int                  n;
    char                 json[1024], sigs[HOOKD_SIGNATURES_LEN + 1];
    char                *newest, *rotated, *expired;
    unsigned char        master[HOOKD_MASTER_KEY_LEN];
    hookd_signing_key_t  keys[HOOKD_MAX_SIGNATURES];
    const char          *body = "{\"test\": 2432232314}";

    memset(master, 7, sizeof(master));
    newest = hookd_seal(master, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    rotated = hookd_seal(master, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    expired = hookd_seal(master, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_non_null(newest);
    snprintf(json, sizeof(json),
             "[{\"sealed\": \"%s\", \"expires_at\": null},"
             " {\"sealed\": \"%s\", \"expires_at\": \"2021-02-26T00:00:00Z\"},"
             " {\"sealed\": \"%s\", \"expires_at\": \"2021-02-25T00:00:00Z\"},"
             " {\"sealed\": \"v1.not-a-sealed-secret\"}]",
             newest, rotated, expired);

    n = hookd_sign_open_secrets(master, json, 1614265330, keys);
    assert_int_equal(n, 2);
    assert_int_equal(hookd_sign_all(keys, n, "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                    1614265330, body, strlen(body), sigs), 0);
    assert_string_equal(sigs,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

    /* kept opened: the same keys, less those that expired since */
    assert_int_equal(hookd_sign_keys(master, json, 1614265330, keys), 2);
    assert_int_equal(hookd_sign_keys(master, json, 1614265330, keys), 2);
    assert_int_equal(hookd_sign_keys(master, json, 1614297601, keys), 1);
    assert_int_equal(keys[0].expires, 0);
    /* a rotation is new text: opened at once */
    snprintf(json, sizeof(json), "[{\"sealed\": \"%s\"}]", expired);
    assert_int_equal(hookd_sign_keys(master, json, 1614297601, keys), 1);
    assert_memory_equal(keys[0].bytes, "\0\0\0\0", 4);
    hookd_sign_forget();

    /* another master key opens nothing: nothing is signed */
    master[0] ^= 1;
    assert_int_equal(hookd_sign_open_secrets(master, json, 1614265330, keys),
                     0);
    assert_int_equal(hookd_sign_all(keys, 0, "msg_1", 1, "{}", 2, sigs), -1);

    free(newest);
    free(rotated);
    free(expired);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_published_vector),
        cmocka_unit_test(depends_on_id_timestamp_body_and_secret),
        cmocka_unit_test(signs_with_every_secret_still_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
