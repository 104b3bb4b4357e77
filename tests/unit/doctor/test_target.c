/* Unit tests for doctor/doctor.c target parsing: host:port forms, URLs, IPv6 brackets,
 * out-of-range ports kept for the port check, --listen forms, and the usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor/doctor.h"

static pt_dr_target parse_ok(const char *text, bool listen)
{
    pt_dr_target t;
    char err[160] = "";
    int rc = pt_dr_target_parse(text, listen, &t, err, sizeof err);
    if (rc != 0) fail_msg("'%s' did not parse: %s", text, err);
    return t;
}

static void bare_port_means_localhost(void **state)
{
    pt_dr_target t = parse_ok("8080", false);
    assert_int_equal(t.mode, PT_DR_MODE_CONNECT);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 8080);
    assert_true(t.port_explicit);
    assert_string_equal(t.port_text, "8080");
    pt_dr_target_release(&t);
}

static void colon_port_means_localhost(void **state)
{
    pt_dr_target t = parse_ok(":3000", false);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 3000);
    pt_dr_target_release(&t);
}

static void host_and_port(void **state)
{
    pt_dr_target t = parse_ok("db.internal:5432", false);
    assert_string_equal(t.host, "db.internal");
    assert_int_equal(t.port, 5432);
    assert_null(t.scheme);
    assert_null(t.path);
    pt_dr_target_release(&t);
}

static void bracketed_ipv6_loses_brackets(void **state)
{
    pt_dr_target t = parse_ok("[::1]:8081", false);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 8081);
    pt_dr_target_release(&t);
}

static void out_of_range_port_is_kept_for_the_port_check(void **state)
{
    pt_dr_target t = parse_ok("localhost:619009", false);
    assert_int_equal(t.port, 619009);
    assert_string_equal(t.port_text, "619009");
    pt_dr_target_release(&t);
}

static void huge_port_is_capped_not_overflowed(void **state)
{
    pt_dr_target t = parse_ok(":99999999999999999999", false);
    assert_true(t.port > 65535);
    assert_string_equal(t.port_text, "99999999999999999999");
    pt_dr_target_release(&t);
}

static void http_url_gets_default_port_and_path(void **state)
{
    pt_dr_target t = parse_ok("http://localhost/health", false);
    assert_int_equal(t.mode, PT_DR_MODE_HTTP);
    assert_string_equal(t.scheme, "http");
    assert_int_equal(t.port, 80);
    assert_false(t.port_explicit);
    assert_null(t.port_text);
    assert_string_equal(t.path, "/health");
    assert_false(t.tls);
    pt_dr_target_release(&t);
}

static void https_url_with_port_query_and_credentials(void **state)
{
    pt_dr_target t = parse_ok("https://user:pw@[::1]:8443?x=1#frag", false);
    assert_true(t.tls);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 8443);
    assert_string_equal(t.path, "/?x=1");
    assert_string_equal(t.input, "https://***@[::1]:8443?x=1#frag"); /* printed: never the password */
    pt_dr_target_release(&t);
}

static void mcp_urls_are_mcp_mode(void **state)
{
    pt_dr_target t = parse_ok("mcp+http://127.0.0.1:3001/mcp", false);
    assert_int_equal(t.mode, PT_DR_MODE_MCP);
    assert_string_equal(t.scheme, "mcp+http");
    assert_string_equal(t.path, "/mcp");
    pt_dr_target_release(&t);
    t = parse_ok("MCP+HTTPS://example.test/mcp", false);
    assert_true(t.tls);
    assert_int_equal(t.port, 443);
    assert_string_equal(t.scheme, "mcp+https");
    pt_dr_target_release(&t);
}

static void listen_forms(void **state)
{
    pt_dr_target t = parse_ok("8080", true);
    assert_int_equal(t.mode, PT_DR_MODE_LISTEN);
    assert_null(t.host);
    pt_dr_target_release(&t);
    t = parse_ok("127.0.0.1:80", true);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 80);
    pt_dr_target_release(&t);
    t = parse_ok("*:9000", true);
    assert_null(t.host);
    pt_dr_target_release(&t);
}

static void parse_fails(const char *text, bool listen, const char *reason_part)
{
    pt_dr_target t;
    char err[160] = "";
    assert_int_equal(pt_dr_target_parse(text, listen, &t, err, sizeof err), -1);
    if (!strstr(err, reason_part)) fail_msg("'%s': error '%s' lacks '%s'", text, err, reason_part);
    assert_null(t.input);
}

static void bad_targets_say_why(void **state)
{
    parse_fails("localhost", false, "needs a port");
    parse_fails("localhost:abc", false, "not a number");
    parse_fails("localhost:", false, "empty");
    parse_fails("::1:8080", false, "brackets");
    parse_fails("[::1", false, "']'");
    parse_fails("ftp://host:21", false, "unsupported URL scheme");
    parse_fails("http://ho st:80/", false, "host name");
    parse_fails("http://localhost:8o/", false, "not a number");
    parse_fails("http://x:1/", true, "not a URL");
    parse_fails("", false, "empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bare_port_means_localhost),
        cmocka_unit_test(colon_port_means_localhost),
        cmocka_unit_test(host_and_port),
        cmocka_unit_test(bracketed_ipv6_loses_brackets),
        cmocka_unit_test(out_of_range_port_is_kept_for_the_port_check),
        cmocka_unit_test(huge_port_is_capped_not_overflowed),
        cmocka_unit_test(http_url_gets_default_port_and_path),
        cmocka_unit_test(https_url_with_port_query_and_credentials),
        cmocka_unit_test(mcp_urls_are_mcp_mode),
        cmocka_unit_test(listen_forms),
        cmocka_unit_test(bad_targets_say_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
