/* Unit tests for limits/tz.c: offsets from the zone files, local days and months and
 * when they end, across a DST change, and names refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "limits/tz.h"

static void utc_days_and_months(void **state)
{
    int64_t end;
    assert_int_equal(pt_tz_window(NULL, 1796299200, PT_TZ_DAY, &end), 20261203);
    assert_int_equal(end, 1796342400);
    assert_int_equal(pt_tz_window(NULL, 1796299200, PT_TZ_MONTH, &end), 202612);
    assert_int_equal(end, 1798761600); /* 2027-01-01 */
    assert_int_equal(pt_tz_window(NULL, 1709164800, PT_TZ_DAY, &end), 20240229); /* a leap day */
    assert_int_equal(pt_tz_window(NULL, 1709164800, PT_TZ_MONTH, &end), 202402);
    assert_int_equal(end, 1709251200);
}

static void paris_follows_its_offsets(void **state)
{
    char why[256];
    pt_tz *z = pt_tz_load("Europe/Paris", why, sizeof why);
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 1796299200), 3600);  /* December: CET */
    assert_int_equal(pt_tz_offset(z, 1782907200), 7200);  /* 2026-07-01: CEST */
    int64_t end;
    /* 2026-12-03 23:30 UTC is already the 4th in Paris */
    assert_int_equal(pt_tz_window(z, 1796340600, PT_TZ_DAY, &end), 20261204);
    assert_int_equal(end, 1796425200); /* 2026-12-04 23:00 UTC */
    /* the day of the change to summer time (2026-03-29) is 23 hours long */
    assert_int_equal(pt_tz_window(z, 1774738800, PT_TZ_DAY, &end), 20260329);
    assert_int_equal(end, 1774821600);
    assert_int_equal(end - 1774738800, 23 * 3600);
    assert_int_equal(pt_tz_window(z, 1796340600, PT_TZ_MONTH, &end), 202612);
    assert_int_equal(end, 1798758000); /* 2027-01-01 00:00 in Paris */
    pt_tz_free(z);
}

static void bad_names_are_refused(void **state)
{
    char why[256];
    assert_null(pt_tz_load("../../etc/passwd", why, sizeof why));
    assert_null(pt_tz_load("/etc/localtime", why, sizeof why));
    assert_null(pt_tz_load("Nowhere/Atlantis", why, sizeof why));
    assert_null(pt_tz_load("", why, sizeof why));
    pt_tz *z = pt_tz_load("UTC", why, sizeof why);
    assert_non_null(z);
    assert_int_equal(pt_tz_offset(z, 1796299200), 0);
    pt_tz_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utc_days_and_months),
        cmocka_unit_test(paris_follows_its_offsets),
        cmocka_unit_test(bad_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
