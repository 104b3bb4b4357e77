/* Unit tests for doctor/probe_fp.c: protocol fingerprints from the first bytes a server sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor/probe_fp.h"

static pt_dr_fp classify(const char *bytes, size_t n, pt_dr_probe_kind probe)
{
    pt_dr_fp fp;
    pt__dr_fp_classify(pt_slice_from(bytes, n), probe, &fp);
    return fp;
}
#define CLASSIFY(lit, probe) classify((lit), sizeof(lit) - 1, (probe))

static void ssh_banner_is_ssh_with_version(void **state)
{
    pt_dr_fp fp = CLASSIFY("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", PT_DR_PROBE_PASSIVE);
    assert_int_equal(fp.kind, PT_DR_FP_SSH);
    assert_string_equal(fp.detail, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    assert_string_equal(pt__dr_fp_name(fp.kind), "ssh");
}

static void smtp_greeting_is_smtp(void **state)
{
    pt_dr_fp fp = CLASSIFY("220 mail.example ESMTP Postfix\r\n", PT_DR_PROBE_PASSIVE);
    assert_int_equal(fp.kind, PT_DR_FP_SMTP);
    assert_string_equal(fp.detail, "220 mail.example ESMTP Postfix");
}

static void http_status_line_gives_code_and_server(void **state)
{
    pt_dr_fp fp = CLASSIFY("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nserver: nginx/1.22.1\r\n\r\n",
                           PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_HTTP1);
    assert_int_equal(fp.http_status, 404);
    assert_false(fp.https_hint);
    assert_string_equal(fp.detail, "HTTP/1.1 404 Not Found (Server: nginx/1.22.1)");
}

static void nginx_plain_http_to_https_port_sets_hint(void **state)
{
    pt_dr_fp fp = CLASSIFY("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n<html><center>The plain HTTP request "
                           "was sent to HTTPS port</center></html>", PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_HTTP1);
    assert_int_equal(fp.http_status, 400);
    assert_true(fp.https_hint);
}

static void mongodb_driver_port_is_named_although_it_answers_http(void **state)
{
    pt_dr_fp fp = CLASSIFY("HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 84\r\n\r\n"
                           "It looks like you are trying to access MongoDB over HTTP on the native driver port.\r\n",
                           PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_MONGODB);
    assert_int_equal(fp.http_status, 0);
    assert_string_equal(pt__dr_fp_name(fp.kind), "mongodb");
    assert_int_equal(pt__dr_fp_kind_of("mongodb"), PT_DR_FP_MONGODB);
}

static void go_http_to_https_server_sets_hint(void **state)
{
    pt_dr_fp fp = CLASSIFY("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                           PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_HTTP1);
    assert_true(fp.https_hint);
}

static void truncated_status_line_is_not_http(void **state)
{
    pt_dr_fp fp = CLASSIFY("HTTP/1.1 2", PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_UNKNOWN);
}

/* Python's http.server answers a request line it cannot parse with a bare HTML error page. */
static void html_error_page_without_status_line_is_http(void **state)
{
    static const char page[] = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title></head>"
                               "<body><p>Error code: 400</p></body></html>\n";
    pt_dr_fp fp = CLASSIFY(page, PT_DR_PROBE_TLS);
    assert_int_equal(fp.kind, PT_DR_FP_HTTP1);
    assert_non_null(strstr(fp.detail, "error page"));
    /* the same page sent unasked, or a page that is no error, is not taken for HTTP */
    assert_int_equal(CLASSIFY(page, PT_DR_PROBE_PASSIVE).kind, PT_DR_FP_UNKNOWN);
    assert_int_equal(CLASSIFY("<html><body>welcome</body></html>", PT_DR_PROBE_TLS).kind, PT_DR_FP_UNKNOWN);
}

static void server_hello_is_tls(void **state)
{
    pt_dr_fp fp = CLASSIFY("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", PT_DR_PROBE_TLS);
    assert_int_equal(fp.kind, PT_DR_FP_TLS);
    assert_false(fp.tls_alert);
    assert_string_equal(fp.detail, "a TLS ServerHello");
}

static void tls_alert_names_its_description(void **state)
{
    pt_dr_fp fp = CLASSIFY("\x15\x03\x03\x00\x02\x02\x28", PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_TLS);
    assert_true(fp.tls_alert);
    assert_int_equal(fp.tls_alert_desc, 40);
    assert_string_equal(fp.detail, "a TLS alert (handshake_failure)");
}

static void record_with_unknown_version_is_not_tls(void **state)
{
    pt_dr_fp fp = CLASSIFY("\x16\x03\x09\x00\x02\x02\x28", PT_DR_PROBE_TLS);
    assert_int_not_equal(fp.kind, PT_DR_FP_TLS);
}

static void h2_settings_frame_is_h2c(void **state)
{
    /* What Node's http2.createServer sends on accept: SETTINGS with two settings. */
    pt_dr_fp fp = CLASSIFY("\x00\x00\x0c\x04\x00\x00\x00\x00\x00"
                           "\x00\x03\x00\x00\x00\x64\x00\x04\x00\x00\xff\xff", PT_DR_PROBE_PASSIVE);
    assert_int_equal(fp.kind, PT_DR_FP_H2C);
    assert_string_equal(fp.detail, "an HTTP/2 SETTINGS frame (no TLS)");
}

