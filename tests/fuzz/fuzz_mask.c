/* fuzz_mask.c: libFuzzer harness for the masking engine: the JSON path parser, rules on
 * JSON documents, and the text and SSE stream maskers. The first byte picks the piece
 * size; the input up to the first newline is a JSON path. Whatever the pieces, a stream
 * of text masked by the detectors must come out exactly as the text masked whole, and
 * every path either parses or says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mask/mask.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pt_mask_rules detectors;

static void init(void)
{
    if (detectors.n) return;
    detectors.v = calloc(PT_DET_COUNT, sizeof *detectors.v);
    for (int d = 0; d < PT_DET_COUNT; d++)
        detectors.v[d] = (pt_mask_rule){ .name = (char *)pt_detector_name((pt_detector)d), .by = PT_MASK_BY_DETECT,
                                         .det = (pt_detector)d, .action = d % 2 ? PT_MASK_MASK : PT_MASK_REPLACE,
                                         .keep = 4 };
    detectors.n = PT_DET_COUNT;
    detectors.has_text = true;
}

static void streams_match_whole(const char *s, size_t n, size_t step)
{
    pt_buf whole = PT_BUF_INIT, parts = PT_BUF_INIT;
    pt_mask_tally t1 = { 0 }, t2 = { 0 };
    pt_mask_text(&detectors, s, n, &whole, &t1);
    pt_mask_stream st;
    pt_mask_stream_init(&st, &detectors);
    for (size_t off = 0; off < n; off += step)
        pt_mask_stream_feed(&st, s + off, n - off < step ? n - off : step, false, &parts, &t2);
    pt_mask_stream_feed(&st, "", 0, true, &parts, &t2);
    pt_mask_stream_release(&st);
    if (whole.len != parts.len || (whole.len && memcmp(whole.data, parts.data, whole.len) != 0) || t1.total != t2.total)
        abort();
    pt_buf_release(&whole);
    pt_buf_release(&parts);
}

static void path_rules(const char *s, size_t n, const char *doc, size_t dn)
{
    char why[160] = "";
    pt_mask_rule u = { .name = "p", .by = PT_MASK_BY_PATH, .action = PT_MASK_MASK, .keep = 2 };
    if (!(u.path = pt_jpath_parse(s, n, why, sizeof why))) {
        if (!why[0]) abort(); /* a refusal always says why */
        return;
    }
    pt_mask_rules r = { .v = &u, .n = 1, .has_path = true };
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    pt_mask_json(&r, doc, dn, &out, &t);
    pt_buf_release(&out);
    pt_jpath_free(u.path);
}

static void sse(const char *s, size_t n, size_t step)
{
    pt_mask_sse m;
    pt_mask_sse_init(&m, &detectors);
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    for (size_t off = 0; off < n; off += step) pt_mask_sse_feed(&m, s + off, n - off < step ? n - off : step, &out, &t);
    pt_mask_sse_end(&m, &out, &t);
    pt_mask_sse_release(&m);
    pt_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (!size) return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(s, '\n', n);
    size_t pl = nl ? (size_t)(nl - s) : n;
    path_rules(s, pl, nl ? nl + 1 : "", nl ? n - pl - 1 : 0);
    streams_match_whole(s, n, step);
    sse(s, n, step);
    return 0;
}
