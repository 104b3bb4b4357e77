/* Unit tests for limits/enforce.c: which policies apply, most specific first, a refusal
 * that consumes nothing from the others, the model phase, group_by, and the RateLimit
 * fields and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "limits/enforce.h"

#define S 1000000000ull
#define NOW (500 * S)

static pt_policy rate_policy(const char *name, pt_policy_scope scope, const char *match, uint64_t requests,
                             uint64_t per_s)
{
    pt_policy p = { .name = (char *)name, .scope = scope, .match = (char *)match, .has_rate = true,
                    .requests = requests, .per_ms = per_s * 1000, .burst = requests };
    p.gcra = pt_gcra_make(requests, per_s * S, 0);
    static char fields[16][96];
    static unsigned nf;
    p.field_rate = fields[nf++ % 16];
    snprintf(p.field_rate, 96, "\"%s\";q=%llu;w=%llu", name, (unsigned long long)requests, (unsigned long long)per_s);
    p.field_inflight = fields[nf++ % 16];
    return p;
}

/* Adds a cap of n requests in flight to p, with its RateLimit-Policy member as loading writes it. */
static void with_concurrency(pt_policy *p, unsigned n)
{
    p->concurrency = n;
    snprintf(p->field_inflight, 96, "\"%s/concurrency\";q=%u;qu=\"concurrent-requests\"", p->name, n);
}

typedef struct fixture {
    pt_counters *b;
    pt_limit_decision d[8];
    pt_limit_state st;
} fixture;

static pt_limit_state *fresh(fixture *f)
{
    memset(f->d, 0, sizeof f->d);
    f->st = (pt_limit_state){ .counters = f->b, .d = f->d, .cap = 8 };
    return &f->st;
}

static int setup(void **state)
{
    static fixture f;
    f.b = pt_counters_local_new();
    *state = &f;
    return f.b ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->b->ops->free(f->b);
    return 0;
}

static const pt_limit_subject acme = { .service = "orders", .route = "orders", .team = "shop",
                                       .consumer = "acme", .key_prefix = "pk_acme1" };

static void applies_by_scope_and_phase(void **state)
{
    pt_policy all = rate_policy("all", PT_POLICY_ALL, NULL, 1, 1);
    pt_policy con = rate_policy("c", PT_POLICY_CONSUMER, "acme", 1, 1);
    pt_policy other = rate_policy("o", PT_POLICY_CONSUMER, "globex", 1, 1);
    pt_policy model = rate_policy("m", PT_POLICY_MODEL, "gpt", 1, 1);
    pt_policy key = rate_policy("k", PT_POLICY_KEY, "pk_acme1", 1, 1);
    pt_limit_subject anon = { .service = "orders", .route = "orders", .model = "gpt" };
    assert_true(pt_limit_applies(&all, PT_LIMIT_PHASE_REQUEST, &anon));
    assert_false(pt_limit_applies(&all, PT_LIMIT_PHASE_MODEL, &anon));
    assert_true(pt_limit_applies(&con, PT_LIMIT_PHASE_REQUEST, &acme));
    assert_false(pt_limit_applies(&con, PT_LIMIT_PHASE_REQUEST, &anon));
    assert_false(pt_limit_applies(&other, PT_LIMIT_PHASE_REQUEST, &acme));
    assert_true(pt_limit_applies(&key, PT_LIMIT_PHASE_REQUEST, &acme));
    assert_false(pt_limit_applies(&model, PT_LIMIT_PHASE_REQUEST, &anon));
    assert_true(pt_limit_applies(&model, PT_LIMIT_PHASE_MODEL, &anon));
}

