/* Unit tests for limits/enforce.c with a backend that decides in batches (as Redis does):
 * a request's policies go to the backend in one batch, a refusal is read back onto its
 * policy with nothing kept from the others, and a backend that cannot be reached lets
 * on_store_error decide for each policy. The fake backend runs each batch on the
 * in-process table, undoing its takes at the first refusal, as the Redis script does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "limits/enforce.h"

#define S 1000000000ull
#define NOW (500 * S)

typedef struct fake {
    pt_counters base;
    pt_counters *inner;
    unsigned batches;
    bool down;
} fake;

static fake f;
static pt_counter_ops fake_ops;

/* Undoes ops[0..n) on the inner table. */
static void undo_ops(pt_counter_op *ops, size_t n)
{
    pt_counters *in = f.inner;
    for (size_t i = 0; i < n; i++) {
        uint64_t total;
        if (ops[i].kind == PT_COUNTER_TAKE) in->ops->rate_adjust(in, ops[i].key, ops[i].g, -ops[i].n, NOW);
        if (ops[i].kind == PT_COUNTER_ACQUIRE) in->ops->inflight_release(in, ops[i].held);
        if (ops[i].kind == PT_COUNTER_ADD && ops[i].n > 0)
            in->ops->window_add(in, ops[i].key, -ops[i].n, 0, ops[i].expires, NOW, &total);
    }
}

static int fake_batch(pt_counters *b, pt_counter_op *ops, size_t n)
{
    pt_counters *in = f.inner;
    f.batches++;
    if (f.down) return PT_EIO;
    for (size_t i = 0; i < n; i++) {
        pt_counter_op *o = &ops[i];
        if (o->kind == PT_COUNTER_TAKE) {
            in->ops->rate_take_n(in, o->key, o->g, (uint64_t)o->n, NOW, &o->rate);
            o->refused = !o->rate.allowed;
        } else if (o->kind == PT_COUNTER_ACQUIRE) {
            in->ops->inflight_acquire(in, o->key, (unsigned)o->n, NOW, &o->inflight, &o->held);
            o->refused = !o->held;
        } else if (o->kind == PT_COUNTER_ADD) {
            o->refused = in->ops->window_add(in, o->key, o->n, o->limit, o->expires, NOW, &o->total) == 1;
        }
        if (o->refused) {
            undo_ops(ops, i);
            return (int)i;
        }
    }
    return (int)n;
}

/* The single operations (giving back, releasing) go to the inner table. */
static void fake_release(pt_counters *b, void *held) { f.inner->ops->inflight_release(f.inner, held); }
static void fake_give_back(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now)
{
    f.inner->ops->rate_give_back(f.inner, key, g, now);
}
static int fake_window_add(pt_counters *b, pt_slice key, int64_t delta, uint64_t limit, int64_t expires, uint64_t now,
                           uint64_t *total)
{
    return f.inner->ops->window_add(f.inner, key, delta, limit, expires, now, total);
}

static int setup(void **state)
{
    f = (fake){ .inner = pt_counters_local_new() };
    if (!f.inner) return -1;
    fake_ops = (pt_counter_ops){ .inflight_release = fake_release, .rate_give_back = fake_give_back,
                                 .window_add = fake_window_add, .batch = fake_batch };
    f.base.ops = &fake_ops;
    return f.inner ? 0 : -1;
}

static int teardown(void **state)
{
    f.inner->ops->free(f.inner);
    return 0;
}

static pt_policy policy(const char *name, uint64_t requests, unsigned concurrency, uint64_t per_day, bool closed)
{
    static char fields[32][96];
    static unsigned nf;
    pt_policy p = { .name = (char *)name, .scope = PT_POLICY_ALL, .has_rate = requests > 0, .requests = requests,
                    .per_ms = 3600000, .burst = requests, .concurrency = concurrency, .store_closed = closed };
    p.gcra = pt_gcra_make(requests ? requests : 1, 3600 * S, 0);
    p.field_rate = fields[nf++ % 32];
    snprintf(p.field_rate, 96, "\"%s\";q=%llu;w=3600", name, (unsigned long long)requests);
    p.field_inflight = fields[nf++ % 32];
    snprintf(p.field_inflight, 96, "\"%s/concurrency\";q=%u;qu=\"concurrent-requests\"", name, concurrency);
    if (per_day) {
        p.window[PT_WIN_REQ_DAY] = per_day;
        p.has_windows = true;
    }
    return p;
}

static const pt_limit_subject who = { .service = "orders", .route = "orders" };

