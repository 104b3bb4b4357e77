/* Unit tests for http/request.c: the authority check that stands between a Host header
 * (or an absolute-form target) and routing and X-Forwarded-Host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/request.h"

static pt_authority_err parse(const char *in, pt_authority *a) { return pt_authority_parse(pt_slice_cstr(in), a); }

static void accepts(const char *in, const char *host, int port, bool ipv6)
{
    pt_authority a;
    pt_authority_err e = parse(in, &a);
    if (e) print_error("'%s' refused: %s\n", in, pt_authority_strerror(e));
    assert_int_equal(e, PT_AUTH_OK);
    if (a.host.len != strlen(host) || memcmp(a.host.ptr, host, a.host.len) != 0)
        print_error("'%s': host '%.*s', want '%s'\n", in, (int)a.host.len, a.host.ptr, host);
    assert_true(pt_slice_eq_cstr(a.host, host));
    assert_int_equal(a.port, port);
    assert_int_equal(a.ipv6, ipv6);
}

static void refuses(const char *in, pt_authority_err want)
{
    pt_authority a;
    pt_authority_err e = parse(in, &a);
    if (e != want) print_error("'%s': got %d (%s), want %d\n", in, e, pt_authority_strerror(e), want);
    assert_int_equal(e, want);
}

static void names_and_ports_are_split(void **s)
{
    accepts("example.com", "example.com", -1, false);
    accepts("Example.COM:8080", "Example.COM", 8080, false);
    accepts("a-b_c~d.example", "a-b_c~d.example", -1, false);
    accepts("127.0.0.1:1", "127.0.0.1", 1, false);
    accepts("h:65535", "h", 65535, false);
    accepts("h:", "h", -1, false);                 /* RFC 3986: port = *DIGIT */
    accepts("example.com.", "example.com", -1, false); /* the root's dot names the same host */
    accepts("example.com.:443", "example.com", 443, false);
}

static void ipv6_literals_need_brackets(void **s)
{
    accepts("[::1]", "::1", -1, true);
    accepts("[2001:db8::7]:8443", "2001:db8::7", 8443, true);
    accepts("[::ffff:10.0.0.1]", "::ffff:10.0.0.1", -1, true);
    refuses("::1", PT_AUTH_EMPTY_HOST);
    refuses("2001:db8::7", PT_AUTH_BAD_PORT);
    refuses("[::1", PT_AUTH_BAD_IP_LITERAL);
    refuses("[]", PT_AUTH_BAD_IP_LITERAL);
    refuses("[not-an-address]", PT_AUTH_BAD_IP_LITERAL);
    refuses("[v1.future]", PT_AUTH_BAD_IP_LITERAL);
    refuses("[fe80::1%25eth0]", PT_AUTH_BAD_IP_LITERAL);
    refuses("[::1]x", PT_AUTH_BAD_CHAR);
    pt_authority a; /* found by fuzzing: a NUL cut the address short for inet_pton */
    static const char nul[] = "[::ffff:10\0\0.0.1]";
    assert_int_equal(pt_authority_parse(pt_slice_from(nul, sizeof nul - 1), &a), PT_AUTH_BAD_IP_LITERAL);
    refuses("[::1]:0", PT_AUTH_BAD_PORT);
}

static void empty_input_names_no_host(void **s)
{
    pt_authority a;
    assert_int_equal(parse("", &a), PT_AUTH_OK);
    assert_int_equal(a.host.len, 0);
    assert_int_equal(a.port, -1);
    refuses(":80", PT_AUTH_EMPTY_HOST);
    refuses(":", PT_AUTH_EMPTY_HOST);
}

static void userinfo_is_refused(void **s)
{
    refuses("a.example:pw@b.example", PT_AUTH_USERINFO);
    refuses("user@b.example", PT_AUTH_USERINFO);
    refuses("user@b.example:80", PT_AUTH_USERINFO);
    refuses("@b.example", PT_AUTH_USERINFO);
    refuses("a b@c", PT_AUTH_USERINFO);
    refuses("user@[::1]", PT_AUTH_USERINFO);
}

