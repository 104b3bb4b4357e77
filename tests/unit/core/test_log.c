/* Unit tests for core/log.c's wall-clock time: the exact shape, the length it returns, and a
 * buffer too small for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "core/log.h"

/* "2026-11-27T17:25:10.123Z": the date and time of the clock, with milliseconds. */
static void wall_time_has_the_iso8601_shape_and_its_length(void **state)
{
    for (int round = 0; round < 3; round++) { /* the first formats the seconds, later ones reuse them */
        char ts[40];
        time_t before = time(NULL);
        size_t n = pt_wall_iso8601(ts, sizeof ts);
        time_t after = time(NULL);
        assert_int_equal(n, 24);
        assert_int_equal(strlen(ts), 24);
        for (int i = 0; i < 24; i++) {
            char c = ts[i];
            int ok = (i == 4 || i == 7) ? c == '-' : i == 10 ? c == 'T' : (i == 13 || i == 16) ? c == ':'
                     : i == 19 ? c == '.' : i == 23 ? c == 'Z' : (c >= '0' && c <= '9');
            if (!ok) fail_msg("bad time at %d: %s", i, ts);
        }
        char lo[32], hi[32];
        struct tm tm;
        strftime(lo, sizeof lo, "%Y-%m-%dT%H:%M:%S", gmtime_r(&before, &tm));
        strftime(hi, sizeof hi, "%Y-%m-%dT%H:%M:%S", gmtime_r(&after, &tm));
        if (memcmp(ts, lo, 19) != 0 && memcmp(ts, hi, 19) != 0) fail_msg("%s is not %s or %s", ts, lo, hi);
    }
}

static void a_small_buffer_gets_what_fits(void **state)
{
    char ts[10];
    memset(ts, '#', sizeof ts);
    assert_int_equal(pt_wall_iso8601(ts, sizeof ts), 9);
    assert_int_equal(strlen(ts), 9);
    assert_int_equal(ts[4], '-');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wall_time_has_the_iso8601_shape_and_its_length),
        cmocka_unit_test(a_small_buffer_gets_what_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
