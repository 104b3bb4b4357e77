/* fuzz_doctor_probe.c: the doctor's parsers of bytes a server sent: protocol fingerprints (under
 * every probe kind), the HTTP response parser with its event-stream parser (fed in two pieces
 * split where the first input byte says), JSON-RPC line classification and response lookup. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "doctor/probe_fp.h"
#include "doctor/probe_http.h"
#include "doctor/probe_mcp.h"
#include "doctor/probe_sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    pt_slice all = pt_slice_from((const char *)data + 1, size - 1);
    size_t cut = all.len ? data[0] % (all.len + 1) : 0;

    for (int k = PT_DR_PROBE_PASSIVE; k <= PT_DR_PROBE_PG; k++) {
        pt_dr_fp fp;
        pt__dr_fp_classify(all, (pt_dr_probe_kind)k, &fp);
    }
    char out[64];
    pt__dr_fp_printable(all, out, sizeof out);

    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 4096);
    if (pt__dr_http_resp_feed(&r, all.ptr, cut) == 0) pt__dr_http_resp_feed(&r, all.ptr + cut, all.len - cut);
    pt__dr_http_resp_eof(&r);
    char why[128];
    json_t *m = pt__dr_mcp_find_response(&r, 1, why, sizeof why);
    if (m) {
        pt_dr_mcp_init in;
        char names[64];
        pt__dr_mcp_read_init(m, &in);
        pt__dr_mcp_tool_count(m, names, sizeof names);
        json_decref(m);
    }
    pt__dr_http_resp_release(&r);

    pt_dr_sse s;
    pt__dr_sse_init(&s, 256, 8);
    if (pt__dr_sse_feed(&s, all.ptr, cut) == 0) pt__dr_sse_feed(&s, all.ptr + cut, all.len - cut);
    pt__dr_sse_release(&s);

    json_t *msg = NULL;
    pt__dr_mcp_classify(all, &msg);
    json_decref(msg);
    return 0;
}