static void characters_outside_a_host_name_are_refused(void **s)
{
    static const struct {
        const char *in;
        unsigned char bad;
    } cases[] = {
        { "evil.example/x?y", '/' }, { "good.example, evil.example", ',' }, { "a,b", ',' },
        { "a;b", ';' },              { "a b", ' ' },                        { "a\tb", '\t' },
        { "a%2fb", '%' },            { "a?b", '?' },                         { "a#b", '#' },
        { "a\\b", '\\' },            { "\xc3\xa9.example", 0xc3 },           { "a\"b", '"' },
        { "a!b", '!' },              { "a*", '*' },                          { "a\x7f", 0x7f },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pt_authority a;
        pt_authority_err e = parse(cases[i].in, &a);
        if (e != PT_AUTH_BAD_CHAR || a.bad != cases[i].bad)
            print_error("'%s': got %d bad 0x%02x\n", cases[i].in, e, a.bad);
        assert_int_equal(e, PT_AUTH_BAD_CHAR);
        assert_int_equal(a.bad, cases[i].bad);
    }
}

static void empty_labels_are_refused(void **s)
{
    refuses(".", PT_AUTH_EMPTY_LABEL);
    refuses(".example.com", PT_AUTH_EMPTY_LABEL);
    refuses("a..b", PT_AUTH_EMPTY_LABEL);
    refuses("a..", PT_AUTH_EMPTY_LABEL);
    refuses("..:80", PT_AUTH_EMPTY_LABEL);
}

static void ports_are_digits_in_range(void **s)
{
    refuses("h:0", PT_AUTH_BAD_PORT);
    refuses("h:65536", PT_AUTH_BAD_PORT);
    refuses("h:99999", PT_AUTH_BAD_PORT);
    refuses("h:123456", PT_AUTH_BAD_PORT);
    refuses("h:+80", PT_AUTH_BAD_PORT);
    refuses("h:80a", PT_AUTH_BAD_PORT);
    refuses("h:8 0", PT_AUTH_BAD_PORT);
    refuses("h:80:81", PT_AUTH_BAD_PORT);
    refuses("h:-1", PT_AUTH_BAD_PORT);
}

static void long_hosts_are_refused(void **s)
{
    char in[300];
    memset(in, 'a', 255);
    in[255] = '\0';
    accepts(in, in, -1, false);
    memset(in, 'a', 256);
    in[256] = '\0';
    refuses(in, PT_AUTH_TOO_LONG);
}

/* The input is a slice: bytes after its end (a NUL or anything) are never read. */
static void reads_only_its_slice(void **s)
{
    const char buf[] = "example.com:80/evil";
    pt_authority a;
    assert_int_equal(pt_authority_parse(pt_slice_from(buf, 14), &a), PT_AUTH_OK);
    assert_int_equal(a.port, 80);
    assert_int_equal(pt_authority_parse(pt_slice_from(buf, 11), &a), PT_AUTH_OK);
    assert_int_equal(a.port, -1);
    const char v6[] = "[::1]]";
    assert_int_equal(pt_authority_parse(pt_slice_from(v6, 4), &a), PT_AUTH_BAD_IP_LITERAL);
}

static void every_error_has_a_message_citing_a_rule(void **s)
{
    for (int e = PT_AUTH_EMPTY_HOST; e <= PT_AUTH_TOO_LONG; e++)
        assert_non_null(strstr(pt_authority_strerror((pt_authority_err)e), "RFC "));
}

