/* Error classes and the retry schedule. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <curl/curl.h>
#include <cmocka.h>

#include "retry.h"


static void
classifies_http_statuses(void **state)
{
    long  s;

    for (s = 200; s < 300; s++) {
        assert_int_equal(hookd_classify(CURLE_OK, s, 0), HOOKD_SUCCEEDED);
    }

    assert_int_equal(hookd_classify(CURLE_OK, 408, 0), HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 425, 0), HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 429, 0), HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 500, 0), HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 503, 0), HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 599, 0), HOOKD_RETRYABLE);

    assert_int_equal(hookd_classify(CURLE_OK, 400, 0), HOOKD_NON_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 404, 0), HOOKD_NON_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 410, 0), HOOKD_NON_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 301, 0), HOOKD_NON_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OK, 307, 0), HOOKD_NON_RETRYABLE);

    assert_int_equal(hookd_classify(CURLE_OK, 101, 0), HOOKD_UNKNOWN);
    assert_int_equal(hookd_classify(CURLE_OK, 600, 0), HOOKD_UNKNOWN);
    assert_int_equal(hookd_classify(CURLE_OK, 0, 0), HOOKD_UNKNOWN);
}


static void
classifies_transport_failures(void **state)
{
    assert_int_equal(hookd_classify(CURLE_COULDNT_CONNECT, 0, 0),
                     HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_COULDNT_RESOLVE_HOST, 0, 0),
                     HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_OPERATION_TIMEDOUT, 0, 0),
                     HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_SSL_CONNECT_ERROR, 0, 0),
                     HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_RECV_ERROR, 0, 0), HOOKD_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_GOT_NOTHING, 0, 0), HOOKD_RETRYABLE);

    assert_int_equal(hookd_classify(CURLE_PEER_FAILED_VERIFICATION, 0, 0),
                     HOOKD_NON_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_URL_MALFORMAT, 0, 0),
                     HOOKD_NON_RETRYABLE);
    assert_int_equal(hookd_classify(CURLE_UNSUPPORTED_PROTOCOL, 0, 0),
                     HOOKD_NON_RETRYABLE);
    /* the guard refuses by failing the connect: still final */
    assert_int_equal(hookd_classify(CURLE_COULDNT_CONNECT, 0, 1),
                     HOOKD_NON_RETRYABLE);

    assert_int_equal(hookd_classify(CURLE_OUT_OF_MEMORY, 0, 0), HOOKD_UNKNOWN);
    assert_string_equal(hookd_class_name(HOOKD_RETRYABLE), "RETRYABLE");
}


static void
backs_off_exponentially_with_jitter_and_a_cap(void **state)
{
    const hookd_retry_policy_t  *p = &hookd_default_policy;

    /* jitter 0 is the bottom of [d/2, d), jitter near 1 the top */
    assert_float_equal(hookd_next_delay(p, 1, 0, HOOKD_RETRYABLE, 0, 0),
                       15.0, 1e-9);
    assert_float_equal(hookd_next_delay(p, 1, 0, HOOKD_RETRYABLE, 0, 0.999),
                       29.985, 1e-9);
    assert_float_equal(hookd_next_delay(p, 2, 0, HOOKD_RETRYABLE, 0, 0),
                       30.0, 1e-9);
    assert_float_equal(hookd_next_delay(p, 3, 0, HOOKD_RETRYABLE, 0, 0),
                       60.0, 1e-9);
    assert_float_equal(hookd_next_delay(p, 15, 0, HOOKD_RETRYABLE, 0, 0),
                       3 * 3600.0, 1e-9);
}


