/* Unit tests for trace/context.c: traceparent as W3C Trace Context reads it (version 00
 * exactly, later versions as 00 with trailing fields, every invalid form refused), the
 * header written upstream, new ids and tracestate's pass-on check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "trace/context.h"

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN "00f067aa0ba902b7"

static int parse(const char *s, pt_trace_ctx *c) { return pt_traceparent_parse(pt_slice_cstr(s), c); }

static void test_valid_header_gives_ids_and_sampled_flag(void **state)
{
    pt_trace_ctx c;
    assert_int_equal(parse("00-" TRACE "-" SPAN "-01", &c), 0);
    char hex[33];
    pt_trace_hex(c.trace_id, 16, hex);
    assert_string_equal(hex, TRACE);
    pt_trace_hex(c.parent_id, 8, hex);
    assert_string_equal(hex, SPAN);
    assert_int_equal(c.flags, PT_TRACE_FLAG_SAMPLED);
    assert_int_equal(parse("00-" TRACE "-" SPAN "-00", &c), 0);
    assert_int_equal(c.flags, 0);
}

static void test_unknown_flags_keep_only_sampled(void **state)
{
    pt_trace_ctx c;
    assert_int_equal(parse("00-" TRACE "-" SPAN "-ff", &c), 0);
    assert_int_equal(c.flags, PT_TRACE_FLAG_SAMPLED);
    assert_int_equal(parse("00-" TRACE "-" SPAN "-02", &c), 0);
    assert_int_equal(c.flags, 0);
}

static void test_surrounding_whitespace_is_allowed(void **state)
{
    pt_trace_ctx c;
    assert_int_equal(parse(" \t00-" TRACE "-" SPAN "-01 ", &c), 0);
}

static void test_later_version_is_read_as_00(void **state)
{
    pt_trace_ctx c;
    assert_int_equal(parse("01-" TRACE "-" SPAN "-01", &c), 0);
    assert_int_equal(parse("cc-" TRACE "-" SPAN "-01-what-the-future-holds", &c), 0);
    assert_int_equal(c.flags, PT_TRACE_FLAG_SAMPLED);
    /* ...but its extra fields must follow a '-' */
    assert_int_equal(parse("cc-" TRACE "-" SPAN "-01x", &c), -1);
}

static void test_invalid_headers_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "00-" TRACE "-" SPAN "-0",                          /* short */
        "00-" TRACE "-" SPAN "-01-",                        /* version 00 is exactly 55 */
        "00-" TRACE "-" SPAN "-01-extra",
        "ff-" TRACE "-" SPAN "-01",                         /* version ff is invalid */
        "0g-" TRACE "-" SPAN "-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SPAN "-01",  /* upper case */
        "00-" TRACE "-00F067AA0BA902B7-01",
        "00-" TRACE "-" SPAN "-0A",
        "00-00000000000000000000000000000000-" SPAN "-01",  /* all-zero ids */
        "00-" TRACE "-0000000000000000-01",
        "00_" TRACE "-" SPAN "-01",                         /* separators */
        "00-" TRACE "_" SPAN "-01",
        "00-" TRACE "-" SPAN "_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-" SPAN "0-01", /* fields shifted */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_trace_ctx c;
        if (parse(bad[i], &c) != -1) fail_msg("accepted '%s'", bad[i]);
    }
    pt_trace_ctx c;
    assert_int_equal(pt_traceparent_parse(PT_SLICE_NULL, &c), -1);
}

static void test_written_header_reads_back(void **state)
{
    pt_trace_ctx c;
    assert_int_equal(parse("00-" TRACE "-" SPAN "-01", &c), 0);
    uint8_t span[8];
    pt_trace_new_id(span, 8);
    char out[PT_TRACEPARENT_LEN + 1];
    pt_traceparent_write(out, c.trace_id, span, 0);
    assert_int_equal(strlen(out), PT_TRACEPARENT_LEN);
    assert_memory_equal(out, "00-" TRACE "-", 36);
    assert_string_equal(out + 52, "-00");
    pt_trace_ctx back;
    assert_int_equal(parse(out, &back), 0);
    assert_memory_equal(back.parent_id, span, 8);
    assert_int_equal(back.flags, 0);
}

static void test_new_ids_are_never_zero_and_differ(void **state)
{
    static const uint8_t zero[16];
    uint8_t a[16], b[16];
    pt_trace_new_id(a, 16);
    pt_trace_new_id(b, 16);
    assert_memory_not_equal(a, zero, 16);
    assert_memory_not_equal(a, b, 16);
    uint8_t s[8] = { 0 };
    pt_trace_new_id(s, 8);
    assert_memory_not_equal(s, zero, 8);
}

static void test_tracestate_pass_on_check(void **state)
{
    assert_true(pt_tracestate_ok(pt_slice_cstr("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")));
    assert_false(pt_tracestate_ok(pt_slice_cstr("a=\x01")));
    assert_false(pt_tracestate_ok(PT_SLICE_NULL));
    char big[PT_TRACESTATE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(pt_tracestate_ok(pt_slice_cstr(big)));
    big[PT_TRACESTATE_MAX] = '\0';
    assert_true(pt_tracestate_ok(pt_slice_cstr(big)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_header_gives_ids_and_sampled_flag),
        cmocka_unit_test(test_unknown_flags_keep_only_sampled),
        cmocka_unit_test(test_surrounding_whitespace_is_allowed),
        cmocka_unit_test(test_later_version_is_read_as_00),
        cmocka_unit_test(test_invalid_headers_are_refused),
        cmocka_unit_test(test_written_header_reads_back),
        cmocka_unit_test(test_new_ids_are_never_zero_and_differ),
        cmocka_unit_test(test_tracestate_pass_on_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
