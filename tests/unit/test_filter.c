/*
 * The filter compiler: each operator's jsonpath, nesting, keys with dots
 * and quotes, numbers as written, and every bound refused with its path.
 * What the jsonpath means is tested against PostgreSQL itself
 * (tests/integration/test_routing.py).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_filter.h"


static char  why[512];


static char *
compile(const char *text)
{
    char          *out;
    json_t        *f;
    json_error_t   err;

    f = json_loads(text, 0, &err);
    assert_non_null(f);
    out = NULL;
    if (hookd_filter_compile(f, &out, why, sizeof(why)) != 0) {
        out = strdup("ERROR");
    } else if (out == NULL) {
        out = strdup("(null)");       /* {}: every payload */
    }
    json_decref(f);
    return out;
}


static void
expect(const char *text, const char *jsonpath)
{
    char  *out = compile(text);

    if (strcmp(out, jsonpath) != 0) {
        fail_msg("%s\n  gave %s\n  want %s (%s)", text, out, jsonpath, why);
    }
    free(out);
}


static void
expect_wrong(const char *text, const char *message)
{
    char  *out = compile(text);

    assert_string_equal(out, "ERROR");
    if (strncmp(why, message, strlen(message)) != 0) {
        fail_msg("%s: %s, not %s…", text, why, message);
    }
    free(out);
}


static void
every_operator(void **state)
{
    expect("{\"a\": 150}", "(exists($.\"a\" ? (@ == 150)))");
    expect("{\"a\": {\"$eq\": \"x\"}}", "((exists($.\"a\" ? (@ == \"x\"))))");
    expect("{\"a\": {\"$ne\": null}}", "((!(exists($.\"a\" ? (@ == null)))))");
    expect("{\"a\": {\"$gt\": 1}}", "((exists($.\"a\" ? (@ > 1))))");
    expect("{\"a\": {\"$gte\": -2.5}}", "((exists($.\"a\" ? (@ >= -2.5))))");
    expect("{\"a\": {\"$lt\": \"m\"}}", "((exists($.\"a\" ? (@ < \"m\"))))");
    expect("{\"a\": {\"$lte\": 0.1}}", "((exists($.\"a\" ? (@ <= 0.1))))");
    expect("{\"a\": {\"$in\": [1, \"b\", true]}}",
           "((exists($.\"a\" ? (@ == 1 || @ == \"b\" || @ == true))))");
    expect("{\"a\": {\"$nin\": [false]}}",
           "((!(exists($.\"a\" ? (@ == false)))))");
    expect("{\"a\": {\"$exists\": true}}", "((exists($.\"a\")))");
    expect("{\"a\": {\"$exists\": false}}", "((!(exists($.\"a\"))))");
    expect("{\"a\": {\"$regex\": \"^x\\\\d$\"}}",
           "((exists($.\"a\" ? (@ like_regex \"^x\\\\d$\"))))");
    expect("{\"a\": {\"$not\": {\"$gt\": 5}}}",
           "((!(exists($.\"a\" ? (@ > 5)))))");
    expect("{}", "(null)");
}


static void
nesting_and_keys(void **state)
{
    expect("{\"$or\": [{\"a\": 1}, {\"$and\": [{\"b\": 2}, {\"c\": 3}]}]}",
           "(((exists($.\"a\" ? (@ == 1))) || (((exists($.\"b\" ? (@ == 2)))"
           " && (exists($.\"c\" ? (@ == 3)))))))");
    expect("{\"$not\": {\"a\": 1, \"b\": 2}}",
           "(!(exists($.\"a\" ? (@ == 1)) && exists($.\"b\" ? (@ == 2))))");
    expect("{\"customer.tier\": \"gold\"}",
           "(exists($.\"customer\".\"tier\" ? (@ == \"gold\")))");
    expect("{\"a\\\\.b\": 1}", "(exists($.\"a.b\" ? (@ == 1)))");
    expect("{\"a\\\\\\\\\": 1}", "(exists($.\"a\\\\\" ? (@ == 1)))");
    expect("{\"say \\\"hi\\\"\": 1}",
           "(exists($.\"say \\\"hi\\\"\" ? (@ == 1)))");
    expect("{\"a\": \"quote \\\" and \\\\\"}",
           "(exists($.\"a\" ? (@ == \"quote \\\" and \\\\\")))");
    expect("{\"a\": 1e300}", "(exists($.\"a\" ? (@ == 1e+300)))");
    expect("{\"a\": 9007199254740993}",
           "(exists($.\"a\" ? (@ == 9007199254740993)))");
}