static void list_tokens_are_found_case_insensitively(void **state)
{
    assert_true(pt_list_has(pt_slice_cstr("keep-alive, Upgrade"), pt_slice_cstr("upgrade")));
    assert_true(pt_list_has(pt_slice_cstr("UPGRADE"), pt_slice_cstr("upgrade")));
    assert_true(pt_list_has(pt_slice_cstr(" a ,\tb\t, c"), pt_slice_cstr("b")));
    assert_false(pt_list_has(pt_slice_cstr("upgrades, x-upgrade"), pt_slice_cstr("upgrade")));
    assert_false(pt_list_has(pt_slice_cstr(""), pt_slice_cstr("upgrade")));
    assert_false(pt_list_has(PT_SLICE_NULL, pt_slice_cstr("upgrade")));
    /* only the slice is read, never past it */
    assert_false(pt_list_has(pt_slice_from("close, upgrade", 5), pt_slice_cstr("upgrade")));
}

static void upgrade_tunnels_anything_but_h2c(void **state)
{
    assert_true(pt_upgrade_tunnels(pt_slice_cstr("websocket")));
    assert_true(pt_upgrade_tunnels(pt_slice_cstr("WebSocket")));
    assert_true(pt_upgrade_tunnels(pt_slice_cstr("h2c, websocket")));
    assert_true(pt_upgrade_tunnels(pt_slice_cstr("foo/2")));
    assert_false(pt_upgrade_tunnels(pt_slice_cstr("h2c")));
    assert_false(pt_upgrade_tunnels(pt_slice_cstr("H2C , h2c")));
    assert_false(pt_upgrade_tunnels(pt_slice_cstr("")));
    assert_false(pt_upgrade_tunnels(pt_slice_cstr(" , ")));
    assert_false(pt_upgrade_tunnels(PT_SLICE_NULL));
}

/* RFC 9110 §7.8: a 101 switches only to what the request offered. */
static void upgrade_chosen_only_from_the_offer(void **state)
{
    (void)state;
    pt_slice ws = pt_slice_cstr("websocket");
    assert_true(pt_upgrade_chosen(ws, pt_slice_cstr("websocket")));
    assert_true(pt_upgrade_chosen(ws, pt_slice_cstr("WebSocket")));
    assert_true(pt_upgrade_chosen(pt_slice_cstr("h2c, foo/2, websocket"), pt_slice_cstr("foo/2")));
    assert_true(pt_upgrade_chosen(pt_slice_cstr("foo"), pt_slice_cstr("foo/3")));
    assert_true(pt_upgrade_chosen(pt_slice_cstr("foo/2"), pt_slice_cstr("foo")));
    assert_false(pt_upgrade_chosen(pt_slice_cstr("foo/2"), pt_slice_cstr("foo/3")));
    assert_false(pt_upgrade_chosen(ws, pt_slice_cstr("websocketx")));
    assert_false(pt_upgrade_chosen(ws, pt_slice_cstr("irc")));
    assert_false(pt_upgrade_chosen(ws, pt_slice_cstr("websocket, irc")));
    assert_false(pt_upgrade_chosen(pt_slice_cstr("h2c, websocket"), pt_slice_cstr("h2c")));
    assert_false(pt_upgrade_chosen(ws, pt_slice_cstr("")));
    assert_false(pt_upgrade_chosen(ws, PT_SLICE_NULL));
    assert_false(pt_upgrade_chosen(PT_SLICE_NULL, ws));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_ports_are_split),
        cmocka_unit_test(ipv6_literals_need_brackets),
        cmocka_unit_test(empty_input_names_no_host),
        cmocka_unit_test(userinfo_is_refused),
        cmocka_unit_test(characters_outside_a_host_name_are_refused),
        cmocka_unit_test(empty_labels_are_refused),
        cmocka_unit_test(ports_are_digits_in_range),
        cmocka_unit_test(long_hosts_are_refused),
        cmocka_unit_test(reads_only_its_slice),
        cmocka_unit_test(every_error_has_a_message_citing_a_rule),
        cmocka_unit_test(list_tokens_are_found_case_insensitively),
        cmocka_unit_test(upgrade_tunnels_anything_but_h2c),
        cmocka_unit_test(upgrade_chosen_only_from_the_offer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
