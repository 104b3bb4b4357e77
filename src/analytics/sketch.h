/* sketch.h: a mergeable latency histogram with a relative-error guarantee (a DDSketch with
 * fixed logarithmic buckets), for percentiles of rollups that can be added together: the
 * p99 of an hour is the p99 of its minutes' merged sketches, never an average of p99s.
 *
 * A value v >= 1 falls in bucket i = ceil(log(v) / log(G)), G = (1 + A) / (1 - A); the
 * bucket's estimate 2 G^i / (G + 1) is within A (1%) of every value in it, so any quantile
 * the sketch answers is within 1% (or 1, from rounding to an integer) of the true value at
 * that rank. Values below 1 count in bucket 0 (estimate 1); values past the last bucket
 * (about 16 days in microseconds) count in the last one. Merging adds counts, so it is exact
 * and order-free. */
#ifndef PT_ANALYTICS_SKETCH_H
#define PT_ANALYTICS_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_SKETCH_ALPHA_PPM 10000 /* the relative error A, in millionths */
#define PT_SKETCH_ALPHA (PT_SKETCH_ALPHA_PPM / 1e6)
#define PT_SKETCH_BUCKETS 1400
/* An encoded sketch is at most this long: every bucket as two 5-byte varints. */
#define PT_SKETCH_ENCODED_MAX (PT_SKETCH_BUCKETS * 10)

typedef struct pt_sketch {
    uint64_t count;
    uint32_t lo, hi;             /* buckets in use lie in [lo, hi); lo == hi when empty */
    uint32_t n[PT_SKETCH_BUCKETS];
} pt_sketch;

void pt_sketch_init(pt_sketch *s);
void pt_sketch_add(pt_sketch *s, uint64_t v);

/* The bucket of v, and adding one value to a bucket: one value added to several sketches
 * costs one logarithm. pt_sketch_add(s, v) is pt_sketch_add_at(s, pt_sketch_bucket(v)). */
uint32_t pt_sketch_bucket(uint64_t v);
void pt_sketch_add_at(pt_sketch *s, uint32_t bucket);
void pt_sketch_merge(pt_sketch *dst, const pt_sketch *src);

/* The value at quantile q in [0, 1] (0 for an empty sketch). */
uint64_t pt_sketch_quantile(const pt_sketch *s, double q);

/* A compact encoding (the buckets in use as varint gaps and counts) into out, which holds
 * PT_SKETCH_ENCODED_MAX bytes; returns its length. */
size_t pt_sketch_encode(const pt_sketch *s, uint8_t *out);

/* Adds an encoding to dst; false (dst unchanged) when the bytes are not one. */
bool pt_sketch_merge_encoded(pt_sketch *dst, const uint8_t *p, size_t n);

#endif
