/* Unit tests for http/grpc.c: which content types are gRPC's, the gRPC status each gateway
 * outcome is told as, grpc-message's percent-encoding and grpc-status values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grpc_content_types_with_codecs_and_parameters),
        cmocka_unit_test(gateway_failures_have_the_status_their_meaning_says),
        cmocka_unit_test(messages_are_percent_encoded_outside_printable_ascii),
        cmocka_unit_test(grpc_status_values),
        cmocka_unit_test(grpc_timeout_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
