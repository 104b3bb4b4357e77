/* fuzz_traceparent.c: the W3C traceparent reader (trace/context.c) on arbitrary bytes. Beyond
 * not crashing, what it accepts must hold: non-zero ids, only the sampled flag kept, and the
 * header written back from them reads back to the same ids. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace/context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zero[16];
    pt_trace_ctx c;
    if (pt_traceparent_parse(pt_slice_from((const char *)data, size), &c) != 0) return 0;
    if (!memcmp(c.trace_id, zero, 16) || !memcmp(c.parent_id, zero, 8)) __builtin_trap();
    if (c.flags & ~PT_TRACE_FLAG_SAMPLED) __builtin_trap();
    char out[PT_TRACEPARENT_LEN + 1];
    pt_traceparent_write(out, c.trace_id, c.parent_id, c.flags);
    pt_trace_ctx back;
    if (pt_traceparent_parse(pt_slice_cstr(out), &back) != 0) __builtin_trap();
    if (memcmp(&back, &c, sizeof c) != 0) __builtin_trap();
    pt_tracestate_ok(pt_slice_from((const char *)data, size));
    return 0;
}
