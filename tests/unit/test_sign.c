/* Standard Webhooks signing: the published vector, and what changes it. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_published_vector),
        cmocka_unit_test(depends_on_id_timestamp_body_and_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
