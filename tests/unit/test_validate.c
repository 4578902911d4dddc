/* Ingest body validation: JSON shape, depth, keys, event types, labels. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_validate.h"


static hookd_verdict_e
check(const char *body, hookd_validation_t *v)
{
    return hookd_validate_event(body, strlen(body), v);
}


static void
accepts_a_well_formed_event(void **state)
{
    hookd_validation_t  v;

    assert_int_equal(check("{\"event_type\":\"invoice.paid\","
                           "\"payload\":{\"a\":[1,2,{\"b\":null}]},"
                           "\"labels\":{\"owner_id\":\"acme\"}}", &v),
                     HOOKD_VALID);
    assert_int_equal(check("{\"event_type\":\"a:b-c_d.e\",\"payload\":{},"
                           "\"labels\":null}", &v), HOOKD_VALID);
    /* integers past 64 bits are valid JSON */
    assert_int_equal(check("{\"event_type\":\"a\",\"payload\":"
                           "{\"n\":123456789012345678901234567890}}", &v),
                     HOOKD_VALID);
}


static void
rejects_malformed_json(void **state)
{
    hookd_validation_t  v;

    assert_int_equal(check("", &v), HOOKD_INVALID_JSON);
    assert_int_equal(check("{", &v), HOOKD_INVALID_JSON);
    assert_int_equal(check("{\"event_type\":\"a\",}", &v),
                     HOOKD_INVALID_JSON);
    assert_non_null(strstr(v.message, "malformed JSON"));
    /* invalid UTF-8, NUL escapes and lone surrogates, as jsonb refuses */
    assert_int_equal(check("{\"event_type\":\"a\",\"payload\":{\"x\":\"\xff\"}}",
                           &v), HOOKD_INVALID_JSON);
    assert_int_equal(check("{\"event_type\":\"a\",\"payload\":"
                           "{\"x\":\"\\u0000\"}}", &v), HOOKD_INVALID_JSON);
    assert_int_equal(check("{\"event_type\":\"a\",\"payload\":"
                           "{\"x\":\"\\ud800\"}}", &v), HOOKD_INVALID_JSON);
    assert_int_equal(check("{\"event_type\":\"a\",\"event_type\":\"b\","
                           "\"payload\":{}}", &v), HOOKD_INVALID_JSON);
}


static void
measures_depth_outside_strings(void **state)
{
    char    buf[512];
    size_t  i, n;

    assert_int_equal(hookd_json_depth("{}", 2, 64), 1);
    assert_int_equal(hookd_json_depth("[[[]]]", 6, 64), 3);
    assert_int_equal(hookd_json_depth("{\"a\":\"[[[[\"}", 12, 2), 1);
    assert_int_equal(hookd_json_depth("{\"a\\\"[[\":1}", 11, 1), 1);
    assert_int_equal(hookd_json_depth("[[[", 3, 2), -1);

    n = 0;
    for (i = 0; i < 64; i++) {
        buf[n++] = '[';
    }
    for (i = 0; i < 64; i++) {
        buf[n++] = ']';
    }
    assert_int_equal(hookd_json_depth(buf, n, 64), 64);
    memmove(buf + 1, buf, n);
    buf[0] = '[';
    buf[++n] = ']';
    assert_int_equal(hookd_json_depth(buf, n + 1, 64), -1);
}


static void
rejects_deep_or_wide_documents(void **state)
{
    char                *body, *p;
    size_t               i;
    hookd_validation_t   v;

    body = malloc(100000);
    p = body + sprintf(body, "{\"event_type\":\"a\",\"payload\":");
    for (i = 0; i < 64; i++) {
        *p++ = '[';
    }
    for (i = 0; i < 64; i++) {
        *p++ = ']';
    }
    strcpy(p, "}");
    assert_int_equal(check(body, &v), HOOKD_INVALID_JSON);
    assert_non_null(strstr(v.message, "deeper than 64"));

    p = body + sprintf(body, "{\"event_type\":\"a\",\"payload\":{");
    for (i = 0; i <= HOOKD_MAX_OBJECT_KEYS; i++) {
        p += sprintf(p, "%s\"k%zu\":1", i ? "," : "", i);
    }
    strcpy(p, "}}");
    assert_int_equal(check(body, &v), HOOKD_INVALID_JSON);
    assert_non_null(strstr(v.message, "more than 1000 keys"));

    free(body);
}


