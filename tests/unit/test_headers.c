/* An endpoint's headers and auth: what passes, what is refused. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_headers.h"


static int
check(const char *text)
{
    int      rc;
    char     why[256];
    json_t  *h, *names;

    h = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert_non_null(h);
    rc = hookd_headers_check(h, &names, why, sizeof(why));
    json_decref(names);
    json_decref(h);
    return rc;
}


static char *
auth(const char *text)
{
    char    *out, why[256];
    json_t  *a;

    a = json_loads(text, 0, NULL);
    assert_non_null(a);
    if (hookd_auth_value(a, &out, why, sizeof(why)) != 0) {
        out = NULL;
    }
    json_decref(a);
    return out;
}


static void
headers(void **state)
{
    assert_int_equal(check("{\"X-Api-Key\": \"k 1\", \"X-T\": \"a\\tb\"}"),
                     0);
    assert_int_equal(check("{\"Authorization\": \"Bearer x\"}"), 0);
    assert_int_equal(check("{\"host\": \"x\"}"), -1);
    assert_int_equal(check("{\"HOST\": \"x\"}"), -1);
    assert_int_equal(check("{\"Proxy-Connection\": \"x\"}"), -1);
    assert_int_equal(check("{\"Webhook-Id\": \"x\"}"), -1);
    assert_int_equal(check("{\"Keep-Alive\": \"x\"}"), -1);
    assert_int_equal(check("{\"TE\": \"x\"}"), -1);
    assert_int_equal(check("{\"X-A\": \"a\\r\\nb\"}"), -1);
    assert_int_equal(check("{\"X-A\": \"a\\u0000b\"}"), -1);
    assert_int_equal(check("{\"X-A\": \"\\u007f\"}"), -1);
    assert_int_equal(check("{\"X A\": \"a\"}"), -1);
    assert_int_equal(check("{\"X:A\": \"a\"}"), -1);
    assert_int_equal(check("{\"\": \"a\"}"), -1);
    assert_int_equal(check("{\"X-A\": 1}"), -1);
    assert_int_equal(check("[]"), -1);
}


static void
credentials(void **state)
{
    char  *v;

    v = auth("{\"type\": \"basic\", \"username\": \"Aladdin\", "
             "\"password\": \"open sesame\"}");
    /* RFC 7617's example */
    assert_string_equal(v, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    free(v);
    v = auth("{\"type\": \"bearer\", \"token\": \"t0k\"}");
    assert_string_equal(v, "Bearer t0k");
    free(v);
    assert_null(auth("{\"type\": \"basic\", \"username\": \"a:b\", "
                     "\"password\": \"p\"}"));
    assert_null(auth("{\"type\": \"basic\", \"username\": \"a\"}"));
    assert_null(auth("{\"type\": \"bearer\", \"token\": \"a b\"}"));
    assert_null(auth("{\"type\": \"bearer\", \"token\": \"\"}"));
    assert_null(auth("{\"type\": \"bearer\", \"token\": \"x\", \"y\": 1}"));
    assert_null(auth("{\"type\": \"digest\"}"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(headers),
        cmocka_unit_test(credentials),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
