/* Unit tests for gateway/balancer.c: exact distributions of round robin and weighted,
 * least_conn, passive ejection and recovery on a fake clock, active health verdicts,
 * exclusion, failing open, and the target registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"

/* ---- helpers ----------------------------------------------------------------------- */

static pt_config *load(const char *yaml)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("b.yaml", yaml, strlen(yaml), &err);
    if (!cfg) fail_msg("config did not load: %s", err.data);
    assert_int_equal(pt_config_bind(cfg), 0); /* target states and schedules */
    pt_buf_release(&err);
    return cfg;
}

/* Counts picks per target index over n picks at time now. */
static void count_picks(pt_service *s, size_t n, uint64_t now, unsigned *counts)
{
    memset(counts, 0, s->ntargets * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        pt_target *t = pt_balancer_pick(s, NULL, 0, now);
        assert_non_null(t);
        counts[t - s->targets]++;
    }
}

/* Requires exactly want[i] picks of target i over n picks (a service of 3 targets). */
static void expect_counts(pt_service *s, size_t n, uint64_t now, const unsigned want[3])
{
    unsigned counts[3];
    count_picks(s, n, now, counts);
    for (int i = 0; i < 3; i++)
        if (counts[i] != want[i])
            fail_msg("target %d: %u picks of %zu, expected %u (counts %u/%u/%u)", i, counts[i], n, want[i],
                     counts[0], counts[1], counts[2]);
}

static int fresh_registry(void **state)
{
    pt_target_registry_free();
    return 0;
}

#define THREE "    targets: [\"http://127.0.0.1:9001\", \"http://127.0.0.1:9002\", \"http://127.0.0.1:9003\"]\n"

/* ---- round robin ------------------------------------------------------------------- */

static void round_robin_cycles_in_order_with_exact_counts(void **state)
{
    pt_config *cfg = load("services:\n  - name: rr\n" THREE);
    pt_service *s = &cfg->services[0];
    for (int i = 0; i < 9; i++) assert_ptr_equal(pt_balancer_pick(s, NULL, 0, 1000), &s->targets[i % 3]);
    expect_counts(s, 3000, 1000, (const unsigned[]){ 1000, 1000, 1000 });
    pt_config_release(cfg);
}

static void round_robin_skips_ejected_targets(void **state)
{
    pt_config *cfg = load("services:\n  - name: rr\n" THREE);
    pt_service *s = &cfg->services[0];
    atomic_store(&s->targets[1].state->ejected_until_ms, 5000);
    unsigned counts[3];
    count_picks(s, 300, 1000, counts);
    assert_int_equal(counts[1], 0);
    assert_int_equal(counts[0] + counts[2], 300);
    /* once the ejection has passed, it is back */
    expect_counts(s, 300, 5000, (const unsigned[]){ 100, 100, 100 });
    pt_config_release(cfg);
}

typedef struct picker_arg {
    pt_service *svc;
    unsigned counts[3];
} picker_arg;

static void *picker(void *p)
{
    picker_arg *a = p;
    for (int i = 0; i < 30000; i++) {
        pt_target *t = pt_balancer_pick(a->svc, NULL, 0, 1000);
        a->counts[t - a->svc->targets]++;
    }
    return NULL;
}

static void round_robin_stays_exact_across_threads(void **state)
{
    pt_config *cfg = load("services:\n  - name: rr\n" THREE);
    picker_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (picker_arg){ .svc = &cfg->services[0] };
        assert_int_equal(pthread_create(&th[i], NULL, picker, &args[i]), 0);
    }
    unsigned total[3] = { 0, 0, 0 };
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < 3; k++) total[k] += args[i].counts[k];
    }
    assert_int_equal(total[0], 40000);
    assert_int_equal(total[1], 40000);
    assert_int_equal(total[2], 40000);
    pt_config_release(cfg);
}

/* ---- weighted ---------------------------------------------------------------------- */

/* A weighted service of three loopback targets with these weights. */
static pt_config *weighted3(unsigned a, unsigned b, unsigned c)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "services:\n  - name: w\n    lb: weighted\n    targets:\n"
             "      - { url: \"http://127.0.0.1:9001\", weight: %u }\n"
             "      - { url: \"http://127.0.0.1:9002\", weight: %u }\n"
             "      - { url: \"http://127.0.0.1:9003\", weight: %u }\n",
             a, b, c);
    return load(yaml);
}

static void weighted_follows_smooth_weighted_round_robin(void **state)
{
    pt_config *cfg = weighted3(5, 1, 1);
    pt_service *s = &cfg->services[0];
    /* nginx's smooth sequence for 5,1,1: the heavy target is interleaved, not bunched */
    const int want[] = { 0, 0, 1, 0, 2, 0, 0 };
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 7; i++) assert_ptr_equal(pt_balancer_pick(s, NULL, 0, 1000), &s->targets[want[i]]);
    pt_config_release(cfg);
}

