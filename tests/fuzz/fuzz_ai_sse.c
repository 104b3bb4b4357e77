/* fuzz_ai_sse.c: libFuzzer harness for the event-stream parser. The first byte picks the
 * piece size and the caps; the rest is fed in those pieces. Whatever the pieces, the
 * events must be the same as when the input is fed whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ai/sse.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(void *arg, const pt_sse_event *ev)
{
    pt_buf *b = arg;
    pt_buf_append_slice(b, ev->event);
    pt_buf_append(b, "\0", 1);
    pt_buf_append_slice(b, ev->data);
    pt_buf_append(b, "\0", 1);
    pt_buf_append_slice(b, ev->id);
    pt_buf_append(b, "\0", 1);
    return 0;
}

static int run(const uint8_t *p, size_t n, size_t step, size_t cap, pt_buf *out)
{
    pt_sse s;
    pt_sse_init(&s, cap, cap * 4);
    int rc = 0;
    if (!step) step = n ? n : 1;
    for (size_t off = 0; off < n && !rc; off += step)
        rc = pt_sse_feed(&s, (const char *)p + off, n - off < step ? n - off : step, collect, out);
    if (!rc) rc = pt_sse_finish(&s, collect, out);
    pt_sse_release(&s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    size_t step = (data[0] & 15) + 1;
    size_t cap = (data[0] & 0x80) ? 64 : 0;
    pt_buf whole = PT_BUF_INIT, pieces = PT_BUF_INIT;
    int a = run(data + 1, size - 1, 0, cap, &whole);
    int b = run(data + 1, size - 1, step, cap, &pieces);
    /* a line over the cap may be caught at a different event; otherwise identical */
    if (a == 0 && b == 0 && !pt_slice_eq(pt_buf_slice(&whole), pt_buf_slice(&pieces))) abort();
    pt_buf_release(&whole);
    pt_buf_release(&pieces);
    return 0;
}
