/* Endpoint secrets: whsec_ syntax, and sealing under the master key. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "secret.h"
#include "util.h"


static const unsigned char  key[HOOKD_MASTER_KEY_LEN] = "0123456789abcdef0123456789abcdef";


static void
seals_and_unseals(void **state)
{
    char  *sealed, *plain;

    sealed = hookd_seal(key, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_non_null(sealed);
    assert_memory_equal(sealed, "v1.", 3);
    assert_null(strstr(sealed, "MfKQ9r8"));

    plain = hookd_unseal(key, sealed);
    assert_string_equal(plain, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");

    free(plain);
    free(sealed);
}


static void
refuses_tampering_and_wrong_keys(void **state)
{
    char           *sealed;
    unsigned char   other[HOOKD_MASTER_KEY_LEN];

    sealed = hookd_seal(key, "whsec_secret");
    assert_non_null(sealed);

    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    assert_null(hookd_unseal(other, sealed));

    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
    assert_null(hookd_unseal(key, sealed));

    assert_null(hookd_unseal(key, "v0.AAAA"));
    assert_null(hookd_unseal(key, "v1.AAAA"));
    assert_null(hookd_unseal(key, "v1.!!!!"));

    free(sealed);
}


static void
checks_whsec_syntax_and_size(void **state)
{
    char           fresh[64];
    unsigned char  raw[HOOKD_SECRET_MAX];

    assert_int_equal(hookd_secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                        raw), 24);
    assert_int_equal(hookd_secret_bytes("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", raw),
                     -1);
    assert_int_equal(hookd_secret_bytes("whsec_c2hvcnQ=", raw), -1);
    assert_int_equal(hookd_secret_bytes("whsec_not base64 at all!", raw), -1);

    assert_int_equal(hookd_new_endpoint_secret(fresh), 0);
    assert_int_equal(hookd_secret_bytes(fresh, raw), 32);
}


static void
makes_api_keys(void **state)
{
    char  a[64], b[64];

    assert_int_equal(hookd_new_api_key(a, "hk_"), 0);
    assert_int_equal(hookd_new_api_key(b, "hk_"), 0);
    assert_int_equal(strlen(a), 3 + 43);
    assert_memory_equal(a, "hk_", 3);
    assert_string_not_equal(a, b);
    assert_null(strpbrk(a, "+/="));

    assert_int_equal(hookd_new_api_key(a, "hkp_"), 0);
    assert_int_equal(strlen(a), 4 + 43);
    assert_memory_equal(a, "hkp_", 4);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seals_and_unseals),
        cmocka_unit_test(refuses_tampering_and_wrong_keys),
        cmocka_unit_test(checks_whsec_syntax_and_size),
        cmocka_unit_test(makes_api_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