static void
gives_up_on_budget_age_and_final_errors(void **state)
{
    double                       total, d;
    int                          n;
    const hookd_retry_policy_t  *p = &hookd_default_policy;

    assert_true(hookd_next_delay(p, 19, 0, HOOKD_RETRYABLE, 0, 0.5) > 0);
    assert_true(hookd_next_delay(p, 20, 0, HOOKD_RETRYABLE, 0, 0.5) < 0);
    assert_true(hookd_next_delay(p, 10, 0, HOOKD_UNKNOWN, 0, 0.5) < 0);
    assert_true(hookd_next_delay(p, 9, 0, HOOKD_UNKNOWN, 0, 0.5) > 0);
    assert_true(hookd_next_delay(p, 1, 0, HOOKD_NON_RETRYABLE, 0, 0.5) < 0);
    assert_true(hookd_next_delay(p, 5, 3 * 86400.0 - 10, HOOKD_RETRYABLE, 0,
                                 0.5) < 0);

    /* the whole default schedule lasts about three days at most */
    total = 0;
    for (n = 1; (d = hookd_next_delay(p, n, total, HOOKD_RETRYABLE, 0, 0.999))
                > 0; n++)
    {
        total += d;
    }
    assert_true(total > 2 * 86400.0 && total <= 3 * 86400.0);
}


static void
honours_retry_after_within_the_cap(void **state)
{
    const hookd_retry_policy_t  *p = &hookd_default_policy;
    hookd_retry_policy_t         constant = { 0, 10, 60, 5, 3600 };

    assert_float_equal(hookd_next_delay(p, 1, 0, HOOKD_RETRYABLE, 120, 0),
                       120.0, 1e-9);
    assert_float_equal(hookd_next_delay(p, 1, 0, HOOKD_RETRYABLE, 1e9, 0),
                       6 * 3600.0, 1e-9);
    /* a short Retry-After never shortens the back-off */
    assert_float_equal(hookd_next_delay(p, 3, 0, HOOKD_RETRYABLE, 1, 0),
                       60.0, 1e-9);

    assert_float_equal(hookd_next_delay(&constant, 4, 0, HOOKD_RETRYABLE, 0,
                                        0), 5.0, 1e-9);
}


/* the endpoint's retry_policy column: what it leaves out is the default */
static void
parses_a_policy_over_the_defaults(void **state)
{
    hookd_retry_policy_t  p;

    hookd_retry_policy_parse("{\"strategy\": \"constant\", "
                             "\"base_seconds\": 2.5, \"max_attempts\": 3}", &p);
    assert_int_equal(p.exponential, 0);
    assert_true(p.base == 2.5);
    assert_int_equal(p.max_attempts, 3);
    assert_true(p.cap == hookd_default_policy.cap);
    assert_true(p.max_age == hookd_default_policy.max_age);

    /* wrong types and other JSON leave the defaults */
    hookd_retry_policy_parse("{\"base_seconds\": \"10\", "
                             "\"max_attempts\": 2.5}", &p);
    assert_true(p.base == hookd_default_policy.base);
    assert_int_equal(p.max_attempts, hookd_default_policy.max_attempts);
    hookd_retry_policy_parse("[1]", &p);
    assert_int_equal(p.exponential, 1);
    hookd_retry_policy_parse("not json", &p);
    assert_true(p.cap == hookd_default_policy.cap);

    /* past the bounds (written by hand in SQL): clamped to them */
    hookd_retry_policy_parse("{\"base_seconds\": 1e300, \"cap_seconds\": "
                             "1e300, \"max_age_seconds\": -5, "
                             "\"max_attempts\": 100000}", &p);
    assert_true(p.base == 86400 && p.cap == HOOKD_RETRY_MAX_DELAY);
    assert_true(p.max_age == 1 && p.max_attempts == 1000);
    hookd_retry_policy_parse("{\"base_seconds\": 1e300, \"cap_seconds\": "
                             "1e300}", &p);
    assert_true(hookd_next_delay(&p, 19, 0, HOOKD_RETRYABLE, 0, 0.99)
                <= HOOKD_RETRY_MAX_DELAY);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classifies_http_statuses),
        cmocka_unit_test(classifies_transport_failures),
        cmocka_unit_test(backs_off_exponentially_with_jitter_and_a_cap),
        cmocka_unit_test(gives_up_on_budget_age_and_final_errors),
        cmocka_unit_test(honours_retry_after_within_the_cap),
        cmocka_unit_test(parses_a_policy_over_the_defaults),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
