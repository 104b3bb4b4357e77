/* Unit tests for core/timefmt.c: the dates people write (a day, RFC 3339 with an offset
 * and a fraction, plain milliseconds) and the HTTP date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timefmt.h"

static int64_t parsed(const char *s)
{
    int64_t ms = -1;
    return pt_time_parse(s, &ms) ? ms : -1;
}

static void parses_days_rfc3339_and_milliseconds(void **state)
{
    (void)state;
    assert_int_equal(parsed("2027-01-01"), 1798761600000LL);
    assert_int_equal(parsed("2027-01-01T00:00:00Z"), 1798761600000LL);
    assert_int_equal(parsed("2027-01-01T01:30:00+01:30"), 1798761600000LL);
    assert_int_equal(parsed("2026-12-31T23:00:00.250-01:00"), 1798761600250LL);
    assert_int_equal(parsed("1798761600000"), 1798761600000LL);
}

static void refuses_what_is_not_a_date(void **state)
{
    (void)state;
    const char *bad[] = { "", "soon", "2027-13-01", "2027-01-32", "2027-1-01", "2027-01-01T00:00:00",
                          "2027-01-01T24:00:00Z", "2027-01-01 x", "2027-01-01T00:00:00Zjunk" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(parsed(bad[i]), -1);
}

static void writes_the_http_date(void **state)
{
    (void)state;
    char d[PT_HTTP_DATE_LEN];
    pt_time_http_date(1798761600, d);
    assert_string_equal(d, "Fri, 01 Jan 2027 00:00:00 GMT");
    pt_time_http_date(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_days_rfc3339_and_milliseconds),
        cmocka_unit_test(refuses_what_is_not_a_date),
        cmocka_unit_test(writes_the_http_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
