/* fuzz_mcp_apitools.c: libFuzzer harness for APIs as MCP tools (mcp/apitools.c). The input is
 * a document and a tool call's arguments, split at the first NUL byte: the document goes
 * through the OpenAPI import (admin/oas.c) when it is one, and straight to the tool builder as
 * a normalised form when it is other JSON (a stored form need not be one this gateway wrote);
 * the arguments are turned into each tool's request, and the rest into a tools/call result.
 * Every input is built or refused with a reason, never a crash, a leak or a request whose
 * head an argument could split (a CR or LF in a header line, a target not starting with '/'). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/oas.h"
#include "mcp/apitools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const pt_mcp_apitool *t, const json_t *args)
{
    pt_buf target = PT_BUF_INIT, headers = PT_BUF_INIT, body = PT_BUF_INIT;
    char why[300];
    if (pt_mcp_apitool_request(t, args, &target, &headers, &body, why, sizeof why) == 0) {
        if (!target.len || target.data[0] != '/' || memchr(target.data, ' ', target.len) ||
            memchr(target.data, '\r', target.len) || memchr(target.data, '\n', target.len))
            abort();
        for (size_t i = 0; i < headers.len; i++) /* a CR only as the end of a line, an LF only after one */
            if ((headers.data[i] == '\r' && (i + 1 >= headers.len || headers.data[i + 1] != '\n')) ||
                (headers.data[i] == '\n' && (i == 0 || headers.data[i - 1] != '\r')))
                abort();
    } else if (!why[0]) {
        abort();
    }
    pt_buf_release(&target);
    pt_buf_release(&headers);
    pt_buf_release(&body);
}

static void build(const json_t *ops, const json_t *args)
{
    pt_mcp_apitools t = { 0 };
    pt_buf skipped = PT_BUF_INIT;
    char why[300] = "";
    int rc = pt_mcp_apitools_from_ops(&t, ops, "/base", "p", 0, &skipped, why, sizeof why);
    if (rc && !why[0]) abort();
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        if (!json_string_value(json_object_get(t.v[i].def, "name"))) abort();
        check_request(&t.v[i], args);
    }
    (void)pt_mcp_apitools_collision(&t);
    pt_buf_release(&skipped);
    pt_mcp_apitools_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t dlen = nul ? (size_t)(nul - text) : size;
    json_t *args = nul ? json_loadb(nul + 1, size - dlen - 1, 0, NULL) : NULL;
    json_t *norm = NULL;
    char *server = NULL;
    pt_admin_err e = { 0 };
    if (pt_oas_import(text, dlen, &norm, &server, &e) == 0) build(json_object_get(norm, "operations"), args);
    json_t *raw = json_loadb(text, dlen, JSON_DECODE_ANY, NULL);
    if (raw) build(raw, args);
    json_t *res = pt_mcp_apitool_result(size % 600, size & 1, text, dlen);
    if (!res) abort();
    json_decref(res);
    json_decref(raw);
    json_decref(norm);
    free(server);
    json_decref(args);
    return 0;
}
