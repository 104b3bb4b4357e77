/* fuzz_sketch.c: the latency sketch's decoder (analytics/sketch.c) on arbitrary bytes, as a
 * rollup row's blob could hold them. Beyond not crashing: bytes it refuses change nothing,
 * and bytes it takes encode back to a blob that decodes to the same sketch. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/sketch.h"

static pt_sketch a, b, c;
static uint8_t buf[PT_SKETCH_ENCODED_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_sketch_init(&a);
    pt_sketch_add(&a, 1000);
    if (!pt_sketch_merge_encoded(&a, data, size)) {
        if (a.count != 1 || pt_sketch_quantile(&a, 0.5) < 990 || pt_sketch_quantile(&a, 0.5) > 1010) __builtin_trap();
        return 0;
    }
    size_t n = pt_sketch_encode(&a, buf);
    if (n > PT_SKETCH_ENCODED_MAX) __builtin_trap();
    pt_sketch_init(&b);
    if (!pt_sketch_merge_encoded(&b, buf, n) || b.count != a.count) __builtin_trap();
    for (int q = 0; q <= 100; q += 10)
        if (pt_sketch_quantile(&a, q / 100.0) != pt_sketch_quantile(&b, q / 100.0)) __builtin_trap();
    pt_sketch_init(&c);
    pt_sketch_merge(&c, &b);
    if (c.count != b.count) __builtin_trap();
    return 0;
}
