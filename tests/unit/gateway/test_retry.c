/* Unit tests for gateway/retry.c: the budget's arithmetic over its 10 s windows, and
 * which statuses retry_on lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/retry.h"

static unsigned takes(pt_retry_policy *r, uint64_t now_ms, unsigned tries)
{
    unsigned n = 0;
    for (unsigned i = 0; i < tries; i++) n += pt_retry_take(r, now_ms);
    return n;
}

static void budget_is_a_share_of_requests_plus_a_floor(void **state)
{
    (void)state;
    pt_retry_policy r;
    memset(&r, 0, sizeof r);
    r.budget_percent = 20;
    r.budget_min_per_s = 1;
    uint64_t t = 1000000; /* inside one window */
    for (int i = 0; i < 100; i++) pt_retry_count_request(&r, t);
    assert_int_equal(takes(&r, t + 5, 100), 20 + 10); /* 20% of 100, plus 1/s over 10 s */
    assert_int_equal(takes(&r, t + 9000, 5), 0);      /* spent for the rest of the window */
    assert_int_equal(takes(&r, t + 10000, 100), 10);  /* a new window: only the floor until requests come */
}

static void a_zero_budget_never_retries(void **state)
{
    (void)state;
    pt_retry_policy r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 1000; i++) pt_retry_count_request(&r, 42);
    assert_int_equal(takes(&r, 42, 10), 0);
}

static void statuses_are_5xx_bits(void **state)
{
    (void)state;
    pt_retry_policy r;
    memset(&r, 0, sizeof r);
    assert_false(pt_retry_any(&r));
    r.statuses[0] = (uint64_t)1 << 3;          /* 503 */
    r.statuses[1] = (uint64_t)1 << (599 - 564); /* 599 */
    assert_true(pt_retry_any(&r));
    assert_true(pt_retry_on_status(&r, 503));
    assert_true(pt_retry_on_status(&r, 599));
    assert_false(pt_retry_on_status(&r, 502));
    assert_false(pt_retry_on_status(&r, 403));
    assert_false(pt_retry_on_status(&r, 600));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budget_is_a_share_of_requests_plus_a_floor),
        cmocka_unit_test(a_zero_budget_never_retries),
        cmocka_unit_test(statuses_are_5xx_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