static void
rejects_bad_events_naming_the_field(void **state)
{
    size_t              i;
    hookd_validation_t  v;

    static const struct {
        const char  *body;
        const char  *field;
    } cases[] = {
        { "[]", "event_type" },
        { "{\"payload\":{}}", "event_type" },
        { "{\"event_type\":1,\"payload\":{}}", "event_type" },
        { "{\"event_type\":\"\",\"payload\":{}}", "event_type" },
        { "{\"event_type\":\"a b\",\"payload\":{}}", "event_type" },
        { "{\"event_type\":\"a\"}", "payload" },
        { "{\"event_type\":\"a\",\"payload\":\"x\"}", "payload" },
        { "{\"event_type\":\"a\",\"payload\":{},\"labels\":[]}", "labels" },
        { "{\"event_type\":\"a\",\"payload\":{},\"labels\":{\"k\":2}}",
          "labels.k" },
        { "{\"event_type\":\"a\",\"payload\":{},\"labels\":{\"a b\":\"c\"}}",
          "label keys" },
        { "{\"event_type\":\"a\",\"payload\":{},\"extra\":1}", "extra" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(check(cases[i].body, &v), HOOKD_INVALID_EVENT);
        assert_non_null(strstr(v.message, cases[i].field));
    }
}


static void
checks_event_types_and_idempotency_keys(void **state)
{
    char  long_type[130];

    assert_true(hookd_valid_event_type("invoice.paid", 12));
    assert_true(hookd_valid_event_type("A-Z_0:9", 7));
    assert_false(hookd_valid_event_type("", 0));
    assert_false(hookd_valid_event_type("a/b", 3));
    assert_false(hookd_valid_event_type("a*", 2));

    memset(long_type, 'x', sizeof(long_type));
    assert_true(hookd_valid_event_type(long_type, 128));
    assert_false(hookd_valid_event_type(long_type, 129));

    assert_true(hookd_valid_idempotency_key("abc-123", 7));
    assert_false(hookd_valid_idempotency_key("", 0));
    assert_false(hookd_valid_idempotency_key("a b", 3));
    assert_false(hookd_valid_idempotency_key("a\x01", 2));
    assert_false(hookd_valid_idempotency_key(long_type, 256));
}


/* PostgreSQL's numeric limits, exactly: 16383 digits after the point */
static void
refuses_numbers_postgresql_cannot_store(void **state)
{
    hookd_validation_t  v;

    assert_int_equal(hookd_json_unstorable_number("{\"a\": 1e-16383}", 16), -1);
    assert_int_equal(hookd_json_unstorable_number("{\"a\": 12e-16383}", 17),
                     -1);
    assert_int_equal(hookd_json_unstorable_number("[0.1e-16382]", 12), -1);
    assert_int_equal(hookd_json_unstorable_number("[1e-16384]", 10), 1);
    assert_int_equal(hookd_json_unstorable_number("[1.5e-16383]", 12), 1);
    assert_int_equal(hookd_json_unstorable_number("[1E-99999999999999]", 19),
                     1);
    assert_int_equal(hookd_json_unstorable_number("[1e131071, 5]", 13), -1);
    assert_int_equal(hookd_json_unstorable_number("[2, 1e131072]", 13), 4);
    /* zeros before the point weigh nothing; strings are not numbers */
    assert_int_equal(hookd_json_unstorable_number("[0e131072]", 10), -1);
    assert_int_equal(hookd_json_unstorable_number("[\"1e-99999\\\"\"]", 13),
                     -1);
    assert_int_equal(hookd_json_unstorable_number("[-1e-20000]", 11), 1);

    assert_int_equal(check("{\"event_type\":\"a\",\"payload\":"
                           "{\"n\":1e-20000}}", &v), HOOKD_INVALID_JSON);
    assert_non_null(strstr(v.message, "send it as a string"));
    assert_int_equal(check("{\"event_type\":\"a\",\"payload\":"
                           "{\"n\":1e-16383}}", &v), HOOKD_VALID);
}


static void
hint_is(const char *body, const char *needle)
{
    hookd_validation_t  v;

    assert_int_not_equal(check(body, &v), HOOKD_VALID);
    if (strstr(v.hint, needle) == NULL) {
        fail_msg("hint \"%s\" for %s lacks \"%s\"", v.hint, body, needle);
    }
}


static void
hints_say_what_to_send(void **state)
{
    hint_is("", "send a JSON object");
    hint_is("{\"event_type\":\"a\",}", "remove a comma");
    hint_is("{\"event_type\":\"a\"", "ends early");
    hint_is("{\"event_type\":'a'}", "double quotes");
    hint_is("{} {}", "more text after it");
    hint_is("[1]", "\"event_type\": \"invoice.paid\"");
    hint_is("{\"evnt_type\":\"a\",\"payload\":{}}",
            "rename \"evnt_type\" to \"event_type\"");
    hint_is("{\"type\":\"a\",\"payload\":{}}", "rename \"type\"");
    hint_is("{\"event_type\":\"a\",\"data\":{}}",
            "rename \"data\" to \"payload\"");
    hint_is("{\"event_type\":\"a\",\"payload\":{},\"user\":1}",
            "move \"user\" into payload");
    hint_is("{\"event_type\":42,\"payload\":{}}", "\"event_type\": \"42\"");
    hint_is("{\"event_type\":\"invoice paid!\",\"payload\":{}}",
            "\"invoice_paid_\"");
    hint_is("{\"payload\":{}}", "add \"event_type\"");
    hint_is("{\"event_type\":\"a\"}", "add \"payload\"");
    hint_is("{\"event_type\":\"a\",\"payload\":\"{\\\"a\\\":1}\"}",
            "not a string that holds");
    hint_is("{\"event_type\":\"a\",\"payload\":[1]}", "\"items\"");
    hint_is("{\"event_type\":\"a\",\"payload\":{},\"labels\":"
            "{\"n\":5}}", "\"n\": \"5\"");
    hint_is("{\"event_type\":\"a\",\"payload\":{},\"labels\":"
            "{\"on\":true}}", "\"on\": \"true\"");
    hint_is("{\"event_type\":\"a\",\"payload\":{},\"labels\":"
            "{\"owner id\":\"x\"}}", "\"owner_id\"");
    hint_is("{\"event_type\":\"a\",\"payload\":{\"x\":1e-20000}}",
            "in quotes, as \"1e-20000\"");
    hint_is("{\"event_type\":\"a\",\"payload\":{\"x\":1e999999}}",
            "number this large in quotes");

    assert_int_equal(hookd_edit_distance("payload", "paylaod", 3), 2);
    assert_int_equal(hookd_edit_distance("abc", "abc", 0), 0);
    assert_int_equal(hookd_edit_distance("kitten", "sitting", 5), 3);
    assert_int_equal(hookd_edit_distance("a", "xyzw", 2), 3);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hints_say_what_to_send),
        cmocka_unit_test(refuses_numbers_postgresql_cannot_store),
        cmocka_unit_test(accepts_a_well_formed_event),
        cmocka_unit_test(rejects_malformed_json),
        cmocka_unit_test(measures_depth_outside_strings),
        cmocka_unit_test(rejects_deep_or_wide_documents),
        cmocka_unit_test(rejects_bad_events_naming_the_field),
        cmocka_unit_test(checks_event_types_and_idempotency_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
