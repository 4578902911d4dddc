/*
 * Providers' signatures: the examples GitHub, Slack and Standard Webhooks
 * publish, reproduced byte for byte; Stripe's and Shopify's schemes with
 * MACs computed by Python's hmac; and every malformed header refused.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_verify.h"


#define H(n, v)  { n, sizeof(n) - 1, v, sizeof(v) - 1 }


static hookd_verify_e
check(hookd_provider_e p, const char *secret, const hookd_header_t *h,
    size_t n, const char *body, long long now, char *why)
{
    hookd_headers_t      hs = { h, n };
    hookd_verify_conf_t  c;

    memset(&c, 0, sizeof(c));
    c.provider = p;
    c.secrets[0] = secret;
    c.nsecrets = 1;
    c.tolerance = 300;

    return hookd_verify(&c, &hs, (const unsigned char *) body, strlen(body),
                        now, why, 256);
}


/* docs.github.com, "Validating webhook deliveries" */
static void
github_example(void **state)
{
    char  why[256];

    hookd_header_t  good[] = { H("X-Hub-Signature-256", "sha256="
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17") };
    hookd_header_t  bad[] = { H("X-Hub-Signature-256", "sha256="
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18") };
    hookd_header_t  twice[] = { good[0], good[0] };
    hookd_header_t  nohex[] = { H("X-Hub-Signature-256", "sha256=zz") };
    hookd_header_t  noprefix[] = { H("X-Hub-Signature-256", "757107ea") };

    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "It's a Secret to Everybody",
                           good, 1, "Hello, World!", 0, why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "It's a Secret to Everybody",
                           good, 1, "Hello, World?", 0, why),
                     HOOKD_INVALID_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "It's a Secret to Everybody",
                           bad, 1, "Hello, World!", 0, why),
                     HOOKD_INVALID_SIGNATURE);
    assert_non_null(strstr(why, "does not match"));
    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "x", twice, 2,
                           "Hello, World!", 0, why), HOOKD_INVALID_SIGNATURE);
    assert_non_null(strstr(why, "repeated"));
    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "x", nohex, 1, "", 0, why),
                     HOOKD_INVALID_SIGNATURE);
    assert_non_null(strstr(why, "not hex"));
    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "x", noprefix, 1, "", 0,
                           why), HOOKD_INVALID_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_GITHUB, "x", NULL, 0, "", 0, why),
                     HOOKD_INVALID_SIGNATURE);
    assert_non_null(strstr(why, "missing"));
}


/* api.slack.com, "Verifying requests from Slack" */
static void
slack_example(void **state)
{
    char  why[256];

    static const char  body[] = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id="
        "T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name="
        "foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
        "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id="
        "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    hookd_header_t  h[] = {
        H("X-Slack-Request-Timestamp", "1531420618"),
        H("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d2"
          "1a10bd27519666489c69b503") };
    hookd_header_t  bad_ts[] = { H("X-Slack-Request-Timestamp", "t=abc"),
                                 h[1] };

    assert_int_equal(check(HOOKD_PROVIDER_SLACK,
                           "8f742231b10e8888abcd99yyyzzz85a5", h, 2, body,
                           1531420618 + 299, why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_SLACK,
                           "8f742231b10e8888abcd99yyyzzz85a5", h, 2, body,
                           1531420618 + 301, why), HOOKD_STALE_SIGNATURE);
    assert_non_null(strstr(why, "301 seconds old"));
    assert_int_equal(check(HOOKD_PROVIDER_SLACK,
                           "8f742231b10e8888abcd99yyyzzz85a5", bad_ts, 2,
                           body, 1531420618, why), HOOKD_INVALID_SIGNATURE);
}


