/* check_mcp.c: the doctor's "mcp" check (placeholder until implemented: it skips, never passes). */
#include "check.h"

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    (void)ctx;
    pt_dr_skip(res, "not implemented yet");
}

const pt_dr_check pt_dr_check_mcp = {
    .id = "mcp",
    .title = "MCP handshake",
    .modes = PT_DR_MODE_MCP | PT_DR_MODE_STDIO,
    .run = run,
};
