/* Unit tests for core/netmask.h: address blocks parsed and matched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/netmask.h"

static pt_netmask block(const char *s)
{
    pt_netmask m;
    char why[128];
    assert_int_equal(pt_netmask_parse(s, &m, why, sizeof why), 0);
    return m;
}

static void addresses_and_blocks_match_their_own(void **state)
{
    (void)state;
    pt_netmask m[] = {block("10.0.0.0/8"), block("192.0.2.7"), block("2001:db8::/32"), block("::1")};
    assert_true(pt_netmask_any(m, 4, "10.255.1.2"));
    assert_false(pt_netmask_any(m, 4, "11.0.0.1"));
    assert_true(pt_netmask_any(m, 4, "192.0.2.7"));
    assert_false(pt_netmask_any(m, 4, "192.0.2.8"));
    assert_true(pt_netmask_any(m, 4, "2001:db8:ffff::9"));
    assert_false(pt_netmask_any(m, 4, "2001:db9::1"));
    assert_true(pt_netmask_any(m, 4, "[::1]"));
    assert_true(pt_netmask_any(m, 4, "::ffff:10.1.2.3")); /* IPv4-mapped counts as IPv4 */
    assert_false(pt_netmask_any(m, 4, "::2"));
    assert_false(pt_netmask_any(m, 4, ""));
    assert_false(pt_netmask_any(m, 4, "localhost"));
    assert_false(pt_netmask_any(m, 4, NULL));
    assert_false(pt_netmask_any(m, 0, "10.0.0.1"));
    /* bits past the prefix do not matter, in the block or at odd lengths */
    pt_netmask odd[] = {block("172.16.5.9/12")};
    assert_true(pt_netmask_any(odd, 1, "172.31.255.255"));
    assert_false(pt_netmask_any(odd, 1, "172.32.0.0"));
    pt_netmask all[] = {block("0.0.0.0/0")};
    assert_true(pt_netmask_any(all, 1, "203.0.113.1"));
    assert_false(pt_netmask_any(all, 1, "::1"));
}

static void bad_blocks_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "10.0.0", "host", "/8", "1.2.3.4/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_netmask m;
        char why[128] = "";
        assert_int_equal(pt_netmask_parse(bad[i], &m, why, sizeof why), -1);
        assert_true(why[0] != 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses_and_blocks_match_their_own),
        cmocka_unit_test(bad_blocks_are_refused_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
