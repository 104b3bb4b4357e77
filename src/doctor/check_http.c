/* check_http.c: the doctor's "http" check (placeholder until implemented: it skips, never passes). */
#include "check.h"

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    (void)ctx;
    pt_dr_skip(res, "not implemented yet");
}

const pt_dr_check pt_dr_check_http = {
    .id = "http",
    .title = "HTTP request",
    .modes = PT_DR_MODE_HTTP | PT_DR_MODE_MCP,
    .run = run,
};
