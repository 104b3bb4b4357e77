/* Unit tests for http/grpc.c: which content types are gRPC's, the gRPC status each gateway
 * outcome is told as, grpc-message's percent-encoding, grpc-status values
 * and grpc-timeout read, written and passed on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/grpc.h"

static bool ct(const char *s) { return pt_grpc_content_type(pt_slice_cstr(s)); }

static void grpc_content_types_with_codecs_and_parameters(void **s)
{
    assert_true(ct("application/grpc"));
    assert_true(ct("application/grpc+proto"));
    assert_true(ct("application/grpc+json"));
    assert_true(ct("Application/GRPC;charset=utf-8"));
    assert_false(ct("application/grpc-web"));
    assert_false(ct("application/grpcx"));
    assert_false(ct("application/json"));
    assert_false(ct("application/grp"));
    assert_false(ct(""));
}

static void gateway_failures_have_the_status_their_meaning_says(void **s)
{
    assert_int_equal(pt_grpc_status_of(PT_OUT_OK), PT_GRPC_OK);
    assert_int_equal(pt_grpc_status_of(PT_OUT_UPSTREAM_UNAVAILABLE), PT_GRPC_UNAVAILABLE);
    assert_int_equal(pt_grpc_status_of(PT_OUT_UPSTREAM_ERROR), PT_GRPC_UNAVAILABLE);
    assert_int_equal(pt_grpc_status_of(PT_OUT_UPSTREAM_ABORTED), PT_GRPC_UNAVAILABLE);
    assert_int_equal(pt_grpc_status_of(PT_OUT_UPSTREAM_TIMEOUT), PT_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_UPSTREAM_PROTOCOL), PT_GRPC_UNIMPLEMENTED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_KEY_MISSING), PT_GRPC_UNAUTHENTICATED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_NOT_SUBSCRIBED), PT_GRPC_PERMISSION_DENIED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_RATE_LIMITED), PT_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_BODY_TOO_LARGE), PT_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_ROUTE_NOT_FOUND), PT_GRPC_UNIMPLEMENTED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_BODY_TIMEOUT), PT_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_BAD_REQUEST), PT_GRPC_INTERNAL);
    assert_int_equal(pt_grpc_status_of(PT_OUT_REQUEST_INVALID), PT_GRPC_INVALID_ARGUMENT);
    assert_int_equal(pt_grpc_status_of(PT_OUT_OUT_OF_MEMORY), PT_GRPC_INTERNAL);
    assert_int_equal(pt_grpc_status_of(PT_OUT_CLIENT_CLOSED), PT_GRPC_CANCELLED);
    assert_int_equal(pt_grpc_status_of(PT_OUT_DRAIN_DEADLINE), PT_GRPC_UNAVAILABLE);
    /* every row maps to a status gRPC defines (0..16) */
    for (int o = 0; o < PT_OUTCOME_COUNT; o++) {
        int st = pt_grpc_status_of((pt_outcome)o);
        assert_true(st >= 0 && st <= 16);
    }
}

static void messages_are_percent_encoded_outside_printable_ascii(void **s)
{
    pt_buf b = PT_BUF_INIT;
    const char msg[] = "not now: 100% é\n\x01~";
    assert_int_equal(pt_grpc_message_encode(&b, msg, sizeof msg - 1), 0);
    assert_string_equal(b.data, "not now: 100%25 %C3%A9%0A%01~");
    pt_buf_reset(&b);
    assert_int_equal(pt_grpc_message_encode(&b, "", 0), 0);
    assert_int_equal(b.len, 0);
    pt_buf_release(&b);
}

static void grpc_status_values(void **s)
{
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT("0")), 0);
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT(" 14 ")), 14);
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT("16")), 16);
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT("")), -1);
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT("1a")), -1);
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT("-1")), -1);
    assert_int_equal(pt_grpc_status_parse(PT_SLICE_LIT("100")), -1);
}

