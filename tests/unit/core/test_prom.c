/* Unit tests for core/prom.c: exact sample lines, label-value escaping, numbers without
 * printf, and the sticky error that keeps a cut exposition from looking complete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/prom.h"

static void family_writes_help_then_type(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_prom p;
    pt_prom_init(&p, &b);
    pt_prom_family(&p, "portico_x_total", "counter", "Things counted.");
    assert_int_equal(p.rc, 0);
    assert_string_equal(b.data, "# HELP portico_x_total Things counted.\n# TYPE portico_x_total counter\n");
    pt_buf_release(&b);
}

static void samples_with_and_without_labels(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_prom p;
    pt_prom_init(&p, &b);
    pt_prom_sample(&p, "plain", NULL);
    pt_prom_value_u64(&p, 7);
    pt_prom_sample(&p, "h", "_bucket");
    pt_prom_label(&p, "route", "api");
    pt_prom_label(&p, "le", "+Inf");
    pt_prom_value_u64(&p, 18446744073709551615u);
    pt_prom_sample(&p, "g", NULL);
    pt_prom_label(&p, "a", "b");
    pt_prom_value_i64(&p, -1);
    pt_prom_sample(&p, "g", NULL);
    pt_prom_value_i64(&p, INT64_MIN);
    pt_prom_sample(&p, "h", "_sum");
    pt_prom_value_fixed(&p, 1500001, 6);
    pt_prom_sample(&p, "cost", NULL);
    pt_prom_value_fixed(&p, 3, 12);
    assert_int_equal(p.rc, 0);
    assert_string_equal(b.data, "plain 7\n"
                                "h_bucket{route=\"api\",le=\"+Inf\"} 18446744073709551615\n"
                                "g{a=\"b\"} -1\n"
                                "g -9223372036854775808\n"
                                "h_sum 1.500001\n"
                                "cost 0.000000000003\n");
    pt_buf_release(&b);
}

static void label_values_escape_backslash_quote_newline(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_prom p;
    pt_prom_init(&p, &b);
    pt_prom_sample(&p, "m", NULL);
    pt_prom_label(&p, "route", "a\\b\"c\nd");
    pt_prom_label(&p, "service", "\n\n\\\"");
    pt_prom_value_u64(&p, 1);
    assert_int_equal(p.rc, 0);
    assert_string_equal(b.data, "m{route=\"a\\\\b\\\"c\\nd\",service=\"\\n\\n\\\\\\\"\"} 1\n");

    /* anything else, tabs and UTF-8 included, goes through unchanged */
    pt_buf_reset(&b);
    assert_int_equal(pt_prom_append_label_value(&b, "t\tr\xc3\xa9", 5), 0);
    assert_string_equal(b.data, "t\tr\xc3\xa9");
    pt_buf_release(&b);
}

static void a_full_buffer_is_sticky(void **state)
{
    pt_buf b;
    pt_buf_init(&b, 16);
    pt_prom p;
    pt_prom_init(&p, &b);
    pt_prom_family(&p, "portico_long_family_name", "gauge", "help");
    assert_int_equal(p.rc, PT_ETOOBIG);
    size_t len = b.len;
    pt_prom_sample(&p, "x", NULL);
    pt_prom_value_u64(&p, 1);
    assert_int_equal(p.rc, PT_ETOOBIG);
    assert_int_equal(b.len, len); /* nothing more was written after the failure */
    pt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(family_writes_help_then_type),
        cmocka_unit_test(samples_with_and_without_labels),
        cmocka_unit_test(label_values_escape_backslash_quote_newline),
        cmocka_unit_test(a_full_buffer_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