/* the Standard Webhooks specification's example */
static void
standard_example(void **state)
{
    char  why[256];

    hookd_header_t  h[] = {
        H("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        H("webhook-timestamp", "1614265330"),
        H("webhook-signature", "v1,bm90IHRoaXMgb25lIGF0IGFsbCwgbm8gbm8gbm8= "
          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") };

    assert_int_equal(check(HOOKD_PROVIDER_STANDARD,
                           "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, 3,
                           "{\"test\": 2432232314}", 1614265330, why),
                     HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_STANDARD,
                           "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, 3,
                           "{\"test\": 2432232315}", 1614265330, why),
                     HOOKD_INVALID_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_STANDARD,
                           "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, 2,
                           "{\"test\": 2432232314}", 1614265330, why),
                     HOOKD_INVALID_SIGNATURE);
}


/* MACs from Python: hmac.new(secret, b"1700000000." + body, sha256) */
static void
stripe_scheme(void **state)
{
    char  why[256];

    static const char  body[] = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
    static const char  mac[] =
        "6201a1a730f1d794e27d3c73789fc5b17c49243ceccd3d2a8d9d52a979b2cab5";
    char  one_right[300];

    hookd_header_t  h[] = { H("Stripe-Signature", "t=1700000000,v1=6201a1a730"
        "f1d794e27d3c73789fc5b17c49243ceccd3d2a8d9d52a979b2cab5") };
    hookd_header_t  bad_t[] = { H("Stripe-Signature", "t=abc,v1=00") };
    hookd_header_t  two_t[] = { H("Stripe-Signature",
        "t=1700000000,t=1700000001,v1=6201a1a730f1d794e27d3c73789fc5b17c492"
        "43ceccd3d2a8d9d52a979b2cab5") };
    hookd_header_t  no_v1[] = { H("Stripe-Signature", "t=1700000000,v0=ab") };
    hookd_header_t  empty[] = { H("Stripe-Signature", "") };
    hookd_header_t  several[1];

    snprintf(one_right, sizeof(one_right), "t=1700000000,v1=%064d,v1=short,"
             "v1=%s,v0=%s", 0, mac, mac);
    several[0].name = "stripe-signature";
    several[0].name_len = 16;
    several[0].value = one_right;
    several[0].value_len = strlen(one_right);

    assert_int_equal(check(HOOKD_PROVIDER_STRIPE,
                           "whsec_test_secret_for_stripe", h, 1, body,
                           1700000000, why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE,
                           "whsec_test_secret_for_stripe", several, 1, body,
                           1700000100, why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE,
                           "whsec_test_secret_for_stripe", h, 1, body,
                           1700000000 - 400, why), HOOKD_STALE_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE, "other", h, 1, body,
                           1700000000, why), HOOKD_INVALID_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE, "s", bad_t, 1, body, 0,
                           why), HOOKD_INVALID_SIGNATURE);
    assert_non_null(strstr(why, "t=<unix time>"));
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE,
                           "whsec_test_secret_for_stripe", two_t, 1, body,
                           1700000000, why), HOOKD_INVALID_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE, "s", no_v1, 1, body, 0,
                           why), HOOKD_INVALID_SIGNATURE);
    assert_non_null(strstr(why, "no v1="));
    assert_int_equal(check(HOOKD_PROVIDER_STRIPE, "s", empty, 1, body, 0,
                           why), HOOKD_INVALID_SIGNATURE);
}


static void
shopify_hmac_and_credentials(void **state)
{
    char                 why[256];
    hookd_headers_t      hs;
    hookd_verify_conf_t  c;

    static const char  body[] = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
    hookd_header_t  shopify[] = { H("X-Shopify-Hmac-Sha256",
        "1oIAX/T2uqq7ahP60FSiKd+h2+6Syh2zPx6kVql0JGQ=") };
    hookd_header_t  sha1[] = { H("X-Sig", "sha1=e6MuiF6ZnyRKi7SFKXh+TKbd8cI=") };
    hookd_header_t  basic[] = { H("Authorization", "Basic dTpwYXNz") };
    hookd_header_t  bearer[] = { H("Authorization", "Bearer t0ken") };

    assert_int_equal(check(HOOKD_PROVIDER_SHOPIFY, "shpss_secret", shopify, 1,
                           body, 0, why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_SHOPIFY, "shpss_other", shopify, 1,
                           body, 0, why), HOOKD_INVALID_SIGNATURE);

    memset(&c, 0, sizeof(c));
    c.provider = HOOKD_PROVIDER_HMAC;
    c.secrets[0] = "old";
    c.secrets[1] = "k";           /* a rotation's grace: both verify */
    c.nsecrets = 2;
    c.header = "x-sig";
    c.algorithm = HOOKD_HMAC_SHA1;
    c.base64 = 1;
    c.prefix = "sha1=";
    hs.list = sha1;
    hs.n = 1;
    assert_int_equal(hookd_verify(&c, &hs, (const unsigned char *) body,
                                  strlen(body), 0, why, sizeof(why)),
                     HOOKD_VERIFIED);
    c.nsecrets = 1;
    assert_int_equal(hookd_verify(&c, &hs, (const unsigned char *) body,
                                  strlen(body), 0, why, sizeof(why)),
                     HOOKD_INVALID_SIGNATURE);

    /* "u:pass" */
    assert_int_equal(check(HOOKD_PROVIDER_BASIC, "u:pass", basic, 1, body, 0,
                           why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_BASIC, "u:pas", basic, 1, body, 0,
                           why), HOOKD_INVALID_SIGNATURE);
    assert_int_equal(check(HOOKD_PROVIDER_BEARER, "t0ken", bearer, 1, body,
                           0, why), HOOKD_VERIFIED);
    assert_int_equal(check(HOOKD_PROVIDER_BEARER, "t0ken", basic, 1, body,
                           0, why), HOOKD_INVALID_SIGNATURE);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(github_example),
        cmocka_unit_test(slack_example),
        cmocka_unit_test(standard_example),
        cmocka_unit_test(stripe_scheme),
        cmocka_unit_test(shopify_hmac_and_credentials),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
