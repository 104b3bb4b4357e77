/* Unit tests for tokens, quotas and budgets in limits/enforce.c: a reservation settled on
 * the real usage, a cut call keeping it, requests quotas given back on refusal, day and
 * month rollover on an injected wall clock (UTC and a configured zone), the budget that
 * stops the call after the one crossing it, the soft threshold told once per window, a
 * wall-clock jump that leaves rate windows alone, and on_store_error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "limits/enforce.h"
#include "limits/tz.h"

#define S 1000000000ull
#define NOW (500 * S)
#define T_2026_12_03_1200 1796299200 /* 2026-12-03 12:00:00 UTC (a Thursday) */

static int64_t wall;
static int64_t fake_wall(void) { return wall; }

typedef struct fixture {
    pt_counters *b;
    pt_limit_decision d[8];
    pt_limit_state st;
} fixture;

static fixture F;

static pt_limit_state *fresh(void)
{
    memset(F.d, 0, sizeof F.d);
    F.st = (pt_limit_state){ .counters = F.b, .d = F.d, .cap = 8 };
    return &F.st;
}

static int setup(void **state)
{
    F.b = pt_counters_local_new();
    wall = T_2026_12_03_1200;
    pt_limits_set_wall_clock(fake_wall);
    return F.b ? 0 : -1;
}

static int teardown(void **state)
{
    F.b->ops->free(F.b);
    pt_limits_set_wall_clock(NULL);
    return 0;
}

static char field[160];

static pt_policy tokens_policy(uint64_t per_minute)
{
    pt_policy p = { .name = "tok", .tokens_per_minute = per_minute, .field_tokens = field };
    p.tokens_gcra = pt_gcra_make(per_minute, 60 * S, per_minute);
    snprintf(field, sizeof field, "\"tok/tokens\";q=%llu;w=60;qu=\"tokens\"", (unsigned long long)per_minute);
    return p;
}

static const pt_limit_subject who = { .route = "r", .consumer = "acme" };

/* One call through the request phase; 1 when it passed. */
static int call(pt_policy_table *t, uint64_t now)
{
    return pt_limits_check(fresh(), t, PT_LIMIT_PHASE_REQUEST, &who, now);
}

static void tokens_are_reserved_then_settled_on_the_real_usage(void **state)
{
    pt_policy p = tokens_policy(100);
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 80, NOW), 1);
    assert_int_equal(F.st.d[0].tokens.remaining, 20);
    char h[512];
    size_t n = pt_limits_headers(&F.st, h, sizeof h);
    h[n] = '\0';
    assert_non_null(strstr(h, "\"tok/tokens\";q=100;w=60;qu=\"tokens\""));
    assert_non_null(strstr(h, "\"tok/tokens\";r=20;"));
    pt_limits_settle(&F.st, true, 15, 0, NOW, NULL, NULL); /* the call used 15 */
    /* 85 left: a call needing 80 passes, which it would not without the settling */
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 80, NOW), 1);
    pt_limits_settle(&F.st, true, 80, 0, NOW, NULL, NULL);
    /* 5 left: 30 more is refused, in 25 tokens' time (15 s at 100 a minute) */
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 30, NOW), 0);
    assert_int_equal(F.st.why, PT_LIMIT_WHY_TOKENS);
    assert_int_equal(pt_limits_retry_after(&F.st), 15);
    char msg[320];
    pt_limits_message(&F.st, msg, sizeof msg);
    assert_string_equal(msg, "policy 'tok' allows 100 tokens per minute; this call needs about 30 (its prompt and "
                             "max_tokens) and its window has room for them in 15 s");
    n = pt_limits_headers(&F.st, h, sizeof h);
    h[n] = '\0';
    assert_string_equal(h, "RateLimit-Policy: \"tok/tokens\";q=100;w=60;qu=\"tokens\"\r\n"
                           "RateLimit: \"tok/tokens\";r=0;t=15\r\nRetry-After: 15\r\n");
    /* 15 s later it passes */
    assert_int_equal(call(&t, NOW + 15 * S), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 30, NOW + 15 * S), 1);
}

