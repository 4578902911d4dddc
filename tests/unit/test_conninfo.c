/* Conninfo hosts: which are names, and the conninfo pinned to addresses. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hookd_conninfo.h"


static void
lists_the_names_in_their_positions(void **state)
{
    char                    *err;
    hookd_conninfo_hosts_t   h;

    assert_int_equal(hookd_conninfo_hosts(
        "host=db1,10.0.0.2,/run/postgresql,::1,db5 port=1,2,3,4,5", &h,
        &err), 0);
    assert_int_equal(h.nhosts, 5);
    assert_int_equal(h.nnames, 2);
    assert_string_equal(h.names[0], "db1");
    assert_string_equal(h.names[1], "10.0.0.2");     /* kept, not resolved */
    assert_null(h.names[2]);
    assert_string_equal(h.names[3], "::1");
    assert_string_equal(h.names[4], "db5");
    hookd_conninfo_hosts_free(&h);

    /* hostaddr given: nothing to resolve */
    assert_int_equal(hookd_conninfo_hosts("host=db1 hostaddr=10.0.0.1", &h,
                                          &err), 0);
    assert_int_equal(h.nnames, 0);
    hookd_conninfo_hosts_free(&h);

    assert_int_equal(hookd_conninfo_hosts("postgresql://u@db1:5433/hookd",
                                          &h, &err), 0);
    assert_int_equal(h.nnames, 1);
    assert_string_equal(h.names[0], "db1");
    hookd_conninfo_hosts_free(&h);

    assert_int_equal(hookd_conninfo_hosts("host='unterminated", &h, &err),
                     -1);
    assert_non_null(err);
    free(err);
}


static void
pins_the_addresses(void **state)
{
    char                    *err, *out;
    char                    *addrs[3] = { "192.0.2.1", NULL, "2001:db8::1" };
    hookd_conninfo_hosts_t   h;

    static const char  ci[] = "host=db1,10.0.0.2,db3 dbname='it\\'s' "
                              "target_session_attrs=read-write";

    assert_int_equal(hookd_conninfo_hosts(ci, &h, &err), 0);
    out = hookd_conninfo_pin(ci, &h, addrs, "hookd");
    assert_non_null(out);
    assert_non_null(strstr(out, "host='db1,10.0.0.2,db3' "));
    assert_non_null(strstr(out,
                           "hostaddr='192.0.2.1,10.0.0.2,2001:db8::1' "));
    assert_non_null(strstr(out, "dbname='it\\'s' "));
    assert_non_null(strstr(out, "target_session_attrs='read-write' "));
    assert_non_null(strstr(out, "application_name='hookd'"));
    free(out);
    hookd_conninfo_hosts_free(&h);

    /* numbers only: no hostaddr; a name of its own is kept */
    assert_int_equal(hookd_conninfo_hosts(
        "host=127.0.0.1 application_name=mine", &h, &err), 0);
    out = hookd_conninfo_pin("host=127.0.0.1 application_name=mine", &h,
                             addrs, "hookd");
    assert_null(strstr(out, "hostaddr"));
    assert_non_null(strstr(out, "application_name='mine'"));
    assert_null(strstr(out, "'hookd'"));
    free(out);
    hookd_conninfo_hosts_free(&h);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_the_names_in_their_positions),
        cmocka_unit_test(pins_the_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