static void weighted_counts_are_exact_over_whole_periods(void **state)
{
    pt_config *cfg = weighted3(3, 2, 1);
    assert_int_equal(cfg->services[0].nwrr_slots, 6);
    expect_counts(&cfg->services[0], 6000, 1000, (const unsigned[]){ 3000, 2000, 1000 });
    pt_config_release(cfg);
    /* weights with a common divisor keep a short period */
    cfg = weighted3(300, 200, 100);
    assert_int_equal(cfg->services[0].nwrr_slots, 6);
    expect_counts(&cfg->services[0], 600, 1000, (const unsigned[]){ 300, 200, 100 });
    pt_config_release(cfg);
}

static void weighted_spreads_an_unavailable_share_by_weight(void **state)
{
    pt_config *cfg = weighted3(3, 1, 4);
    pt_service *s = &cfg->services[0];
    atomic_store(&s->targets[2].state->ejected_until_ms, 1u << 30);
    unsigned counts[3];
    count_picks(s, 8000, 1000, counts);
    assert_int_equal(counts[2], 0);
    assert_int_equal(counts[0] + counts[1], 8000);
    /* the healthy pair keep their 3:1 ratio within a few percent */
    assert_in_range(counts[0], 5700, 6300);
    assert_in_range(counts[1], 1700, 2300);
    pt_config_release(cfg);
}

/* ---- least connections ------------------------------------------------------------- */

static void least_conn_picks_the_fewest_active(void **state)
{
    pt_config *cfg = load("services:\n  - name: lc\n    lb: least_conn\n" THREE);
    pt_service *s = &cfg->services[0];
    pt_target *t = s->targets;
    pt_balancer_begin(&t[0]);
    pt_balancer_begin(&t[0]);
    pt_balancer_begin(&t[2]);
    for (int i = 0; i < 5; i++) assert_ptr_equal(pt_balancer_pick(s, NULL, 0, 1000), &t[1]);
    pt_balancer_begin(&t[1]);
    pt_balancer_begin(&t[1]);
    for (int i = 0; i < 5; i++) assert_ptr_equal(pt_balancer_pick(s, NULL, 0, 1000), &t[2]);
    pt_balancer_end(&t[0]);
    pt_balancer_end(&t[0]);
    assert_int_equal(atomic_load(&t[0].state->active), 0);
    assert_ptr_equal(pt_balancer_pick(s, NULL, 0, 1000), &t[0]);
    pt_balancer_end(&t[1]);
    pt_balancer_end(&t[1]);
    pt_balancer_end(&t[2]);
    pt_config_release(cfg);
}

static void least_conn_breaks_ties_round_robin(void **state)
{
    pt_config *cfg = load("services:\n  - name: lc\n    lb: least_conn\n" THREE);
    pt_service *s = &cfg->services[0];
    expect_counts(s, 3000, 1000, (const unsigned[]){ 1000, 1000, 1000 });
    pt_config_release(cfg);
}

static void least_conn_skips_ejected_even_when_idle(void **state)
{
    pt_config *cfg = load("services:\n  - name: lc\n    lb: least_conn\n" THREE);
    pt_service *s = &cfg->services[0];
    pt_balancer_begin(&s->targets[1]);
    pt_balancer_begin(&s->targets[2]);
    atomic_store(&s->targets[0].state->ejected_until_ms, 9000);
    pt_target *t = pt_balancer_pick(s, NULL, 0, 1000);
    assert_true(t == &s->targets[1] || t == &s->targets[2]);
    pt_balancer_end(&s->targets[1]);
    pt_balancer_end(&s->targets[2]);
    pt_config_release(cfg);
}

/* ---- passive health ---------------------------------------------------------------- */

#define PASSIVE "services:\n  - name: p\n    passive_health: { max_fails: 3, eject_for: 10s }\n" THREE

static void consecutive_failures_eject_for_eject_for(void **state)
{
    pt_config *cfg = load(PASSIVE);
    pt_service *s = &cfg->services[0];
    pt_target *t = &s->targets[0];
    pt_balancer_report(s, t, false, 1000);
    pt_balancer_report(s, t, false, 1000);
    assert_true(pt_target_available(t, 1000));
    pt_balancer_report(s, t, false, 1000);
    assert_false(pt_target_available(t, 1000));
    assert_int_equal(atomic_load(&t->state->ejected_until_ms), 11000);
    assert_int_equal(atomic_load(&t->state->ejections), 1);
    assert_int_equal(atomic_load(&t->state->requests), 3);
    assert_int_equal(atomic_load(&t->state->failures), 3);
    unsigned counts[3];
    count_picks(s, 200, 10999, counts);
    assert_int_equal(counts[0], 0);
    /* the ejection ends by the clock alone */
    assert_true(pt_target_available(t, 11000));
    count_picks(s, 300, 11000, counts);
    assert_int_equal(counts[0], 100);
    /* and the first success clears it */
    pt_balancer_report(s, t, true, 12000);
    assert_int_equal(atomic_load(&t->state->ejected_until_ms), 0);
    assert_int_equal(atomic_load(&t->state->consecutive_fails), 0);
    pt_config_release(cfg);
}

