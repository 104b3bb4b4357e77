/* Unit tests for limits/gcra.c: burst, steady rate, refill, the retry and reset times,
 * and giving a call back, all on explicit times (no clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "limits/gcra.h"

#define S 1000000000ull
#define MS 1000000ull

/* Calls that pass at once from tat at now; updates *tat. */
static unsigned take_all(const pt_gcra *g, uint64_t *tat, uint64_t now, unsigned max)
{
    unsigned n = 0;
    pt_gcra_result r;
    for (unsigned i = 0; i < max; i++) {
        pt_gcra_take(g, *tat, now, &r);
        if (!r.allowed) break;
        *tat = r.tat;
        n++;
    }
    return n;
}

static void a_full_window_lets_the_burst_through_then_refuses(void **state)
{
    pt_gcra g = pt_gcra_make(1000, 60 * S, 50); /* 1000/min, burst 50 */
    assert_int_equal(g.interval_ns, 60 * MS);
    uint64_t tat = 0, now = 1000 * S;
    assert_int_equal(take_all(&g, &tat, now, 1000), 50);
    pt_gcra_result r;
    pt_gcra_take(&g, tat, now, &r);
    assert_false(r.allowed);
    assert_int_equal(r.tat, tat); /* a refusal changes nothing */
    assert_int_equal(r.retry_ns, 60 * MS);
    assert_int_equal(r.remaining, 0);
}

static void burst_defaults_to_the_whole_window(void **state)
{
    pt_gcra g = pt_gcra_make(1000, 60 * S, 0);
    uint64_t tat = 0;
    assert_int_equal(take_all(&g, &tat, 5 * S, 5000), 1000);
}

static void remaining_counts_down_and_reset_grows(void **state)
{
    pt_gcra g = pt_gcra_make(3, 60 * S, 0);
    uint64_t tat = 0, now = 100 * S;
    pt_gcra_result r;
    for (uint64_t want = 2, i = 1; i <= 3; i++, want--) {
        pt_gcra_take(&g, tat, now, &r);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, want);
        assert_int_equal(r.reset_ns, i * 20 * S);
        tat = r.tat;
    }
    pt_gcra_take(&g, tat, now, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_ns, 20 * S);
    assert_int_equal(r.reset_ns, 60 * S);
}

static void the_steady_rate_is_one_call_per_interval(void **state)
{
    pt_gcra g = pt_gcra_make(10, 10 * S, 1); /* one per second, no burst */
    uint64_t tat = 0, now = 50 * S;
    assert_int_equal(take_all(&g, &tat, now, 10), 1);
    assert_int_equal(take_all(&g, &tat, now + S - 1, 10), 0); /* 1 ns early */
    assert_int_equal(take_all(&g, &tat, now + S, 10), 1);
    /* over a minute of one attempt every 100 ms, exactly 60 pass */
    unsigned passed = 0;
    for (uint64_t t = now + S + 100 * MS; t <= now + 61 * S; t += 100 * MS) passed += take_all(&g, &tat, t, 1);
    assert_int_equal(passed, 60);
}

static void an_idle_window_refills_to_its_burst_and_no_further(void **state)
{
    pt_gcra g = pt_gcra_make(100, 60 * S, 10);
    uint64_t tat = 0, now = 10 * S;
    assert_int_equal(take_all(&g, &tat, now, 100), 10);
    /* 3 intervals later, 3 more */
    assert_int_equal(take_all(&g, &tat, now + 3 * 600 * MS, 100), 3);
    /* an hour later the burst is whole again, not larger */
    assert_int_equal(take_all(&g, &tat, now + 3600 * S, 100), 10);
    assert_true(pt_gcra_idle(tat, now + 3600 * S + 10 * 600 * MS));
    assert_false(pt_gcra_idle(tat, now + 3600 * S));
}

static void in_any_window_at_most_burst_plus_refills_pass(void **state)
{
    /* 1000/min with the whole window as burst: hammering every millisecond for two
     * minutes passes 1000 at once, then one at each 60 ms mark after the start
     * (k = 1..1999, the 2000th falls on the end, which is outside) */
    pt_gcra g = pt_gcra_make(1000, 60 * S, 0);
    uint64_t tat = 0, start = 7 * S;
    unsigned passed = 0;
    for (uint64_t t = start; t < start + 120 * S; t += MS) passed += take_all(&g, &tat, t, 2000);
    assert_int_equal(passed, 1000 + 1999);
}

static void a_call_given_back_passes_again(void **state)
{
    pt_gcra g = pt_gcra_make(2, 60 * S, 0);
    uint64_t tat = 0, now = 9 * S;
    assert_int_equal(take_all(&g, &tat, now, 5), 2);
    tat = pt_gcra_give_back(&g, tat, now);
    assert_int_equal(take_all(&g, &tat, now, 5), 1);
    /* giving back never moves the window before now */
    assert_int_equal(pt_gcra_give_back(&g, now + 10, now), now);
    assert_int_equal(pt_gcra_give_back(&g, now - 10, now), now - 10);
}

static void tiny_intervals_stay_positive(void **state)
{
    pt_gcra g = pt_gcra_make(1000000000, S, 0);
    assert_int_equal(g.interval_ns, 1);
    g = pt_gcra_make(3, 1, 0);
    assert_int_equal(g.interval_ns, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_window_lets_the_burst_through_then_refuses),
        cmocka_unit_test(burst_defaults_to_the_whole_window),
        cmocka_unit_test(remaining_counts_down_and_reset_grows),
        cmocka_unit_test(the_steady_rate_is_one_call_per_interval),
        cmocka_unit_test(an_idle_window_refills_to_its_burst_and_no_further),
        cmocka_unit_test(in_any_window_at_most_burst_plus_refills_pass),
        cmocka_unit_test(a_call_given_back_passes_again),
        cmocka_unit_test(tiny_intervals_stay_positive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
