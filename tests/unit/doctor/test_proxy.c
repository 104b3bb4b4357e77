/* Unit tests for doctor/check_proxy_env.c: NO_PROXY matching rules per client family, credential masking and
 * proxy host:port parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor/proxy.h"

/* Go's rules are the widest: they cover every kind of entry. */
static bool m(const char *list, const char *host, long port)
{
    return pt__dr_noproxy_match(PT_DR_NP_GO, list, host, port, NULL, 0);
}

static bool mf(pt_dr_np_family fam, const char *list, const char *host, long port)
{
    return pt__dr_noproxy_match(fam, list, host, port, NULL, 0);
}

static void star_matches_everything(void **state)
{
    assert_true(m("*", "localhost", 80));
    assert_true(m("example.com, *", "127.0.0.1", 80));
}

static void name_matches_itself_and_subdomains_only(void **state)
{
    assert_true(m("example.com", "example.com", 80));
    assert_true(m("example.com", "api.example.com", 80));
    assert_true(m(".example.com", "api.example.com", 80));
    assert_false(m(".example.com", "example.com", 80)); /* Go: subdomains only */
    assert_true(m("*.example.com", "api.example.com", 80));
    assert_false(m("example.com", "badexample.com", 80));
    assert_true(m("LOCALHOST", "localhost", 80));
}

static void localhost_entry_does_not_cover_loopback_addresses(void **state)
{
    /* The classic trap (axios #2667): NO_PROXY=localhost, client uses 127.0.0.1. */
    assert_false(m("localhost", "127.0.0.1", 8080));
    assert_false(m("localhost", "::1", 8080));
}

static void ip_entries_match_exactly_with_or_without_brackets(void **state)
{
    assert_true(m("127.0.0.1", "127.0.0.1", 80));
    assert_false(m("127.0.0.1", "127.0.0.2", 80));
    assert_true(m("::1", "::1", 80));
    assert_true(m("[::1]", "::1", 80));
    assert_true(m("0:0::1", "::1", 80));
}

static void cidr_blocks(void **state)
{
    assert_true(m("127.0.0.0/8", "127.4.5.6", 80));
    assert_false(m("10.0.0.0/8", "127.0.0.1", 80));
    assert_true(m("::1/128", "::1", 80));
    assert_false(m("127.0.0.0/8", "::1", 80));
    assert_false(m("127.0.0.0/33", "127.0.0.1", 80));
}

static void entries_with_ports_match_that_port_only(void **state)
{
    assert_true(m("localhost:8080", "localhost", 8080));
    assert_false(m("localhost:8080", "localhost", 9090));
    assert_true(m("[::1]:8080", "::1", 8080));
}

static void curl_rules(void **state)
{
    const pt_dr_np_family f = PT_DR_NP_CURL;
    assert_true(mf(f, "*", "anything.test", 80));
    assert_false(mf(f, "example.com, *", "127.0.0.1", 80)); /* "*" only as the whole value */
    assert_true(mf(f, ".example.com", "example.com", 80)); /* the leading dot is dropped */
    assert_true(mf(f, "example.com", "api.example.com", 80));
    assert_false(mf(f, "*.example.com", "api.example.com", 80)); /* no "*." wildcard */
    assert_false(mf(f, "localhost:8080", "localhost", 8080)); /* no ports */
    assert_true(mf(f, "127.0.0.0/8", "127.0.0.1", 80));
    assert_true(mf(f, "a.test 127.0.0.1", "127.0.0.1", 80)); /* spaces separate too */
    assert_true(mf(f, "::1", "::1", 80));
}

static void python_rules(void **state)
{
    const pt_dr_np_family f = PT_DR_NP_PYTHON;
    assert_false(mf(f, "a.test, *", "127.0.0.1", 80));
    assert_true(mf(f, ".example.com", "example.com", 80));
    assert_true(mf(f, "example.com", "api.example.com", 80));
    assert_false(mf(f, "*.example.com", "api.example.com", 80));
    assert_true(mf(f, "localhost:8080", "localhost", 8080)); /* matched against host:port */
    assert_false(mf(f, "localhost:8080", "localhost", 9090));
    assert_true(mf(f, "127.0.0.0/8", "127.0.0.1", 80));   /* requests, IPv4 only */
    assert_false(mf(f, "::1/128", "::1", 80));
    assert_false(mf(f, "::1", "::1", 80));                /* the host is "[::1]" */
    assert_true(mf(f, "[::1]", "::1", 80));
    assert_false(mf(f, "a.test 127.0.0.1", "127.0.0.1", 80)); /* commas only: one entry */
}