/* grpc-timeout: digits then a unit, in milliseconds rounded up; anything else is none. */
static void grpc_timeout_values(void **s)
{
    (void)s;
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("300m")), 300);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("2S")), 2000);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("1M")), 60000);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("1H")), 3600000);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("1500u")), 2);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("1n")), 1);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("0m")), 0);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("99999999S")), 99999999000LL);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("123456789S")), -1); /* 9 digits */
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("m")), -1);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("10")), -1);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("10x")), -1);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("-1S")), -1);
    assert_int_equal(pt_grpc_timeout_ms(PT_SLICE_LIT("1 S")), -1);
}

static const char *enc(uint64_t ms)
{
    static char out[PT_GRPC_TIMEOUT_SIZE];
    size_t n = pt_grpc_timeout_encode(out, ms);
    assert_int_equal(n, strlen(out));
    return out;
}

/* Encoded in milliseconds while 8 digits hold them, then the next unit that does, rounded
 * down: the upstream is never given more time than is left. */
static void grpc_timeout_encoding_picks_a_unit_that_fits(void **s)
{
    (void)s;
    assert_string_equal(enc(1), "1m");
    assert_string_equal(enc(4998), "4998m");
    assert_string_equal(enc(99999999), "99999999m");
    assert_string_equal(enc(100000000), "100000S");
    assert_string_equal(enc(100000999), "100000S");
    assert_string_equal(enc(99999999000ULL), "99999999S");
    assert_string_equal(enc(99999999999ULL), "99999999S");
    assert_string_equal(enc(100000000000ULL), "1666666M");
    assert_string_equal(enc(6000000000000ULL), "1666666H");
    assert_string_equal(enc(UINT64_MAX), "99999999H"); /* clipped to the largest value */
    assert_string_equal(enc(0), "1n");                 /* a TimeoutValue is positive */
    /* what is written reads back as at most the time given */
    const uint64_t samples[] = { 1, 999, 123456789, 99999999999ULL, 100000000000ULL, 3600000ULL * 99999999 };
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        int64_t back = pt_grpc_timeout_ms(pt_slice_cstr(enc(samples[i])));
        assert_true(back > 0 && (uint64_t)back <= samples[i]);
        assert_true(strlen(enc(samples[i])) <= 9);
    }
}

static const char *left(const char *asked, uint64_t left_ms)
{
    static char out[32];
    char buf[PT_GRPC_TIMEOUT_SIZE];
    pt_slice v = pt_grpc_timeout_left(pt_slice_cstr(asked), left_ms, buf);
    snprintf(out, sizeof out, "%.*s", (int)v.len, v.ptr);
    return out;
}

/* What goes upstream: the client's own value until a millisecond of it is spent, then
 * what is left, never more than the client asked (a sub-millisecond value stays as it is
 * rather than become "1m"). */
static void grpc_timeout_passed_on_is_what_is_left(void **s)
{
    (void)s;
    assert_string_equal(left("5S", 5000), "5S");
    assert_string_equal(left("5S", 4990), "4990m");
    assert_string_equal(left("1H", 3599000), "3599000m");
    assert_string_equal(left("500u", 1), "500u");
    assert_string_equal(left("1500u", 2), "1500u");
    assert_string_equal(left("1500u", 1), "1m");
    assert_string_equal(left("300m", 0), "1n");
    assert_string_equal(left("99999999H", 359999996400000ULL), "99999999H");
    assert_string_equal(left("99999999H", 359999996399999ULL), "99999998H");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grpc_content_types_with_codecs_and_parameters),
        cmocka_unit_test(gateway_failures_have_the_status_their_meaning_says),
        cmocka_unit_test(messages_are_percent_encoded_outside_printable_ascii),
        cmocka_unit_test(grpc_status_values),
        cmocka_unit_test(grpc_timeout_values),
        cmocka_unit_test(grpc_timeout_encoding_picks_a_unit_that_fits),
        cmocka_unit_test(grpc_timeout_passed_on_is_what_is_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