static int check(pt_limit_state *st, pt_limit_decision *d, const pt_policy_table *t)
{
    memset(d, 0, 4 * sizeof *d);
    *st = (pt_limit_state){ .counters = &f.base, .d = d, .cap = 4 };
    return pt_limits_check(st, t, PT_LIMIT_PHASE_REQUEST, &who, NOW);
}

static void one_batch_for_all_policies(void **state)
{
    pt_policy v[3] = { policy("r", 10, 0, 0, false), policy("c", 0, 2, 0, false), policy("q", 0, 0, 3, false) };
    pt_policy_table t = { v, 3, false, false };
    pt_limit_decision d[4];
    pt_limit_state st;
    unsigned before = f.batches;
    assert_int_equal(check(&st, d, &t), 1);
    assert_int_equal(f.batches - before, 1); /* one round trip for three policies */
    assert_true(d[0].rate_taken);
    assert_int_equal(d[0].rate.remaining, 9);
    assert_non_null(d[1].held);
    assert_int_equal(d[1].inflight, 1);
    assert_int_equal(d[2].window_total[PT_WIN_REQ_DAY], 1);
    assert_true(d[2].requests_taken[0]);
    pt_limits_release(&st);
}

static void refusal_keeps_nothing(void **state)
{
    /* the quota of 2 refuses the third request; its rate and slot are given back */
    pt_policy v[2] = { policy("r2", 10, 1, 0, false), policy("q2", 0, 0, 2, false) };
    pt_policy_table t = { v, 2, false, false };
    pt_limit_decision d[4];
    pt_limit_state st;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(check(&st, d, &t), 1);
        pt_limits_release(&st);
    }
    assert_int_equal(check(&st, d, &t), 0);
    assert_ptr_equal(st.refused, &d[1]);
    assert_int_equal(st.why, PT_LIMIT_WHY_QUOTA);
    assert_int_equal(st.window, PT_WIN_REQ_DAY);
    assert_int_equal(d[1].window_total[PT_WIN_REQ_DAY], 2);
    assert_false(d[0].rate_taken);
    assert_null(d[0].held);
    char msg[320];
    pt_limits_message(&st, msg, sizeof msg);
    assert_non_null(strstr(msg, "quota requests_per_day of policy 'q2' is used up: 2 of 2"));
    /* the refused batch gave back its take: 10 - 2 calls remain in r2's window */
    pt_policy only_r = v[0];
    only_r.concurrency = 0;
    pt_policy_table tr = { &only_r, 1, false, false };
    assert_int_equal(check(&st, d, &tr), 1);
    assert_int_equal(d[0].rate.remaining, 7);
}

static void rate_refusal(void **state)
{
    pt_policy v[1] = { policy("r1", 1, 0, 0, false) };
    pt_policy_table t = { v, 1, false, false };
    pt_limit_decision d[4];
    pt_limit_state st;
    assert_int_equal(check(&st, d, &t), 1);
    assert_int_equal(check(&st, d, &t), 0);
    assert_int_equal(st.why, PT_LIMIT_WHY_RATE);
    assert_true(d[0].rate.retry_ns > 0);
    assert_true(pt_limits_retry_after(&st) >= 3599);
}

static void unreachable_follows_on_store_error(void **state)
{
    pt_policy v[2] = { policy("open1", 1, 1, 0, false), policy("closed1", 1, 0, 0, true) };
    pt_limit_decision d[4];
    pt_limit_state st;
    f.down = true;
    pt_policy_table open_only = { v, 1, false, false };
    for (int i = 0; i < 3; i++) { /* a limit of 1, but nothing is counted: all pass */
        assert_int_equal(check(&st, d, &open_only), 1);
        assert_true(d[0].store_failed);
        assert_false(d[0].rate_taken);
        assert_null(d[0].held);
    }
    pt_policy_table both = { v, 2, false, false };
    assert_int_equal(check(&st, d, &both), 0);
    assert_ptr_equal(st.refused, &d[1]);
    assert_int_equal(st.why, PT_LIMIT_WHY_STORE);
    assert_true(d[0].store_failed && d[1].store_failed);
    char msg[320];
    pt_limits_message(&st, msg, sizeof msg);
    assert_string_equal(msg, "policy 'closed1' cannot count its calls: the limit store cannot be written and the "
                             "policy is set to on_store_error: closed");
    f.down = false;
    assert_int_equal(check(&st, d, &both), 1); /* back: counted again */
    assert_false(d[0].store_failed);
    assert_true(d[0].rate_taken && d[1].rate_taken);
    pt_limits_release(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_batch_for_all_policies),
        cmocka_unit_test(refusal_keeps_nothing),
        cmocka_unit_test(rate_refusal),
        cmocka_unit_test(unreachable_follows_on_store_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