static void node_rules(void **state)
{
    const pt_dr_np_family f = PT_DR_NP_NODE;
    assert_true(mf(f, "*", "anything.test", 80));
    assert_false(mf(f, "a.test,*", "127.0.0.1", 80));
    assert_false(mf(f, "example.com", "api.example.com", 80)); /* exact only */
    assert_true(mf(f, "example.com", "example.com", 80));
    assert_true(mf(f, ".example.com", "api.example.com", 80));
    assert_true(mf(f, "*.example.com", "api.example.com", 80));
    assert_true(mf(f, "localhost:8080", "localhost", 8080));
    assert_false(mf(f, "localhost:8080", "localhost", 9090));
    assert_false(mf(f, "127.0.0.0/8", "127.0.0.1", 80));    /* no CIDR */
    assert_true(mf(f, "127.0.0.1", "127.0.0.1", 80));
    assert_false(mf(f, "::1", "::1", 8080));                /* read as host ":" port 1 */
    assert_true(mf(f, "[::1]", "::1", 8080));
}

static void go_rules(void **state)
{
    const pt_dr_np_family f = PT_DR_NP_GO;
    assert_true(mf(f, "a.test,*", "127.0.0.1", 80)); /* "*" anywhere */
    assert_false(mf(f, "a.test 127.0.0.1", "127.0.0.1", 80)); /* commas only */
    assert_true(mf(f, "a.test, 127.0.0.1", "127.0.0.1", 80));
}

static void reports_the_entry_that_matched(void **state)
{
    char entry[64] = "";
    assert_true(pt__dr_noproxy_match(PT_DR_NP_GO, " corp.test ,127.0.0.0/8", "127.0.0.1", 80, entry, sizeof entry));
    assert_string_equal(entry, "127.0.0.0/8");
}

static void empty_or_missing_list_matches_nothing(void **state)
{
    assert_false(m("", "localhost", 80));
    assert_false(m(NULL, "localhost", 80));
    assert_false(m(" , ,", "localhost", 80));
}

static void credentials_are_masked(void **state)
{
    char out[128];
    pt__dr_proxy_mask("http://alice:s3cret@proxy.corp:3128/", out, sizeof out);
    assert_string_equal(out, "http://***@proxy.corp:3128/");
    pt__dr_proxy_mask("bob:pw@10.0.0.1:8080", out, sizeof out);
    assert_string_equal(out, "***@10.0.0.1:8080");
    pt__dr_proxy_mask("http://proxy:3128", out, sizeof out);
    assert_string_equal(out, "http://proxy:3128");
    pt__dr_proxy_mask("http://a@b:c@proxy:1/x@y", out, sizeof out);
    assert_null(strstr(out, "a@b"));
    assert_string_equal(out, "http://***@proxy:1/x@y");
}

static void proxy_host_and_port(void **state)
{
    char host[64];
    long port;
    assert_int_equal(pt__dr_proxy_hostport("http://u:p@127.0.0.1:9/", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9);
    assert_int_equal(pt__dr_proxy_hostport("socks5://[::1]:1080", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(pt__dr_proxy_hostport("proxy.corp", host, sizeof host, &port), 0);
    assert_string_equal(host, "proxy.corp");
    assert_int_equal(port, 1080);
    assert_int_equal(pt__dr_proxy_hostport("http://proxy:99999", host, sizeof host, &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(star_matches_everything),
        cmocka_unit_test(name_matches_itself_and_subdomains_only),
        cmocka_unit_test(localhost_entry_does_not_cover_loopback_addresses),
        cmocka_unit_test(ip_entries_match_exactly_with_or_without_brackets),
        cmocka_unit_test(cidr_blocks),
        cmocka_unit_test(entries_with_ports_match_that_port_only),
        cmocka_unit_test(curl_rules),
        cmocka_unit_test(python_rules),
        cmocka_unit_test(node_rules),
        cmocka_unit_test(go_rules),
        cmocka_unit_test(reports_the_entry_that_matched),
        cmocka_unit_test(empty_or_missing_list_matches_nothing),
        cmocka_unit_test(credentials_are_masked),
        cmocka_unit_test(proxy_host_and_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
