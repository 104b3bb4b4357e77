/* Unit tests for limits/counter_local.c: exactness under many threads for windows and for
 * requests in flight, idle keys forgotten, and the injectable clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "limits/counter.h"

#define S 1000000000ull
#define THREADS 16

static _Atomic uint64_t fake_now = 1000 * S;
static uint64_t fake_clock(void) { return atomic_load(&fake_now); }

static int use_fake_clock(void **state)
{
    atomic_store(&fake_now, 1000 * S);
    pt_limits_set_clock(fake_clock);
    return 0;
}

static int use_real_clock(void **state)
{
    pt_limits_set_clock(NULL);
    return 0;
}

static pt_slice K(const char *s) { return (pt_slice){ s, strlen(s) }; }

/* ---- a window hit by many threads at once ---- */

typedef struct race {
    pt_counters *b;
    pt_gcra g;
    pthread_barrier_t *start;
    unsigned attempts;
    unsigned passed;
    const char *key;
} race;

static void *hammer(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->start);
    for (unsigned i = 0; i < r->attempts; i++) {
        pt_gcra_result res;
        assert_int_equal(r->b->ops->rate_take(r->b, K(r->key), &r->g, pt_limits_now(), &res), 0);
        if (res.allowed) r->passed++;
    }
    return NULL;
}

static unsigned run_race(pt_counters *b, pt_gcra g, const char *key, unsigned attempts_each)
{
    pthread_t t[THREADS];
    race r[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        r[i] = (race){ b, g, &start, attempts_each, 0, key };
        pthread_create(&t[i], NULL, hammer, &r[i]);
    }
    unsigned total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += r[i].passed;
    }
    pthread_barrier_destroy(&start);
    return total;
}

static void a_window_admits_exactly_its_limit_across_threads(void **state)
{
    pt_counters *b = pt_counters_local_new();
    assert_non_null(b);
    pt_gcra g = pt_gcra_make(1000, 60 * S, 0);
    /* 16 threads x 5000 attempts on one key, the clock standing still: exactly 1000 */
    assert_int_equal(run_race(b, g, "p\x1f", 5000), 1000);
    /* 60 ms later exactly one more, however many ask */
    atomic_fetch_add(&fake_now, 60 * 1000000ull);
    assert_int_equal(run_race(b, g, "p\x1f", 100), 1);
    /* another key has its own window */
    assert_int_equal(run_race(b, g, "p\x1f" "other", 100), 1000);
    b->ops->free(b);
}

/* ---- requests in flight ---- */

typedef struct flight {
    pt_counters *b;
    pthread_barrier_t *start;
    unsigned max;
    _Atomic unsigned *inside, *peak;
    unsigned got, refused;
} flight;

static void *fly(void *arg)
{
    flight *f = arg;
    pthread_barrier_wait(f->start);
    for (int i = 0; i < 20000; i++) {
        unsigned n;
        void *held;
        assert_int_equal(f->b->ops->inflight_acquire(f->b, K("c\x1f"), f->max, pt_limits_now(), &n, &held), 0);
        if (!held) {
            f->refused++;
            continue;
        }
        f->got++;
        unsigned now_in = atomic_fetch_add(f->inside, 1) + 1;
        unsigned p = atomic_load(f->peak);
        while (now_in > p && !atomic_compare_exchange_weak(f->peak, &p, now_in)) {}
        atomic_fetch_sub(f->inside, 1);
        f->b->ops->inflight_release(f->b, held);
    }
    return NULL;
}

static void requests_in_flight_never_pass_the_cap(void **state)
{
    pt_counters *b = pt_counters_local_new();
    _Atomic unsigned inside = 0, peak = 0;
    pthread_t t[THREADS];
    flight f[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        f[i] = (flight){ b, &start, 3, &inside, &peak, 0, 0 };
        pthread_create(&t[i], NULL, fly, &f[i]);
    }
    unsigned got = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        got += f[i].got;
    }
    pthread_barrier_destroy(&start);
    assert_true(atomic_load(&peak) <= 3);
    assert_true(got > 0);
    /* everything was released: the full cap is free again */
    void *held[4];
    unsigned n;
    for (int i = 0; i < 3; i++) {
        b->ops->inflight_acquire(b, K("c\x1f"), 3, pt_limits_now(), &n, &held[i]);
        assert_non_null(held[i]);
        assert_int_equal(n, (unsigned)i + 1);
    }
    b->ops->inflight_acquire(b, K("c\x1f"), 3, pt_limits_now(), &n, &held[3]);
    assert_null(held[3]);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) b->ops->inflight_release(b, held[i]);
    b->ops->free(b);
}

/* ---- bounded memory ---- */

static void idle_keys_are_forgotten(void **state)
{
    pt_counters *b = pt_counters_local_new();
    pt_gcra g = pt_gcra_make(10, S, 0); /* whole again 1 s after the last call */
    char key[32];
    pt_gcra_result r;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "p\x1fk%d", i);
        b->ops->rate_take(b, K(key), &g, pt_limits_now(), &r);
    }
    assert_int_equal(b->ops->size(b), 20000);
    /* a key with a request in flight is kept whatever its window */
    void *held;
    unsigned n;
    b->ops->inflight_acquire(b, K("held\x1f"), 1, pt_limits_now(), &n, &held);
    assert_non_null(held);
    atomic_fetch_add(&fake_now, 2 * S);
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "q\x1fk%d", i);
        b->ops->rate_take(b, K(key), &g, pt_limits_now(), &r);
    }
    /* the first 20000 were dropped as their stripes filled up again */
    assert_true(b->ops->size(b) < 30000);
    b->ops->inflight_release(b, held); /* still valid: it was never swept */
    b->ops->inflight_acquire(b, K("held\x1f"), 1, pt_limits_now(), &n, &held);
    assert_non_null(held);
    assert_int_equal(n, 1);
    b->ops->inflight_release(b, held);
    b->ops->free(b);
}

static void the_clock_is_injectable_and_monotonic_by_default(void **state)
{
    assert_int_equal(pt_limits_now(), 1000 * S);
    atomic_fetch_add(&fake_now, 5);
    assert_int_equal(pt_limits_now(), 1000 * S + 5);
    pt_limits_set_clock(NULL);
    uint64_t a = pt_limits_now(), b = pt_limits_now();
    assert_true(b >= a);
    pt_limits_set_clock(fake_clock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_window_admits_exactly_its_limit_across_threads, use_fake_clock),
        cmocka_unit_test_setup(requests_in_flight_never_pass_the_cap, use_fake_clock),
        cmocka_unit_test_setup(idle_keys_are_forgotten, use_fake_clock),
        cmocka_unit_test_setup(the_clock_is_injectable_and_monotonic_by_default, use_fake_clock),
    };
    return cmocka_run_group_tests(tests, NULL, use_real_clock);
}