static void h2_frame_on_a_stream_is_not_settings(void **state)
{
    pt_dr_fp fp = CLASSIFY("\x00\x00\x00\x04\x00\x00\x00\x00\x01", PT_DR_PROBE_PASSIVE);
    assert_int_equal(fp.kind, PT_DR_FP_UNKNOWN);
}

static void mysql_greeting_gives_version(void **state)
{
    pt_dr_fp fp = CLASSIFY("\x4a\x00\x00\x00\x0a" "8.0.36-0ubuntu0.22.04.1\x00\x08\x00\x00\x00", PT_DR_PROBE_PASSIVE);
    assert_int_equal(fp.kind, PT_DR_FP_MYSQL);
    assert_string_equal(fp.detail, "MySQL/MariaDB greeting, version 8.0.36-0ubuntu0.22.04.1");
}

static void redis_answers_ping_and_http(void **state)
{
    assert_int_equal(CLASSIFY("+PONG\r\n", PT_DR_PROBE_REDIS).kind, PT_DR_FP_REDIS);
    assert_int_equal(CLASSIFY("-NOAUTH Authentication required.\r\n", PT_DR_PROBE_REDIS).kind, PT_DR_FP_REDIS);
    pt_dr_fp fp = CLASSIFY("-ERR unknown command 'GET', with args beginning with: '/' 'HTTP/1.1' \r\n",
                           PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_REDIS);
    /* The same bytes with no probe sent prove nothing about Redis. */
    assert_int_equal(CLASSIFY("+PONG\r\n", PT_DR_PROBE_PASSIVE).kind, PT_DR_FP_UNKNOWN);
}

static void postgres_sslrequest_answer_needs_the_probe(void **state)
{
    pt_dr_fp fp = CLASSIFY("N", PT_DR_PROBE_PG);
    assert_int_equal(fp.kind, PT_DR_FP_POSTGRES);
    assert_string_equal(fp.detail, "PostgreSQL (SSLRequest answered 'N': TLS not offered)");
    assert_int_equal(CLASSIFY("S", PT_DR_PROBE_PG).kind, PT_DR_FP_POSTGRES);
    assert_int_equal(CLASSIFY("S", PT_DR_PROBE_HTTP).kind, PT_DR_FP_UNKNOWN);
}

static void no_bytes_is_none(void **state)
{
    pt_dr_fp fp;
    pt__dr_fp_classify(PT_SLICE_NULL, PT_DR_PROBE_HTTP, &fp);
    assert_int_equal(fp.kind, PT_DR_FP_NONE);
}

static void unknown_bytes_are_shown_escaped(void **state)
{
    pt_dr_fp fp = CLASSIFY("\x01\x02hello\r\n", PT_DR_PROBE_HTTP);
    assert_int_equal(fp.kind, PT_DR_FP_UNKNOWN);
    assert_string_equal(fp.detail, "\\x01\\x02hello\\r\\n");
}

static void printable_stops_at_whole_escapes(void **state)
{
    char out[8];
    pt__dr_fp_printable(PT_SLICE_LIT("ab\x00\x00\x00"), out, sizeof out);
    /* "ab" + "\x00" fits (6 chars); the next escape would not, so it stops there. */
    assert_string_equal(out, "ab\\x00");
}

static void fact_names_map_back_to_kinds(void **state)
{
    for (int k = PT_DR_FP_NONE; k <= PT_DR_FP_VNC; k++)
        assert_int_equal(pt__dr_fp_kind_of(pt__dr_fp_name((pt_dr_fp_kind)k)), k);
    assert_int_equal(pt__dr_fp_kind_of("gopher"), PT_DR_FP_UNKNOWN);
    assert_int_equal(pt__dr_fp_kind_of(NULL), PT_DR_FP_UNKNOWN);
}

static void payloads_have_their_wire_form(void **state)
{
    assert_int_equal(pt__dr_h2c_preface.len, 33);
    assert_memory_equal(pt__dr_h2c_preface.ptr, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    assert_int_equal(pt__dr_h2c_preface.ptr[27], 0x04); /* SETTINGS frame type */
    assert_int_equal(pt__dr_pg_sslrequest.len, 8);
    assert_memory_equal(pt__dr_pg_sslrequest.ptr, "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ssh_banner_is_ssh_with_version),
        cmocka_unit_test(smtp_greeting_is_smtp),
        cmocka_unit_test(http_status_line_gives_code_and_server),
        cmocka_unit_test(nginx_plain_http_to_https_port_sets_hint),
        cmocka_unit_test(go_http_to_https_server_sets_hint),
        cmocka_unit_test(mongodb_driver_port_is_named_although_it_answers_http),
        cmocka_unit_test(truncated_status_line_is_not_http),
        cmocka_unit_test(html_error_page_without_status_line_is_http),
        cmocka_unit_test(server_hello_is_tls),
        cmocka_unit_test(tls_alert_names_its_description),
        cmocka_unit_test(record_with_unknown_version_is_not_tls),
        cmocka_unit_test(h2_settings_frame_is_h2c),
        cmocka_unit_test(h2_frame_on_a_stream_is_not_settings),
        cmocka_unit_test(mysql_greeting_gives_version),
        cmocka_unit_test(redis_answers_ping_and_http),
        cmocka_unit_test(postgres_sslrequest_answer_needs_the_probe),
        cmocka_unit_test(no_bytes_is_none),
        cmocka_unit_test(unknown_bytes_are_shown_escaped),
        cmocka_unit_test(printable_stops_at_whole_escapes),
        cmocka_unit_test(fact_names_map_back_to_kinds),
        cmocka_unit_test(payloads_have_their_wire_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
