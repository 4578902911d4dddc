/* The SSRF guard: every blocked range, IPv4 and IPv6, embedded forms too. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "ssrf.h"


static int
allowed(const char *ip, const hookd_cidr_t *allow, size_t n)
{
    struct sockaddr_in   v4;
    struct sockaddr_in6  v6;

    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));

    if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        return hookd_address_allowed((struct sockaddr *) &v4, allow, n);
    }

    assert_int_equal(inet_pton(AF_INET6, ip, &v6.sin6_addr), 1);
    v6.sin6_family = AF_INET6;
    return hookd_address_allowed((struct sockaddr *) &v6, allow, n);
}


static void
blocks_every_special_range(void **state)
{
    size_t  i;

    static const char  *blocked[] = {
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1",
        "100.127.255.254", "127.0.0.1", "127.255.0.1", "169.254.169.254",
        "169.254.0.1", "172.16.0.1", "172.31.255.255", "192.0.0.8",
        "192.0.2.1", "192.88.99.1", "192.168.0.1", "192.168.255.255",
        "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "::", "::1", "100::1", "2001::1", "2001:db8::1", "fc00::1",
        "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1",
        "64:ff9b:1::1",
        /* IPv4-mapped, NAT64, 6to4 and IPv4-compatible forms */
        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b::10.1.2.3",
        "2002:a9fe:a9fe::1", "2002:7f00:1::", "::a9fe:a9fe", "::7f00:1",
    };

    for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
        if (allowed(blocked[i], NULL, 0)) {
            fail_msg("%s was allowed", blocked[i]);
        }
    }
}


static void
allows_public_addresses(void **state)
{
    size_t  i;

    static const char  *public[] = {
        "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1",
        "172.15.255.255", "172.32.0.1", "169.253.255.255", "192.169.0.1",
        "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:808:808::1",
    };

    for (i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
        if (!allowed(public[i], NULL, 0)) {
            fail_msg("%s was refused", public[i]);
        }
    }
}


static void
allow_list_opens_exactly_its_networks(void **state)
{
    hookd_cidr_t  allow[2];

    assert_int_equal(hookd_cidr_parse("127.0.0.1", &allow[0]), 0);
    assert_int_equal(hookd_cidr_parse("fd00::/8", &allow[1]), 0);

    assert_true(allowed("127.0.0.1", allow, 2));
    assert_true(allowed("::ffff:127.0.0.1", allow, 2));
    assert_false(allowed("127.0.0.2", allow, 2));
    assert_false(allowed("::1", allow, 2));
    assert_false(allowed("64:ff9b::7f00:1", allow, 2));
    assert_false(allowed("169.254.169.254", allow, 2));
    assert_true(allowed("fd12::1", allow, 2));
    assert_false(allowed("fc00::1", allow, 2));
}


static void
parses_cidrs(void **state)
{
    hookd_cidr_t  c;

    assert_int_equal(hookd_cidr_parse("10.0.0.0/8", &c), 0);
    assert_int_equal(c.prefix, 104);
    assert_int_equal(hookd_cidr_parse("::/0", &c), 0);
    assert_int_equal(c.prefix, 0);
    assert_int_equal(hookd_cidr_parse("10.0.0.0/33", &c), -1);
    assert_int_equal(hookd_cidr_parse("10.0.0.0/", &c), -1);
    assert_int_equal(hookd_cidr_parse("10.0.0.0/8x", &c), -1);
    assert_int_equal(hookd_cidr_parse("fe80::/129", &c), -1);
    assert_int_equal(hookd_cidr_parse("example.com", &c), -1);
    assert_int_equal(hookd_cidr_parse("", &c), -1);
}


static void
addresses(const char **ips, int n, struct sockaddr_storage *out)
{
    int  i;

    memset(out, 0, n * sizeof(*out));

    for (i = 0; i < n; i++) {
        struct sockaddr_in   *v4 = (struct sockaddr_in *) &out[i];
        struct sockaddr_in6  *v6 = (struct sockaddr_in6 *) &out[i];

        if (inet_pton(AF_INET, ips[i], &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
        } else {
            assert_int_equal(inet_pton(AF_INET6, ips[i], &v6->sin6_addr), 1);
            v6->sin6_family = AF_INET6;
        }
    }
}


/* through a proxy: pinned to the first allowed address, else all or none */
static void
chooses_what_a_proxy_is_told(void **state)
{
    int                      refused;
    struct sockaddr_storage  a[3];

    static const char  *mixed[] = { "::1", "8.8.8.8", "169.254.169.254" };
    static const char  *private[] = { "10.0.0.1", "127.0.0.1" };
    static const char  *public[] = { "8.8.8.8", "2606:4700::1111" };

    addresses(mixed, 3, a);
    assert_int_equal(hookd_ssrf_choose(a, 3, 1, NULL, 0, &refused), 1);
    assert_int_equal(hookd_ssrf_choose(a, 3, 0, NULL, 0, &refused), -1);
    assert_int_equal(refused, 0);

    addresses(private, 2, a);
    assert_int_equal(hookd_ssrf_choose(a, 2, 1, NULL, 0, &refused), -1);
    assert_int_equal(refused, 0);

    addresses(public, 2, a);
    assert_int_equal(hookd_ssrf_choose(a, 2, 0, NULL, 0, &refused), 0);
    assert_int_equal(hookd_ssrf_choose(a, 2, 1, NULL, 0, &refused), 0);
    assert_int_equal(refused, -1);

    assert_int_equal(hookd_ssrf_choose(a, 0, 0, NULL, 0, &refused), -1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocks_every_special_range),
        cmocka_unit_test(allows_public_addresses),
        cmocka_unit_test(allow_list_opens_exactly_its_networks),
        cmocka_unit_test(parses_cidrs),
        cmocka_unit_test(chooses_what_a_proxy_is_told),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