static void a_refusal_consumes_nothing_from_the_other_policies(void **state)
{
    fixture *f = *state;
    /* consumer: 5 per minute; the whole gateway: 2 per minute with 1 in flight */
    pt_policy v[2] = { rate_policy("per-consumer", PT_POLICY_CONSUMER, "acme", 5, 60),
                       rate_policy("gw", PT_POLICY_ALL, NULL, 2, 60) };
    with_concurrency(&v[1], 1);
    pt_policy_table t = { v, 2, false, false };
    pt_limit_state *st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
    assert_int_equal(st->n, 2);
    assert_string_equal(st->d[0].policy->name, "per-consumer"); /* most specific first */
    /* a second call while the first is in flight: refused by gw's concurrency */
    fixture g = *f;
    pt_limit_state *st2 = fresh(&g);
    assert_int_equal(pt_limits_check(st2, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 0);
    assert_ptr_equal(st2->refused->policy, &v[1]);
    assert_int_equal(st2->why, PT_LIMIT_WHY_CONCURRENCY);
    pt_limits_release(st);
    pt_limits_release(st); /* twice is harmless */
    /* the refused call took nothing: gw has 1 of 2 left, per-consumer 4 of 5 */
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
    assert_int_equal(st->d[0].rate.remaining, 3);
    assert_int_equal(st->d[1].rate.remaining, 0);
    pt_limits_release(st);
    /* gw's window is used up now: refused by its rate, and per-consumer gets it back */
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 0);
    assert_int_equal(st->why, PT_LIMIT_WHY_RATE);
    assert_int_equal(pt_limits_retry_after(st), 30);
    pt_policy only_consumer[1] = { v[0] };
    pt_policy_table t1 = { only_consumer, 1, false, false };
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t1, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
    assert_int_equal(st->d[0].rate.remaining, 2); /* 3 taken: two calls that passed and this one */
}

static void the_model_phase_gives_back_the_request_phase_on_refusal(void **state)
{
    fixture *f = *state;
    pt_policy v[2] = { rate_policy("m", PT_POLICY_MODEL, "gpt", 1, 60), rate_policy("all", PT_POLICY_ALL, NULL, 10, 60) };
    pt_policy_table t = { v, 2, true, false };
    pt_limit_subject s = acme;
    pt_limit_state *st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &s, NOW), 1);
    assert_int_equal(st->n, 1);
    s.model = "gpt";
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_MODEL, &s, NOW), 1);
    assert_int_equal(st->n, 2);
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &s, NOW), 1);
    assert_int_equal(st->d[0].rate.remaining, 8);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_MODEL, &s, NOW), 0);
    assert_string_equal(st->refused->policy->name, "m");
    /* "all" got its call back: 8 left after the next one, not 7 */
    s.model = "other";
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &s, NOW), 1);
    assert_int_equal(st->d[0].rate.remaining, 8);
}

static void group_by_gives_each_subject_its_own_window(void **state)
{
    fixture *f = *state;
    pt_policy v[1] = { rate_policy("svc", PT_POLICY_SERVICE, "orders", 1, 60) };
    v[0].group_by = PT_GROUP_CONSUMER;
    pt_policy_table t = { v, 1, false, false };
    pt_limit_subject globex = acme, anon = { .service = "orders" };
    globex.consumer = "globex";
    assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
    assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 0);
    assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &globex, NOW), 1);
    assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &anon, NOW), 1);
    assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &anon, NOW), 0);
}

static void headers_follow_the_draft(void **state)
{
    fixture *f = *state;
    pt_policy v[2] = { rate_policy("free-tier", PT_POLICY_CONSUMER, "acme", 1000, 60),
                       rate_policy("gw", PT_POLICY_ALL, NULL, 2, 60) };
    v[0].burst = 50;
    v[0].gcra = pt_gcra_make(1000, 60 * S, 50); /* the member shows the window, q=1000;w=60, not the burst */
    v[1].has_rate = false;
    with_concurrency(&v[1], 20);
    pt_policy_table t = { v, 2, false, false };
    pt_limit_state *st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
    char out[1024] = { 0 };
    size_t n = pt_limits_headers(st, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out,
                        "RateLimit-Policy: \"free-tier\";q=1000;w=60, \"gw/concurrency\";q=20;qu=\"concurrent-requests\"\r\n"
                        "RateLimit: \"free-tier\";r=49;t=1, \"gw/concurrency\";r=19\r\n");
    pt_limits_release(st);
    /* use up the burst: the refusal names only the refusing policy, with Retry-After */
    for (int i = 0; i < 49; i++) {
        assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
        pt_limits_release(&f->st);
    }
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW + 1), 0);
    memset(out, 0, sizeof out);
    n = pt_limits_headers(st, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "RateLimit-Policy: \"free-tier\";q=1000;w=60\r\n"
                                  "RateLimit: \"free-tier\";r=0;t=1\r\n"
                                  "Retry-After: 1\r\n");
    assert_int_equal(pt_limits_headers(st, (char[20]){ 0 }, 20), 0); /* does not fit */
    char msg[256];
    pt_limits_message(st, msg, sizeof msg);
    assert_string_equal(msg, "policy 'free-tier' allows 1000 requests per 60 s; its window allows the next call in 1 s");
}

