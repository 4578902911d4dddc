/* API key syntax and hashing: SHA-256, compared and stored as hashes only. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_key.h"


static void
hashes_with_sha256(void **state)
{
    char           hex[2 * HOOKD_KEY_HASH_LEN + 1];
    unsigned char  hash[HOOKD_KEY_HASH_LEN];

    /* FIPS 180-2 test vector */
    hookd_key_hash("abc", 3, hash);
    hookd_key_hash_hex(hash, hex);
    hex[2 * HOOKD_KEY_HASH_LEN] = '\0';
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");

    hookd_key_hash("", 0, hash);
    hookd_key_hash_hex(hash, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
}


static void
different_keys_hash_differently(void **state)
{
    unsigned char  a[HOOKD_KEY_HASH_LEN], b[HOOKD_KEY_HASH_LEN];

    hookd_key_hash("hk_aaaaaaaaaaaaaaaa", 19, a);
    hookd_key_hash("hk_aaaaaaaaaaaaaaab", 19, b);
    assert_memory_not_equal(a, b, HOOKD_KEY_HASH_LEN);
}


static void
accepts_only_well_formed_keys(void **state)
{
    char  long_key[HOOKD_KEY_MAX_LEN + 2];

    assert_true(hookd_key_well_formed("hk_0123456789abcdef", 19));
    assert_false(hookd_key_well_formed("short", 5));
    assert_false(hookd_key_well_formed("hk_0123456789 abcdef", 20));
    assert_false(hookd_key_well_formed("hk_0123456789\tabcdef", 20));
    assert_false(hookd_key_well_formed("hk_0123456789\xc3\xa9" "abcdef", 21));

    memset(long_key, 'k', sizeof(long_key));
    assert_true(hookd_key_well_formed(long_key, HOOKD_KEY_MAX_LEN));
    assert_false(hookd_key_well_formed(long_key, HOOKD_KEY_MAX_LEN + 1));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hashes_with_sha256),
        cmocka_unit_test(different_keys_hash_differently),
        cmocka_unit_test(accepts_only_well_formed_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