static void
bounds_and_mistakes(void **state)
{
    char    big[5000];
    size_t  i, n;

    expect_wrong("[]", "filter: a filter is a JSON object");
    expect_wrong("{\"$gt\": 1}", "filter.$gt:");
    expect_wrong("{\"a\": {\"$gt\": [1]}}", "filter.a.$gt:");
    expect_wrong("{\"a\": {\"$gt\": null}}", "filter.a.$gt:");
    expect_wrong("{\"a\": {\"$eq\": {}}}", "filter.a.$eq:");
    expect_wrong("{\"a\": {\"$bogus\": 1}}", "filter.a.$bogus: unknown");
    expect_wrong("{\"a\": {}}", "filter.a:");
    expect_wrong("{\"a\": {\"b\": 1}}", "filter.a.b:");
    expect_wrong("{\"a\": [1]}", "filter.a:");
    expect_wrong("{\"a\": {\"$in\": []}}", "filter.a.$in:");
    expect_wrong("{\"a\": {\"$in\": 1}}", "filter.a.$in:");
    expect_wrong("{\"a\": {\"$in\": [[1]]}}", "filter.a.$in:");
    expect_wrong("{\"a\": {\"$exists\": 1}}", "filter.a.$exists:");
    expect_wrong("{\"a\": {\"$regex\": \"\"}}", "filter.a.$regex:");
    expect_wrong("{\"a\": {\"$not\": 1}}", "filter.a.$not:");
    expect_wrong("{\"$and\": []}", "filter.$and:");
    expect_wrong("{\"$or\": [1]}", "filter.$or[0]:");
    expect_wrong("{\"$or\": [{}]}", "filter.$or[0]:");
    expect_wrong("{\"$not\": {}}", "filter.$not:");
    expect_wrong("{\"a..b\": 1}", "filter.a..b:");
    expect_wrong("{\".a\": 1}", "filter..a:");
    expect_wrong("{\"a.\": 1}", "filter.a.:");

    /* 256 values in $in, not 257 */
    n = (size_t) snprintf(big, sizeof(big), "{\"a\": {\"$in\": [0");
    for (i = 1; i < 256; i++) {
        n += (size_t) snprintf(big + n, sizeof(big) - n, ",%zu", i);
    }
    snprintf(big + n, sizeof(big) - n, "]}}");
    free(compile(big));
    assert_string_equal(why, "");
    snprintf(big + n, sizeof(big) - n, ",256]}}");
    expect_wrong(big, "filter.a.$in: $in takes an array of 1 to 256");

    /* 256 characters of regex, not 257 */
    n = (size_t) snprintf(big, sizeof(big), "{\"a\": {\"$regex\": \"");
    memset(big + n, 'x', 256);
    snprintf(big + n + 256, sizeof(big) - n - 256, "\"}}");
    free(compile(big));
    assert_string_equal(why, "");
    memset(big + n, 'x', 257);
    snprintf(big + n + 257, sizeof(big) - n - 257, "\"}}");
    expect_wrong(big, "filter.a.$regex:");

    /* 64 operators, not 65 */
    n = (size_t) snprintf(big, sizeof(big), "{\"k0\": 0");
    for (i = 1; i < 64; i++) {
        n += (size_t) snprintf(big + n, sizeof(big) - n, ", \"k%zu\": 0", i);
    }
    snprintf(big + n, sizeof(big) - n, "}");
    free(compile(big));
    assert_string_equal(why, "");
    snprintf(big + n, sizeof(big) - n, ", \"k64\": 0}");
    expect_wrong(big, "filter.k64: a filter holds at most 64");

    /* 4 KiB of JSON, not more */
    n = (size_t) snprintf(big, sizeof(big), "{\"a\": \"");
    memset(big + n, 'x', 4100);
    snprintf(big + n + 4100, sizeof(big) - n - 4100, "\"}");
    expect_wrong(big, "filter: a filter is at most 4096 bytes");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_operator),
        cmocka_unit_test(nesting_and_keys),
        cmocka_unit_test(bounds_and_mistakes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