static void retry_after_rounds_up(void **state)
{
    fixture *f = *state;
    pt_policy v[1] = { rate_policy("slow", PT_POLICY_ALL, NULL, 1, 3600) };
    pt_policy_table t = { v, 1, false, false };
    assert_int_equal(pt_limits_check(fresh(f), &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW), 1);
    pt_limit_state *st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW + 1), 0);
    assert_int_equal(pt_limits_retry_after(st), 3600); /* 3599.999999999 s */
    st = fresh(f);
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW + 3599 * S), 0);
    assert_int_equal(pt_limits_retry_after(st), 1);
}

/* One policy whose rate is all the fields show: written from the head made at load, the
 * same bytes as the member-by-member writer gives. */
static void a_rate_alone_is_written_from_its_head(void **state)
{
    fixture *f = *state;
    pt_policy p = { .name = "solo", .scope = PT_POLICY_ALL, .has_rate = true, .requests = 1000000000,
                    .per_ms = 1000, .burst = 1000000000 };
    p.gcra = pt_gcra_make(p.requests, S, 0);
    assert_int_equal(pt_policy_fields(&p), 0);
    pt_policy plain = p;
    plain.rate_head = NULL; /* the general writer */
    for (int i = 0; i < 3; i++) {
        char fast[512] = { 0 }, slow[512] = { 0 };
        pt_policy_table t = { &p, 1, false, false };
        pt_limit_state *st = fresh(f);
        assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW + (uint64_t)i), 1);
        size_t n = pt_limits_headers(st, fast, sizeof fast);
        assert_int_equal(n, strlen(fast));
        pt_limit_decision d = st->d[0];
        d.policy = &plain;
        pt_limit_state st2 = { .counters = f->b, .d = &d, .n = 1, .cap = 1 };
        assert_int_equal(pt_limits_headers(&st2, slow, sizeof slow), n);
        assert_string_equal(fast, slow);
        assert_int_equal(pt_limits_headers(st, (char[40]){ 0 }, 40), 0); /* does not fit */
    }
    char want[512];
    pt_limit_state *st = fresh(f);
    pt_policy_table t = { &p, 1, false, false };
    assert_int_equal(pt_limits_check(st, &t, PT_LIMIT_PHASE_REQUEST, &acme, NOW + 10), 1);
    snprintf(want, sizeof want, "RateLimit-Policy: \"solo\";q=1000000000;w=1\r\nRateLimit: \"solo\";r=%llu;t=1\r\n",
             (unsigned long long)st->d[0].rate.remaining);
    char out[512] = { 0 };
    pt_limits_headers(st, out, sizeof out);
    assert_string_equal(out, want);
    free(p.field_rate);
    free(p.rate_head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applies_by_scope_and_phase),
        cmocka_unit_test_setup_teardown(a_refusal_consumes_nothing_from_the_other_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(the_model_phase_gives_back_the_request_phase_on_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(group_by_gives_each_subject_its_own_window, setup, teardown),
        cmocka_unit_test_setup_teardown(headers_follow_the_draft, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rate_alone_is_written_from_its_head, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_after_rounds_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