static void a_call_cut_without_usage_keeps_its_reservation(void **state)
{
    pt_policy p = tokens_policy(100);
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 60, NOW), 1);
    pt_limits_settle(&F.st, false, 0, 0, NOW, NULL, NULL);
    pt_limits_settle(&F.st, true, 0, 0, NOW, NULL, NULL); /* settled once only */
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 50, NOW), 0); /* 60 still held */
    /* an estimate larger than the whole window is capped to it, so it can pass */
    assert_int_equal(call(&t, NOW + 60 * S), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 5000, NOW + 60 * S), 1);
    assert_int_equal(F.st.d[0].tokens_reserved, 100);
}

static pt_policy quota_policy(const char *name)
{
    pt_policy p = { .name = (char *)name, .has_windows = true };
    return p;
}

static void a_day_quota_rolls_over_at_midnight_utc(void **state)
{
    pt_policy p = quota_policy("daily");
    p.window[PT_WIN_REQ_DAY] = 2;
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(call(&t, NOW), 1);
    char h[512];
    size_t n = pt_limits_headers(&F.st, h, sizeof h);
    h[n] = '\0';
    assert_string_equal(h, "RateLimit-Policy: \"daily/requests_per_day\";q=2;w=86400\r\n"
                           "RateLimit: \"daily/requests_per_day\";r=1;t=43200\r\n");
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(call(&t, NOW), 0);
    assert_int_equal(F.st.why, PT_LIMIT_WHY_QUOTA);
    assert_int_equal(pt_limits_retry_after(&F.st), 12 * 3600);
    char msg[320];
    pt_limits_message(&F.st, msg, sizeof msg);
    assert_string_equal(msg, "quota requests_per_day of policy 'daily' is used up: 2 of 2 requests this day; it "
                             "resets at the start of the next day (UTC), in 43200 s");
    wall = T_2026_12_03_1200 + 12 * 3600 - 1; /* 23:59:59 */
    assert_int_equal(call(&t, NOW), 0);
    wall++; /* midnight: a new day */
    assert_int_equal(call(&t, NOW), 1);
}

static void a_month_quota_rolls_over_on_the_first(void **state)
{
    pt_policy p = quota_policy("monthly");
    p.window[PT_WIN_TOK_MONTH] = 1000;
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(call(&t, NOW), 1);
    pt_limits_reserve(&F.st, 10, NOW);
    pt_limits_settle(&F.st, true, 1000, 0, NOW, NULL, NULL);
    assert_int_equal(call(&t, NOW), 0); /* the month's tokens are spent */
    assert_int_equal(F.st.why, PT_LIMIT_WHY_QUOTA);
    assert_int_equal(F.st.window, PT_WIN_TOK_MONTH);
    wall = 1798761599; /* 2026-12-31 23:59:59 UTC */
    assert_int_equal(call(&t, NOW), 0);
    assert_int_equal(pt_limits_retry_after(&F.st), 1);
    wall = 1798761600; /* 2027-01-01 */
    assert_int_equal(call(&t, NOW), 1);
}

static void windows_follow_the_configured_time_zone(void **state)
{
    char why[256];
    pt_tz *paris = pt_tz_load("Europe/Paris", why, sizeof why);
    if (!paris) fail_msg("%s", why);
    pt_policy p = quota_policy("paris");
    p.tz = paris;
    p.time_zone = "Europe/Paris";
    p.window[PT_WIN_REQ_DAY] = 1;
    pt_policy_table t = { &p, 1, false, false };
    wall = 1796338800 - 2; /* 2026-12-03 23:59:58 in Paris (22:59:58 UTC) */
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(call(&t, NOW), 0);
    assert_int_equal(pt_limits_retry_after(&F.st), 2);
    wall += 2; /* midnight in Paris, still the 3rd in UTC */
    assert_int_equal(call(&t, NOW), 1);
    pt_tz_free(paris);
}

