/* Form bodies: fields decoded, + and %XX, names once, UTF-8 only. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_form.h"


static void
decodes_fields(void **state)
{
    json_t      *o;
    const char  *f = "payload=%7B%22a%22%3A1%7D&text=hello+world&empty=&bare"
                     "&pct=100%25&bad=%zz%4";

    o = hookd_form_object(f, strlen(f));
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "payload")),
                        "{\"a\":1}");
    assert_string_equal(json_string_value(json_object_get(o, "text")),
                        "hello world");
    assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
    assert_string_equal(json_string_value(json_object_get(o, "bare")), "");
    assert_string_equal(json_string_value(json_object_get(o, "pct")),
                        "100%");
    /* a broken escape is kept as it came */
    assert_string_equal(json_string_value(json_object_get(o, "bad")),
                        "%zz%4");
    json_decref(o);
}


static void
refuses_what_cannot_be_an_object(void **state)
{
    assert_null(hookd_form_object("a=1&a=2", 7));          /* repeated */
    assert_null(hookd_form_object("a=%FF", 5));            /* not UTF-8 */
    assert_null(hookd_form_object("a%00b=1", 7));          /* NUL in name */
    assert_null(hookd_form_object("=1", 2));               /* no name */
    json_decref(hookd_form_object("", 0));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_fields),
        cmocka_unit_test(refuses_what_cannot_be_an_object),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