static void a_success_resets_the_failure_count(void **state)
{
    pt_config *cfg = load(PASSIVE);
    pt_service *s = &cfg->services[0];
    pt_target *t = &s->targets[1];
    for (int round = 0; round < 5; round++) {
        pt_balancer_report(s, t, false, 1000);
        pt_balancer_report(s, t, false, 1000);
        pt_balancer_report(s, t, true, 1000);
    }
    assert_true(pt_target_available(t, 1000));
    assert_int_equal(atomic_load(&t->state->ejections), 0);
    assert_int_equal(atomic_load(&t->state->requests), 15);
    assert_int_equal(atomic_load(&t->state->failures), 10);
    pt_config_release(cfg);
}

static void failures_while_ejected_do_not_extend_it(void **state)
{
    pt_config *cfg = load(PASSIVE);
    pt_service *s = &cfg->services[0];
    pt_target *t = &s->targets[2];
    for (int i = 0; i < 3; i++) pt_balancer_report(s, t, false, 1000);
    for (int i = 0; i < 6; i++) pt_balancer_report(s, t, false, 4000);
    assert_int_equal(atomic_load(&t->state->ejected_until_ms), 11000);
    assert_int_equal(atomic_load(&t->state->ejections), 1);
    /* after it ends, max_fails more failures eject it again */
    for (int i = 0; i < 3; i++) pt_balancer_report(s, t, false, 12000);
    assert_int_equal(atomic_load(&t->state->ejected_until_ms), 22000);
    assert_int_equal(atomic_load(&t->state->ejections), 2);
    pt_config_release(cfg);
}

static void max_fails_zero_turns_passive_health_off(void **state)
{
    pt_config *cfg = load("services:\n  - name: p\n    passive_health: { max_fails: 0 }\n" THREE);
    pt_service *s = &cfg->services[0];
    for (int i = 0; i < 100; i++) pt_balancer_report(s, &s->targets[0], false, 1000);
    assert_true(pt_target_available(&s->targets[0], 1000));
    assert_int_equal(atomic_load(&s->targets[0].state->failures), 100);
    pt_config_release(cfg);
}

/* ---- exclusion and failing open -------------------------------------------------- */

static void excluded_targets_are_never_returned(void **state)
{
    pt_config *cfg = load("services:\n  - name: x\n" THREE);
    pt_service *s = &cfg->services[0];
    pt_target *ex[] = { &s->targets[0], &s->targets[2] };
    for (int i = 0; i < 10; i++) assert_ptr_equal(pt_balancer_pick(s, ex, 2, 1000), &s->targets[1]);
    /* even when the only other one is ejected (fail open, but never to an excluded one) */
    atomic_store(&s->targets[1].state->ejected_until_ms, 50000);
    for (int i = 0; i < 10; i++) assert_ptr_equal(pt_balancer_pick(s, ex, 2, 1000), &s->targets[1]);
    pt_target *all[] = { &s->targets[0], &s->targets[1], &s->targets[2] };
    assert_null(pt_balancer_pick(s, all, 3, 1000));
    pt_config_release(cfg);
}

static void all_unavailable_fails_open_to_the_soonest_back(void **state)
{
    const char *lbs[] = { "round_robin", "weighted", "least_conn" };
    for (int k = 0; k < 3; k++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, "services:\n  - name: open-%s\n    lb: %s\n" THREE, lbs[k], lbs[k]);
        pt_config *cfg = load(yaml);
        pt_service *s = &cfg->services[0];
        atomic_store(&s->targets[0].state->ejected_until_ms, 30000);
        atomic_store(&s->targets[1].state->ejected_until_ms, 20000);
        atomic_store(&s->targets[2].state->ejected_until_ms, 40000);
        for (int i = 0; i < 6; i++) assert_ptr_equal(pt_balancer_pick(s, NULL, 0, 1000), &s->targets[1]);
        pt_target *ex[] = { &s->targets[1] };
        for (int i = 0; i < 6; i++) assert_ptr_equal(pt_balancer_pick(s, ex, 1, 1000), &s->targets[0]);
        pt_config_release(cfg);
    }
}

