/* sketch.c: the logarithmic-bucket latency sketch (see sketch.h). */
#include "analytics/sketch.h"

#include <math.h>
#include <string.h>

#define GAMMA ((1 + PT_SKETCH_ALPHA) / (1 - PT_SKETCH_ALPHA))
#define LOG_GAMMA 0.020000666706669435 /* log(GAMMA), for ALPHA = 0.01 */

_Static_assert(PT_SKETCH_ALPHA_PPM == 10000, "LOG_GAMMA is log((1 + ALPHA) / (1 - ALPHA))");

uint32_t pt_sketch_bucket(uint64_t v)
{
    if (v <= 1) return 0;
    double i = ceil(log((double)v) / LOG_GAMMA);
    return i >= PT_SKETCH_BUCKETS - 1 ? PT_SKETCH_BUCKETS - 1 : (uint32_t)i;
}

void pt_sketch_init(pt_sketch *s)
{
    s->count = 0;
    s->lo = s->hi = 0;
}

/* Widens [lo, hi) to take bucket i, zeroing the buckets it newly covers. */
static void cover(pt_sketch *s, uint32_t i)
{
    if (s->lo == s->hi) {
        s->lo = i;
        s->hi = i + 1;
        s->n[i] = 0;
        return;
    }
    if (i < s->lo) {
        memset(s->n + i, 0, (s->lo - i) * sizeof s->n[0]);
        s->lo = i;
    } else if (i >= s->hi) {
        memset(s->n + s->hi, 0, (i + 1 - s->hi) * sizeof s->n[0]);
        s->hi = i + 1;
    }
}

/* Counts saturate at UINT32_MAX a bucket (count stays their sum), never wrap. */
static void add_n(pt_sketch *s, uint32_t i, uint32_t k)
{
    cover(s, i);
    if (k > UINT32_MAX - s->n[i]) k = UINT32_MAX - s->n[i];
    s->n[i] += k;
    s->count += k;
}

void pt_sketch_add_at(pt_sketch *s, uint32_t bucket)
{
    add_n(s, bucket < PT_SKETCH_BUCKETS ? bucket : PT_SKETCH_BUCKETS - 1, 1);
}

void pt_sketch_add(pt_sketch *s, uint64_t v) { add_n(s, pt_sketch_bucket(v), 1); }

void pt_sketch_merge(pt_sketch *dst, const pt_sketch *src)
{
    for (uint32_t i = src->lo; i < src->hi; i++)
        if (src->n[i]) add_n(dst, i, src->n[i]);
}

uint64_t pt_sketch_quantile(const pt_sketch *s, double q)
{
    if (!s->count) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    /* the value of rank floor(q (count - 1)), counting from 0 */
    uint64_t rank = (uint64_t)(q * (double)(s->count - 1)), seen = 0;
    uint32_t i = s->lo;
    for (; i < s->hi; i++) {
        seen += s->n[i];
        if (seen > rank) break;
    }
    if (i == 0) return 1;
    return (uint64_t)llround(2 * exp((double)i * LOG_GAMMA) / (GAMMA + 1));
}

static size_t put_varint(uint8_t *out, uint32_t v)
{
    size_t k = 0;
    while (v >= 0x80) {
        out[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[k++] = (uint8_t)v;
    return k;
}

static bool get_varint(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    uint32_t x = 0;
    for (int shift = 0; shift < 35 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

size_t pt_sketch_encode(const pt_sketch *s, uint8_t *out)
{
    size_t k = 0;
    uint32_t prev = 0;
    for (uint32_t i = s->lo; i < s->hi; i++) {
        if (!s->n[i]) continue;
        k += put_varint(out + k, i - prev);
        k += put_varint(out + k, s->n[i]);
        prev = i;
    }
    return k;
}

bool pt_sketch_merge_encoded(pt_sketch *dst, const uint8_t *p, size_t n)
{
    /* checked whole before anything is added, so a bad blob changes nothing */
    const uint8_t *q = p, *end = p + n;
    uint32_t i = 0, gap = 0, k = 0;
    while (q < end) {
        if (!get_varint(&q, end, &gap) || !get_varint(&q, end, &k) || k == 0) return false;
        if (gap > PT_SKETCH_BUCKETS || (i += gap) >= PT_SKETCH_BUCKETS) return false;
    }
    q = p;
    i = 0;
    while (q < end) {
        get_varint(&q, end, &gap);
        get_varint(&q, end, &k);
        i += gap;
        add_n(dst, i, k);
    }
    return true;
}
