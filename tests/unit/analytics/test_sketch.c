/* Unit tests for analytics/sketch: every quantile within the 1% relative-error bound on
 * skewed data, merging equal to sketching the union in any order, the encoding round trip,
 * and encodings that are not sketches refused without a change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "analytics/sketch.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A latency-like sample: mostly around 2 ms, a long tail to seconds. */
static uint64_t sample(unsigned *seed)
{
    double u = (rand_r(seed) + 1.0) / ((double)RAND_MAX + 2.0);
    double v = 2000 * exp(1.2 * sqrt(-2 * log(u)) * cos(6.283185307 * rand_r(seed) / (double)RAND_MAX));
    return (uint64_t)v + 1;
}

static void assert_within_bound(const pt_sketch *s, uint64_t *sorted, size_t n, double q)
{
    uint64_t truth = sorted[(size_t)(q * (double)(n - 1))], got = pt_sketch_quantile(s, q);
    double err = fabs((double)got - (double)truth);
    if (err > PT_SKETCH_ALPHA * (double)truth + 1)
        fail_msg("q=%.3f: sketch %llu, true %llu (relative error %.4f)", q, (unsigned long long)got,
                 (unsigned long long)truth, err / (double)truth);
}

static void quantiles_are_within_one_percent(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof *v);
    pt_sketch *s = malloc(sizeof *s);
    pt_sketch_init(s);
    unsigned seed = 7;
    for (size_t i = 0; i < N; i++) {
        v[i] = sample(&seed);
        pt_sketch_add(s, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    assert_int_equal(s->count, N);
    for (double q = 0; q <= 1.0; q += 0.01) assert_within_bound(s, v, N, q);
    assert_within_bound(s, v, N, 0.999);
    assert_within_bound(s, v, N, 1.0);
    free(v);
    free(s);
}

static void merging_is_sketching_the_union_in_any_order(void **state)
{
    (void)state;
    pt_sketch *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all), *ab = malloc(sizeof *ab),
              *ba = malloc(sizeof *ba);
    pt_sketch_init(a), pt_sketch_init(b), pt_sketch_init(all), pt_sketch_init(ab), pt_sketch_init(ba);
    unsigned seed = 11;
    for (int i = 0; i < 50000; i++) {
        uint64_t x = sample(&seed) * (i % 2 ? 1 : 50); /* two different distributions */
        pt_sketch_add(i % 2 ? a : b, x);
        pt_sketch_add(all, x);
    }
    pt_sketch_merge(ab, a), pt_sketch_merge(ab, b);
    pt_sketch_merge(ba, b), pt_sketch_merge(ba, a);
    for (double q = 0; q <= 1.0; q += 0.05) {
        assert_int_equal(pt_sketch_quantile(ab, q), pt_sketch_quantile(all, q));
        assert_int_equal(pt_sketch_quantile(ba, q), pt_sketch_quantile(all, q));
    }
    assert_int_equal(ab->count, 50000);
    free(a), free(b), free(all), free(ab), free(ba);
}

static void an_encoding_round_trips(void **state)
{
    (void)state;
    pt_sketch *s = malloc(sizeof *s), *t = malloc(sizeof *t);
    uint8_t *buf = malloc(PT_SKETCH_ENCODED_MAX);
    pt_sketch_init(s), pt_sketch_init(t);
    uint64_t vals[] = { 0, 1, 2, 999, 1000, 1001, 123456789, UINT64_MAX };
    for (int i = 0; i < 8; i++) pt_sketch_add(s, vals[i]);
    size_t n = pt_sketch_encode(s, buf);
    assert_true(n > 0 && n < 64);
    assert_true(pt_sketch_merge_encoded(t, buf, n));
    assert_int_equal(t->count, 8);
    for (double q = 0; q <= 1.0; q += 0.125) assert_int_equal(pt_sketch_quantile(t, q), pt_sketch_quantile(s, q));
    /* the largest value lands in the last bucket instead of past the end */
    assert_true(pt_sketch_quantile(t, 1.0) > 1000000000000ull);
    free(s), free(t), free(buf);
}

static void an_empty_sketch_answers_zero(void **state)
{
    (void)state;
    pt_sketch s;
    pt_sketch_init(&s);
    assert_int_equal(pt_sketch_quantile(&s, 0.99), 0);
    uint8_t buf[8];
    assert_int_equal(pt_sketch_encode(&s, buf), 0);
    assert_true(pt_sketch_merge_encoded(&s, buf, 0));
    assert_int_equal(s.count, 0);
}

static void bytes_that_are_no_sketch_change_nothing(void **state)
{
    (void)state;
    pt_sketch s;
    pt_sketch_init(&s);
    pt_sketch_add(&s, 5000);
    const uint8_t truncated[] = { 0x05, 0x80 };        /* a count cut in the middle of its varint */
    const uint8_t past_end[] = { 0xff, 0x7f, 0x01 };   /* bucket 16383 */
    const uint8_t zero_count[] = { 0x05, 0x00 };
    const uint8_t odd[] = { 0x05 };                    /* a gap without its count */
    assert_false(pt_sketch_merge_encoded(&s, truncated, sizeof truncated));
    assert_false(pt_sketch_merge_encoded(&s, past_end, sizeof past_end));
    assert_false(pt_sketch_merge_encoded(&s, zero_count, sizeof zero_count));
    assert_false(pt_sketch_merge_encoded(&s, odd, sizeof odd));
    assert_int_equal(s.count, 1);
}

/* Counts a blob could push past 32 bits stop at the top instead of wrapping to small ones. */
static void a_bucket_count_saturates(void **state)
{
    (void)state;
    pt_sketch s;
    pt_sketch_init(&s);
    const uint8_t twice_max[] = { 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f };
    assert_true(pt_sketch_merge_encoded(&s, twice_max, sizeof twice_max));
    assert_int_equal(s.n[5], UINT32_MAX);
    assert_int_equal(s.count, UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantiles_are_within_one_percent),
        cmocka_unit_test(merging_is_sketching_the_union_in_any_order),
        cmocka_unit_test(an_encoding_round_trips),
        cmocka_unit_test(an_empty_sketch_answers_zero),
        cmocka_unit_test(bytes_that_are_no_sketch_change_nothing),
        cmocka_unit_test(a_bucket_count_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