static void a_service_without_targets_gives_null(void **state)
{
    pt_service s;
    memset(&s, 0, sizeof s);
    assert_null(pt_balancer_pick(&s, NULL, 0, 1000));
    assert_null(pt_balancer_pick(NULL, NULL, 0, 1000));
}

/* ---- active health ----------------------------------------------------------------- */

static void active_checks_mark_down_and_up_after_thresholds(void **state)
{
    pt_config *cfg = load("services:\n  - name: hc\n"
                          "    health_check: { healthy_threshold: 2, unhealthy_threshold: 3 }\n" THREE);
    pt_service *s = &cfg->services[0];
    pt_target *t = &s->targets[0];
    assert_int_equal(atomic_load(&t->state->health), PT_HEALTH_UNKNOWN);
    assert_true(pt_target_available(t, 1000));
    pt_health_record(s, t, false);
    pt_health_record(s, t, false);
    assert_true(pt_target_available(t, 1000));
    pt_health_record(s, t, false);
    assert_int_equal(atomic_load(&t->state->health), PT_HEALTH_DOWN);
    assert_false(pt_target_available(t, 1000));
    unsigned counts[3];
    count_picks(s, 100, 1000, counts);
    assert_int_equal(counts[0], 0);
    pt_health_record(s, t, true);
    assert_false(pt_target_available(t, 1000));
    pt_health_record(s, t, false); /* breaks the success streak */
    pt_health_record(s, t, true);
    assert_false(pt_target_available(t, 1000));
    pt_health_record(s, t, true);
    assert_int_equal(atomic_load(&t->state->health), PT_HEALTH_UP);
    assert_true(pt_target_available(t, 1000));
    pt_config_release(cfg);
}

static void down_verdict_counts_only_where_checks_run(void **state)
{
    pt_config *cfg = load("services:\n  - name: nohc\n" THREE);
    pt_target *t = &cfg->services[0].targets[0];
    atomic_store(&t->state->health, PT_HEALTH_DOWN); /* left over from an earlier config */
    assert_true(pt_target_available(t, 1000));
    pt_config_release(cfg);
}

/* ---- registry ---------------------------------------------------------------------- */

static void registry_interns_by_service_and_url(void **state)
{
    pt_target_state *a = pt_target_state_get("svc", "http://h:1");
    assert_non_null(a);
    assert_string_equal(a->key, "svc|http://h:1");
    assert_ptr_equal(pt_target_state_get("svc", "http://h:1"), a);
    assert_ptr_not_equal(pt_target_state_get("svc", "http://h:2"), a);
    assert_ptr_not_equal(pt_target_state_get("other", "http://h:1"), a);
    /* "a|b" + "c" and "a" + "b|c" are different keys even though they read alike */
    assert_ptr_not_equal(pt_target_state_get("a|b", "c"), pt_target_state_get("a", "b|c"));
}

typedef struct getter_arg {
    pt_target_state *got[64];
} getter_arg;

static void *getter(void *p)
{
    getter_arg *a = p;
    for (int i = 0; i < 64; i++) {
        char url[32];
        snprintf(url, sizeof url, "http://h:%d", i + 1);
        a->got[i] = pt_target_state_get("race", url);
    }
    return NULL;
}

static void registry_gives_one_state_to_concurrent_callers(void **state)
{
    getter_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, getter, &args[i]), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int k = 0; k < 64; k++) {
        assert_non_null(args[0].got[k]);
        for (int i = 1; i < 4; i++) assert_ptr_equal(args[i].got[k], args[0].got[k]);
    }
}

#define T(f) cmocka_unit_test_teardown(f, fresh_registry)

int main(void)
{
    pt_log_set_level(PT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        T(round_robin_cycles_in_order_with_exact_counts),
        T(round_robin_skips_ejected_targets),
        T(round_robin_stays_exact_across_threads),
        T(weighted_follows_smooth_weighted_round_robin),
        T(weighted_counts_are_exact_over_whole_periods),
        T(weighted_spreads_an_unavailable_share_by_weight),
        T(least_conn_picks_the_fewest_active),
        T(least_conn_breaks_ties_round_robin),
        T(least_conn_skips_ejected_even_when_idle),
        T(consecutive_failures_eject_for_eject_for),
        T(a_success_resets_the_failure_count),
        T(failures_while_ejected_do_not_extend_it),
        T(max_fails_zero_turns_passive_health_off),
        T(excluded_targets_are_never_returned),
        T(all_unavailable_fails_open_to_the_soonest_back),
        T(a_service_without_targets_gives_null),
        T(active_checks_mark_down_and_up_after_thresholds),
        T(down_verdict_counts_only_where_checks_run),
        T(registry_interns_by_service_and_url),
        T(registry_gives_one_state_to_concurrent_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