static void a_refused_call_gives_its_request_back(void **state)
{
    pt_policy v[2] = { quota_policy("q"), quota_policy("gw") };
    v[0].window[PT_WIN_REQ_DAY] = 5;
    v[0].scope = PT_POLICY_CONSUMER;
    v[0].match = "acme";
    v[1].window[PT_WIN_REQ_MONTH] = 1;
    pt_policy_table t = { v, 2, false, false };
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(call(&t, NOW), 0); /* refused by gw's month */
    assert_int_equal(call(&t, NOW), 0);
    v[1].window[PT_WIN_REQ_MONTH] = 100;
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(F.st.d[0].window_total[PT_WIN_REQ_DAY], 2); /* the refused calls count for nothing */
}

typedef struct soft_seen {
    int n;
    pt_policy_window w;
    uint64_t total;
} soft_seen;

static void on_soft(void *arg, const pt_limit_decision *d, pt_policy_window w, uint64_t total, uint64_t limit)
{
    soft_seen *s = arg;
    s->n++;
    s->w = w;
    s->total = total;
}

static void a_budget_stops_the_call_after_the_one_crossing_it(void **state)
{
    pt_policy p = quota_policy("spend");
    p.window[PT_WIN_USD_DAY] = 10000; /* $0.01 */
    p.soft_permille = 500;
    pt_policy_table t = { &p, 1, false, false };
    soft_seen seen = { 0 };
    assert_int_equal(call(&t, NOW), 1);
    char h[512];
    size_t n = pt_limits_headers(&F.st, h, sizeof h);
    h[n] = '\0';
    assert_string_equal(h, "RateLimit-Policy: \"spend/usd_per_day\";q=10000;w=86400;qu=\"micro-usd\"\r\n"
                           "RateLimit: \"spend/usd_per_day\";r=10000;t=43200\r\n");
    pt_limits_settle(&F.st, true, 10, 4000, NOW, on_soft, &seen); /* $0.004 */
    assert_int_equal(seen.n, 0);
    assert_int_equal(call(&t, NOW), 1);
    pt_limits_settle(&F.st, true, 10, 4000, NOW, on_soft, &seen); /* $0.008: past soft_at 0.5 */
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.w, PT_WIN_USD_DAY);
    assert_int_equal(seen.total, 8000);
    assert_int_equal(call(&t, NOW), 1); /* still under: this call crosses it */
    pt_limits_settle(&F.st, true, 10, 4000, NOW, on_soft, &seen);
    assert_int_equal(seen.n, 1); /* told once per window */
    assert_int_equal(call(&t, NOW), 0);
    assert_int_equal(F.st.why, PT_LIMIT_WHY_BUDGET);
    char msg[320];
    pt_limits_message(&F.st, msg, sizeof msg);
    assert_string_equal(msg, "budget usd_per_day of policy 'spend' is spent: $0.012000 of $0.010000 this day; it "
                             "resets at the start of the next day (UTC), in 43200 s");
    wall += 12 * 3600;
    assert_int_equal(call(&t, NOW), 1);
    pt_limits_settle(&F.st, true, 10, 6000, NOW, on_soft, &seen); /* the next day has its own soft mark */
    assert_int_equal(seen.n, 2);
}

static void a_wall_clock_jump_leaves_rate_windows_alone(void **state)
{
    pt_policy p = tokens_policy(100);
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 100, NOW), 1);
    pt_limits_settle(&F.st, true, 100, 0, NOW, NULL, NULL);
    wall += 86400 * 40; /* the wall clock jumps forty days; the monotonic one does not */
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 10, NOW), 0);
}

