/* fuzz_mcp_message.c: the MCP parsers of bytes from clients and upstreams: one JSON-RPC message
 * (and the error answer built from whatever id it had), the stdio line cutter (fed in two pieces
 * split where the first input byte says, with a small line cap), the response lookup in JSON and
 * event-stream bodies, the tool catalog over a parsed tools/list result, and a 2026-07-28
 * request's checks against headers cut from the input (Mcp-Name's base64 form among them), its
 * _meta stripped and its result marked. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcp/catalog.h"
#include "mcp/jsonrpc.h"
#include "mcp/modern.h"

static int on_line(void *arg, const char *s, size_t n)
{
    pt_mcp_msg m;
    json_t *id = NULL;
    char why[128];
    if (pt_mcp_parse(s, n, &m, &id, why, sizeof why) == 0) pt_mcp_msg_release(&m);
    json_decref(id);
    (*(size_t *)arg)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *all = (const char *)data + 1;
    size_t len = size - 1, cut = len ? data[0] % (len + 1) : 0;

    pt_mcp_msg m;
    json_t *id = NULL;
    char why[128];
    int rc = pt_mcp_parse(all, len, &m, &id, why, sizeof why);
    json_t *e = pt_mcp_error(rc ? id : m.id, rc ? rc : PT_MCP_INTERNAL_ERROR, why);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    free(text);
    json_decref(e);
    if (rc == 0) {
        json_t *tools = json_object_get(json_object_get(m.root, "result"), "tools");
        pt_mcp_tools_in in[2] = { { "s", true, json_is_array(tools) ? tools : NULL, NULL },
                                  { "t", false, json_is_array(tools) ? tools : NULL, NULL } };
        pt_buf problems = PT_BUF_INIT;
        json_decref(pt_mcp_tools_merge(in, 2, &problems));
        pt_buf_release(&problems);
        const char *tool;
        pt_mcp_tool_route(in, 2, "s__x", &tool);
        pt_slice h = pt_slice_from(all, cut);
        pt_mcp_modern_headers hs = { h, pt_slice_cstr(m.method), h };
        pt_mcp_refusal f = { 0 };
        if (pt_mcp_modern_is(&m, h, data[0] & 2) && pt_mcp_modern_check(&m, &hs, &f)) json_decref(f.data);
        free(pt_mcp_header_decode(h));
        char level[16];
        pt_mcp_modern_strip(m.params, level, sizeof level);
        pt_mcp_modern_result(json_object_get(m.root, "result"), m.method);
        pt_mcp_log_wanted(level, json_string_value(json_object_get(m.params, "level")));
        pt_mcp_msg_release(&m);
    }
    json_decref(id);

    pt_mcp_lines l;
    size_t lines = 0;
    pt_mcp_lines_init(&l, 64);
    pt_mcp_lines_feed(&l, all, cut, on_line, &lines);
    pt_mcp_lines_feed(&l, all + cut, len - cut, on_line, &lines);
    pt_mcp_lines_release(&l);

    json_t *want = json_integer(1);
    json_decref(pt_mcp_find_response(all, len, data[0] & 1, want, why, sizeof why));
    json_decref(want);
    return 0;
}