/* A backend whose totals cannot be stored. */
static int failing_add(pt_counters *b, pt_slice key, int64_t delta, uint64_t limit, int64_t expires, uint64_t now,
                       uint64_t *total)
{
    *total = 0;
    return -12;
}

static void on_store_error_opens_or_closes(void **state)
{
    pt_counter_ops ops = *F.b->ops;
    ops.window_add = failing_add;
    pt_counters broken = { &ops };
    pt_policy v[1] = { quota_policy("q") };
    v[0].window[PT_WIN_REQ_DAY] = 1;
    pt_policy_table t = { v, 1, false, false };
    for (int i = 0; i < 3; i++) { /* open: every call passes, uncounted */
        pt_limit_state *st = fresh();
        st->counters = &broken;
        assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &who, NOW), 1);
    }
    v[0].store_closed = true;
    pt_limit_state *st = fresh();
    st->counters = &broken;
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &who, NOW), 0);
    assert_int_equal(st->why, PT_LIMIT_WHY_STORE);
    char msg[320];
    pt_limits_message(st, msg, sizeof msg);
    assert_string_equal(msg, "policy 'q' cannot count its requests_per_day: the limit store cannot be written and "
                             "the policy is set to on_store_error: closed");
    /* a store that cannot be written (its file) counts the same way */
    st = fresh();
    st->store_failing = true;
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &who, NOW), 0);
    v[0].store_closed = false; /* open: still counted, in memory */
    st = fresh();
    st->store_failing = true;
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &who, NOW), 1);
    st = fresh();
    st->store_failing = true;
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &who, NOW), 0);
    assert_int_equal(st->why, PT_LIMIT_WHY_QUOTA);
}

static void every_member_fits_the_headers_bound(void **state)
{
    char name[65], rate_field[160], inflight_field[160];
    memset(name, 'n', 64);
    name[64] = '\0';
    pt_policy p = tokens_policy(1000);
    p.name = name;
    snprintf(field, sizeof field, "\"%s/tokens\";q=1000;w=60;qu=\"tokens\"", name);
    p.has_rate = true;
    p.requests = p.burst = 1000000000;
    p.per_ms = 30ull * 86400 * 1000;
    p.gcra = pt_gcra_make(p.requests, p.per_ms * 1000000ull, 0);
    snprintf(rate_field, sizeof rate_field, "\"%s\";q=1000000000;w=2592000", name);
    p.field_rate = rate_field;
    p.concurrency = 1000000;
    snprintf(inflight_field, sizeof inflight_field, "\"%s/concurrency\";q=1000000;qu=\"concurrent-requests\"", name);
    p.field_inflight = inflight_field;
    p.has_windows = true;
    for (int w = 0; w < PT_WIN_COUNT; w++) p.window[w] = 1000000000000000ull;
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(call(&t, NOW), 1);
    assert_int_equal(pt_limits_reserve(&F.st, 10, NOW), 1);
    size_t max = pt_limits_headers_max(&F.st);
    char h[8192];
    size_t n = pt_limits_headers(&F.st, h, max);
    assert_true(n > 0 && n <= max);
    h[n] = '\0';
    assert_non_null(strstr(h, "/usd_per_month\";r=1000000000000000;t="));
    pt_limits_release(&F.st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tokens_are_reserved_then_settled_on_the_real_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(a_call_cut_without_usage_keeps_its_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(a_day_quota_rolls_over_at_midnight_utc, setup, teardown),
        cmocka_unit_test_setup_teardown(a_month_quota_rolls_over_on_the_first, setup, teardown),
        cmocka_unit_test_setup_teardown(windows_follow_the_configured_time_zone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_refused_call_gives_its_request_back, setup, teardown),
        cmocka_unit_test_setup_teardown(a_budget_stops_the_call_after_the_one_crossing_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_wall_clock_jump_leaves_rate_windows_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(on_store_error_opens_or_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(every_member_fits_the_headers_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
